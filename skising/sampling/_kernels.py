r"""Arithmetic shared by the two sampler paths, and the optional compiled CPU path.

The sampler has two implementations of one sweep:

* the **torch path** (:func:`skising.sampling._engine.sweeps`): readable,
  vectorised, runs on any device; and
* the **compiled CPU path** (:func:`sweeps_numba`, needs ``numba``, a core
  dependency): one fused, multi-threaded loop per colour,
  on int8 spins. With 8 or more chains, CSR row by row, the accept/reject
  arithmetic vectorised across the chains of a row; with 1-7 chains, a
  sliced-ELL layout (:func:`ell_layout`: slices of 8 rows, column-major, padded
  to the slice's longest row, so no branch per row) whose tile of 64 rows
  gathers its local fields first, then runs one vectorised pass over the tile.
  The hash works in 32-bit lanes (two small LLVM intrinsics: numba would type
  ``uint32 * uint32`` as uint64 and vectorise the hash in 64-bit lanes), the
  uniform is compared in the compute float, and ``2^-n`` is a product of exact
  powers of two (no table gather), so LLVM emits SIMD code for the whole update.
  For 8 or more chains :func:`sweeps_numba` hands the sweeps to the
  explicit-SIMD LLVM kernel of :mod:`skising.sampling._simd` (the same update,
  1.7-5x faster) wherever it applies.

The arithmetic that makes both paths decide every flip identically lives in
:mod:`skising.sampling._arith`; this module holds the sweep kernels and the layout kernels
around them (sliced ELL, permuted CSR, output in node order). The node-order kernels of the
set-up (colouring, reverse Cuthill-McKee) are in :mod:`skising.sampling._coloring_kernels`,
the random start in :mod:`skising.sampling._init`.
"""
from __future__ import annotations

import numpy as np

from .._numba_cache import guard_all
from ..graph._csr import pin_cache_ids as _pin_cache_ids

__all__ = ["HAVE_NUMBA", "lowbias32", "sweep_keys", "hash_uniform_torch", "exp_neg_torch"]

from ._arith import (  # noqa: F401  (re-exported: one namespace for the sweep arithmetic)
    _M1,
    _M2,
    EXP2_COEF,
    GOLDEN,
    INV24,
    LOG2E,
    MASK32,
    POW2,
    T_MIN,
    _compute_dtype_name,
    _hash_torch,
    _lowbias32_t,
    accept_torch,
    exp_neg_torch,
    hash_uniform_torch,
    lowbias32,
    sweep_keys,
)

# --------------------------------------------------------------------------- numba
try:  # a core dependency; the torch path is the fallback
    import numba as _nb

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised where numba is absent
    _nb = None
    HAVE_NUMBA = False
    import warnings as _warnings

    _warnings.warn("skising: numba is not importable, so sampling runs on the pure-torch path (same samples, "
                   "5-100x slower on CPU); `pip install numba llvmlite` restores the compiled kernels",
                   RuntimeWarning, stacklevel=2)

_compiled = {}
# below this many spin updates per sweep the serial kernel wins
_PARALLEL_MIN_UPDATES = 100_000


