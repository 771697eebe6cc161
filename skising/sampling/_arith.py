r"""Arithmetic shared by every sampler path: counter-based random numbers, ``exp``, accept/reject.

The torch path, the compiled CPU kernels (:mod:`skising.sampling._kernels`,
:mod:`skising.sampling._simd`) and the partitioned sampler import it, so that
they decide every flip identically.

Both give **bit-identical samples** for the same seed because every number that
decides a flip is computed by the same IEEE-754 operations in the same order:

* Random numbers are a counter-based hash, not a stateful stream: the uniform
  of spin ``i`` (colour-permuted position), chain ``k`` in sweep ``t`` is
  ``u = (2 m + 1) 2^{-24}`` with ``m`` the top 23 bits of
  ``lowbias32(lowbias32(lo ^ k0) ^ ((s_t + hi * 0x9E3779B1) mod 2^32))``,
  ``lo, hi`` the low and high 32-bit words of ``i * n_chains + k``, ``k0`` a
  key drawn from the caller's generator and ``s_t`` a per-sweep key. The
  compiled kernel makes its random numbers in registers (no random-number
  array, no sequential generator), the torch path makes the same ones with
  32-bit tensor operations (64-bit for counters from 2^31 on).
* ``exp`` is evaluated by :func:`exp_neg` with only ``*``, ``+``, ``floor``
  and a table of powers of two (range reduction plus a fixed polynomial,
  relative error below 1e-6 in float32 and 1e-14 in float64 over the range that matters), because library ``exp``
  implementations (glibc, SLEEF, CUDA) differ in their last bit.
* The local field is accumulated over a node's CSR row in order; this is the
  one place where the two paths can differ in the last bit (sparse products
  may sum in another order), and only for couplings and fields whose partial
  sums are not exact. For unweighted graphs with ``J = +-1`` (or any dyadic
  values) the local fields are exact and the samples bit-identical.

Update rules (both exact for :math:`p(x) \propto e^{-\beta E(x)}`):

* Metropolis: flip when ``u < exp(min(0, -2 beta x loc))``.
* Heat bath: ``x = +1`` when ``u < sigma(2 beta loc)``, with
  ``sigma(z) = (1 if z >= 0 else e) / (1 + e)``, ``e = exp(-|z|)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lowbias32", "sweep_keys", "hash_uniform_torch", "exp_neg_torch", "accept_torch"]

MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B1
# minimal-bias 32-bit integer hash (C. Wellons, "lowbias32")
_M1, _M2 = 0x7FEB352D, 0x846CA68B
# exp(y) = 2^(y log2 e); 2^f on [0, 1) by a fixed polynomial (least squares on
# Chebyshev nodes, c0 = 1 exactly so exp(0) == 1 exactly). Hard-coded: the
# samples of a seed must not depend on the machine's LAPACK.
EXP2_COEF = {
    "float32": [1.0, 0.6931470036506653, 0.24022991955280304, 0.0554824136197567,
                0.009681269526481628, 0.0012414311058819294, 0.00021795998327434063],
    "float64": [1.0, 0.693147180559946, 0.24022650695905562, 0.05550410866567273,
                0.00961812909947471, 0.0013333558613776472, 0.00015403513224939995,
                1.5253150826565497e-05, 1.3208733724974956e-06, 1.0249956086142976e-07,
                6.575390991928261e-09, 6.230725034714146e-10],
}
LOG2E = 1.4426950408889634
# exp(y) below 2^-30 never beats a uniform >= 2^-24: clamp there (keeps the table small)
T_MIN = -30.0
POW2 = np.array([2.0 ** -k for k in range(31)])  # 2^-k, exact in float32 and float64
INV24 = 2.0 ** -24


def lowbias32(x):
    """The 32-bit hash on Python ints (scalars: keys per call and per sweep)."""
    x &= MASK32
    x ^= x >> 16
    x = (x * _M1) & MASK32
    x ^= x >> 15
    x = (x * _M2) & MASK32
    x ^= x >> 16
    return x


def sweep_keys(k1, n_sweeps, first_sweep=0):
    """Per-sweep keys ``s_t``, t = first_sweep .. first_sweep + n_sweeps - 1."""
    return [lowbias32((k1 + t * GOLDEN) & MASK32) for t in range(first_sweep, first_sweep + n_sweeps)]


def _lowbias32_t(x):
    # int64 tensor holding values in [0, 2^32): products may wrap mod 2^64, the low
    # 32 bits (all we keep) are still right
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


def _hash_torch(idx, k0, skey):
    lo = idx & MASK32
    hi = idx >> 32
    h = _lowbias32_t(lo ^ k0)
    return _lowbias32_t(h ^ ((hi * GOLDEN + skey) & MASK32))


def _signed32(v):
    """The int32 holding the 32 bits of ``v``."""
    v &= MASK32
    return v - (1 << 32) if v >= 1 << 31 else v


_M1_32, _M2_32 = _signed32(_M1), _signed32(_M2)


def _lowbias32_i32_(x):
    # in place on an int32 tensor holding the 32 bits: products wrap mod 2^32 (the bits
    # of the uint32 hash) and the masks make the arithmetic right shifts logical
    x ^= (x >> 16) & 0xFFFF
    x *= _M1_32
    x ^= (x >> 15) & 0x1FFFF
    x *= _M2_32
    x ^= (x >> 16) & 0xFFFF
    return x


def counter_dtype(n_counters):
    """int32 when every counter ``0 .. n_counters - 1`` fits (the fast hash), else int64."""
    import torch

    return torch.int32 if n_counters < 2**31 else torch.int64


def hash_uniform_torch(idx, k0, skey, dtype):
    """Uniforms in (0, 1) for global counters ``idx`` (int64 tensor, or int32 for counters below 2^31).

    Both give the same bits: int32 counters have a zero high word, and the hash
    is then evaluated in place in 32-bit arithmetic (a quarter of the memory
    traffic of the int64 form).
    """
    import torch

    if idx.dtype == torch.int32:
        return keyed_uniform_torch(call_hash_torch(idx, k0), skey, dtype)
    m = _hash_torch(idx, k0, skey) >> 9
    return (m * 2 + 1).to(dtype) * INV24


def call_hash_torch(idx, k0):
    """The sweep-independent first round ``lowbias32(idx ^ k0)`` of int32 counters (int32 bits)."""
    return _lowbias32_i32_(idx ^ _signed32(k0))


def keyed_uniform_torch(first, skey, dtype):
    """Uniforms of one sweep from :func:`call_hash_torch`'s output: the second round and the scaling
    (for counters below 2^31, whose high word is zero)."""
    x = _lowbias32_i32_(first ^ _signed32(skey))
    m = x.__irshift__(9).__iand__(0x7FFFFF)
    return (m.mul_(2).add_(1)).to(dtype).mul_(INV24)


def _compute_dtype_name(dtype):
    import torch

    return "float64" if dtype == torch.float64 else "float32"


def exp_neg_torch(y):
    """``exp(y)`` for ``y <= 0`` with the shared polynomial (same bits as the kernel)."""
    import torch

    coef = EXP2_COEF[_compute_dtype_name(y.dtype)]
    t = (y * LOG2E).clamp_(min=T_MIN)
    nf = torch.floor(t)
    f = t.sub_(nf)
    p = torch.full_like(f, coef[-1])
    for c in coef[-2::-1]:  # Horner, degree <= 11: a loop over coefficients (in place: same operations)
        p.mul_(f).add_(c)
    # 2^nf (nf in [-30, 0]) built from its exponent bits: exact on every device, no table gather
    if y.dtype == torch.float64:
        scale = nf.to(torch.int64).add_(1023).bitwise_left_shift_(52).view(torch.float64)
    else:
        scale = nf.to(torch.int32).add_(127).bitwise_left_shift_(23).view(torch.float32)
    return p.mul_(scale)


def accept_torch(x, loc, u, beta, update):
    """New spins of one colour block: the one update rule of every torch path.

    ``x`` the block's spins, ``loc`` its local fields (couplings plus external
    field) and ``u`` its counter-based uniforms, all in the compute dtype
    (float32 or float64). Metropolis flips when ``u < exp(min(0, -2 beta x loc))``
    (``dE = 2 x loc``); heat bath sets ``+1`` when ``u < sigma(2 beta loc)``; both
    exact for eq. 1. ``beta`` is rounded to the compute dtype first and ``exp`` is
    :func:`exp_neg_torch`, as in the compiled kernels, so every path decides
    every flip identically.
    """
    import torch

    npdt = np.float64 if x.dtype == torch.float64 else np.float32
    # selections by exact +-1 / 0-1 arithmetic: the same values as torch.where, without its slow CPU path
    if update == "metropolis":
        y = torch.clamp((x * loc) * float(npdt(-2.0 * beta)), max=0.0)
        return (u < exp_neg_torch(y)).to(x.dtype).mul_(-2.0).add_(1.0).mul_(x)  # -x where accepted
    z = loc * float(npdt(2.0 * beta))
    ex = exp_neg_torch(-torch.abs(z))  # in (0, 1]
    p_up = torch.maximum(ex, (z >= 0).to(ex.dtype)).div_(ex.add_(1.0))  # (1 if z >= 0 else ex) / (1 + ex)
    return (u < p_up).to(x.dtype).mul_(2.0).sub_(1.0)
