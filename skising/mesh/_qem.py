r"""Connectivity for a given kept vertex set by quadric-ordered half-edge collapses.

Every removed vertex ``u`` disappears through half-edge collapses ``u -> w``
onto a neighbour ``w`` that stays where it is (so the coarse vertices are
exactly the kept input vertices). Collapses are taken greedily in order of
the quadric error (Garland & Heckbert 1997) of the merged quadric
``Q_u + Q_w`` at ``w``'s position, with unit-weight face-plane quadrics
(as MeshLab's; area weights let large flat faces drown small curved ones).
A collapse is admissible when

* it keeps the surface a 2-manifold (the link condition: the common
  neighbours of ``u`` and ``w`` are exactly the apexes of the faces on the
  edge), and
* no face turns over: the normal of every face that moves keeps a cosine
  of at least ``min_cos`` with its old normal.

A removed vertex may also collapse onto a removed neighbour, which later
collapses further: a removed vertex without a kept neighbour reaches the kept
set through the cheapest chain the queue finds. Collapses rejected in the
first pass get a second pass without the normal check, and a third without
the link condition (duplicate and degenerate faces are then dropped), so
every removed vertex with a neighbour is removed.

The collapse loop is inherently sequential; it runs as one compiled
``numba`` loop over a binary heap (pure Python when numba is missing).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["qem_collapse"]

try:
    import numba as _nb

    from .._numba_cache import guard as _guard

    def _njit(f):
        return _guard(_nb.njit(cache=True, nogil=True)(f))

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised where numba is absent
    HAVE_NUMBA = False

    def _njit(f):
        return f


@_njit
def _normal(V, a, b, c):
    """Unnormalised normal (b - a) x (c - a) of the triangle with corners ``V[a], V[b], V[c]``."""
    e1x, e1y, e1z = V[b, 0] - V[a, 0], V[b, 1] - V[a, 1], V[b, 2] - V[a, 2]
    e2x, e2y, e2z = V[c, 0] - V[a, 0], V[c, 1] - V[a, 1], V[c, 2] - V[a, 2]
    return e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x


@_njit
def _face_quadrics(V, F):
    n = V.shape[0]
    Q = np.zeros((n, 10))
    for f in range(F.shape[0]):
        a, b, c = F[f, 0], F[f, 1], F[f, 2]
        nx, ny, nz = _normal(V, a, b, c)
        ln = np.sqrt(nx * nx + ny * ny + nz * nz)
        if ln <= 0.0:
            continue
        nx /= ln
        ny /= ln
        nz /= ln
        d = -(nx * V[a, 0] + ny * V[a, 1] + nz * V[a, 2])
        for v in (a, b, c):
            Q[v, 0] += nx * nx
            Q[v, 1] += nx * ny
            Q[v, 2] += nx * nz
            Q[v, 3] += nx * d
            Q[v, 4] += ny * ny
            Q[v, 5] += ny * nz
            Q[v, 6] += ny * d
            Q[v, 7] += nz * nz
            Q[v, 8] += nz * d
            Q[v, 9] += d * d
    return Q


@_njit
def _qcost(Q, u, w, V):
    """Error of the merged quadric ``Q_u + Q_w`` at ``w``'s position."""
    x, y, z = V[w, 0], V[w, 1], V[w, 2]
    q0, q1, q2, q3, q4 = Q[u, 0] + Q[w, 0], Q[u, 1] + Q[w, 1], Q[u, 2] + Q[w, 2], Q[u, 3] + Q[w, 3], Q[u, 4] + Q[w, 4]
    q5, q6, q7, q8, q9 = Q[u, 5] + Q[w, 5], Q[u, 6] + Q[w, 6], Q[u, 7] + Q[w, 7], Q[u, 8] + Q[w, 8], Q[u, 9] + Q[w, 9]
    e = (q0 * x * x + 2 * q1 * x * y + 2 * q2 * x * z + 2 * q3 * x
         + q4 * y * y + 2 * q5 * y * z + 2 * q6 * y
         + q7 * z * z + 2 * q8 * z + q9)
    return max(e, 0.0)


