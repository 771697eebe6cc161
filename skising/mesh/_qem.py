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

The same queue without a kept set gives a vertex *order*
(:func:`qem_removal_order`): every vertex may collapse onto any neighbour,
cheapest first (link and normal checks always on), until no admissible
collapse remains; the step at which each vertex disappears ranks it, so the
vertices removed last are, for every budget, the kept set of the greedy
simplification stopped at that budget.

The collapse loop is inherently sequential; it runs as one compiled
``numba`` loop over a binary heap (pure Python when numba is missing).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["qem_collapse", "qem_removal_order", "removal_rank"]

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
def _add_plane(Q, v, nx, ny, nz, d):
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


@_njit
def _face_quadrics(V, F, boundary_weight=1.0):
    """Unit-weight plane quadrics (n, 10): every face's plane at its corners, and at the ends of every boundary
    edge (an edge of one face) the plane through the edge perpendicular to that face, times ``boundary_weight``,
    so open boundaries keep their shape (MeshLab's boundary quadrics; its default weight is 1). Closed meshes
    have no boundary planes."""
    n = V.shape[0]
    m = F.shape[0]
    Q = np.zeros((n, 10))
    unit = np.zeros((m, 3))
    for f in range(m):
        a, b, c = F[f, 0], F[f, 1], F[f, 2]
        nx, ny, nz = _normal(V, a, b, c)
        ln = np.sqrt(nx * nx + ny * ny + nz * nz)
        if ln <= 0.0:
            continue
        nx /= ln
        ny /= ln
        nz /= ln
        unit[f, 0], unit[f, 1], unit[f, 2] = nx, ny, nz
        d = -(nx * V[a, 0] + ny * V[a, 1] + nz * V[a, 2])
        for v in (a, b, c):
            _add_plane(Q, v, nx, ny, nz, d)
    if boundary_weight == 0.0:
        return Q
    # boundary edges: edges of exactly one face, counted in an open-addressing hash table of the undirected
    # edges (O(faces); a sort cost as much as the whole quadric build)
    cap = 16
    while cap < 3 * m:  # 1.5 m undirected edges on a closed mesh: load at most 1/2
        cap *= 2
    keys = np.full(cap, -1, dtype=np.int64)
    count = np.zeros(cap, dtype=np.int32)
    for h in range(3 * m):
        a, b = F[h // 3, h % 3], F[h // 3, (h % 3 + 1) % 3]
        key = min(a, b) * n + max(a, b)
        i = (key * 0x9E3779B1) & (cap - 1)
        while keys[i] != key and keys[i] != -1:
            i = (i + 1) & (cap - 1)
        keys[i] = key
        count[i] += 1
    for f in range(m):
        for k in range(3):
            a, b = F[f, k], F[f, (k + 1) % 3]
            key = min(a, b) * n + max(a, b)
            i = (key * 0x9E3779B1) & (cap - 1)
            while keys[i] != key:
                i = (i + 1) & (cap - 1)
            if count[i] != 1:
                continue
            ex, ey, ez = V[b, 0] - V[a, 0], V[b, 1] - V[a, 1], V[b, 2] - V[a, 2]
            fx, fy, fz = unit[f, 0], unit[f, 1], unit[f, 2]
            nx, ny, nz = fy * ez - fz * ey, fz * ex - fx * ez, fx * ey - fy * ex  # face normal x edge
            ln = np.sqrt(nx * nx + ny * ny + nz * nz)
            if ln > 0.0:
                nx /= ln
                ny /= ln
                nz /= ln
                d = -(nx * V[a, 0] + ny * V[a, 1] + nz * V[a, 2])
                r = np.sqrt(boundary_weight)
                _add_plane(Q, a, r * nx, r * ny, r * nz, r * d)
                _add_plane(Q, b, r * nx, r * ny, r * nz, r * d)
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
def _before(c1, u1, w1, c2, u2, w2, lex):
    """Entry ``(c1, u1, w1)`` before ``(c2, u2, w2)``: by cost, and with ``lex`` equal costs by ``(u, w)`` (an order
    independent of rounding)."""
    if c1 != c2 or not lex:
        return c1 < c2
    if u1 != u2:
        return u1 < u2
    return w1 < w2


@_njit
def _heap_move(hc, hi, dst, src):
    hc[dst] = hc[src]
    hi[dst, 0], hi[dst, 1], hi[dst, 2], hi[dst, 3] = hi[src, 0], hi[src, 1], hi[src, 2], hi[src, 3]


@_njit
def _heap_reserve(hc, hi, size, extra):
    """The heap arrays, grown (doubled) when ``size + extra`` entries would not fit."""
    if size + extra <= hc.shape[0]:
        return hc, hi
    cap = max(2 * hc.shape[0], size + extra)
    hc2 = np.empty(cap)
    hi2 = np.empty((cap, 4), dtype=np.int64)
    hc2[:size] = hc[:size]
    hi2[:size] = hi[:size]
    return hc2, hi2


@_njit
def _heap_push(hc, hi, size, c, u, w, su, sw, lex=False):
    """Push one entry (room for it reserved by :func:`_heap_reserve`); returns the new size.

    Returns only the size: handing arrays back costs reference-count updates on every call.
    """
    k = size
    while k > 0:  # sift the hole up, then write the entry once
        p = (k - 1) >> 1
        if not _before(c, u, w, hc[p], hi[p, 0], hi[p, 1], lex):
            break
        _heap_move(hc, hi, k, p)
        k = p
    hc[k] = c
    hi[k, 0], hi[k, 1], hi[k, 2], hi[k, 3] = u, w, su, sw
    return size + 1


@_njit
def _sift_down(hc, hi, k, size, xc, x0, x1, x2, x3, lex):
    """Place entry ``x`` at the hole ``k`` of the heap's first ``size`` entries, moving smaller children up."""
    while True:
        lft = 2 * k + 1
        if lft >= size:
            break
        m = lft
        if lft + 1 < size and _before(hc[lft + 1], hi[lft + 1, 0], hi[lft + 1, 1], hc[lft], hi[lft, 0], hi[lft, 1],
                                      lex):
            m = lft + 1
        if not _before(hc[m], hi[m, 0], hi[m, 1], xc, x0, x1, lex):
            break
        _heap_move(hc, hi, k, m)
        k = m
    hc[k] = xc
    hi[k, 0], hi[k, 1], hi[k, 2], hi[k, 3] = x0, x1, x2, x3


@_njit
def _heap_pop(hc, hi, size, lex=False):
    """Move the minimum to slot ``size - 1`` and restore the heap on the rest (the last entry sifts down from the
    root; the same arrangement as swapping it there)."""
    last = size - 1
    rc, r0, r1, r2, r3 = hc[0], hi[0, 0], hi[0, 1], hi[0, 2], hi[0, 3]
    _sift_down(hc, hi, 0, last, hc[last], hi[last, 0], hi[last, 1], hi[last, 2], hi[last, 3], lex)
    hc[last] = rc
    hi[last, 0], hi[last, 1], hi[last, 2], hi[last, 3] = r0, r1, r2, r3
    return last


@_njit
def _heapify(hc, hi, size, lex):
    """Restore the heap order of the first ``size`` entries in O(size) (sift every parent down, last first)."""
    for k in range(size // 2 - 1, -1, -1):
        _sift_down(hc, hi, k, size, hc[k], hi[k, 0], hi[k, 1], hi[k, 2], hi[k, 3], lex)


@_njit
def _drop_stale(hc, hi, size, alive, version):
    """Keep only the current entries (both ends alive, versions unchanged) and re-heapify (lexicographic heaps: the
    pops that follow are the same). Returns the new size."""
    k = 0
    for i in range(size):
        # the staleness test, written out here and in the two pop loops: as a helper (even numba-inlined) it kept
        # reference counting of its array arguments per entry, which made the removal order 1.4x slower
        u, w = hi[i, 0], hi[i, 1]
        if alive[u] and alive[w] and version[u] == hi[i, 2] and version[w] == hi[i, 3]:
            if k != i:
                _heap_move(hc, hi, k, i)
            k += 1
    _heapify(hc, hi, k, True)
    return k


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
def _ring(v, faces, nf, F, out, seen):
    """Distinct neighbours of ``v`` over its ``nf`` faces into ``out``, in first-seen order. Returns the count.

    ``seen`` (n,) bool is all False on entry and on return (O(ring) marks, no pairwise search).
    """
    cnt = 0
    for i in range(nf):
        f = faces[i]
        for k in range(3):
            x = F[f, k]
            if x != v and not seen[x]:
                seen[x] = True
                out[cnt] = x
                cnt += 1
    for j in range(cnt):
        seen[out[j]] = False
    return cnt


@_njit
def _admissible(u, w, V, F, fu, nfu, ru, nru, rw, nrw, min_cos, check_link, check_flip, seen):
    if check_link:
        shared = 0
        for i in range(nfu):
            f = fu[i]
            if F[f, 0] == w or F[f, 1] == w or F[f, 2] == w:
                shared += 1
        for i in range(nru):
            seen[ru[i]] = True
        common = 0
        for j in range(nrw):
            if seen[rw[j]]:
                common += 1
        for i in range(nru):
            seen[ru[i]] = False
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
def _vertex_face_lists(F, n):
    """Per-vertex linked lists of face corners: ``head``, ``tail`` (n,) and ``nxt`` (3 m,)."""
    m = F.shape[0]
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
    return head, tail, nxt


@_njit
def _loop_state(V, F, n_edges, boundary_weight=1.0):
    """Working state of a collapse loop: a copy of ``F``, quadrics, liveness, versions, face lists, buffers, heap."""
    n = V.shape[0]
    m = F.shape[0]
    F = F.copy()
    Q = _face_quadrics(V, F, boundary_weight)
    head, tail, nxt = _vertex_face_lists(F, n)
    hc = np.empty(max(16, 4 * n_edges))
    return (F, Q, np.ones(m, dtype=np.bool_), np.ones(n, dtype=np.bool_), np.zeros(n, dtype=np.int64), head, tail,
            nxt, np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64), np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.int64), np.zeros(n, dtype=np.bool_), hc, np.empty((hc.shape[0], 4), dtype=np.int64))


