"""O(n + m) conversion of adjacency matrices and edge lists to the internal CSR.

Two single-pass kernels, compiled by numba on first use (cached on disk) when
numba is installed (numba, a core dependency); :mod:`skising.graph._graph`
falls back to sorting with numpy/scipy otherwise (same result, slower):

* :func:`csr_to_graph`: a canonical CSR matrix (sorted columns, no duplicates)
  is already the sorted symmetric CSR of the graph. One streaming pass drops
  the diagonal (and explicit zeros), checks finiteness and exact symmetry (the
  multiset of upper entries ``(r, c, a)`` against the mirrored lower entries
  ``(c, r, a)``, compared through sums of 64-bit hashes: no random access), and
  a second maps every entry to its undirected edge: the lower entry ``(r, c)``,
  ``c < r``, is the next unmatched upper entry of row ``c`` (rows are visited
  in increasing order, so the mirrors of row ``c``'s upper entries arrive in
  increasing column order). A matrix that is symmetric only up to rounding
  fails the exact check and takes the sorting path, which accepts it within
  its tolerance.
* :func:`edges_to_graph`: an edge list (both directions and duplicates allowed)
  is ordered by one sort of its ``u n + v`` keys (``u < v``), duplicates are
  merged (their weights must agree), and the symmetric CSR is filled by one
  pass over the edges in lexicographic order (which leaves every row sorted:
  no second sort of the ``2 m`` directed entries).

Both return exactly the arrays the sorting path computes (edges in
lexicographic order, CSR sorted by (row, column), ``eid``), so everything
downstream (colourings, sampler plans, samples for a seed) is unchanged.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import _numba_cache

__all__ = ["available", "content_hash", "disabled", "csr_to_graph", "edges_to_graph", "pin_cache_ids"]

_compiled = {}

# error codes of the kernels
OK, NONFINITE, OUT_OF_RANGE, ASYMMETRIC, CONFLICT = 0, 1, 2, 3, 4


def available():
    """Whether the compiled conversion kernels can be used (numba importable)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - exercised where numba is absent
        return False
    return True


@contextlib.contextmanager
def disabled():
    """Within this context :func:`available` is false: ``as_graph`` takes the sorting path (for
    comparisons in tests and benchmarks)."""
    global available
    saved = available
    available = lambda: False  # noqa: E731
    try:
        yield
    finally:
        available = saved


def pin_cache_ids(obj, tag, path="k", seen=None):
    """Give every numba dispatcher and intrinsic captured by the closures of ``obj`` a fixed identity.

    numba keys the on-disk cache of a closure on its pickled cells; a captured
    dispatcher (``flip_or_set``, the row kernel of a driver) or intrinsic pickles
    with a random per-process uuid, so without this every new process missed the
    cache and compiled the sweep kernels again (seconds per kernel). The ids are
    ``skising:<tag>:<path>``: unique in a process, the same in every process.
    """
    seen = set() if seen is None else seen
    if isinstance(obj, dict):
        for k, v in obj.items():
            pin_cache_ids(v, tag, f"{path}.{k}", seen)
        return obj
    if isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            pin_cache_ids(v, tag, f"{path}.{i}", seen)
        return obj
    if id(obj) in seen:
        return obj
    seen.add(id(obj))
    func = getattr(obj, "py_func", None) or getattr(obj, "_defn", None)
    if func is None:
        return obj
    _numba_cache.guard(obj)  # process-safe on-disk cache (see skising._numba_cache)
    for attr in ("_MemoMixin__uuid", "_Intrinsic__uuid"):
        if hasattr(obj, attr) and getattr(obj, attr) is None:
            obj._set_uuid(f"skising:{tag}:{path}")
    for i, cell in enumerate(getattr(func, "__closure__", None) or ()):
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        pin_cache_ids(inner, tag, f"{path}.{i}", seen)
    return obj