@_njit
def _heap_swap(hc, hi, a, b):
    hc[a], hc[b] = hc[b], hc[a]
    for j in range(4):
        hi[a, j], hi[b, j] = hi[b, j], hi[a, j]


@_njit
def _heap_push(hc, hi, size, c, u, w, su, sw):
    if size == hc.shape[0]:
        hc2 = np.empty(2 * size)
        hi2 = np.empty((2 * size, 4), dtype=np.int64)
        hc2[:size] = hc
        hi2[:size] = hi
        hc, hi = hc2, hi2
    k = size
    hc[k] = c
    hi[k, 0], hi[k, 1], hi[k, 2], hi[k, 3] = u, w, su, sw
    while k > 0:
        p = (k - 1) >> 1
        if hc[p] <= hc[k]:
            break
        _heap_swap(hc, hi, p, k)
        k = p
    return hc, hi, size + 1


@_njit
def _heap_pop(hc, hi, size):
    """Move the minimum to slot ``size - 1`` and restore the heap on the rest."""
    last = size - 1
    _heap_swap(hc, hi, 0, last)
    k = 0
    while True:
        lft = 2 * k + 1
        if lft >= last:
            break
        m = lft
        if lft + 1 < last and hc[lft + 1] < hc[lft]:
            m = lft + 1
        if hc[k] <= hc[m]:
            break
        _heap_swap(hc, hi, k, m)
        k = m
    return last


@_njit
def _faces_of(v, head, tail, nxt, F, face_alive, out):
    """Alive faces of ``v`` into ``out``; unlinks dead nodes on the way. Returns the count."""
    cnt = 0
    prev = -1
    node = head[v]
    while node >= 0:
        f = node // 3
        nn = nxt[node]
        if face_alive[f] and F[f, node % 3] == v:
            out[cnt] = f
            cnt += 1
            prev = node
        else:
            if prev < 0:
                head[v] = nn
            else:
                nxt[prev] = nn
            if nn < 0:
                tail[v] = prev
        node = nn
    return cnt


@_njit
def _ring(v, faces, nf, F, out):
    """Distinct neighbours of ``v`` over its ``nf`` faces into ``out``. Returns the count."""
    cnt = 0
    for i in range(nf):
        f = faces[i]
        for k in range(3):
            x = F[f, k]
            if x == v:
                continue
            seen = False
            for j in range(cnt):
                if out[j] == x:
                    seen = True
                    break
            if not seen:
                out[cnt] = x
                cnt += 1
    return cnt


@_njit
def _admissible(u, w, V, F, fu, nfu, ru, nru, rw, nrw, min_cos, check_link, check_flip):
    if check_link:
        shared = 0
        for i in range(nfu):
            f = fu[i]
            if F[f, 0] == w or F[f, 1] == w or F[f, 2] == w:
                shared += 1
        common = 0
        for i in range(nru):
            for j in range(nrw):
                if ru[i] == rw[j]:
                    common += 1
                    break
        if common != shared:
            return False
        if nru <= 3 and nrw <= 3:  # a tetrahedron would fold flat
            return False
    if check_flip:
        for i in range(nfu):
            f = fu[i]
            if F[f, 0] == w or F[f, 1] == w or F[f, 2] == w:
                continue
            a, b, c = F[f, 0], F[f, 1], F[f, 2]
            x0, y0, z0 = _normal(V, a, b, c)
            x1, y1, z1 = _normal(V, w if a == u else a, w if b == u else b, w if c == u else c)
            l0 = np.sqrt(x0 * x0 + y0 * y0 + z0 * z0)
            l1 = np.sqrt(x1 * x1 + y1 * y1 + z1 * z1)
            if l1 <= 1e-12 * max(l0, 1e-300):
                return False
            if l0 > 0.0 and x0 * x1 + y0 * y1 + z0 * z1 < min_cos * l0 * l1:
                return False
    return True