@_njit
def _try_collapse(u, w, V, F, Q, face_alive, alive, version, head, tail, nxt, fu, fw, ru, rw, seen, min_cos,
                  check_link, check_flip):
    """Collapse ``u -> w`` if the edge exists and the collapse is admissible; returns whether it was made.

    On success ``F``, the face lists, ``Q``, ``alive`` and ``face_alive``
    are updated, ``w``'s version is bumped (its queued entries go stale),
    and ``fw`` / ``rw`` hold the faces and ring of ``w`` after
    the collapse; the return value is then the ring size ``nrw`` + 1
    (0 when nothing was collapsed).
    """
    nfu = _faces_of(u, head, tail, nxt, F, face_alive, fu)
    nru = _ring(u, fu, nfu, F, ru, seen)
    nfw = _faces_of(w, head, tail, nxt, F, face_alive, fw)
    nrw = _ring(w, fw, nfw, F, rw, seen)
    adjacent = False
    for j in range(nru):
        if ru[j] == w:
            adjacent = True
            break
    if not adjacent:
        return 0
    if not _admissible(u, w, V, F, fu, nfu, ru, nru, rw, nrw, min_cos, check_link, check_flip, seen):
        return 0
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
    version[w] += 1  # queued entries with w are out of date
    nfw = _faces_of(w, head, tail, nxt, F, face_alive, fw)
    return _ring(w, fw, nfw, F, rw, seen) + 1


