r"""One sampler for every representation of the couplings.

The engine samples :math:`p(x) \propto \exp(-\beta E(x))` (eq. 1) by
per-colour parallel Metropolis or heat-bath updates. What differs between
applications is only how the couplings are stored and how the local field
:math:`\sum_j J_{ij} x_j` of a colour block is computed:

* :class:`~skising.sampling.GraphCouplings`: an explicit graph, colour-permuted
  CSR blocks (one sparse product per colour; a compiled CPU kernel computes
  the same sweeps);
* :class:`~skising.sampling.GridCouplings`: 8-neighbour pixel grids with a
  3x3 kernel, one strided ``conv2d`` per colour;
* :class:`~skising.sampling.RookCouplings`: entries of a sparse pattern,
  coupled within their row and column, from row and column sums;
* :class:`~skising.sampling.IndependentSpins`: no couplings (``J = 0``).

A representation (a :class:`Couplings`) provides

* its **layout**: ``n`` spins per chain in colour-major order; colour ``c``
  owns the positions ``bounds[c]:bounds[c + 1]`` and no two of its spins
  interact;
* a **state** built from the spins in layout order, ``(n, n_chains)``, and
  per colour block: the spins, the local field, the external field, the
  counters of the block's random numbers and the write of the new spins;
* the **energy**, the **local field** of samples in their natural shape and
  the conversion from and to that shape.

Everything else is shared, here: validation of a call, the start
(``init="random"`` draws ``(n, n_chains)`` random bits in layout order from
the caller's generator, then two 32-bit keys), the sweep loop, the update
rule (:func:`~skising.sampling._arith.accept_torch`) and the random numbers.
These are counter-based: the uniform of the spin at layout position ``i``,
chain ``k``, sweep ``t`` is a hash of the call's key, the sweep's key and the
counter ``i * n_chains + k`` (:func:`~skising.sampling._arith.hash_uniform_torch`),
so a seed gives the same samples on every device, and two representations
of the same couplings with the same layout give the same samples (bit for
bit where their local fields are computed exactly, e.g. dyadic couplings).
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_generator, check_int, check_scalar
from ._arith import (
    accept_torch,
    call_hash_torch,
    counter_dtype,
    hash_uniform_torch,
    keyed_uniform_torch,
    sweep_keys,
)

__all__ = ["Couplings", "IndependentSpins", "UPDATES", "INITS"]

UPDATES = ("metropolis", "heat_bath")
INITS = ("random", "up", "down")


def check_update(update):
    if update not in UPDATES:
        raise ValueError(f"update: expected one of {UPDATES}, got {update!r}")
    return update


def compute_dtype(dtype):
    """The floating type of the accept/reject arithmetic for spins of ``dtype``."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def init_spins(n, n_chains, init, gen, device):
    """Start spins ``(n, n_chains)`` int8 in layout order for ``"random" | "up" | "down"``."""
    if init == "random":
        # torch.randint(0, 2, int8) * 2 - 1 from the caller's generator (on CPU the same draws by a compiled loop)
        from ._init import random_spins

        return random_spins((n, n_chains), gen)
    return torch.full((n, n_chains), 1 if init == "up" else -1, dtype=torch.int8, device=device)


def draw_keys(gen, device, n_sweeps):
    """The call's key ``k0`` and the per-sweep keys: two 32-bit draws from the caller's generator."""
    k0, k1 = torch.randint(0, 2**32, (2,), generator=gen, device=device).tolist()
    return k0, sweep_keys(k1, n_sweeps)


# the sweep-independent half of the counter hash is kept per call up to this many spin updates per
# sweep (4 bytes each); beyond, it is recomputed every sweep
_KEEP_FIRST_HASH = 2**26


