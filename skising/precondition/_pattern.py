"""Candidate patterns of M and their line graph (the Ising graph of the SAI task).

A candidate entry ``(i, j)`` of the approximate inverse ``M`` is an Ising
node; two candidates are coupled when they share a row or a column (the line
graph of the bipartite row/column graph of the pattern). Everything is built
from sorted index arrays, never from an ``n x n`` dense array, so matrices
with 10^5 rows work.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..graph import Graph
from ..sampling import entry_coloring

__all__ = ["check_matrix", "candidate_pattern", "entry_graph", "entry_features", "square_capped", "truncate_columns"]


def check_matrix(A, name="A", require_nonsingular_pattern=True):
    """Validate a square real matrix; return it as CSR float64 (sorted, summed).

    Raises ``TypeError`` for non-numeric or non-matrix input and
    ``ValueError`` for non-square, empty, NaN/inf, or (when asked) a matrix
    with an empty row or column (structurally singular).

    Parameters
    ----------
    A : array-like, scipy.sparse matrix or torch.Tensor of shape (n, n)
    name : str, default="A"
        The argument name used in error messages.
    require_nonsingular_pattern : bool, default=True
        Reject matrices with an empty row or column.

    Returns
    -------
    scipy.sparse.csr_matrix (float64)
        Explicit zeros removed, indices sorted, duplicates summed.

    Examples
    --------
    >>> from skising.precondition import check_matrix
    >>> A = check_matrix([[4, -1, 0], [-1, 4, -1], [0, -1, 4]])
    >>> A.format, A.dtype, A.nnz
    ('csr', dtype('float64'), 7)
    >>> check_matrix([[1, 0], [0, 0]], name="X")
    Traceback (most recent call last):
    ...
    ValueError: X: row 1 is empty, so the matrix is singular and has no inverse to approximate
    """
    if sp.issparse(A):
        M = A
    elif isinstance(A, torch.Tensor):
        if A.is_sparse or A.layout != torch.strided:
            A = A.to_dense()
        M = A.detach().cpu().numpy()
    else:
        try:
            M = np.asarray(A)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise TypeError(f"{name}: cannot convert {type(A).__name__} to a matrix") from exc
    if not sp.issparse(M):
        if M.dtype == object or not (np.issubdtype(M.dtype, np.number) or M.dtype == bool):
            raise TypeError(f"{name}: expected a real numeric matrix, got {type(A).__name__} of dtype {M.dtype}")
        if M.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D matrix, got an array of shape {M.shape}")
    if np.iscomplexobj(M.data if sp.issparse(M) else M):
        raise TypeError(f"{name}: complex matrices are not supported")
    if sp.issparse(M) and not (np.issubdtype(M.dtype, np.number) or M.dtype == bool):
        raise TypeError(f"{name}: expected a real numeric matrix, got dtype {M.dtype}")
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {M.shape}")
    if M.shape[0] == 0:
        raise ValueError(f"{name}: empty (0 x 0) matrix")
    M = sp.csr_matrix(M, dtype=np.float64, copy=True)
    M.sum_duplicates()
    if not np.isfinite(M.data).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    M.eliminate_zeros()
    M.sort_indices()
    if require_nonsingular_pattern:
        n = M.shape[0]
        rows = np.diff(M.indptr)
        if (rows == 0).any():
            i = int(np.flatnonzero(rows == 0)[0])
            raise ValueError(f"{name}: row {i} is empty, so the matrix is singular and has no inverse to approximate")
        cols = np.bincount(M.indices, minlength=n)
        if (cols == 0).any():
            j = int(np.flatnonzero(cols == 0)[0])
            raise ValueError(f"{name}: column {j} is empty, so the matrix is singular and has no inverse to approximate")
    return M


def candidate_pattern(A, pattern="A2", keep_diagonal=True, max_candidates=None):
    """Candidate entries of M as ``(rows, cols)`` sorted by column, then row.

    Parameters
    ----------
    A : scipy.sparse matrix (CSR float64, validated)
    pattern : {"A2", "A", "full"} or sparse matrix
        ``"A2"``: pattern of ``A + A^2`` (Setting 1); ``"A"``: pattern of A;
        ``"full"``: all ``n^2`` entries (only sensible for small matrices);
        a sparse matrix: its own nonzero pattern.
    keep_diagonal : bool
        When True the diagonal is excluded from the candidates (it is always
        part of M).
    max_candidates : int or None, default=None
        At most this many off-diagonal candidates per column of M (``"A2"``
        and ``"A"`` only). Entries of A come first (the largest ``|A_ij|``
        when a column of A alone has more), then the largest ``(|A|^2)_ij``.
        ``A^2`` itself is formed from A with every column truncated to its
        ``max_candidates`` largest entries, so a dense row or column of A
        costs ``O(n max_candidates^2)``, never ``O(n^2)``. None: every entry
        of ``A + A^2``.

    Returns
    -------
    rows, cols : int64 arrays

    Examples
    --------
    The off-diagonal entries of a tridiagonal pattern, column by column:

    >>> from skising.precondition import candidate_pattern, check_matrix
    >>> A = check_matrix([[4, -1, 0], [-1, 4, -1], [0, -1, 4]])
    >>> rows, cols = candidate_pattern(A, "A")
    >>> rows.tolist(), cols.tolist()
    ([1, 0, 2, 1], [0, 1, 1, 2])
    >>> rows, cols = candidate_pattern(A, "A2")  # A + A^2 fills the corners
    >>> len(rows)
    6
    """
    n = A.shape[0]
    if isinstance(pattern, str):
        if pattern == "full":
            if n > 4096:
                raise ValueError(f"pattern: 'full' on an n={n} matrix would need n^2 candidates; use 'A2'")
            from .._validation import check_memory

            check_memory(48 * n * n, f"pattern='full' on an n={n} matrix ({n * n} candidate entries)",
                         "use pattern='A2' or 'A', or smaller matrices")
            r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            r, c = r.ravel(), c.ravel()
        elif pattern in ("A2", "A"):
            if max_candidates is not None:
                return _capped_candidates(A, pattern, keep_diagonal, int(max_candidates))
            P = A.copy()
            P.data = np.ones_like(P.data)
            if pattern == "A2":
                P = P + P @ P
            P = P.tocoo()
            r, c = P.row.astype(np.int64), P.col.astype(np.int64)
        else:
            raise ValueError(f"pattern: expected 'A2', 'A', 'full' or a sparse matrix, got {pattern!r}")
    elif sp.issparse(pattern) or isinstance(pattern, np.ndarray):
        P = sp.coo_matrix(pattern)
        if P.shape != A.shape:
            raise ValueError(f"pattern: shape {P.shape} does not match the matrix shape {A.shape}")
        P.sum_duplicates()
        nz = P.data != 0
        r, c = P.row[nz].astype(np.int64), P.col[nz].astype(np.int64)
        if not keep_diagonal:
            empty = np.bincount(c, minlength=n) == 0
            if empty.any():
                raise ValueError(
                    f"pattern: column {int(np.flatnonzero(empty)[0])} is empty; with keep_diagonal=False every column "
                    "needs a candidate entry"
                )
    else:
        raise TypeError(f"pattern: expected 'A2', 'A', 'full' or a sparse matrix, got {type(pattern).__name__}")
    P = sp.csc_matrix((np.ones(r.size), (r, c)), shape=(n, n))
    P.sum_duplicates()
    P.sort_indices()
    c = np.repeat(np.arange(n, dtype=np.int64), np.diff(P.indptr))
    r = P.indices.astype(np.int64)
    if keep_diagonal:
        off = r != c
        r, c = r[off], c[off]
    return r, c


def _top_per_column(rows, cols, score, n, cap):
    """Mask of the ``cap`` highest-``score`` entries of every column (ties: lower row first)."""
    o = np.lexsort((rows, -score, cols))
    cs = cols[o]
    starts = np.searchsorted(cs, np.arange(n))
    rank = np.arange(cs.size) - starts[cs]
    keep = np.zeros(cols.size, dtype=bool)
    keep[o[rank < cap]] = True
    return keep


def truncate_columns(A, cap):
    """A (CSR) with every column cut to its ``cap`` largest-magnitude entries (diagonal always kept).

    The square ``A_t @ A_t`` of the result has at most ``n (cap + 1)^2``
    stored entries, whatever the density of A's rows and columns.
    """
    A = sp.csr_matrix(A)
    n = A.shape[0]
    counts = np.bincount(A.indices, minlength=n)
    if counts.max(initial=0) <= cap + 1:
        return A
    C = A.tocoo()
    r, c, v = C.row.astype(np.int64), C.col.astype(np.int64), C.data
    score = np.abs(v) + np.where(r == c, np.inf, 0.0)
    keep = _top_per_column(r, c, score, n, cap + 1)
    return sp.csr_matrix((v[keep], (r[keep], c[keep])), shape=A.shape)


def square_capped(A, cap=None):
    """``A @ A``, or ``A_t @ A_t`` with the columns of A truncated to ``cap`` entries (see :func:`truncate_columns`)."""
    At = A if cap is None else truncate_columns(A, int(cap))
    P = (At @ At).tocsr()
    P.sort_indices()
    return P


def _capped_candidates(A, pattern, keep_diagonal, cap):
    """Candidates of A (+ A^2) with at most ``cap`` off-diagonal entries per column."""
    n = A.shape[0]
    C = A.tocoo()
    r, c = C.row.astype(np.int64), C.col.astype(np.int64)
    score = np.abs(C.data) + 2.0  # entries of A rank before those of A^2
    if pattern == "A2":
        An = abs(A)  # |A|^2 >= |A^2| entrywise and has no cancellations: the structure of A^2
        P = square_capped(An, cap).tocoo()
        # both CSR with sorted indices: row-major keys are sorted, so binary search (no sort) finds A's entries
        key_a = r * n + c
        key_p = P.row.astype(np.int64) * n + P.col.astype(np.int64)
        pos = np.minimum(np.searchsorted(key_a, key_p), max(key_a.size - 1, 0))
        new = key_a[pos] != key_p if key_a.size else np.ones(key_p.size, dtype=bool)
        r = np.concatenate([r, P.row[new].astype(np.int64)])
        c = np.concatenate([c, P.col[new].astype(np.int64)])
        pv = np.abs(P.data[new])
        score = np.concatenate([score, pv / (pv.max() if pv.size and pv.max() > 0 else 1.0)])  # in [0, 1]
    off = r != c
    r, c, score = r[off], c[off], score[off]
    keep = _top_per_column(r, c, score, n, cap)
    r, c = r[keep], c[keep]
    if not keep_diagonal:
        d = np.arange(n, dtype=np.int64)
        r, c = np.concatenate([r, d]), np.concatenate([c, d])
    o = np.lexsort((r, c))
    return r[o], c[o]


def _clique_pairs(group, order):
    """All pairs of entries inside each group (entries listed in ``order``).

    ``group[order]`` must be sorted. Returns (src, dst) entry indices.
    """
    g = group[order]
    if g.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, g.size])
    pos = np.arange(g.size) - np.repeat(starts, sizes)
    after = np.repeat(sizes, sizes) - pos - 1  # partners after me in my group
    total = int(after.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    src_pos = np.repeat(np.arange(g.size), after)
    first = np.cumsum(after) - after
    dst_pos = src_pos + 1 + (np.arange(total) - np.repeat(first, after))
    return order[src_pos], order[dst_pos]


#: peak bytes per entry-graph edge while building it (pair arrays, Graph CSR,
#: sort temporaries); measured 164-179 on 1e6-5e7 edges
_BYTES_PER_ENTRY_EDGE = 192


def entry_graph_size(rows, cols):
    """Number of edges of the entry graph of the candidates ``(rows, cols)``, without building it."""
    r = np.bincount(rows).astype(np.int64) if rows.size else np.zeros(0, np.int64)
    c = np.bincount(cols).astype(np.int64) if cols.size else np.zeros(0, np.int64)
    return int((r * (r - 1) // 2).sum() + (c * (c - 1) // 2).sum())


def check_entry_graph_memory(rows, cols, device=None):
    """``MemoryError`` naming the estimate and ``pattern`` before building an entry graph that cannot fit."""
    from .._validation import check_memory

    E = entry_graph_size(rows, cols)
    check_memory(
        _BYTES_PER_ENTRY_EDGE * E,
        f"the SAI entry graph ({rows.size} candidate entries sharing rows/columns, {E} Ising edges)",
        "use a sparser pattern (pattern='A2' or 'A' instead of 'full', or a user pattern) or smaller matrices",
        device,
    )
    return E


def entry_graph(rows, cols, x=None):
    """The Ising graph on candidate entries: shared row or column -> edge.

    Parameters
    ----------
    rows, cols : int64 arrays
        Row and column of every candidate entry, as :func:`candidate_pattern`
        returns them.
    x : torch.Tensor, optional
        Node features of the entries.

    Returns
    -------
    Graph
        Unit edge weights; a closed-form colouring is cached under ``"auto"``
        when one with few colours exists.

    Examples
    --------
    Entries ``(1, 0)`` and ``(1, 2)`` share row 1; ``(0, 1)`` and ``(2, 1)``
    share column 1:

    >>> from skising.precondition import candidate_pattern, check_matrix, entry_graph
    >>> A = check_matrix([[4, -1, 0], [-1, 4, -1], [0, -1, 4]])
    >>> rows, cols = candidate_pattern(A, "A")
    >>> g = entry_graph(rows, cols)
    >>> g.num_nodes, g.edges.T.tolist()
    (4, [[0, 3], [1, 2]])
    """
    m = rows.size
    check_entry_graph_memory(rows, cols)
    s1, d1 = _clique_pairs(rows, np.argsort(rows * (cols.max() + 1 if m else 1) + cols, kind="stable"))
    s2, d2 = _clique_pairs(cols, np.arange(m))  # entries are sorted by column already
    src = np.concatenate([s1, s2])
    dst = np.concatenate([d1, d2])
    # src < dst already (entries are numbered column-major); the lexicographic
    # order of Graph.edges is not needed by the sampler or the energy, and
    # sorting 10^7 pairs would dominate the setup time of large matrices
    edges = torch.from_numpy(np.stack([src, dst]))
    g = Graph(m, edges, torch.ones(edges.shape[1], dtype=torch.float64), x=x)
    colors = entry_coloring(rows, cols)
    if colors is not None:
        g._colors["auto"] = colors
    return g


FEATURES = ("A", "lstsq")


def n_entry_features(pattern, features="A"):
    """Number of columns :func:`entry_features` returns."""
    k = 2 if features == "A" else 5
    return k + (1 if isinstance(pattern, str) and pattern == "full" else 0)


def entry_features(A, rows, cols, pattern, features="A", max_candidates=None, _mstar=True):
    """Per-candidate features of the entries ``(rows, cols)`` of M.

    ``features="A"`` (the paper's): ``|A_ij|`` and ``|(A^2)_ij|``, each
    scaled to max 1. ``features="lstsq"`` adds three features that see the
    least-squares problem (eq. 28): ``|M*_ij|`` of the least-squares inverse
    ``M*`` on all candidates (plus the diagonal), scaled by its column
    maximum and by its overall maximum, and the greedy-SPAI score of the
    entry for a start from the diagonal,
    ``(a_i . r_j)^2 / ||a_i||^2`` with ``r_j = e_j - a_j m_jj``, scaled by
    its column maximum (``a_i``: column i of A). Their cost is one batched
    least-squares solve on the candidate pattern. With ``pattern="full"`` a
    constant 1 comes last.

    With ``max_candidates``, ``A^2`` is the capped square of
    :func:`square_capped` (exact when no column of A has more than
    ``max_candidates + 1`` entries).

    Magnitudes, not signed values: on binary matrices (Dataset 1) they equal
    ``A_ij`` and ``(A^2)_ij``, and a model trained there transfers to
    matrices with negative off-diagonals (M-matrices such as 2D Poisson), whose
    signed values it would never have seen.
    """
    amax = np.abs(A.data).max() if A.nnz else 1.0
    An = A / amax
    A2 = square_capped(An, max_candidates)
    a2max = np.abs(A2.data).max() if A2.nnz else 1.0
    f1 = np.abs(_lookup(An, rows, cols))
    f2 = np.abs(_lookup(A2, rows, cols)) / a2max
    feats = [f1, f2]
    if features == "lstsq":
        # _mstar=False: zeros in place of |M*| (the FSAI form replaces them by |G*|); the
        # features are invariant to the scale of A, and An cannot overflow in squares
        feats += _lstsq_features(An, rows, cols, mstar=_mstar)
    if isinstance(pattern, str) and pattern == "full":
        feats.append(np.ones_like(f1))
    return torch.as_tensor(np.stack(feats, 1), dtype=torch.float32)


def _lookup(A, rows, cols):
    """Values ``A[rows, cols]`` (0 where not stored) by binary search in CSR."""
    A = sp.csr_matrix(A)
    A.sum_duplicates()
    A.sort_indices()
    n = A.shape[1]
    rr = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
    keys = rr * n + A.indices.astype(np.int64)
    q = rows.astype(np.int64) * n + cols.astype(np.int64)
    pos = np.searchsorted(keys, q)
    pos = np.minimum(pos, max(keys.size - 1, 0))
    hit = keys.size > 0
    out = np.zeros(q.size)
    if hit:
        found = keys[pos] == q
        out[found] = A.data[pos[found]]
    return out


def _column_dots_blocks(ip, idx, val, rows, cptr, n, block, out):  # pragma: no cover - compiled
    """``out[e] = a_rows[e] . a_k`` for the candidates of every column k (compiled with numba).

    Column k of A is scattered into a dense marker, then every candidate's
    column is read once: ``O(sum of the lengths of columns rows)``.
    """
    for b in _nb.prange((n + block - 1) // block):  # parallel blocks of columns
        dense = np.zeros(n)
        for k in range(b * block, min(n, (b + 1) * block)):  # columns, compiled
            for p in range(ip[k], ip[k + 1]):
                dense[idx[p]] = val[p]
            for e in range(cptr[k], cptr[k + 1]):
                i = rows[e]
                acc = 0.0
                for p in range(ip[i], ip[i + 1]):
                    acc += val[p] * dense[idx[p]]
                out[e] = acc
            for p in range(ip[k], ip[k + 1]):
                dense[idx[p]] = 0.0


try:
    import numba as _nb

    from .._numba_cache import guard as _guard

    _column_dots_blocks = _guard(_nb.njit(cache=True, nogil=True, parallel=True)(_column_dots_blocks))
    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a core dependency
    _HAVE_NUMBA = False


def _column_dots(A, rows, cols):
    """``a_i . a_k`` (columns of A) for the pairs ``(rows, cols)``, in O(sum of the lengths of columns ``rows``).

    Never forms ``A^T A``, which is dense when A has a dense row.
    """
    Ac = sp.csc_matrix(A)
    Ac.sort_indices()
    n = Ac.shape[0]
    if _HAVE_NUMBA and rows.size and (cols[1:] >= cols[:-1]).all():  # candidates sorted by column
        out = np.empty(rows.size)
        cptr = np.r_[0, np.cumsum(np.bincount(cols, minlength=n))].astype(np.int64)
        _column_dots_blocks(Ac.indptr.astype(np.int64), Ac.indices.astype(np.int64), Ac.data,
                            rows.astype(np.int64), cptr, n, 4096, out)
        return out
    ip = Ac.indptr.astype(np.int64)
    cnt = ip[rows + 1] - ip[rows]
    e = np.repeat(np.arange(rows.size), cnt)
    first = np.cumsum(cnt) - cnt
    idx = np.repeat(ip[rows], cnt) + (np.arange(int(cnt.sum())) - first[e])
    l, v = Ac.indices[idx].astype(np.int64), Ac.data[idx]
    return np.bincount(e, weights=v * _lookup(A, l, cols[e]), minlength=rows.size)


def _colmax_scale(v, cols, n):
    mx = np.zeros(n)
    np.maximum.at(mx, cols, v)
    return v / np.where(mx[cols] > 0, mx[cols], 1.0)


def _with_diagonal_keys(rows, cols, n):
    """Sorted unique keys ``col * n + row`` of the candidates plus the diagonal.

    Candidates come sorted by column, then row (:func:`candidate_pattern`), so
    the diagonal is merged in by binary search: no sort of all the keys.
    """
    key = cols * n + rows
    if key.size > 1 and not (key[1:] > key[:-1]).all():  # not sorted (user input): sort once
        key = np.unique(key)
    d = np.arange(n, dtype=np.int64) * (n + 1)
    pos = np.searchsorted(key, d)
    new = key[np.minimum(pos, max(key.size - 1, 0))] != d if key.size else np.ones(n, dtype=bool)
    return np.insert(key, pos[new], d[new])


def _lstsq_features(A, rows, cols, mstar=True):
    """|M*| on the candidates (column- and globally scaled) and the greedy score from the diagonal."""
    from ._lstsq import sai_lstsq

    n = A.shape[0]
    if rows.size == 0:
        return [np.zeros(0)] * 3
    A = sp.csr_matrix(A)
    if mstar:
        key = _with_diagonal_keys(rows, cols, n)
        vals, _ = sai_lstsq(A, key % n, key // n)
        av = np.abs(vals)
        v = av[np.searchsorted(key, cols * n + rows)]
        f_col = _colmax_scale(v, cols, n)
        f_glob = v / (av.max() if av.size and av.max() > 0 else 1.0)
    else:
        f_col = f_glob = np.zeros(rows.size)
    # greedy SPAI score of entry (i, k) when column k holds only its diagonal
    colnorm2 = np.asarray(A.multiply(A).sum(0)).ravel()
    d = A.diagonal()
    mkk = np.where(colnorm2 > 0, d / np.where(colnorm2 > 0, colnorm2, 1.0), 0.0)
    g = _lookup(A, cols, rows) - _column_dots(A, rows, cols) * mkk[cols]
    score = g**2 / np.where(colnorm2[rows] > 0, colnorm2[rows], 1.0)
    return [f_col, f_glob, _colmax_scale(score, cols, n)]