@_njit
def _collapse_loop(V, F, keep, eu, ev, min_cos):
    n = V.shape[0]
    F, Q, face_alive, alive, version, head, tail, nxt, fu, fw, ru, rw, seen, hc, hi = _loop_state(V, F, len(eu))
    parent = np.arange(n)
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
            hc, hi = _heap_reserve(hc, hi, 0, 2 * len(eu))
            for i in range(len(eu)):
                a, b = eu[i], ev[i]
                if not keep[a]:
                    size = _heap_push(hc, hi, size, _qcost(Q, a, b, V), a, b, 0, 0)
                if not keep[b]:
                    size = _heap_push(hc, hi, size, _qcost(Q, b, a, V), b, a, 0, 0)
        else:
            for u in range(n):
                if keep[u] or not alive[u]:
                    continue
                nf = _faces_of(u, head, tail, nxt, F, face_alive, fu)
                nr = _ring(u, fu, nf, F, ru, seen)
                hc, hi = _heap_reserve(hc, hi, size, nr)
                for j in range(nr):
                    x = ru[j]
                    size = _heap_push(hc, hi, size, _qcost(Q, u, x, V), u, x, version[u], version[x])
        while size > 0:
            size = _heap_pop(hc, hi, size)
            u, w = hi[size, 0], hi[size, 1]
            if not (alive[u] and alive[w]) or version[u] != hi[size, 2] or version[w] != hi[size, 3]:
                continue
            nrw = _try_collapse(u, w, V, F, Q, face_alive, alive, version, head, tail, nxt, fu, fw, ru, rw, seen,
                                min_cos, check_link, check_flip) - 1
            if nrw < 0:
                continue
            parent[u] = w
            remaining -= 1
            per_pass[pas] += 1
            hc, hi = _heap_reserve(hc, hi, size, 2 * nrw)
            for j in range(nrw):
                x = rw[j]
                if not keep[x]:
                    size = _heap_push(hc, hi, size, _qcost(Q, x, w, V), x, w, version[x], version[w])
                if not keep[w]:
                    size = _heap_push(hc, hi, size, _qcost(Q, w, x, V), w, x, version[w], version[x])
    return F, face_alive, parent, per_pass