def sweeps(rep, state, field, n_chains, n_sweeps, beta, update, k0, skeys, dtype):
    """The one sweep driver: per sweep, per colour, local field, counter-based uniforms, accept."""
    cdt = compute_dtype(dtype)
    blocks = [c for c in range(rep.n_colors) if rep.bounds[c + 1] > rep.bounds[c]]
    keep = n_sweeps > 1 and rep.n * n_chains <= _KEEP_FIRST_HASH  # counters are int32 there
    first = {c: call_hash_torch(rep._counters(c, n_chains), k0) for c in blocks} if keep else None
    for t in range(n_sweeps):
        skey = skeys[t]
        for c in blocks:  # loop over colours (few), not their members
            x = rep._spins(state, c)
            loc = (rep._local(state, c) + rep._block_field(field, c)).to(cdt)
            if keep:
                u = keyed_uniform_torch(first[c], skey, cdt)
            else:
                u = hash_uniform_torch(rep._counters(c, n_chains), k0, skey, cdt)
            rep._write(state, c, accept_torch(x.to(cdt), loc, u, beta, update).to(dtype))
    return state


def run(rep, h, beta, n_chains, n_sweeps, update, init, gen, dtype):
    """Kernel: trusts validated input. ``h`` a prepared field of ``rep``, ``init`` a string or
    spins ``(n, n_chains)`` in layout order. Returns the samples in ``rep``'s natural shape."""
    device = rep.device
    field = rep._prepare_field(h, dtype)
    X = init_spins(rep.n, n_chains, init, gen, device) if isinstance(init, str) else init
    k0, skeys = draw_keys(gen, device, n_sweeps)
    if n_sweeps and rep.n:
        done = rep._fast_sweeps(X, field, n_chains, n_sweeps, beta, update, k0, skeys, dtype)
        if done is not None:
            return done
    state = rep._state(X, dtype, sweeping=bool(n_sweeps and rep.n))
    if n_sweeps and rep.n:
        state = sweeps(rep, state, field, n_chains, n_sweeps, beta, update, k0, skeys, dtype)
    return rep._output(state, dtype)


def damped_mean_field(local_field, H, beta, damping, tol, max_iter, m=None):
    r"""Fixed point of :math:`m = \tanh(\beta(h + \sum_j J_{ij} m_j))` by damped iteration (no gradient)."""
    m = torch.tanh(beta * H).detach() if m is None else m
    with torch.no_grad():
        for _ in range(max_iter):
            new = (1 - damping) * m + damping * torch.tanh(beta * (H + local_field(m)))
            delta = (new - m).abs().max() if new.numel() else torch.zeros(())
            m = new
            if delta < tol:
                break
    return m