def _build():
    if _compiled:
        return _compiled
    import numba as nb

    @nb.njit(inline="always")
    def mix(x):  # splitmix64's finaliser
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

    @nb.njit(cache=True, nogil=True)
    def csr_check(indptr, indices, data, bits, drop_zeros):
        """Pass 1: finiteness, range, exact symmetry; kept entries and upper entries per row."""
        n = indptr.shape[0] - 1
        rowptr = np.empty(n + 1, np.int64)
        eoff = np.empty(n + 1, np.int64)
        rowptr[0] = 0
        eoff[0] = 0
        info = np.zeros(3, np.int64)  # code, row, column
        # symmetry: the multiset of upper entries (r, c, a) must equal that of the mirrored lower
        # entries (c, r, a); compared by two sums of 64-bit entry hashes (streaming, no random access)
        hu = np.uint64(0)
        hl = np.uint64(0)
        xu = np.uint64(0)
        xl = np.uint64(0)
        for r in range(n):
            kept = 0
            up = 0
            for p in range(indptr[r], indptr[r + 1]):
                c = np.int64(indices[p])
                a = data[p]
                if not np.isfinite(a):
                    info[0], info[1], info[2] = NONFINITE, r, c
                    return info, rowptr, eoff
                if c < 0 or c >= n:
                    info[0], info[1], info[2] = OUT_OF_RANGE, r, c
                    return info, rowptr, eoff
                if c == r or (drop_zeros and a == 0):
                    continue
                kept += 1
                b = np.uint64(bits[p])
                if c > r:
                    up += 1
                    hh = mix(mix(np.uint64(r) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(c)) ^ b)
                    hu += hh
                    xu ^= mix(hh)
                else:
                    hh = mix(mix(np.uint64(c) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(r)) ^ b)
                    hl += hh
                    xl ^= mix(hh)
            rowptr[r + 1] = rowptr[r] + kept
            eoff[r + 1] = eoff[r] + up
        if hu != hl or xu != xl or 2 * eoff[n] != rowptr[n]:
            info[0] = ASYMMETRIC
        return info, rowptr, eoff

    @nb.njit(cache=True, nogil=True)
    def csr_edges(rowptr, col, data, eoff):
        """Pass 2 on a CSR without diagonal or dropped entries: edge of every entry, edge list."""
        n = rowptr.shape[0] - 1
        m = eoff[n]
        eid = np.empty(rowptr[n], np.int64)
        edges = np.empty((2, m), np.int64)
        eu = edges[0]
        ev = edges[1]
        w = np.empty(m, np.float64)
        cur = eoff[:n].copy()  # next unmatched upper entry of every row
        for r in range(n):
            p = rowptr[r]
            p1 = rowptr[r + 1]
            # sorted row: the lower entries first; the mirror of (r, c) is row c's next unmatched upper entry
            while p < p1 and col[p] < r:
                c = col[p]
                k = cur[c]
                eid[p] = k
                cur[c] = k + 1
                p += 1
            e = eoff[r]
            while p < p1:
                eid[p] = e
                eu[e] = r
                ev[e] = col[p]
                w[e] = data[p]
                e += 1
                p += 1
        return eid, edges, w

    @nb.njit(cache=True, nogil=True)
    def edge_keys(src, dst, n):
        """``min(s, d) n + max(s, d)`` of every edge that is not a self-loop; their positions."""
        E = src.shape[0]
        key = np.empty(E, np.int64)
        m = 0
        for k in range(E):
            a, b = src[k], dst[k]
            if a != b:
                key[m] = min(a, b) * n + max(a, b)
                m += 1
        if m == E:
            return key, np.empty(0, np.int64)
        kept = np.empty(m, np.int64)
        q = 0
        for k in range(E):
            if src[k] != dst[k]:
                kept[q] = k
                q += 1
        return key[:m], kept

    @nb.njit(cache=True, nogil=True)
    def fill_symmetric(eu, ev, n):
        """Symmetric CSR of lexicographically sorted unique edges (``u < v``): ``rowptr, col, eid``."""
        m = eu.shape[0]
        rowptr = np.zeros(n + 1, np.int64)
        for k in range(m):
            rowptr[eu[k] + 1] += 1
            rowptr[ev[k] + 1] += 1
        for i in range(n):
            rowptr[i + 1] += rowptr[i]
        col = np.empty(2 * m, np.int64)
        eid = np.empty(2 * m, np.int64)
        pos = rowptr[:n].copy()
        # edges in lexicographic order: row r receives its lower entries (from edges (c, r), c < r)
        # in increasing c before its upper ones (edges (r, v)) in increasing v, so rows come out sorted
        for k in range(m):
            u, v = eu[k], ev[k]
            q = pos[u]
            col[q] = v
            eid[q] = k
            pos[u] = q + 1
            q = pos[v]
            col[q] = u
            eid[q] = k
            pos[v] = q + 1
        return rowptr, col, eid

    _compiled["csr_check"] = csr_check
    _compiled["csr_edges"] = csr_edges
    @nb.njit(cache=True, nogil=True)
    def words_hash(w, seed):
        # sum of mixed (word + position) terms: any change of one word changes the sum
        h0 = np.uint64(seed)
        h1 = np.uint64(0)
        h2 = np.uint64(0)
        h3 = np.uint64(0)
        g = np.uint64(0x9E3779B97F4A7C15)
        m = w.shape[0] // 4 * 4
        for i in range(0, m, 4):
            b = np.uint64(i) * g
            h0 += mix(w[i] + b)
            h1 += mix(w[i + 1] + b + g)
            h2 += mix(w[i + 2] + b + g + g)
            h3 += mix(w[i + 3] + b + g + g + g)
        for i in range(m, w.shape[0]):
            h0 += mix(w[i] + np.uint64(i) * g)
        return mix(h0 + mix(h1 + mix(h2 + mix(h3))))

    _compiled["hash"] = words_hash
    _compiled["fill"] = fill_symmetric
    _compiled["keys"] = edge_keys
    pin_cache_ids(_compiled, "graph")
    return _compiled