def _build():
    """Compile (lazily, cached on disk) the layout kernels (ELL fill, CSR permutation, output order)."""
    if _compiled:
        return _compiled
    nb = _nb

    @nb.njit(cache=True, nogil=True)
    def ell_fill(rowptr, col, srow, send, S, proto, ids, pad):
        # ids: what a slot records of its CSR entry k (ids[k]; k itself when ids is empty), pad for padding
        ns = srow.shape[0]
        swid = np.zeros(ns, dtype=np.int64)
        sptr = np.zeros(ns + 1, dtype=np.int64)
        for q in range(ns):
            w = 0
            for i in range(srow[q], send[q]):
                w = max(w, rowptr[i + 1] - rowptr[i])
            swid[q] = w
            sptr[q + 1] = sptr[q] + w * S
        tot = sptr[ns]
        ecol = np.empty(tot, dtype=np.uint32)
        emap = np.empty(tot, dtype=proto.dtype)
        direct = ids.shape[0] == 0
        for q in range(ns):
            b = sptr[q]
            r0 = srow[q]
            m = send[q] - r0
            for p in range(swid[q]):
                for t in range(S):
                    i = r0 + min(t, m - 1)  # lanes past the colour's end repeat its last row
                    k = rowptr[i] + p
                    o = b + p * S + t
                    if t < m and k < rowptr[i + 1]:
                        ecol[o] = col[k]
                        emap[o] = k if direct else ids[k]
                    else:  # padding: the row itself, value 0
                        ecol[o] = i
                        emap[o] = pad
        return swid, sptr, ecol, emap

    def unpermute(X, position, out):
        # out[k, v] = X[position[v], k]: blocks of nodes, so the rows read stay in cache across k
        n, K = X.shape
        B = 256
        for b in nb.prange((n + B - 1) // B):
            v0 = b * B
            v1 = min(n, v0 + B)
            for k in range(K):
                for v in range(v0, v1):
                    out[k, v] = X[position[v], k]
        return out

    _compiled["unpermute"] = (nb.njit(cache=True, nogil=True)(unpermute),
                              nb.njit(cache=True, nogil=True, parallel=True)(unpermute))
    @nb.njit(cache=True, nogil=True)
    def permute_csr(rowptr, col, eid, perm, position, proto):
        # rows of the CSR in the order perm, columns relabelled by position (dtype of proto); in
        # passes whose addresses are known up front (row starts, then segment copies, then the
        # relabelling), so the out-of-order core overlaps the cache misses: 1.7x one fused loop
        n = perm.shape[0]
        new_rowptr = np.empty(n + 1, dtype=np.int64)
        start = np.empty(n, dtype=np.int64)
        new_rowptr[0] = 0
        for i in range(n):
            r = perm[i]
            a = rowptr[r]
            start[i] = a
            new_rowptr[i + 1] = new_rowptr[i] + (rowptr[r + 1] - a)
        m = new_rowptr[n]
        pcol = np.empty(m, dtype=proto.dtype)
        peid = np.empty(m, dtype=np.int64)
        for i in range(n):
            a = start[i]
            q0 = new_rowptr[i]
            for t in range(new_rowptr[i + 1] - q0):
                pcol[q0 + t] = col[a + t]
                peid[q0 + t] = eid[a + t]
        for q in range(m):
            pcol[q] = position[pcol[q]]
        return new_rowptr, pcol, peid

    _compiled["permute_csr"] = permute_csr
    _compiled["ell_fill"] = ell_fill
    return guard_all(_compiled)


_sweep_kernels = {}
# rows per tile of the one-chain kernel: gather the local fields of a tile, then
# one vectorised pass (hash, exp, accept) over it
_TILE = 64
# rows per slice of the sliced-ELL layout (one chain): a tile is _TILE // _SLICE slices
_SLICE = 8


def _intrinsics():
    """32-bit ``mul`` and ``x ^ (x >> s)`` on uint32 that stay 32-bit in LLVM IR (compiled lazily)."""
    if "intrinsics" not in _compiled:
        from numba import types
        from numba.extending import intrinsic

        @intrinsic
        def mul32(typingctx, a, b):
            def codegen(context, builder, sig, args):
                return builder.mul(args[0], args[1])

            return types.uint32(types.uint32, types.uint32), codegen

        @intrinsic
        def xs32(typingctx, a, s):
            def codegen(context, builder, sig, args):
                return builder.xor(args[0], builder.lshr(args[0], args[1]))

            return types.uint32(types.uint32, types.uint32), codegen

        _compiled["intrinsics"] = (mul32, xs32)
    return _compiled["intrinsics"]


def _make_sweeps(heat, deg, tile_k=0):
    """Sweep kernels for one update rule and one exp polynomial degree.

    ``heat`` and ``deg`` are compile-time constants of the closure, so the
    inner loops have no branch on them and a fixed Horner scheme: LLVM
    vectorises the per-update arithmetic (across chains, or across the rows of
    a tile for one chain). Spins are int8 (+-1); arithmetic is in the dtype of
    ``scal`` (float32 or float64), with the same operations as the torch path.
    Returns ``{"one" | "tile" | "many": (serial, parallel)}`` sweep drivers: one chain,
    2-7 chains (tiles of rows, vectorised across rows and chains), 8 chains or more
    (row by row, vectorised across chains), ``"ell"``: one chain on the sliced-ELL layout.
    With ``tile_k`` (2-7) it returns instead the sliced-ELL drivers for that many chains,
    ``tile_k`` a compile-time constant (2.3x faster than a run-time chain count for 2 chains).
    """
    nb = _nb
    u32 = np.uint32
    M1, M2, G = u32(_M1), u32(_M2), u32(GOLDEN)
    S9, S15, S16 = u32(9), u32(15), u32(16)

    mul32, xs32 = _intrinsics()

    @nb.njit(inline="always")
    def lb(x):
        # lowbias32 in 32-bit lanes: numba types uint32 * uint32 as uint64, and LLVM then
        # vectorised the hash in 64-bit lanes (vpmullq, half the lanes per register)
        x = xs32(x, S16)
        x = mul32(x, M1)
        x = xs32(x, S15)
        x = mul32(x, M2)
        return xs32(x, S16)

    @nb.njit(inline="always")
    def flip_or_set(x, loc, lo, skh, key0, sc, c):
        """New spin (+-1 as the compute float) for spin x with local field loc.

        ``lo`` is the low word of the counter ``idx``, ``skh`` the sweep key mixed
        with its high word, ``(hi * GOLDEN + s_t) mod 2^32`` (just ``s_t`` below 2^32).
        """
        nb2, tb, log2e, tmin, inv24, zero, one = sc
        z = loc * tb
        if heat:
            y = -z if z >= zero else z
        else:
            y = min((x * loc) * nb2, zero)
        hh = lb(u32(lo ^ key0))
        hh = lb(u32(hh ^ skh))
        # (2m + 1) < 2^24 is exact in float32 and float64; converted straight to the
        # compute float (``zero + int32`` is float64 in numba: a float64 compare per update)
        u = type(zero)(np.int32((hh >> S9) * u32(2) + u32(1))) * inv24
        tt = max(y * log2e, tmin)
        nf = np.floor(tt)
        f = tt - nf
        p = c[deg]
        for q in range(deg - 1, -1, -1):  # constant trip count: unrolled
            p = p * f + c[q]
        # 2^-n, n in [0, 30], as a product of exact powers of two (no table gather)
        n = np.int32(-nf)
        p2 = one
        p2 = p2 * (c[deg + 1] if n & 1 else one)
        p2 = p2 * (c[deg + 2] if n & 2 else one)
        p2 = p2 * (c[deg + 3] if n & 4 else one)
        p2 = p2 * (c[deg + 4] if n & 8 else one)
        p2 = p2 * (c[deg + 5] if n & 16 else one)
        ex = p * p2
        if heat:
            num = one if z >= zero else ex
            return one if u < num / (one + ex) else -one
        return -x if u < ex else x

    if tile_k:
        return _make_ell_tile(flip_or_set, int(tile_k))

    @nb.njit(nogil=True, cache=True, error_model="numpy")
    def rows_one(r0, r1, rowptr, col, val, X, H, skey, k0, scal, c):
        """One chain (X of shape (n,)): rows r0:r1 of one colour, updated in place."""
        hs = 1 if H.shape[0] > 1 else 0
        key0, sk = u32(k0), u32(skey)
        ft = scal.dtype.type
        # scalars as values, not loads: stores to X cannot alias them (no run-time alias checks)
        sc = (scal[0], scal[1], scal[2], scal[3], scal[4], scal[5], scal[6])
        acc = np.empty(_TILE, dtype=scal.dtype)
        out = np.empty(_TILE, dtype=X.dtype)
        for b0 in range(r0, r1, _TILE):
            m = min(_TILE, r1 - b0)
            for t in range(m):
                i = b0 + t
                a = scal[5]
                for p in range(rowptr[i], rowptr[i + 1]):
                    a += val[p] * ft(X[col[p]])
                acc[t] = a + H[i * hs]
            for t in range(m):
                i = b0 + t
                out[t] = np.int8(flip_or_set(ft(X[i]), acc[t], u32(i), sk, key0, sc, c))
            for t in range(m):
                X[b0 + t] = out[t]

    @nb.njit(nogil=True, cache=True, error_model="numpy")
    def rows_many(r0, r1, rowptr, col, val, X, H, skey, k0, scal, c):
        """K chains (X of shape (n, K)): rows r0:r1 of one colour, updated in place."""
        K = X.shape[1]
        hstep = 1 if H.shape[1] > 1 else 0
        key0, sk = u32(k0), u32(skey)
        ft = scal.dtype.type
        sc = (scal[0], scal[1], scal[2], scal[3], scal[4], scal[5], scal[6])
        acc = np.empty(K, dtype=scal.dtype)
        for i in range(r0, r1):
            for k in range(K):
                acc[k] = scal[5]
            p, p1 = rowptr[i], rowptr[i + 1]
            while p + 1 < p1:  # two neighbours per pass over acc, same order of additions
                j1, j2 = col[p], col[p + 1]
                v1, v2 = val[p], val[p + 1]
                for k in range(K):
                    acc[k] = (acc[k] + v1 * ft(X[j1, k])) + v2 * ft(X[j2, k])
                p += 2
            if p < p1:
                j = col[p]
                v = val[p]
                for k in range(K):
                    acc[k] += v * ft(X[j, k])
            # the field in its own pass: a run-time stride (k * hstep) inside the accept loop
            # would turn its loads into gathers
            if hstep:
                for k in range(K):
                    acc[k] += H[i, k]
            else:
                hv = H[i, 0]
                for k in range(K):
                    acc[k] += hv
            base = np.int64(i) * K
            if base + K <= 2**32:  # counters fit in 32 bits: all-32-bit lanes
                lo0 = u32(base)
                for k in range(K):
                    X[i, k] = np.int8(flip_or_set(ft(X[i, k]), acc[k], u32(lo0 + u32(k)), sk, key0, sc, c))
            else:
                for k in range(K):
                    idx = base + k
                    X[i, k] = np.int8(flip_or_set(ft(X[i, k]), acc[k], u32(idx), u32(u32(idx >> 32) * G + sk), key0,
                                                  sc, c))

    @nb.njit(nogil=True, cache=True, error_model="numpy")
    def rows_tile(r0, r1, rowptr, col, val, X, H, skey, k0, scal, c):
        """A few chains (2 <= K < 8): rows r0:r1 of one colour, all chains, updated in place.

        ``X`` is the flat (n * K,) view of the (n, K) spins, ``H`` the flat view
        of the (n, 1) or (n, K) field. Per tile of rows: gather the local fields
        of the tile's rows and chains (one pass over each row's neighbours),
        then one vectorised pass over the tile's contiguous ``rows * K`` spins,
        whose flat index is also the random-number counter ``i * K + k``.
        """
        K = X.shape[0] // (rowptr.shape[0] - 1)
        hK = H.shape[0] // (rowptr.shape[0] - 1)
        key0, sk = u32(k0), u32(skey)
        ft = scal.dtype.type
        # scalars as values, not loads: stores to X cannot alias them (no run-time alias checks)
        sc = (scal[0], scal[1], scal[2], scal[3], scal[4], scal[5], scal[6])
        zero = sc[5]
        tile = max(1, _TILE // K)
        acc = np.empty(tile * K, dtype=scal.dtype)
        out = np.empty(tile * K, dtype=X.dtype)
        for b0 in range(r0, r1, tile):
            m = min(tile, r1 - b0)
            for t in range(m):
                i = b0 + t
                for k in range(K):
                    acc[t * K + k] = zero
                for p in range(rowptr[i], rowptr[i + 1]):
                    j = col[p] * K
                    v = val[p]
                    for k in range(K):
                        acc[t * K + k] += v * ft(X[j + k])
                for k in range(K):
                    acc[t * K + k] += H[i * hK + (k if hK > 1 else 0)]
            q0 = np.int64(b0) * K
            mk = m * K
            if q0 + mk <= 2**32:  # counters fit in 32 bits: all-32-bit lanes
                lo0 = u32(q0)
                for q in range(mk):
                    out[q] = np.int8(flip_or_set(ft(X[q0 + q]), acc[q], u32(lo0 + u32(q)), sk, key0, sc, c))
            else:
                for q in range(mk):
                    idx = q0 + q
                    out[q] = np.int8(flip_or_set(ft(X[idx]), acc[q], u32(idx), u32(u32(idx >> 32) * G + sk), key0,
                                                 sc, c))
            for q in range(mk):
                X[q0 + q] = out[q]

    def driver(rows_serial):
        # the threaded driver calls its own dispatcher of the row kernel: when both drivers
        # shared one and the serial driver ran first in a process, the threaded 32-chain
        # sweeps ran about 2x slower for the rest of that process (order, not caching)
        rows_threaded = nb.njit(nogil=True, cache=True, error_model="numpy")(rows_serial.py_func)

        def make(rows):
            def sweeps(rowptr, col, val, X, H, bounds, skeys, k0, scal, c, chunk):
                for t in range(skeys.shape[0]):
                    skey = skeys[t]
                    for cc in range(bounds.shape[0] - 1):
                        s, e = bounds[cc], bounds[cc + 1]
                        nchunks = (e - s + chunk - 1) // chunk
                        for q in nb.prange(nchunks):
                            r0 = s + q * chunk
                            rows(r0, min(e, r0 + chunk), rowptr, col, val, X, H, skey, k0, scal, c)

            return sweeps

        # one body, compiled twice: threaded for big graphs, serial for small ones
        # (a parallel region per colour costs tens of microseconds, far more on a busy machine)
        return (nb.njit(parallel=False, cache=True, nogil=True, error_model="numpy")(make(rows_serial)),
                nb.njit(parallel=True, cache=True, nogil=True, error_model="numpy")(make(rows_threaded)))

    u64 = np.uint64
    S, TS = _SLICE, _TILE // _SLICE

    @nb.njit(nogil=True, cache=True, error_model="numpy")
    def ell_one(s0, s1, rend, srow, swid, sptr, ecol, ev, X, H, skey, k0, scal, c):
        """One chain, sliced-ELL layout: slices s0:s1 of one colour (rows up to ``rend``), in place.

        Per tile of ``TS`` slices: the local fields of its rows are gathered slot by
        slot (slot p of all S rows of a slice, then p + 1: fixed trip counts, no
        branch per row), then one vectorised accept/reject pass over the tile.
        Indices are unsigned so numba emits no negative-index wraparound.
        """
        key0, sk = u32(k0), u32(skey)
        ft = scal.dtype.type
        sc = (scal[0], scal[1], scal[2], scal[3], scal[4], scal[5], scal[6])
        acc = np.empty(S * TS, dtype=scal.dtype)
        out = np.empty(S * TS, dtype=X.dtype)
        for a0 in range(s0, s1, TS):
            a1 = min(s1, a0 + TS)
            for sl in range(a0, a1):
                w = swid[sl]
                b = u64(sptr[sl])
                q0 = (sl - a0) * S
                for t in range(S):
                    acc[q0 + t] = sc[5]
                for p in range(w):
                    o = b + u64(p * S)
                    for t in range(S):
                        acc[q0 + t] += ev[o + u64(t)] * ft(X[u64(ecol[o + u64(t)])])
            r = u64(srow[a0])
            m = min(u64(rend), r + u64(S * TS)) - r
            for t in range(m):
                i = r + t
                out[t] = np.int8(flip_or_set(ft(X[i]), acc[t] + H[i], u32(i), sk, key0, sc, c))
            for t in range(m):
                X[r + t] = out[t]

    ell = _ell_drivers(ell_one)
    return {"one": driver(rows_one), "tile": driver(rows_tile), "many": driver(rows_many), "ell": ell}


def _make_ell_tile(flip_or_set, KC):
    """Sliced-ELL sweep drivers for ``KC`` chains (2 <= KC < 8, a compile-time constant)."""
    nb = _nb
    u32, u64 = np.uint32, np.uint64
    S, TS = _SLICE, _TILE // _SLICE
    T = S * TS

    @nb.njit(nogil=True, cache=True, error_model="numpy")
    def ell_tile(s0, s1, rend, srow, swid, sptr, ecol, ev, X, H, skey, k0, scal, c):
        """KC chains: slices s0:s1 of one colour, ``X`` the flat (n * KC,) spins, ``H`` flat (n,) or (n * KC,).

        As the one-chain ELL kernel, with the KC spins of each neighbour gathered per
        slot; a tile's ``rows * KC`` spins are contiguous, and their flat index is the
        random-number counter ``i * KC + k``.
        """
        hK = H.shape[0] // (X.shape[0] // KC)
        key0, sk = u32(k0), u32(skey)
        ft = scal.dtype.type
        sc = (scal[0], scal[1], scal[2], scal[3], scal[4], scal[5], scal[6])
        acc = np.empty(T * KC, dtype=scal.dtype)
        out = np.empty(T * KC, dtype=X.dtype)
        uK = u64(KC)
        for a0 in range(s0, s1, TS):
            a1 = min(s1, a0 + TS)
            for sl in range(a0, a1):
                w = swid[sl]
                b = u64(sptr[sl])
                q0 = (sl - a0) * S * KC
                for t in range(S * KC):
                    acc[q0 + t] = sc[5]
                for p in range(w):
                    o = b + u64(p * S)
                    for t in range(S):
                        j = u64(ecol[o + u64(t)]) * uK
                        v = ev[o + u64(t)]
                        for k in range(KC):
                            acc[q0 + t * KC + k] += v * ft(X[j + u64(k)])
            r = u64(srow[a0])
            m = min(u64(rend), r + u64(T)) - r
            q0 = r * uK
            mk = m * uK
            if hK > 1:
                for q in range(mk):
                    acc[q] += H[q0 + q]
            else:
                for t in range(m):
                    hv = H[r + t]
                    for k in range(KC):
                        acc[t * KC + k] += hv
            if q0 + mk <= u64(2**32):  # counters fit in 32 bits: all-32-bit lanes
                lo0 = u32(q0)
                for q in range(mk):
                    out[q] = np.int8(flip_or_set(ft(X[q0 + q]), acc[q], u32(lo0 + u32(q)), sk, key0, sc, c))
            else:
                for q in range(mk):
                    idx = q0 + q
                    out[q] = np.int8(flip_or_set(ft(X[idx]), acc[q], u32(idx),
                                                 u32(u32(idx >> u64(32)) * u32(GOLDEN) + sk), key0, sc, c))
            for q in range(mk):
                X[q0 + q] = out[q]

    return _ell_drivers(ell_tile)


def _ell_drivers(kern):
    """Serial and threaded sliced-ELL sweep drivers around the slice kernel ``kern``
    (the threaded one with its own dispatcher of ``kern``; see ``driver`` in :func:`_make_sweeps`)."""
    nb = _nb
    kern_threaded = nb.njit(nogil=True, cache=True, error_model="numpy")(kern.py_func)

    def make(kern):
        def ell_sweeps(sbounds, bounds, srow, swid, sptr, ecol, ev, X, H, skeys, k0, scal, c, chunk):
            for t in range(skeys.shape[0]):
                skey = skeys[t]
                for cc in range(sbounds.shape[0] - 1):
                    s, e = sbounds[cc], sbounds[cc + 1]
                    nchunks = (e - s + chunk - 1) // chunk
                    for q in nb.prange(nchunks):
                        a = s + q * chunk
                        kern(a, min(e, a + chunk), bounds[cc + 1], srow, swid, sptr, ecol, ev, X, H, skey, k0,
                             scal, c)

        return ell_sweeps

    return (nb.njit(parallel=False, cache=True, nogil=True, error_model="numpy")(make(kern)),
            nb.njit(parallel=True, cache=True, nogil=True, error_model="numpy")(make(kern_threaded)))


def ell_layout(rowptr, col, bounds, slice_rows=None, entry_ids=None, pad=None):
    """Sliced-ELL layout of a colour-permuted CSR (compiled; needs numba, like the kernel that uses it).

    The rows of each colour are cut into slices of ``slice_rows`` consecutive
    rows; a slice is stored column-major (slot p of its rows side by side) and
    padded to its longest row. A padding slot points at the row itself with
    value 0, so it adds ``+-0.0`` after the row's real terms and leaves the
    local field's bits unchanged (the running sum starts at ``+0.0`` and can
    never become ``-0.0``); real terms keep the CSR order of their row.

    Returns ``(sbounds, srow, swid, sptr, ecol, emap)``: slice offsets per colour,
    first row, width and slot offset of each slice, the uint32 column of each slot
    and, per slot, the CSR entry it holds (``len(col)`` for padding). With ``entry_ids`` (one
    integer per CSR entry, e.g. its undirected edge), the last array holds ``entry_ids[k]`` of
    the entry ``k`` instead, and ``pad`` for padding.
    """
    S = _SLICE if slice_rows is None else int(slice_rows)
    rowptr = np.ascontiguousarray(rowptr, dtype=np.int64)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    counts = np.diff(bounds)
    nsl = (counts + S - 1) // S  # slices per colour
    sbounds = np.concatenate([[0], np.cumsum(nsl)]).astype(np.int64)
    colour_of_slice = np.repeat(np.arange(counts.size), nsl)
    srow = (bounds[colour_of_slice] + (np.arange(int(sbounds[-1])) - sbounds[colour_of_slice]) * S).astype(np.int64)
    send = np.minimum(srow + S, bounds[colour_of_slice + 1]).astype(np.int64)
    nnz = int(rowptr[-1])
    if entry_ids is None:
        entry_ids, pad = np.zeros(0, np.int64), nnz
    top = max(nnz, int(pad))
    idt = np.int32 if top < 2**31 - 1 else np.int64
    swid, sptr, ecol, emap = _build()["ell_fill"](rowptr, np.ascontiguousarray(col), srow, send, S, np.zeros(0, idt),
                                                  np.ascontiguousarray(entry_ids), int(pad))
    return sbounds, srow, swid, sptr, ecol, emap


def permute_csr_numba(rowptr, col, eid, perm, position, index_dtype):
    """Rows of a CSR (int64 arrays) in the order ``perm``, columns relabelled by ``position``
    (``index_dtype``), ``eid`` carried along: ``(rowptr, col, eid)``, one pass."""
    return _build()["permute_csr"](rowptr, col, eid, perm, position, np.zeros(0, index_dtype))


def _threaded(n_updates, n_threads):
    """``(threaded, context)`` for a compiled pass over ``n_updates`` spins: threaded only from
    ``_PARALLEL_MIN_UPDATES`` on and with ``n_threads > 1``; the context sets numba's thread
    count to ``n_threads`` for the pass and restores it."""
    import contextlib

    n_threads = _nb.config.NUMBA_NUM_THREADS if n_threads is None else int(n_threads)
    if n_threads <= 1 or n_updates < _PARALLEL_MIN_UPDATES:
        return False, contextlib.nullcontext()

    @contextlib.contextmanager
    def ctx():
        old = _nb.get_num_threads()
        _nb.set_num_threads(max(1, min(n_threads, _nb.config.NUMBA_NUM_THREADS)))
        try:
            yield
        finally:
            _nb.set_num_threads(old)

    return True, ctx()


def unpermute_numba(X, position, dtype, n_threads=None, out=None):
    """``X[position].T`` as a C-contiguous ``dtype`` array: (n, K) int8 spins to (K, n) floats in node order
    (written into ``out``, a C-contiguous (K, n) array of ``dtype``, when given)."""
    n, K = X.shape
    if out is None:
        out = np.empty((K, n), dtype=dtype)
    if K % 16 == 0:  # 16, 32, ... chains: the register-transpose kernel of _simd
        from . import _simd

        if _simd.unpermute_simd(X, position, dtype, out=out,
                                n_threads=_nb.config.NUMBA_NUM_THREADS if n_threads is None else n_threads) is not None:
            return out
    par, ctx = _threaded(X.size, n_threads)
    with ctx:
        return _build()["unpermute"][par](X, np.ascontiguousarray(position, dtype=np.int64), out)


def sweeps_numba(rowptr, col, val, X, H, bounds, skeys, k0, beta, heat, n_threads=None, ell=None, simd=True,
                 out=None, position=None):
    """Run ``len(skeys)`` sweeps in place on ``X`` (numpy int8 of +-1, shape (n,) or (n, K), colour-permuted).

    ``val`` and ``H`` (shape (n,) or (n, 1) / (n, K)) are float32 or float64:
    their dtype is the arithmetic's. ``ell``, optional, is the sliced-ELL form of
    the same matrix, ``(sbounds, srow, swid, sptr, ecol, ev)`` (see
    :func:`ell_layout`; ``ev`` the values per slot, 0 for padding): used for 1-7
    chains, where it is 2-3x faster than CSR (no data-dependent branch per row).
    With ``simd`` (default) and 8 or more chains, the explicit-SIMD LLVM kernel of
    :mod:`skising.sampling._simd` runs where it applies (1.7-5x the numba row kernel).
    Same samples either way.

    With ``out`` (a C-contiguous (K, n) float array) and ``position``, the final spins are
    written there in node order, ``X[position].T`` (:func:`unpermute_numba`), and ``X`` is
    consumed (its content afterwards is unspecified): the explicit-SIMD kernel then writes
    each block of chains as soon as its sweeps end, with no copy back into ``X``.
    """
    dt = val.dtype
    if dt not in (np.float32, np.float64) or H.dtype != dt or X.dtype != np.int8:
        raise TypeError(f"sweeps_numba: val/H float32 or float64 of one dtype and int8 X, got {val.dtype}, "
                        f"{H.dtype}, {X.dtype}")
    name = "float64" if dt == np.float64 else "float32"
    scal = np.array([-2.0 * beta, 2.0 * beta, LOG2E, T_MIN, INV24, 0.0, 1.0], dtype=dt)
    coef = list(EXP2_COEF[name])
    deg = len(coef) - 1
    # the polynomial, then 2^-1, 2^-2, 2^-4, 2^-8, 2^-16 (exact), as one homogeneous tuple
    c = tuple(dt.type(v) for v in coef + [2.0**-1, 2.0**-2, 2.0**-4, 2.0**-8, 2.0**-16])
    key = (bool(heat), deg)
    if key not in _sweep_kernels:
        _sweep_kernels[key] = _pin_cache_ids(_make_sweeps(*key), key)
    if not (X.flags.c_contiguous and H.flags.c_contiguous):
        raise ValueError("sweeps_numba: X and H must be C-contiguous (they are updated and read through flat views)")
    K = 1 if X.ndim == 1 else X.shape[1]
    # ~2k spin updates per task: enough to amortise scheduling, small enough to balance
    chunk = max(16, 2048 // max(K, 1))
    par, threads = _threaded(X.size, n_threads)
    if X.ndim == 2 and K == 1 and X.shape[0] < 2**32:  # one-chain kernel: counters are the row index
        X = X.reshape(-1)
    if X.ndim == 1:
        H = H.reshape(-1)
        kind = "one"
    elif K < 8 and X.size < 2**32:
        kind = "tile"
        X, H = X.reshape(-1), H.reshape(-1)  # flat views: a tile of rows is one contiguous run of spins
    else:
        kind = "many"
        if simd:
            from . import _simd

            nt = _nb.config.NUMBA_NUM_THREADS if n_threads is None else int(n_threads)
            if _simd.usable(X, H, val, col) and _simd.sweeps_simd(rowptr, col, val, X, H, bounds, skeys, k0, beta,
                                                                   heat, n_threads=nt, out=out, position=position):
                return
    use_ell = ell is not None and kind != "many"
    if use_ell:
        if ell[5].dtype != dt:
            raise TypeError(f"sweeps_numba: ell values must be {dt}, got {ell[5].dtype}")
        if kind == "one":
            serial_k, parallel_k = _sweep_kernels[key]["ell"]
        else:
            tkey = key + ("ell", K)
            if tkey not in _sweep_kernels:
                _sweep_kernels[tkey] = _pin_cache_ids(_make_sweeps(*key, tile_k=K), tkey)
            serial_k, parallel_k = _sweep_kernels[tkey]
        # tasks of whole tiles, ~2k spin updates each
        chunk = max(1, 2048 // (K * _TILE)) * (_TILE // _SLICE)
        args = (ell[0], np.asarray(bounds, dtype=np.int64), ell[1], ell[2], ell[3], ell[4], ell[5], X, H)
    else:
        serial_k, parallel_k = _sweep_kernels[key][kind]
        args = (rowptr, col, val, X, H, bounds)
    with threads:
        (parallel_k if par else serial_k)(*args, np.asarray(skeys, dtype=np.uint32), int(k0), scal, c, int(chunk))
    if out is not None:
        unpermute_numba(X.reshape(-1, K), position, out.dtype, n_threads=n_threads, out=out)