@_njit
def _quality(V, a, b, c):
    """Triangle quality ``|(b - a) x (c - a)| / longest edge^2`` (MeshLab's; equilateral 0.87, degenerate 0)."""
    x, y, z = _normal(V, a, b, c)
    d = 0.0
    for p, q in ((a, b), (a, c), (b, c)):
        dx, dy, dz = V[p, 0] - V[q, 0], V[p, 1] - V[q, 1], V[p, 2] - V[q, 2]
        d = max(d, dx * dx + dy * dy + dz * dz)
    return np.sqrt(x * x + y * y + z * z) / d if d > 0.0 else 0.0


@_njit
def _min_quality(u, w, V, F, head, tail, nxt, face_alive, buf):
    """Smallest quality among the faces around ``u -> w`` after it: ``u``'s faces moved to ``w`` and ``w``'s other
    faces (the faces MeshLab's priority looks at)."""
    mq = np.inf
    nf = _faces_of(u, head, tail, nxt, F, face_alive, buf)
    for i in range(nf):
        a, b, c = F[buf[i], 0], F[buf[i], 1], F[buf[i], 2]
        if a != w and b != w and c != w:
            mq = min(mq, _quality(V, w if a == u else a, w if b == u else b, w if c == u else c))
    nf = _faces_of(w, head, tail, nxt, F, face_alive, buf)
    for i in range(nf):
        a, b, c = F[buf[i], 0], F[buf[i], 1], F[buf[i], 2]
        if a != u and b != u and c != u:
            mq = min(mq, _quality(V, a, b, c))
    return mq


@_njit
def _flat_cost(u, w, V, tol, F, head, tail, nxt, face_alive, buf):
    """Priority of a flat collapse ``u -> w`` (quadric error at most ``tol``) in the removal order:
    ``tol / min(q, 0.3)`` with ``q`` the worst face quality it leaves (MeshLab's priority with its quality
    threshold), so flat collapses that leave slivers go after the others instead of in vertex-index order.
    Called only for flat collapses: a call passing arrays costs reference-count updates, so the common case
    stays in the loop."""
    return tol / max(min(_min_quality(u, w, V, F, head, tail, nxt, face_alive, buf), 0.3), 1e-12)