@_njit
def _collapse_loop(V, F, keep, eu, ev, min_cos):
    n = V.shape[0]
    m = F.shape[0]
    F = F.copy()
    Q = _face_quadrics(V, F)
    face_alive = np.ones(m, dtype=np.bool_)
    alive = np.ones(n, dtype=np.bool_)
    parent = np.arange(n)
    version = np.zeros(n, dtype=np.int64)
    head = np.full(n, -1, dtype=np.int64)
    tail = np.full(n, -1, dtype=np.int64)
    nxt = np.full(3 * m, -1, dtype=np.int64)
    for node in range(3 * m):
        v = F[node // 3, node % 3]
        if head[v] < 0:
            head[v] = node
        else:
            nxt[tail[v]] = node
        tail[v] = node
    fu = np.empty(m, dtype=np.int64)
    fw = np.empty(m, dtype=np.int64)
    ru = np.empty(n, dtype=np.int64)
    rw = np.empty(n, dtype=np.int64)
    hc = np.empty(max(16, 4 * len(eu)))
    hi = np.empty((hc.shape[0], 4), dtype=np.int64)
    per_pass = np.zeros(3, dtype=np.int64)
    remaining = 0
    for v in range(n):
        if not keep[v]:
            remaining += 1
    for pas in range(3):
        if remaining == 0:
            break
        check_flip = pas == 0
        check_link = pas < 2
        size = 0
        if pas == 0:
            for i in range(len(eu)):
                a, b = eu[i], ev[i]
                if not keep[a]:
                    hc, hi, size = _heap_push(hc, hi, size, _qcost(Q, a, b, V), a, b, 0, 0)
                if not keep[b]:
                    hc, hi, size = _heap_push(hc, hi, size, _qcost(Q, b, a, V), b, a, 0, 0)
        else:
            for u in range(n):
                if keep[u] or not alive[u]:
                    continue
                nf = _faces_of(u, head, tail, nxt, F, face_alive, fu)
                nr = _ring(u, fu, nf, F, ru)
                for j in range(nr):
                    x = ru[j]
                    hc, hi, size = _heap_push(hc, hi, size, _qcost(Q, u, x, V), u, x, version[u], version[x])
        while size > 0:
            size = _heap_pop(hc, hi, size)
            u, w, su, sw = hi[size, 0], hi[size, 1], hi[size, 2], hi[size, 3]
            if not (alive[u] and alive[w]) or version[u] != su or version[w] != sw:
                continue
            nfu = _faces_of(u, head, tail, nxt, F, face_alive, fu)
            nru = _ring(u, fu, nfu, F, ru)
            nfw = _faces_of(w, head, tail, nxt, F, face_alive, fw)
            nrw = _ring(w, fw, nfw, F, rw)
            adjacent = False
            for j in range(nru):
                if ru[j] == w:
                    adjacent = True
                    break
            if not adjacent:
                continue
            if not _admissible(u, w, V, F, fu, nfu, ru, nru, rw, nrw, min_cos, check_link, check_flip):
                continue
            # collapse u -> w
            for i in range(nfu):
                f = fu[i]
                if F[f, 0] == w or F[f, 1] == w or F[f, 2] == w:
                    face_alive[f] = False
                else:
                    for k in range(3):
                        if F[f, k] == u:
                            F[f, k] = w
            if head[u] >= 0:
                if head[w] < 0:
                    head[w] = head[u]
                else:
                    nxt[tail[w]] = head[u]
                tail[w] = tail[u]
            head[u] = -1
            tail[u] = -1
            Q[w] += Q[u]
            alive[u] = False
            parent[u] = w
            remaining -= 1
            per_pass[pas] += 1
            version[w] += 1
            nfw = _faces_of(w, head, tail, nxt, F, face_alive, fw)
            nrw = _ring(w, fw, nfw, F, rw)
            for j in range(nrw):
                x = rw[j]
                if not keep[x]:
                    hc, hi, size = _heap_push(hc, hi, size, _qcost(Q, x, w, V), x, w, version[x], version[w])
                if not keep[w]:
                    hc, hi, size = _heap_push(hc, hi, size, _qcost(Q, w, x, V), w, x, version[w], version[x])
    return F, face_alive, parent, per_pass


_WARNED = [False]


def qem_collapse(V, F, keep, edges, min_cos=0.0):
    """Kernel: quadric-ordered half-edge collapses of the removed vertices (trusts its input).

    Parameters
    ----------
    V : float64 (n, 3)
    F : int64 (f, 3)
    keep : bool (n,)
    edges : int64 (2, e), the unique undirected edges of ``F``
    min_cos : float
        Smallest admissible cosine between a moved face's old and new normal
        in the first pass.

    Returns
    -------
    faces : int64 (f', 3)
        Faces on the original vertex indices, all corners kept; no
        degenerate faces (duplicates are removed by the caller).
    target : int64 (n,)
        The kept vertex each vertex ends in (itself when kept; -1 when its
        component kept nothing).
    """
    if not HAVE_NUMBA and not _WARNED[0]:  # pragma: no cover
        warnings.warn("coarsening='qem' runs its collapse loop in pure Python without numba (pip install numba)",
                      RuntimeWarning, stacklevel=3)
        _WARNED[0] = True
    Fo, face_alive, parent, _ = _collapse_loop(
        np.ascontiguousarray(V, dtype=np.float64), np.ascontiguousarray(F, dtype=np.int64),
        np.ascontiguousarray(keep, dtype=np.bool_), np.ascontiguousarray(edges[0], dtype=np.int64),
        np.ascontiguousarray(edges[1], dtype=np.int64), float(min_cos))
    Fo = Fo[face_alive]
    Fo = Fo[keep[Fo].all(1)]
    # follow the collapse chains to their kept end (pointer jumping, O(log chain) passes)
    target = parent.copy()
    while True:
        nt = target[target]
        if np.array_equal(nt, target):
            break
        target = nt
    target = np.where(keep[target], target, -1)
    return Fo, target


def qem_vertex_cost(V, F, edges):
    """Quadric error of each vertex's cheapest half-edge collapse (the cost the coarsening's queue starts from).

    ``cost_u = min_w (Q_u + Q_w)(r_w)`` over the neighbours ``w`` of ``u``,
    with the unit-weight face-plane quadrics of the collapse loop; in
    squared length units (0 on flat regions, large on creases and corners).
    Invariant to rotations and translations. Isolated vertices get 0.

    Parameters
    ----------
    V : float64 (n, 3)
    F : int64 (f, 3)
    edges : int64 (2, e), the unique undirected edges of ``F``

    Returns
    -------
    ndarray (n,)
    """
    V = np.ascontiguousarray(V, dtype=np.float64)
    Q = _face_quadrics(V, np.ascontiguousarray(F, dtype=np.int64))
    u, w = np.asarray(edges[0]), np.asarray(edges[1])
    src, dst = np.concatenate([u, w]), np.concatenate([w, u])
    q = Q[src] + Q[dst]  # (Q_u + Q_w), evaluated at r_w
    x, y, z = V[dst].T
    e = (q[:, 0] * x * x + 2 * q[:, 1] * x * y + 2 * q[:, 2] * x * z + 2 * q[:, 3] * x
         + q[:, 4] * y * y + 2 * q[:, 5] * y * z + 2 * q[:, 6] * y
         + q[:, 7] * z * z + 2 * q[:, 8] * z + q[:, 9])
    cost = np.full(len(V), np.inf)
    np.minimum.at(cost, src, np.maximum(e, 0.0))
    cost[~np.isfinite(cost)] = 0.0
    return cost