class Couplings:
    """The couplings of an Ising model in one representation (the engine's interface).

    Subclasses set ``n`` (spins per chain), ``device``, ``bounds`` (int array of
    ``n_colors + 1`` layout offsets) and implement the private hooks below;
    :meth:`sample`, :meth:`energy`, :meth:`local_field` and :meth:`mean_field`
    are the entry points applications call. Implementations:
    :class:`~skising.sampling.GraphCouplings`, :class:`~skising.sampling.GridCouplings`,
    :class:`~skising.sampling.RookCouplings`, :class:`IndependentSpins`.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import Couplings, GridCouplings
    >>> rep = GridCouplings(0.5, (4, 4))
    >>> isinstance(rep, Couplings), rep.n, rep.n_colors
    (True, 16, 4)
    >>> rep.sample(torch.zeros(4, 4), n_chains=2, n_sweeps=3, random_state=0).shape
    torch.Size([2, 4, 4])
    """

    n: int
    device: torch.device
    bounds: np.ndarray

    @property
    def n_colors(self):
        return len(self.bounds) - 1

    # ------------------------------------------------------------ entry points
    def sample(self, field=0.0, n_chains=1, n_sweeps=10, beta=1.0, update="metropolis", init="random",
               random_state=None, dtype=torch.float32):
        """Draw ``n_chains`` samples after ``n_sweeps`` sweeps.

        Parameters
        ----------
        field : float or array-like
            External field ``h``, shaped like one sample (see the
            representation), or with a leading ``n_chains`` axis (a field per
            chain). Detached: sampling is not differentiable.
        n_chains : int >= 1, default=1
        n_sweeps : int >= 0, default=10
            One sweep updates every colour once.
        beta : float >= 0, default=1.0
        update : {"metropolis", "heat_bath"}, default="metropolis"
        init : {"random", "up", "down"} or spins shaped like the output
        random_state : None, int, numpy or torch generator
            A ``torch.Generator`` advances; same seed, same samples, on any
            device.
        dtype : torch.dtype, default=torch.float32

        Returns
        -------
        torch.Tensor of shape ``(n_chains, *sample_shape)``, values in {-1., +1.}
        """
        beta = check_scalar(beta, "beta", low=0.0)
        check_update(update)
        n_chains = check_int(n_chains, "n_chains", low=1)
        n_sweeps = check_int(n_sweeps, "n_sweeps", low=0)
        h = self._check_field(field, n_chains, dtype)
        if isinstance(init, str):
            if init not in INITS:
                raise ValueError(f"init: expected 'random', 'up', 'down' or a spin array, got {init!r}")
        else:
            init = self._check_init(init, n_chains, dtype)
        gen = check_generator(random_state, self.device)
        return run(self, h, beta, n_chains, n_sweeps, update, init, gen, dtype)

    def energy(self, x, field=0.0):
        """Energy of eq. 1 of samples ``x`` (natural shape); differentiable in ``field``."""
        raise NotImplementedError

    def local_field(self, x):
        r""":math:`\sum_j J_{ij} x_j` of every spin of samples ``x`` (natural shape)."""
        raise NotImplementedError

    def mean_field(self, field=0.0, beta=1.0, damping=0.5, tol=1e-6, max_iter=1000, final_step=True):
        r"""Mean-field magnetisations (eq. 11), shaped like ``field``.

        Iterates :math:`m \leftarrow (1-\lambda) m + \lambda\tanh(\beta(h + \sum_j J_{ij} m_j))`
        until the largest change is below ``tol``; with ``final_step`` one more
        undamped, differentiable step (gradients flow into ``field``).
        """
        beta = check_scalar(beta, "beta", low=0.0)
        damping = check_scalar(damping, "damping", low=0.0, high=1.0, low_inclusive=False)
        tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
        max_iter = check_int(max_iter, "max_iter", low=1)
        H = self._mf_field(field)
        m = damped_mean_field(self.local_field, H, beta, damping, tol, max_iter)
        if final_step:
            m = torch.tanh(beta * (H + self.local_field(m)))
        return m

    # ------------------------------------------------------------ hooks (private)
    def _check_field(self, field, n_chains, dtype):
        raise NotImplementedError

    def _mf_field(self, field):
        return self._check_field(field, None, torch.float32)

    def _check_init(self, init, n_chains, dtype):
        """Spins in natural shape -> int8 ``(n, n_chains)`` in layout order."""
        raise NotImplementedError

    def _prepare_field(self, h, dtype):
        raise NotImplementedError

    def _state(self, X, dtype, sweeping):
        raise NotImplementedError

    def _fast_sweeps(self, X, field, n_chains, n_sweeps, beta, update, k0, skeys, dtype):
        """An accelerated implementation of :func:`sweeps` and :meth:`_output` (the same samples, in
        the natural shape; ``X`` may be consumed), or None where none applies."""

    def _spins(self, state, c):
        raise NotImplementedError

    def _local(self, state, c):
        raise NotImplementedError

    def _block_field(self, field, c):
        raise NotImplementedError

    def _counters(self, c, n_chains):
        raise NotImplementedError

    def _write(self, state, c, new):
        raise NotImplementedError

    def _output(self, state, dtype):
        raise NotImplementedError