@_njit
def _removal_loop(V, F, eu, ev, min_cos, stop, tol, max_passes, boundary_weight, locked):
    """Greedy half-edge collapses of any vertex, cheapest first, until ``stop`` vertices are left.

    Returns the collapse step of every vertex (-1: never removed) and the
    number of vertices left. Costs at most ``tol`` are flat (see
    :func:`_flat_cost`) and equal costs go in ``(u, w)`` order, so flat
    regions do not depend on rounding.
    A pass ends when the queue is empty; rejected collapses are queued again
    in the next pass, until a pass removes nothing (or ``max_passes``).
    A ``locked`` vertex is never removed (no collapse ``u -> w`` with ``u``
    locked is queued); it can still be the target ``w``.
    """
    n = V.shape[0]
    F, Q, face_alive, alive, version, head, tail, nxt, fu, fw, ru, rw, seen, hc, hi = _loop_state(V, F, len(eu), boundary_weight)
    qbuf = np.empty(F.shape[0], dtype=np.int64)
    step = np.full(n, -1, dtype=np.int64)
    remaining = n
    t = 0
    for pas in range(max_passes):
        if remaining <= stop:
            break
        size = 0
        # the queue is a heap in the total order (cost, u, w): which current entry pops next does not depend on the
        # heap's layout, so it is built in O(size) and purged of stale entries whenever it has grown by a quarter
        # (on PSB meshes 1.7x faster than purging at doubling, 3x faster than never)
        if pas == 0:
            hc, hi = _heap_reserve(hc, hi, 0, 2 * len(eu))
            for i in range(2 * len(eu)):
                a, b = (eu[i >> 1], ev[i >> 1]) if i & 1 == 0 else (ev[i >> 1], eu[i >> 1])
                if locked[a]:
                    continue
                hc[size] = _qcost(Q, a, b, V)
                if hc[size] <= tol:
                    hc[size] = _flat_cost(a, b, V, tol, F, head, tail, nxt, face_alive, qbuf)
                hi[size, 0], hi[size, 1], hi[size, 2], hi[size, 3] = a, b, 0, 0
                size += 1
        else:
            for u in range(n):
                if not alive[u] or locked[u]:
                    continue
                nf = _faces_of(u, head, tail, nxt, F, face_alive, fu)
                nr = _ring(u, fu, nf, F, ru, seen)
                hc, hi = _heap_reserve(hc, hi, size, nr)
                for j in range(nr):
                    x = ru[j]
                    hc[size] = _qcost(Q, u, x, V)
                    if hc[size] <= tol:
                        hc[size] = _flat_cost(u, x, V, tol, F, head, tail, nxt, face_alive, qbuf)
                    hi[size, 0], hi[size, 1] = u, x
                    hi[size, 2], hi[size, 3] = version[u], version[x]
                    size += 1
        _heapify(hc, hi, size, True)
        limit = max(5 * size // 4, 1024)
        t0 = t
        while size > 0 and remaining > stop:
            if size >= limit:
                size = _drop_stale(hc, hi, size, alive, version)
                limit = max(5 * size // 4, 1024)
                if size == 0:
                    break
            size = _heap_pop(hc, hi, size, True)
            u, w = hi[size, 0], hi[size, 1]
            if not (alive[u] and alive[w]) or version[u] != hi[size, 2] or version[w] != hi[size, 3]:
                continue
            nrw = _try_collapse(u, w, V, F, Q, face_alive, alive, version, head, tail, nxt, fu, fw, ru, rw, seen,
                                min_cos, True, True) - 1
            if nrw < 0:
                continue
            step[u] = t
            t += 1
            remaining -= 1
            hc, hi = _heap_reserve(hc, hi, size, 2 * nrw)
            for j in range(nrw):
                x = rw[j]
                if not locked[x]:
                    c = _qcost(Q, x, w, V)
                    if c <= tol:
                        c = _flat_cost(x, w, V, tol, F, head, tail, nxt, face_alive, qbuf)
                    size = _heap_push(hc, hi, size, c, x, w, version[x], version[w], True)
                if not locked[w]:
                    c = _qcost(Q, w, x, V)
                    if c <= tol:
                        c = _flat_cost(w, x, V, tol, F, head, tail, nxt, face_alive, qbuf)
                    size = _heap_push(hc, hi, size, c, w, x, version[w], version[x], True)
        if t == t0:
            break
    return step, remaining


_WARNED = [False]


def _warn_no_numba():
    if not HAVE_NUMBA and not _WARNED[0]:  # pragma: no cover
        warnings.warn("the quadric collapse loops (coarsening='qem', prior='qem') run in pure Python without numba "
                      "(pip install numba)", RuntimeWarning, stacklevel=4)
        _WARNED[0] = True


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
    _warn_no_numba()
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


def removal_rank(V, F, edges, stop=0, min_cos=0.0, max_passes=16, boundary_weight=1.0, locked=None):
    """Kernel of :func:`qem_removal_order` (trusts its input).

    Parameters
    ----------
    V : float64 (n, 3)
    F : int64 (f, 3)
    edges : int64 (2, e), the unique undirected edges of ``F``
    stop : int, default=0
        Stop when this many vertices are left.
    min_cos : float, default=0.0
        Smallest admissible cosine between a moved face's old and new normal.
    max_passes : int, default=16
        Passes over the queue (each re-queues the collapses rejected before).
    boundary_weight : float, default=1.0
        Weight of the planes through open boundary edges (0: none; closed
        meshes have none).
    locked : bool (n,) or None
        Vertices never removed.

    Returns
    -------
    rank : int64 (n,)
        A permutation of ``0 .. n-1``: removed vertices in the order they
        were removed, then the vertices never removed (by index).
    n_left : int
        Vertices never removed.
    """
    _warn_no_numba()
    V = np.ascontiguousarray(V, dtype=np.float64)
    n = len(V)
    u, w = np.asarray(edges[0], dtype=np.int64), np.asarray(edges[1], dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        ell = float(np.linalg.norm(V[u] - V[w], axis=1).mean()) if len(u) else 1.0
    if not (np.isfinite(ell) and ell > 0):
        ell = 1.0
    Vn = (V - V.mean(0)) / ell  # costs in units of the mean edge length squared: one tolerance for every mesh
    step, n_left = _removal_loop(Vn, np.ascontiguousarray(F, dtype=np.int64), np.ascontiguousarray(u),
                                 np.ascontiguousarray(w), float(min_cos), int(stop), 1e-10, int(max_passes),
                                 float(boundary_weight),
                                 np.zeros(n, dtype=np.bool_) if locked is None else np.ascontiguousarray(locked, bool))
    key = np.where(step >= 0, step, n + np.arange(n))
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(n)
    return rank, int(n_left)


def qem_removal_order(mesh, locked=None):
    """Rank of every vertex in a greedy quadric simplification that removes as many vertices as it can.

    Half-edge collapses ``u -> w`` (``u`` disappears, ``w`` stays where it
    is) are taken cheapest first by the quadric error of ``Q_u + Q_w`` at
    ``w`` (unit-weight face-plane quadrics, plus at open boundaries the
    planes through each boundary edge perpendicular to its face, as the
    ``"qem"`` coarsening),
    each only when it keeps the surface a 2-manifold (link condition) and
    turns no face over, until no admissible collapse remains. The vertices
    with the ``k`` highest ranks are, for every ``k`` down to the vertices
    never removed, exactly the vertices left by the same simplification
    stopped at ``k`` vertices: one ordering gives the greedy kept set of
    every budget. Costs are measured on the mesh centred and scaled to unit
    mean edge length. A flat collapse (error at most ``1e-10``) costs
    ``1e-10 / min(q, 0.3)``, with ``q`` the worst quality (twice the area
    over the longest edge squared, as MeshLab's) among the faces around it
    afterwards (MeshLab's priority with ``qualitythr=0.3``), so flat
    collapses that leave slivers go after the others. Equal costs are taken in
    vertex-index order. The ranks are invariant to rotations, translations
    and uniform scaling, up to collapses whose costs differ only by
    rounding.

    ``locked`` vertices are never removed (collapses onto them are allowed),
    as meshoptimizer's ``vertex_lock``: for a segmented mesh, locking
    :func:`part_boundary_vertices` keeps every part boundary in the coarse
    mesh (``benchmarks/results/mesh_needs.md``: at half of the vertices, no
    transfer error left for at most 3 % more distance).

    Parameters
    ----------
    mesh : mesh input
        A ``(vertices, faces)`` pair, an ``.off`` path, or a skising Graph
        with ``pos`` and ``data["faces"]``.
    locked : bool array-like of shape (n_vertices,), optional
        Vertices the simplification must keep. They rank above every
        removed vertex; a budget below their count cuts into them by
        vertex index.

    Returns
    -------
    rank : ndarray of int64, shape (n_vertices,)
        A permutation of ``0 .. n-1``; 0 = removed first, higher = kept
        longer (the vertices never removed have the highest ranks).

    Examples
    --------
    >>> import numpy as np
    >>> from skising.datasets import load_bunny
    >>> from skising.mesh import coarsen_mesh, qem_removal_order
    >>> g = load_bunny()
    >>> rank = qem_removal_order(g)
    >>> keep = rank >= g.num_nodes - 251  # the greedy simplification's 251 vertices
    >>> Vc, Fc = coarsen_mesh(g, keep)
    >>> int(keep.sum()), Vc.shape
    (251, (251, 3))
    """
    from ._io import mesh_edges
    from ._mesh import as_mesh, check_vertex_mask

    V, F = as_mesh(mesh)
    locked = None if locked is None else check_vertex_mask(locked, len(V), "locked")
    return removal_rank(V, F, mesh_edges(F), locked=locked)[0]


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
