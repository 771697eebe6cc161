"""Classical peers: static SPAI on a fixed pattern and greedy SPAI (Grote-Huckle)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ._lstsq import sai_lstsq, sai_lstsq_dense
from ._pattern import candidate_pattern, check_matrix

__all__ = ["spai", "greedy_spai", "greedy_spai_dense"]


def _with_diagonal(rows, cols, n):
    r = np.concatenate([rows, np.arange(n, dtype=np.int64)])
    c = np.concatenate([cols, np.arange(n, dtype=np.int64)])
    key = np.unique(c * n + r)
    return key % n, key // n


def spai(A, pattern="A", keep_diagonal=True):
    """Static sparse approximate inverse: least-squares ``M`` on a fixed pattern.

    Parameters
    ----------
    A : sparse or dense square matrix
    pattern : {"A", "A2", "full"} or sparse matrix, default="A"
        Pattern of ``M`` (``"A"``: the pattern of ``A``, the classical
        SPAI(A)).
    keep_diagonal : bool, default=True
        Add the diagonal to the pattern.

    Returns
    -------
    scipy.sparse.csr_matrix

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from skising.precondition import spai
    >>> A = sp.diags([-1, 4, -1], [-1, 0, 1], shape=(5, 5))
    >>> M = spai(A, pattern="full")
    >>> bool(np.allclose((A @ M).toarray(), np.eye(5)))
    True
    """
    A = check_matrix(A)
    n = A.shape[0]
    rows, cols = candidate_pattern(A, pattern, keep_diagonal=keep_diagonal)
    if keep_diagonal:
        rows, cols = _with_diagonal(rows, cols, n)
    vals, _ = sai_lstsq(A, rows, cols)
    return sp.csc_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()


def greedy_spai_dense(A, candidates, budget, init=None):
    """Greedy SPAI on a batch of small dense matrices, vectorised over columns.

    Starting from the diagonal, every step adds to every column ``k`` that
    has budget left the candidate ``j`` that most reduces its residual
    ``r_k = e_k - A m_k`` in one dimension, score
    ``(a_j . r_k)^2 / ||a_j||^2`` (Grote & Huckle 1997), then re-solves all
    columns by least squares.

    Parameters
    ----------
    A : tensor (B, n, n)
    candidates : bool tensor (B, n, n)
        Off-diagonal entries that may be added (``[j, k]`` = row j of column k).
    budget : int tensor (B, n)
        Entries to add per column.
    init : bool tensor (B, n, n), optional
        Starting pattern (e.g. an Ising sample; the diagonal is added); its
        off-diagonal entries count against ``budget``.

    Returns
    -------
    mask : bool tensor (B, n, n), the pattern (diagonal included)
    M : tensor (B, n, n)
    residual : tensor (B, n, n), ``A M - I``

    Examples
    --------
    One off-diagonal entry per column of a 6 x 6 tridiagonal matrix (a batch
    of one):

    >>> import torch
    >>> from skising.precondition import greedy_spai_dense
    >>> A = (4 * torch.eye(6) - torch.diag(torch.ones(5), 1) - torch.diag(torch.ones(5), -1))[None].double()
    >>> candidates = (A != 0) & ~torch.eye(6, dtype=torch.bool)
    >>> mask, M, R = greedy_spai_dense(A, candidates, torch.ones(1, 6, dtype=torch.long))
    >>> int(mask.sum()), round(float(R.norm()), 4)
    (12, 0.5282)
    """
    A = torch.as_tensor(A, dtype=torch.float64)
    Bn, n, _ = A.shape
    cand = torch.as_tensor(candidates, dtype=torch.bool).clone()
    eye = torch.eye(n, dtype=torch.bool)[None]
    cand &= ~eye
    budget = torch.as_tensor(budget, dtype=torch.long)
    mask = eye.expand(Bn, n, n).clone()
    if init is not None:
        mask |= torch.as_tensor(init, dtype=torch.bool)
    added = (mask & ~eye).sum(1)
    colnorm2 = (A**2).sum(1).clamp_min(1e-300)  # (B, j)
    M, R = sai_lstsq_dense(A, mask)
    for _ in range(int(budget.max()) if budget.numel() else 0):  # steps, not columns
        G = A.transpose(1, 2) @ R  # (B, j, k): a_j . r_k
        score = G**2 / colnorm2[:, :, None]
        ok = cand & ~mask & (added < budget)[:, None, :]
        score = torch.where(ok, score, torch.full_like(score, -1.0))
        best = score.argmax(1)  # (B, k)
        take = score.gather(1, best[:, None, :])[:, 0, :] >= 0
        if not take.any():
            break
        b_idx, k_idx = torch.nonzero(take, as_tuple=True)
        mask[b_idx, best[b_idx, k_idx], k_idx] = True
        added += take.long()
        M, R = sai_lstsq_dense(A, mask)
    return mask, M, R


def greedy_spai(A, pattern="A2", fraction=0.5, budget=None):
    """Greedy SPAI (Grote-Huckle) of one matrix with a per-column budget.

    Parameters
    ----------
    A : sparse or dense square matrix (dense path: meant for n up to a few hundred)
    pattern : {"A2", "A", "full"} or sparse matrix
        Candidate entries (the diagonal is always in M).
    fraction : float, default=0.5
        Budget per column as a fraction of its off-diagonal candidates
        (rounded), unless ``budget`` is given.
    budget : int, optional
        Same number of added entries in every column.

    Returns
    -------
    scipy.sparse.csr_matrix

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from skising.precondition import greedy_spai
    >>> A = sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(6, 6), format="csr")
    >>> M = greedy_spai(A, pattern="A", budget=1)  # diagonal + one entry per column
    >>> M.nnz, round(float(np.linalg.norm((A @ M).toarray() - np.eye(6))), 4)
    (12, 0.5282)
    """
    A = check_matrix(A)
    n = A.shape[0]
    if n > 2000:
        raise ValueError(f"A: greedy_spai works on dense columns; n={n} is too large (use n <= 2000)")
    rows, cols = candidate_pattern(A, pattern, keep_diagonal=True)
    cand = torch.zeros((1, n, n), dtype=torch.bool)
    cand[0, torch.as_tensor(rows), torch.as_tensor(cols)] = True
    if budget is None:
        per_col = torch.as_tensor(np.bincount(cols, minlength=n))
        b = torch.round(float(fraction) * per_col).long()[None]
    else:
        b = torch.full((1, n), int(budget), dtype=torch.long)
    mask, M, _ = greedy_spai_dense(torch.as_tensor(A.toarray())[None], cand, b)
    return sp.csr_matrix(M[0].numpy())