def content_hash(arrays):
    """64-bit hash of the bytes of numpy arrays (with their dtypes and shapes), at memory speed.

    Not cryptographic: it tells an array apart from an edited version of itself (any
    change of one 8-byte word changes the hash; several changes collide with
    probability about 2^-64), which is what a cache of conversions needs.
    """
    import zlib

    parts = []
    for a in arrays:
        a = np.ascontiguousarray(a)
        b = a.reshape(-1).view(np.uint8)
        cut = b.size // 8 * 8
        if available():
            h = int(_build()["hash"](b[:cut].view(np.uint64), np.uint64(b.size)))
        else:  # pragma: no cover - exercised where numba is absent
            h = zlib.crc32(b[:cut])
        parts.append((a.dtype.str, a.shape, h, b[cut:].tobytes()))
    return hash(tuple(parts))


def csr_to_graph(indptr, indices, data, drop_zeros=True):
    """Canonical CSR arrays to ``(info, rowptr, col, eid, edges (2, m), weight)``.

    ``info = (code, row, column)``: ``code`` 0 (valid) or one of ``NONFINITE``,
    ``OUT_OF_RANGE``, ``ASYMMETRIC``. ``indptr`` is int64, ``indices`` int32 or
    int64, ``data`` float32 or float64; the diagonal is dropped, and explicit
    zeros too with ``drop_zeros``.
    """
    k = _build()
    bits = data.view(np.uint32 if data.dtype == np.float32 else np.uint64)
    info, rowptr, eoff = k["csr_check"](indptr, indices, data, bits, bool(drop_zeros))
    if info[0]:
        return info, None, None, None, None, None
    if rowptr[-1] == indptr[-1]:  # nothing dropped: the input's arrays are the CSR
        col = indices.astype(np.int64, copy=False)
        rowptr = indptr
    else:
        r = np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr))
        keep = indices != r
        if drop_zeros:
            keep &= data != 0
        col, data = indices[keep].astype(np.int64), data[keep]
    eid, edges, w = k["csr_edges"](rowptr, col, data, eoff)
    return info, rowptr, col, eid, edges, w


def edges_to_graph(src, dst, weight, n):
    """Edge list (int64 ``src``, ``dst``, float64 ``weight`` or ``None`` for ones) to
    ``(info, (wmin, wmax), rowptr, col, eid, edges (2, m), weight)``.

    Self-loops are dropped; an edge listed more than once (either direction)
    keeps the smallest of its weights, which must all be close
    (``numpy.isclose``, rtol 1e-6, atol 1e-12); ``info = (CONFLICT, u, v)`` names
    the first edge where they are not. The edges are ordered by one sort of
    ``u n + v`` keys (a key sort, not an argsort, when all weights are equal).
    """
    info = np.zeros(3, np.int64)
    k = _build()
    key, kept = k["keys"](src, dst, np.int64(n))
    if weight is not None and key.size < src.size:
        weight = weight[kept]
    uniform = weight is None or weight.size == 0 or weight.min() == weight.max()
    if uniform:
        ks = np.sort(key)
    else:
        order = np.argsort(key, kind="stable")
        ks, ws = key[order], weight[order]
    first = np.empty(ks.size, dtype=bool)
    first[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=first[1:])
    if uniform:
        uniq = ks[first]
        w = np.full(uniq.size, 1.0 if weight is None or weight.size == 0 else weight[0])
    else:
        starts = np.flatnonzero(first)
        uniq = ks[starts]
        wmin = np.minimum.reduceat(ws, starts)
        wmax = np.maximum.reduceat(ws, starts)
        bad = ~np.isclose(wmin, wmax, rtol=1e-6, atol=1e-12)
        if bad.any():
            b = int(np.flatnonzero(bad)[0])
            info[:] = CONFLICT, uniq[b] // n, uniq[b] % n
            return info, (wmin[b], wmax[b]), None, None, None, None, None
        w = wmin
    edges = np.empty((2, uniq.size), dtype=np.int64)
    np.floor_divide(uniq, n, out=edges[0])
    np.multiply(edges[0], n, out=edges[1])
    np.subtract(uniq, edges[1], out=edges[1])
    rowptr, col, eid = k["fill"](edges[0], edges[1], int(n))
    return info, (0.0, 0.0), rowptr, col, eid, edges, w
