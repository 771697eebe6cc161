"""Compiled node-order kernels of the sampler's set-up: greedy colouring, largest-first order,
reverse Cuthill-McKee.

All three are single passes over a symmetric CSR graph (``rowptr``, ``col``), compiled by numba
on first use and cached on disk; callers check :data:`skising.sampling._kernels.HAVE_NUMBA`
first (the colouring has a vectorised torch twin, the ordering scipy's).
"""

from __future__ import annotations

import numpy as np

from .._numba_cache import guard_all
from ._kernels import HAVE_NUMBA, _nb

__all__ = ["greedy_in_order_numba", "lf_order_numba", "rcm_order"]

_compiled = {}


def _build():
    """Compile (lazily, cached on disk) the kernels."""
    if _compiled:
        return _compiled
    nb = _nb

    @nb.njit(cache=True, nogil=True)
    def greedy(order, rowptr, col, colors):
        """Sequential greedy colouring in ``order``; ``colors`` (int16/int32/int64) is filled."""
        n = order.shape[0]
        one = np.uint64(1)
        for v in range(n):
            colors[v] = -1
        for t in range(n):
            v = order[t]
            # colours 0..63 of the neighbours as a bit set; larger ones (rare) by a scan
            used = np.uint64(0)
            big = False
            for p in range(rowptr[v], rowptr[v + 1]):
                c = colors[col[p]]
                if c >= 0:
                    if c < 64:
                        used |= one << np.uint64(c)
                    else:
                        big = True
            c = 0
            while c < 64 and (used >> np.uint64(c)) & one:
                c += 1
            if c == 64 or big:
                c = 0
                while True:
                    hit = c < 64 and (used >> np.uint64(c)) & one
                    if not hit:
                        for p in range(rowptr[v], rowptr[v + 1]):
                            if colors[col[p]] == c:
                                hit = True
                                break
                    if not hit:
                        break
                    c += 1
            colors[v] = c
        return colors

    @nb.njit(cache=True, nogil=True)
    def lf_order(deg, r):
        # nodes by decreasing (deg, r), r a permutation: argsort(-(deg * n + r)) by counting sort, O(n)
        n = deg.shape[0]
        maxd = 0
        for v in range(n):
            if deg[v] > maxd:
                maxd = deg[v]
        inv = np.empty(n, dtype=np.int64)
        for v in range(n):
            inv[r[v]] = v
        start = np.zeros(maxd + 2, dtype=np.int64)
        for v in range(n):
            start[deg[v]] += 1
        acc = 0
        for d in range(maxd, -1, -1):
            c = start[d]
            start[d] = acc
            acc += c
        order = np.empty(n, dtype=np.int64)
        for t in range(n - 1, -1, -1):
            v = inv[t]
            d = deg[v]
            order[start[d]] = v
            start[d] += 1
        return order

    @nb.njit(cache=True, nogil=True)
    def cuthill_mckee(rowptr, col, seeds, deg):
        """Cuthill-McKee order: BFS from each unvisited node in ``seeds`` order, the new neighbours of
        each visited node appended by increasing degree (a stable insertion sort)."""
        n = seeds.shape[0]
        order = np.empty(n, dtype=np.int64)
        seen = np.zeros(n, dtype=np.bool_)
        maxd = 0
        for v in range(n):
            if deg[v] > maxd:
                maxd = deg[v]
        td = np.empty(maxd + 1, dtype=np.int64)
        N = 0
        for z in range(n):
            s = seeds[z]
            if seen[s]:
                continue
            order[N] = s
            seen[s] = True
            N += 1
            lo, hi = N - 1, N
            while lo < hi:
                for ii in range(lo, hi):
                    i = order[ii]
                    n0 = N
                    for p in range(rowptr[i], rowptr[i + 1]):
                        j = col[p]
                        if not seen[j]:
                            seen[j] = True
                            order[N] = j
                            N += 1
                    m = N - n0
                    for k in range(m):
                        td[k] = deg[order[n0 + k]]
                    for k in range(1, m):
                        t = td[k]
                        v = order[n0 + k]
                        q = k
                        while q > 0 and t < td[q - 1]:
                            td[q] = td[q - 1]
                            order[n0 + q] = order[n0 + q - 1]
                            q -= 1
                        td[q] = t
                        order[n0 + q] = v
                lo, hi = hi, N
            if N == n:
                break
        return order

    _compiled["greedy"] = greedy
    _compiled["lf_order"] = lf_order
    _compiled["cuthill_mckee"] = cuthill_mckee
    return guard_all(_compiled)


def greedy_in_order_numba(order, rowptr, col):
    """Sequential greedy colouring visiting nodes in ``order`` (numpy int64 arrays); int64 colours."""
    n = order.shape[0]
    maxdeg = int(np.max(np.diff(rowptr))) if n else 0
    # small colour array (colours <= max degree): neighbour look-ups stay in cache
    dt = np.int16 if maxdeg < 2**15 - 1 else np.int64
    return _build()["greedy"](order, rowptr, col, np.empty(n, dtype=dt)).astype(np.int64)


def lf_order_numba(deg, r):
    """Nodes by decreasing ``deg * n + r`` (``r`` a permutation), in O(n)."""
    return _build()["lf_order"](deg, r)


def rcm_order(rowptr, col):
    """Reverse Cuthill-McKee order of a loop-free symmetric CSR graph (numpy int64 arrays).

    Exactly :func:`scipy.sparse.csgraph.reverse_cuthill_mckee` with ``symmetric_mode=True`` on the
    graph's scipy CSR matrix (same BFS, same seeds: ``numpy.argsort`` of the degrees in the index
    dtype scipy gives that matrix, so equal degrees tie the same way), about 3x faster: the
    visited set is a byte per node instead of two indirections through 8-byte arrays. Without
    numba, scipy's own function runs.
    """
    n = rowptr.shape[0] - 1
    nnz = int(rowptr[-1])
    # scipy's index dtype for this matrix: int32 while the index pointer fits
    idt = np.int32 if max(n, nnz) < 2**31 else np.int64
    if not HAVE_NUMBA:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        A = sp.csr_matrix((np.ones(nnz, dtype=np.int8), col, rowptr), shape=(n, n))
        return reverse_cuthill_mckee(A, symmetric_mode=True).astype(np.int64)
    deg = np.diff(rowptr).astype(idt)
    seeds = np.argsort(deg)  # the call scipy makes: its ties are the ones scipy breaks
    return _build()["cuthill_mckee"](rowptr, col, seeds, deg)[::-1]