def spins_tensor(x, name="x"):
    """Spins as a float tensor ({-1, +1}; booleans map to +1/-1)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype == torch.bool:
        t = t.float() * 2 - 1
    return t if t.is_floating_point() else t.float()


class LayoutCouplings(Couplings):
    """Representations whose state is the spins ``(n, n_chains)`` in layout order.

    Subclasses set ``perm`` (layout position -> node, LongTensor) and
    ``position`` (node -> layout position), or leave both None for the
    identity. Samples are ``(n_chains, n)`` in node order.
    """

    perm = None
    position = None

    def _check_field(self, field, n_chains, dtype):
        from .._validation import check_field

        h = check_field(field, self.n, device=self.device, dtype=dtype, allow_grad=False)
        if n_chains is not None and h.dim() == 2 and h.shape[0] != n_chains:
            raise ValueError(f"field: a 2-D field needs one row per chain ({n_chains}), got {h.shape[0]} rows")
        return h

    def _mf_field(self, field):
        from .._validation import check_field

        return check_field(field, self.n, device=self.device)

    def _check_init(self, init, n_chains, dtype):
        from .._validation import check_init

        t = check_init(init, n_chains, self.n, self.device, dtype)
        return self._to_layout(t)

    def _to_layout(self, x):
        """``(n_chains, n)`` in node order -> int8 ``(n, n_chains)`` in layout order."""
        x = x.to(torch.int8)
        return (x if self.perm is None else x[:, self.perm]).T.contiguous()

    def _prepare_field(self, h, dtype):
        h = h.detach().to(dtype)
        if h.dim() == 1:
            return (h if self.perm is None else h[self.perm])[:, None]
        return (h if self.perm is None else h[:, self.perm]).T.contiguous()

    def _state(self, X, dtype, sweeping):
        return X.to(dtype) if sweeping else X

    def _spins(self, state, c):
        return state[int(self.bounds[c]) : int(self.bounds[c + 1])]

    def _block_field(self, field, c):
        return field[int(self.bounds[c]) : int(self.bounds[c + 1])]

    def _counters(self, c, n_chains):
        s, e = int(self.bounds[c]), int(self.bounds[c + 1])
        dt = counter_dtype(self.n * n_chains)
        return torch.arange(s * n_chains, e * n_chains, dtype=dt, device=self.device).view(e - s, n_chains)

    def _write(self, state, c, new):
        state[int(self.bounds[c]) : int(self.bounds[c + 1])] = new

    def _output(self, state, dtype):
        X = state.T
        return (X if self.position is None else X[:, self.position]).to(dtype).contiguous()


class IndependentSpins(LayoutCouplings):
    r"""No couplings (``J = 0``): every spin is independent, one colour holds them all.

    One heat-bath sweep samples the model exactly:
    :math:`P(x_i = +1) = \sigma(2 \beta h_i)`.

    Parameters
    ----------
    n_nodes : int >= 0
    device : str or torch.device, optional
        Default: CPU.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import IndependentSpins
    >>> x = IndependentSpins(5).sample(torch.zeros(5), n_chains=3, n_sweeps=1, update="heat_bath",
    ...                                random_state=0)
    >>> tuple(x.shape)
    (3, 5)
    """

    def __init__(self, n_nodes, device=None):
        from .._validation import check_device

        self.n = check_int(n_nodes, "n_nodes", low=0)
        self.device = check_device("cpu" if device is None else device)
        self.bounds = np.array([0, self.n], dtype=np.int64)

    def _local(self, state, c):
        return torch.zeros((), dtype=state.dtype, device=state.device)

    def energy(self, x, field=0.0):
        """``-sum_i h_i x_i`` per sample, shape ``(n_samples,)``; differentiable in ``field``."""
        xs = spins_tensor(x)
        xs = xs[None] if xs.dim() == 1 else xs
        h = field if isinstance(field, torch.Tensor) else torch.as_tensor(field, dtype=xs.dtype)
        return -(xs * h.to(device=xs.device, dtype=xs.dtype)).sum(-1)

    def local_field(self, x):
        return torch.zeros_like(spins_tensor(x))

    def __repr__(self):
        return f"IndependentSpins(n_nodes={self.n})"
