r"""Factorized sparse approximate inverse (FSAI) of a symmetric positive definite matrix.

For a lower-triangular pattern of ``G`` (row ``i`` holds ``J_i``, which
contains ``i``), the FSAI of Kolotilina and Yeremin solves one small dense
system per row, :math:`A_{J_i J_i} y = e_i`, and sets
:math:`G_{i, J_i} = y / \sqrt{y_i}`. Then ``M = G^T G`` is symmetric positive
definite, ``diag(G A G^T) = 1``, and the Kaporin condition number of
``G A G^T`` is

.. math:: K = \frac{(\mathrm{tr}(G A G^T) / n)^n}{\det(G A G^T)}
          = \Big(\det A \prod_i y_i\Big)^{-1},

so ``-(1/n) sum_i log(a_ii y_i)`` (``<= 0``; 0 for the Jacobi pattern, lower
is better) is ``(1/n) log K`` up to a constant of ``A``: the task loss of the
learned FSAI pattern. All rows are packed into padded batches (rows grouped
by pattern size) and solved by batched Cholesky: no Python loop over rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import LinearOperator

__all__ = ["fsai", "fsai_factor", "FSAIOperator", "TorchSparseOperator"]


def _lookup_csr(A, rows, cols):
    """Values ``A[rows, cols]`` (0 where not stored) of a CSR matrix with sorted indices."""
    n = A.shape[1]
    rr = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
    keys = rr * n + A.indices.astype(np.int64)
    q = rows.astype(np.int64) * n + cols.astype(np.int64)
    pos = np.minimum(np.searchsorted(keys, q), max(keys.size - 1, 0))
    out = np.zeros(q.size)
    if keys.size:
        hit = keys[pos] == q
        out[hit] = A.data[pos[hit]]
    return out


def fsai_factor(A, prow, pcol, max_bytes=64 * 2**20):
    """Values of the FSAI factor ``G`` on a strictly lower pattern plus the diagonal.

    Parameters
    ----------
    A : scipy.sparse matrix, shape (n, n)
        Symmetric positive definite (only the entries ``A[J_i, J_i]`` are
        read).
    prow, pcol : int arrays
        Strictly lower entries of ``G`` (``prow > pcol``), any order; the
        diagonal is always added.
    max_bytes : int
        Memory cap of one padded batch.

    Returns
    -------
    G : scipy.sparse.csr_matrix, lower triangular
    y : ndarray of shape (n,)
        ``(A_{J_i J_i}^{-1})_{ii}`` of every row; ``-mean(log(a_ii y_i))`` is
        the normalised Kaporin loss.

    Raises
    ------
    ValueError
        If a row's system is not positive definite (A is not SPD).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from skising.precondition import fsai_factor
    >>> A = sp.csr_matrix(sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(5, 5)))
    >>> G, y = fsai_factor(A, np.arange(1, 5), np.arange(4))
    >>> np.allclose((G @ A @ G.T).diagonal(), 1.0)
    True
    """
    A = sp.csr_matrix(A, dtype=np.float64)
    A.sum_duplicates()
    A.sort_indices()
    n = A.shape[0]
    prow = np.asarray(prow, dtype=np.int64)
    pcol = np.asarray(pcol, dtype=np.int64)
    if prow.size and not (prow > pcol).all():
        raise ValueError("prow, pcol: expected strictly lower entries (prow > pcol)")
    d = np.arange(n, dtype=np.int64)
    # row-major, the diagonal last in every row (it is the largest column index)
    r = np.concatenate([prow, d])
    c = np.concatenate([pcol, d])
    o = np.lexsort((c, r))
    r, c = r[o], c[o]
    counts = np.bincount(r, minlength=n)
    start = np.r_[0, np.cumsum(counts)][:-1]
    slot = np.arange(r.size) - start[r]
    vals = np.empty(r.size)
    y = np.empty(n)
    order = np.argsort(counts, kind="stable")  # rows by pattern size: one padded size per chunk
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    sc = counts[order]
    bounds = [0]
    while bounds[-1] < n:  # chunks of rows, not rows
        s0 = bounds[-1]
        step = max(1, int(max_bytes // (8 * int(sc[s0]) ** 2 * 3)))
        hi = min(n, s0 + step)
        while hi - s0 > 1 and (hi - s0) * 8 * int(sc[hi - 1]) ** 2 * 3 > max_bytes:
            hi = s0 + max(1, (hi - s0) // 2)
        bounds.append(hi)
    ent_rank = rank[r]
    ent = np.argsort(ent_rank, kind="stable")
    eb = np.searchsorted(ent_rank[ent], np.asarray(bounds))
    for ci in range(len(bounds) - 1):  # chunks of rows
        c0, c1 = bounds[ci], bounds[ci + 1]
        rows_c = order[c0:c1]
        nc = c1 - c0
        S = int(counts[rows_c].max())
        e = ent[eb[ci] : eb[ci + 1]]  # entries of these rows, row by row
        li = rank[r[e]] - c0
        # all pairs (a, b) of pattern entries of one row: A[J_a, J_b]
        q = counts[r[e]]  # size of the row of every entry
        pa = np.repeat(e, q)
        starts = np.repeat(np.arange(e.size) - slot[e], q)  # position of the row's first entry in e
        pb = e[starts + np.arange(pa.size) - np.repeat(np.cumsum(q) - q, q)]
        cnt = counts[rows_c]
        K = torch.zeros((nc, S, S), dtype=torch.float64)
        K[:, torch.arange(S), torch.arange(S)] = 1.0  # padding: identity
        av = _lookup_csr(A, c[pa], c[pb])
        ii = torch.as_tensor(rank[r[pa]] - c0)
        K[ii, torch.as_tensor(slot[pa]), torch.as_tensor(slot[pb])] = torch.as_tensor(av)
        rhs = torch.zeros((nc, S, 1), dtype=torch.float64)
        rhs[torch.arange(nc), torch.as_tensor(cnt - 1), 0] = 1.0  # e_i: the diagonal is the last slot
        L, info = torch.linalg.cholesky_ex(K)
        if int(info.max()) > 0:
            bad = int(rows_c[int(torch.nonzero(info)[0, 0])])
            raise ValueError(f"A: the FSAI system of row {bad} is not positive definite; form='fsai' needs a "
                             "symmetric positive definite matrix")
        sol = torch.cholesky_solve(rhs, L)[..., 0].numpy()  # (nc, S)
        yi = sol[np.arange(nc), cnt - 1]
        y[rows_c] = yi
        vals[e] = sol[li, slot[e]] / np.sqrt(yi[li])
    G = sp.csr_matrix((vals, (r, c)), shape=(n, n))
    return G, y


def fsai_features(A, rows, cols):
    """``|G*_ij|`` of the FSAI on all strictly lower candidates, scaled by its row maximum and by ``sqrt(a_jj / a_ii)``.

    The FSAI counterpart of the ``|M*|`` features: ``G*`` is the factor on
    the whole candidate set, so its large entries mark where the pattern
    pays. Returns two arrays in the order of ``(rows, cols)``.
    """
    G, _ = fsai_factor(A, rows, cols)
    g = np.abs(_lookup_csr(G, rows, cols))
    n = A.shape[0]
    mx = np.zeros(n)
    np.maximum.at(mx, rows, g)
    f_row = g / np.where(mx[rows] > 0, mx[rows], 1.0)
    d = np.sqrt(np.abs(A.diagonal()))
    f_glob = g * d[cols]  # |G_ij| sqrt(a_jj): the factor of the diagonally scaled matrix
    f_glob = f_glob / (f_glob.max() if f_glob.size and f_glob.max() > 0 else 1.0)
    return [f_row, f_glob]


def kaporin_loss(A_diag, y):
    """``-mean(log(a_ii y_i))``: normalised log Kaporin number up to a constant of A (lower is better)."""
    return -np.log(np.maximum(A_diag * y, 1e-300))


class FSAIOperator(LinearOperator):
    """``M v = G^T (G v)``: the FSAI preconditioner as two sparse products (symmetric positive definite).

    Parameters
    ----------
    G : scipy.sparse.csr_matrix
        Lower-triangular factor.

    Attributes
    ----------
    G_ : scipy.sparse.csr_matrix
    M_ : scipy.sparse.csr_matrix
        ``G^T G``, formed on first access.
    symmetric : bool
        True.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from skising.precondition import FSAIOperator
    >>> G = sp.csr_matrix(np.array([[2.0, 0.0], [-0.5, 1.0]]))
    >>> op = FSAIOperator(G)
    >>> op.matvec(np.array([1.0, 0.0])).tolist(), op.M_.toarray().tolist()
    ([4.25, -0.5], [[4.25, -0.5], [-0.5, 1.0]])
    """

    symmetric = True

    def __init__(self, G):
        self.G_ = sp.csr_matrix(G)
        self._GT = self.G_.T.tocsr()
        self._M = None
        super().__init__(np.float64, self.G_.shape)

    @property
    def M_(self):
        if self._M is None:
            self._M = (self._GT @ self.G_).tocsr()
        return self._M

    def _matvec(self, v):
        return self._GT @ (self.G_ @ v)

    def _matmat(self, V):
        return self._GT @ (self.G_ @ V)

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self


def fsai(A, pattern="A"):
    """Static FSAI: ``G`` on the lower triangle of a fixed pattern (default: that of A).

    Parameters
    ----------
    A : sparse matrix, symmetric positive definite
    pattern : {"A", "A2"} or sparse matrix
        Pattern of ``G`` (its lower triangle is used).

    Returns
    -------
    FSAIOperator

    Examples
    --------
    >>> import numpy as np, pyamg
    >>> from scipy.sparse.linalg import cg
    >>> from skising.precondition import fsai
    >>> A = pyamg.gallery.poisson((30, 30), format="csr")
    >>> x, info = cg(A, np.ones(900), M=fsai(A), rtol=1e-8)
    >>> info
    0
    """
    from ._pattern import candidate_pattern, check_matrix

    A = check_matrix(A)
    rows, cols = candidate_pattern(A, pattern, keep_diagonal=True)
    low = rows > cols
    G, _ = fsai_factor(A, rows[low], cols[low])
    return FSAIOperator(G)


class TorchSparseOperator(LinearOperator):
    """A product of sparse matrices applied with torch on a device (``M v = F_0 (F_1 (... v))``).

    ``transform`` returns it when the estimator's ``device`` is not the CPU:
    the apply is one (SAI: ``M``) or two (FSAI: ``G^T``, ``G``) sparse
    matrix-vector products on the device. :meth:`apply` takes and returns
    torch tensors on the device (no host transfer, for torch-based Krylov
    loops); ``matvec`` takes and returns numpy arrays (scipy's solvers work,
    with one transfer each way per apply).

    Parameters
    ----------
    factors : list of scipy.sparse matrices
        Applied right to left.
    device : str or torch.device
    symmetric : bool
    """

    def __init__(self, factors, device, symmetric=False):
        self.device = torch.device(device)
        self.factors = [torch.sparse_csr_tensor(
            torch.as_tensor(F.indptr, dtype=torch.int64), torch.as_tensor(F.indices, dtype=torch.int64),
            torch.as_tensor(F.data, dtype=torch.float64), size=F.shape, check_invariants=False).to(self.device)
            for F in (sp.csr_matrix(F) for F in factors)]
        self.symmetric = bool(symmetric)
        super().__init__(np.float64, factors[0].shape[:1] + factors[-1].shape[1:])

    def apply(self, v):
        """Apply to a torch tensor (1-D or 2-D) on the device; returns a tensor there."""
        out = v if v.ndim == 2 else v[:, None]
        for F in reversed(self.factors):  # a product of 1 or 2 matrices
            out = F @ out
        return out if v.ndim == 2 else out[:, 0]

    def _matvec(self, v):
        t = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64).ravel(), device=self.device)
        return self.apply(t).cpu().numpy()

    def _matmat(self, V):
        return self.apply(torch.as_tensor(np.ascontiguousarray(V, dtype=np.float64), device=self.device)).cpu().numpy()
