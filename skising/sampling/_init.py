"""The random start of the compiled path: ``torch.randint(0, 2, ...) * 2 - 1`` without torch's per-element cost.

``init="random"`` draws the ``(n, n_chains)`` int8 spins with ``torch.randint`` from the
caller's CPU generator, one 32-bit Mersenne Twister output per spin (bit 0 decides it).
torch draws them one by one (about 4 ns per spin: 3.5 s of a 1024-chain call on a million
nodes); :func:`random_spins` runs the same MT19937 stream in a compiled loop, reading the
generator's state and writing the advanced state back, so the spins and every later draw from
the generator are exactly torch's. The generator layout it relies on is checked once per
process against ``torch.randint`` itself (several twists of the state, an odd offset); where
the check fails, or without numba, ``torch.randint`` runs.
"""

from __future__ import annotations

import numpy as np
import torch

from .._numba_cache import guard
from ._kernels import HAVE_NUMBA, _nb

__all__ = ["random_spins"]

_N = 624
# byte offsets in torch's CPU generator state (CPUGeneratorImplState): left (int32), next (uint64),
# the 624 state words (as uint64)
_LEFT, _NEXT, _STATE = 8, 16, 24
_compiled = {}
_checked = []


def _kernel():
    if "mt" not in _compiled:
        nb = _nb

        @nb.njit(cache=True, nogil=True)
        def mt_spins(mt, pos, out):
            """Fill ``out`` (int8, flat) with 2 (y & 1) - 1 for the next MT19937 outputs y; returns the new pos."""
            upper, lower, mat = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(0x9908B0DF)
            one = np.uint32(1)
            total = out.shape[0]
            q = 0
            while q < total:
                if pos >= _N:  # the standard twist of all 624 words, in three runs without a modulo
                    for k in range(_N - 397):
                        y = (mt[k] & upper) | (mt[k + 1] & lower)
                        mt[k] = mt[k + 397] ^ (y >> one) ^ (mat * (y & one))
                    for k in range(_N - 397, _N - 1):
                        y = (mt[k] & upper) | (mt[k + 1] & lower)
                        mt[k] = mt[k + 397 - _N] ^ (y >> one) ^ (mat * (y & one))
                    y = (mt[_N - 1] & upper) | (mt[0] & lower)
                    mt[_N - 1] = mt[396] ^ (y >> one) ^ (mat * (y & one))
                    pos = 0
                m = min(_N - pos, total - q)
                for t in range(m):  # tempering: only bit 0 of the output is needed, but all of it is cheap
                    y = mt[pos + t]
                    y ^= y >> np.uint32(11)
                    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
                    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
                    y ^= y >> np.uint32(18)
                    out[q + t] = np.int8(np.uint32(2) * (y & one)) - np.int8(1)
                pos += m
                q += m
            return pos

        _compiled["mt"] = guard(mt_spins)
    return _compiled["mt"]


def _fast(shape, gen):
    state = gen.get_state()
    raw = state.numpy()
    left = int(raw[_LEFT:_LEFT + 4].view(np.int32)[0])
    nxt = int(raw[_NEXT:_NEXT + 8].view(np.uint64)[0])
    mt = raw[_STATE:_STATE + 8 * _N].view(np.uint64).astype(np.uint32)
    # torch twists when ``left`` reaches 0 on a draw (left == 1 before it), numpy-style MT when pos == 624
    pos = _N if left <= 1 else nxt
    out = torch.empty(shape, dtype=torch.int8)
    pos = _kernel()(mt, pos, out.view(-1).numpy())
    new = state.clone()
    nr = new.numpy()
    nr[_STATE:_STATE + 8 * _N].view(np.uint64)[:] = mt
    nr[_NEXT:_NEXT + 8].view(np.uint64)[0] = pos
    nr[_LEFT:_LEFT + 4].view(np.int32)[0] = _N + 1 - pos
    gen.set_state(new)
    return out


def _layout_ok():
    """Whether :func:`_fast` reproduces ``torch.randint`` and the generator's later draws here."""
    if not _checked:
        ok = False
        try:
            a, b = torch.Generator().manual_seed(12345), torch.Generator().manual_seed(12345)
            for shape in ((3,), (701, 3), (1, 1500)):  # from a fresh state, odd offsets, twists
                want = torch.randint(0, 2, shape, generator=a, dtype=torch.int8).mul_(2).sub_(1)
                if not torch.equal(_fast(shape, b), want):
                    break
            else:
                ok = torch.equal(torch.randint(0, 2**32, (4,), generator=a),
                                 torch.randint(0, 2**32, (4,), generator=b))
        except Exception:  # noqa: BLE001 - any mismatch of the layout: torch draws the start
            ok = False
        _checked.append(ok)
    return _checked[0]


def random_spins(shape, gen):
    """``torch.randint(0, 2, shape, generator=gen, dtype=torch.int8) * 2 - 1``, bit for bit, with ``gen``
    advanced as torch advances it (a CPU generator; the compiled MT19937 loop where it applies)."""
    if HAVE_NUMBA and gen.device.type == "cpu" and int(np.prod(shape)) >= 4096 and _layout_ok():
        return _fast(shape, gen)
    return torch.randint(0, 2, shape, generator=gen, device=gen.device, dtype=torch.int8).mul_(2).sub_(1)
