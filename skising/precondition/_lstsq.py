r"""Batched least squares for sparse approximate inverses (eq. 28).

For a pattern of ``M`` the columns decouple:
:math:`\min_{m_k} \|A m_k - e_k\|_2` over the entries of column ``k``.
Column ``k`` only touches the rows of ``A`` that are nonzero in the columns
of its pattern (plus row ``k``), so every column is a small dense problem.
On the CPU one compiled kernel (numba) solves the columns in parallel
blocks: it gathers each column's rows with a marker array (no sort of the
``(column, row)`` pairs) and solves the small dense problem by Householder QR,
so the work is ``O(sum_k rows_k slots_k^2)``. Elsewhere (and as the reference
the tests hold the kernel to) all columns are packed into padded batches and
solved by batched QR (``torch.linalg.lstsq(driver="gels")``): no Python loop
over columns either way.

Padding pitfall (see PAPER_NOTES): torch's default CPU driver ``gelsy``
returns wrong solutions when zero padding columns sit between real ones.
Here every column's unknowns are packed to the front, every padded slot gets
a unit row with target 0 (so the padded system has full column rank and the
padded unknowns are exactly 0), and real slots get a tiny ridge row
(``ridge * max|A|``) so a rank-deficient column cannot produce NaN/inf.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["sai_lstsq", "sai_lstsq_dense"]

_RIDGE = 1e-8

try:
    import numba as _nb

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a core dependency
    HAVE_NUMBA = False

# columns per parallel block of the compiled kernel (one row marker per block)
_BLOCK = 4096


def _lstsq_blocks(a_ptr, a_idx, a_val, m_ptr, m_row, n, delta, block, values, res2):  # pragma: no cover - compiled
    """Least squares ``min ||A m_k - e_k||^2 + delta^2 ||m_k||^2`` of every column (compiled with numba).

    ``a_*``: A in CSC; ``m_ptr, m_row``: the pattern of M in CSC. Writes the
    values (pattern order) and the squared residual without the ridge term.
    """
    n_blocks = (n + block - 1) // block
    for b in _nb.prange(n_blocks):  # parallel blocks of columns
        marker = np.full(n, -1, dtype=np.int64)
        rows = np.empty(n, dtype=np.int64)
        for k in range(b * block, min(n, (b + 1) * block)):  # columns, compiled
            s0 = m_ptr[k]
            S = m_ptr[k + 1] - s0
            R = 0
            for a in range(S):
                j = m_row[s0 + a]
                for p in range(a_ptr[j], a_ptr[j + 1]):
                    r = a_idx[p]
                    if marker[r] < 0:
                        marker[r] = R
                        rows[R] = r
                        R += 1
            if S == 0:
                res2[k] = 1.0
                for q in range(R):
                    marker[rows[q]] = -1
                continue
            m = R + S
            B = np.zeros((m, S))
            t = np.zeros(m)
            for a in range(S):
                j = m_row[s0 + a]
                for p in range(a_ptr[j], a_ptr[j + 1]):
                    B[marker[a_idx[p]], a] = a_val[p]
                B[R + a, a] = delta
            lk = marker[k]
            if lk >= 0:
                t[lk] = 1.0
            # Householder QR of B, applied to t as it goes
            for j in range(S):
                nrm = 0.0
                for i in range(j, m):
                    nrm += B[i, j] * B[i, j]
                nrm = np.sqrt(nrm)
                if nrm == 0.0:
                    continue
                alpha = -nrm if B[j, j] > 0 else nrm
                v0 = B[j, j] - alpha
                vn = v0 * v0
                for i in range(j + 1, m):
                    vn += B[i, j] * B[i, j]
                if vn == 0.0:
                    continue
                for c in range(j + 1, S):
                    d = v0 * B[j, c]
                    for i in range(j + 1, m):
                        d += B[i, j] * B[i, c]
                    f = 2.0 * d / vn
                    B[j, c] -= f * v0
                    for i in range(j + 1, m):
                        B[i, c] -= f * B[i, j]
                d = v0 * t[j]
                for i in range(j + 1, m):
                    d += B[i, j] * t[i]
                f = 2.0 * d / vn
                t[j] -= f * v0
                for i in range(j + 1, m):
                    t[i] -= f * B[i, j]
                B[j, j] = alpha
            x = np.zeros(S)
            for j in range(S - 1, -1, -1):  # back substitution
                acc = t[j]
                for c in range(j + 1, S):
                    acc -= B[j, c] * x[c]
                x[j] = acc / B[j, j] if B[j, j] != 0.0 else 0.0
            # residual A m_k - e_k on the gathered rows (row k is among them or adds 1)
            res = np.zeros(R)
            for a in range(S):
                values[s0 + a] = x[a]
                j = m_row[s0 + a]
                for p in range(a_ptr[j], a_ptr[j + 1]):
                    res[marker[a_idx[p]]] += a_val[p] * x[a]
            tot = 0.0 if lk >= 0 else 1.0
            if lk >= 0:
                res[lk] -= 1.0
            for q in range(R):
                tot += res[q] * res[q]
                marker[rows[q]] = -1
            res2[k] = tot


if HAVE_NUMBA:
    from .._numba_cache import guard as _guard

    _lstsq_blocks = _guard(_nb.njit(cache=True, nogil=True, parallel=True)(_lstsq_blocks))


def _expand_columns(A_csc, prow, pcol, n):
    """Triplets (column k, slot a, row r, value v) of A[:, pattern of column k]."""
    counts = np.bincount(pcol, minlength=n)
    starts = np.cumsum(counts) - counts
    slot = np.arange(prow.size) - np.repeat(starts, counts)
    ip = A_csc.indptr.astype(np.int64)
    cnt = ip[prow + 1] - ip[prow]
    T = int(cnt.sum())
    e = np.repeat(np.arange(prow.size), cnt)
    first = np.cumsum(cnt) - cnt
    idx = np.repeat(ip[prow], cnt) + (np.arange(T) - np.repeat(first, cnt))
    return counts, pcol[e], slot[e], A_csc.indices[idx].astype(np.int64), A_csc.data[idx]


def sai_lstsq(A, prow, pcol, ridge=_RIDGE, max_bytes=64 * 2**20, device="cpu"):
    """Values of ``M`` on a pattern minimising ``||A M - I||_F``, column by column.

    Parameters
    ----------
    A : scipy.sparse matrix, shape (n, n)
    prow, pcol : int arrays
        Pattern of ``M`` (row, column of every entry), sorted by column and
        then row, no duplicates; every column must hold at least one entry.
    ridge : float
        Relative size of the ridge rows (``ridge * max|A|``); 1e-8 changes a
        well-conditioned solution by ~1e-16 relative.
    max_bytes : int
        Memory cap of one padded batch (columns are processed in chunks).
    device : str or torch.device

    Returns
    -------
    values : ndarray of shape (nnz,)
        Entries of ``M`` in the order of ``(prow, pcol)``.
    res2 : ndarray of shape (n,)
        Squared residual ``||A m_k - e_k||^2`` of every column; their sum is
        ``||A M - I||_F^2``.

    Examples
    --------
    ``M`` on the tridiagonal pattern of ``A`` itself (diagonal included):

    >>> import numpy as np, scipy.sparse as sp
    >>> from skising.precondition import candidate_pattern, check_matrix, sai_lstsq
    >>> A = check_matrix(sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(6, 6)))
    >>> prow, pcol = candidate_pattern(A, "A", keep_diagonal=False)
    >>> values, res2 = sai_lstsq(A, prow, pcol)
    >>> values.shape, round(float(np.sqrt(res2.sum())), 4)
    ((16,), 0.1909)
    """
    A = sp.csc_matrix(A, dtype=np.float64)
    A.sum_duplicates()
    n = A.shape[0]
    prow = np.asarray(prow, dtype=np.int64)
    pcol = np.asarray(pcol, dtype=np.int64)
    if HAVE_NUMBA and torch.device(device).type == "cpu":
        amax = float(np.abs(A.data).max()) if A.nnz else 1.0
        values = np.empty(prow.size)
        res2 = np.empty(n)
        m_ptr = np.r_[0, np.cumsum(np.bincount(pcol, minlength=n))].astype(np.int64)
        _lstsq_blocks(A.indptr.astype(np.int64), A.indices.astype(np.int64), A.data, m_ptr, prow, n,
                      float(ridge) * amax, _BLOCK, values, res2)
        return values, res2
    return _sai_lstsq_torch(A, prow, pcol, ridge, max_bytes, device)


def _sai_lstsq_torch(A, prow, pcol, ridge=_RIDGE, max_bytes=64 * 2**20, device="cpu"):
    """The batched-QR path of :func:`sai_lstsq` (any device; the reference of the compiled kernel)."""
    A = sp.csc_matrix(A, dtype=np.float64)
    A.sum_duplicates()
    n = A.shape[0]
    prow = np.asarray(prow, dtype=np.int64)
    pcol = np.asarray(pcol, dtype=np.int64)
    counts, k, a, r, v = _expand_columns(A, prow, pcol, n)
    # local row numbering per column; row k (target e_k) always included
    keys = np.concatenate([k * n + r, np.arange(n, dtype=np.int64) * (n + 1)])
    uniq, inv = np.unique(keys, return_inverse=True)
    first = np.searchsorted(uniq, np.arange(n, dtype=np.int64) * n)
    local = np.arange(uniq.size) - first[uniq // n]
    nrows = np.diff(np.r_[first, uniq.size])
    T = k.size
    loc, loc_t = local[inv[:T]], local[inv[T:]]
    amax = float(np.abs(A.data).max()) if A.nnz else 1.0
    delta = float(ridge) * amax
    values = np.empty(prow.size)
    res2 = np.empty(n)
    val_start = np.r_[0, np.cumsum(counts)][:-1]
    # columns in order of their padded size, chunked under the memory cap: a few
    # long columns (dense rows or columns of A) pad only their own chunk
    order = np.lexsort((counts, nrows))
    per_col = (nrows[order] + counts[order]) * (counts[order] + 1) * 8
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    tri = np.argsort(rank[k], kind="stable")
    tri_rank = rank[k][tri]
    bounds = [0]
    while bounds[-1] < n:  # chunks, not columns: sizes grow monotonically along `order`
        s0 = bounds[-1]
        step = max(1, int(max_bytes // max(int(per_col[s0]), 1)))
        hi = min(n, s0 + step)
        # padded size is the largest column of the chunk: shrink until it fits
        while hi - s0 > 1 and (hi - s0) * int(per_col[hi - 1]) > max_bytes:
            hi = s0 + max(1, (hi - s0) // 2)
        bounds.append(hi)
    tb = np.searchsorted(tri_rank, np.asarray(bounds))
    for ci in range(len(bounds) - 1):  # chunks of columns, not columns
        c0, c1 = bounds[ci], bounds[ci + 1]
        cols_c = order[c0:c1]
        nc = c1 - c0
        R = int(nrows[cols_c].max())
        S = max(int(counts[cols_c].max()), 1)
        sel = tri[tb[ci] : tb[ci + 1]]
        B = torch.zeros((nc, R + S, S), dtype=torch.float64, device=device)
        kk = torch.as_tensor(rank[k[sel]] - c0, device=device)
        B[kk, torch.as_tensor(loc[sel], device=device), torch.as_tensor(a[sel], device=device)] = torch.as_tensor(
            v[sel], device=device
        )
        slots = torch.arange(S, device=device)
        cnt = torch.as_tensor(counts[cols_c], device=device)
        pad = slots[None, :] >= cnt[:, None]  # (nc, S)
        one = torch.ones((), dtype=torch.float64, device=device)
        diag = torch.where(pad, one, torch.full((), delta, dtype=torch.float64, device=device))
        B[:, R + slots, slots] = diag
        tgt = torch.zeros((nc, R + S, 1), dtype=torch.float64, device=device)
        tgt[torch.arange(nc, device=device), torch.as_tensor(loc_t[cols_c], device=device), 0] = 1.0
        sol = torch.linalg.lstsq(B, tgt, driver="gels").solution  # (nc, S, 1)
        resid = B[:, :R] @ sol - tgt[:, :R]
        res2[cols_c] = (resid[..., 0] ** 2).sum(1).cpu().numpy()
        cc = counts[cols_c]
        dst = np.repeat(val_start[cols_c], cc) + (np.arange(int(cc.sum())) - np.repeat(np.cumsum(cc) - cc, cc))
        values[dst] = sol[..., 0][~pad].cpu().numpy()
    return values, res2


def sai_lstsq_dense(A, mask, ridge=_RIDGE):
    """Batched dense variant: ``A`` (B, n, n), ``mask`` (B, n, n) pattern of M.

    Returns ``M`` (B, n, n) with the least-squares values on ``mask`` (zero
    elsewhere) and the residual ``A M - I`` (B, n, n). Every column of
    ``mask`` must hold at least one entry.

    Parameters
    ----------
    A : torch.Tensor or array-like of shape (B, n, n)
        A batch of ``B`` square matrices (converted to float64; the
        computation runs on ``A``'s device).
    mask : torch.Tensor or array-like of bool, shape (B, n, n)
        Sparsity pattern of ``M``: ``mask[b, i, k]`` is True when ``M[b, i, k]``
        may be nonzero.
    ridge : float, default=1e-8
        Relative size of the ridge rows (``ridge * max|A|``, the maximum over
        the whole batch), as in :func:`sai_lstsq`.

    Returns
    -------
    M : torch.Tensor of shape (B, n, n)
        Float64 least-squares values on ``mask``, zero elsewhere.
    resid : torch.Tensor of shape (B, n, n)
        The residual ``A @ M - I``.

    Examples
    --------
    >>> import torch
    >>> from skising.precondition import sai_lstsq_dense
    >>> A = (4 * torch.eye(6) - torch.diag(torch.ones(5), 1) - torch.diag(torch.ones(5), -1))[None].double()
    >>> M, R = sai_lstsq_dense(A, A != 0)  # M on the pattern of A
    >>> tuple(M.shape), round(float(R.norm()), 4)
    ((1, 6, 6), 0.1909)
    """
    A = torch.as_tensor(A, dtype=torch.float64)
    mask = torch.as_tensor(mask, dtype=torch.bool, device=A.device)
    Bn, n, _ = A.shape
    counts = mask.sum(1)  # (B, n) entries per column
    S = int(counts.max())
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :S, :]  # (B, S, n) packed rows of M
    idx = order.transpose(1, 2)  # (B, k, S)
    Acol = A.transpose(1, 2)  # (B, j, r): column j of A as a row
    bi = torch.arange(Bn, device=A.device)[:, None, None]
    Bk = Acol[bi, idx].transpose(2, 3)  # (B, k, r, S)
    slots = torch.arange(S, device=A.device)
    pad = slots[None, None, :] >= counts[..., None]  # (B, k, S)
    Bk = Bk.masked_fill(pad[:, :, None, :], 0.0)
    amax = float(A.abs().amax()) if A.numel() else 1.0
    aug = torch.diag_embed(torch.where(pad, torch.ones((), dtype=A.dtype), torch.full((), ridge * amax, dtype=A.dtype)))
    system = torch.cat([Bk, aug], dim=2)  # (B, k, n + S, S)
    tgt = torch.zeros((Bn, n, n + S, 1), dtype=A.dtype, device=A.device)
    kk = torch.arange(n, device=A.device)
    tgt[:, kk, kk, 0] = 1.0
    sol = torch.linalg.lstsq(system, tgt, driver="gels").solution[..., 0]  # (B, k, S)
    sol = sol.masked_fill(pad, 0.0)
    M = torch.zeros((Bn, n, n), dtype=A.dtype, device=A.device)
    M.scatter_(1, order, sol.transpose(1, 2))  # M[b, order[b, s, k], k] = sol[b, k, s]
    M = M * mask
    resid = A @ M - torch.eye(n, dtype=A.dtype, device=A.device)
    return M, resid
