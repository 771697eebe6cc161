"""Classical peers: static SPAI on a fixed pattern and greedy SPAI (Grote-Huckle)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ._lstsq import sai_lstsq, sai_lstsq_dense
from ._pattern import candidate_pattern, check_matrix

__all__ = ["spai", "greedy_spai", "greedy_spai_dense", "swap_refine_dense"]


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


def _removal_costs(A, mask, M, ridge=1e-8):
    """Exact increase of ``||A m_k - e_k||^2`` when entry ``(j, k)`` leaves the pattern.

    For the (ridge-regularised) least-squares solution on the pattern of
    column ``k`` with design ``B_k``, dropping unknown ``j`` raises the squared
    residual by ``m_jk^2 / [(B_k^T B_k + delta^2 I)^{-1}]_jj``. Entries not in
    ``mask``, and the only entry of a column, cost ``inf``.
    """
    Bn, n, _ = A.shape
    counts = mask.sum(1)  # (B, k)
    S = int(counts.max())
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :S, :]  # (B, S, k)
    idx = order.transpose(1, 2)  # (B, k, S)
    G = A.transpose(1, 2) @ A  # (B, j, j')
    bi = torch.arange(Bn)[:, None, None, None]
    Gk = G[bi, idx[..., :, None], idx[..., None, :]]  # (B, k, S, S)
    slots = torch.arange(S)
    pad = slots[None, None, :] >= counts[..., None]  # (B, k, S)
    both = pad[..., :, None] | pad[..., None, :]
    Gk = Gk.masked_fill(both, 0.0)
    delta2 = (ridge * float(A.abs().amax())) ** 2 if A.numel() else 0.0
    dg = torch.where(pad, torch.ones((), dtype=A.dtype), Gk.diagonal(dim1=-2, dim2=-1) + delta2)
    Gk = Gk.clone()
    Gk.diagonal(dim1=-2, dim2=-1).copy_(dg)
    dinv = torch.linalg.inv(Gk).diagonal(dim1=-2, dim2=-1)  # (B, k, S)
    mk = M.gather(1, order).transpose(1, 2)  # (B, k, S): M[b, idx[b, k, s], k]
    cost = mk**2 / dinv.clamp_min(1e-300)
    cost = cost.masked_fill(pad | (counts[..., None] <= 1), float("inf"))
    out = torch.full_like(M, float("inf"))
    out.scatter_(1, order, cost.transpose(1, 2))
    return out.masked_fill(~mask, float("inf"))


def swap_refine_dense(A, candidates, mask, steps=20, pairs=4, fixed=None):
    """Local search on SAI patterns at a fixed number of entries (vectorised over columns).

    Starting from ``mask`` (e.g. an Ising sample, a random pattern or a
    greedy-SPAI pattern), alternate two kinds of moves; both keep the number
    of entries of every matrix unchanged:

    * **swap** (even steps): in every column, drop the entry whose removal
      raises the column residual least (exact, from the least-squares normal
      equations) and add the candidate with the best Grote-Huckle score
      ``(a_j . r_k)^2 / ||a_j||^2``, when the score exceeds the cost;
    * **transfer** (odd steps): move up to ``pairs`` entries per matrix from
      the columns where an entry is cheapest to drop to other columns where an
      addition gains most (changes the per-column counts, not the total).

    Every move is re-solved by least squares and kept only if the residual of
    the columns it touches decreases (columns are independent problems), so
    ``||AM - I||_F`` never increases.

    Parameters
    ----------
    A : tensor (B, n, n)
    candidates : bool tensor (B, n, n)
        Entries that may be added (``[j, k]`` = row j of column k).
    mask : bool tensor (B, n, n)
        Starting pattern; every column must hold at least one entry.
    steps : int, default=20
        Number of move rounds (each costs one batched least-squares solve).
    pairs : int, default=4
        Transfers tried per matrix in a transfer round.
    fixed : bool tensor (B, n, n), optional
        Entries never removed (e.g. the diagonal).

    Returns
    -------
    mask : bool tensor (B, n, n), same number of entries per matrix as the input
    M : tensor (B, n, n)
    residual : tensor (B, n, n), ``A M - I``

    Examples
    --------
    >>> import torch
    >>> from skising.precondition import swap_refine_dense, sai_lstsq_dense
    >>> g = torch.Generator().manual_seed(0)
    >>> A = (4 * torch.eye(8) + torch.randn(8, 8, generator=g, dtype=torch.float64))[None]
    >>> eye = torch.eye(8, dtype=torch.bool)[None]
    >>> start = eye | (torch.rand(1, 8, 8, generator=g) < 0.3)
    >>> mask, M, R = swap_refine_dense(A, ~eye, start, steps=10, fixed=eye)
    >>> int(mask.sum()) == int(start.sum())
    True
    >>> bool(R.norm() <= sai_lstsq_dense(A, start)[1].norm())
    True
    """
    A = torch.as_tensor(A, dtype=torch.float64)
    Bn, n, _ = A.shape
    cand = torch.as_tensor(candidates, dtype=torch.bool)
    mask = torch.as_tensor(mask, dtype=torch.bool).clone()
    fixed = torch.zeros_like(mask) if fixed is None else torch.as_tensor(fixed, dtype=torch.bool)
    colnorm2 = (A**2).sum(1).clamp_min(1e-300)  # (B, j)
    M, R = sai_lstsq_dense(A, mask)
    bidx = torch.arange(Bn)
    pairs = max(1, min(int(pairs), n // 2))
    for step in range(int(steps)):  # rounds, not columns
        res_old = (R**2).sum(1)  # (B, k)
        gain = ((A.transpose(1, 2) @ R) ** 2 / colnorm2[:, :, None]).masked_fill(~cand | mask, -1.0)
        cost = _removal_costs(A, mask, M).masked_fill(fixed, float("inf"))
        gp, jp = gain.max(1)  # (B, k)
        cm, jm = cost.min(1)
        new = mask.clone()
        if step % 2 == 0:  # swap inside every column
            prop = (gp > cm) & (gp > 0) & torch.isfinite(cm)
            b_i, k_i = torch.nonzero(prop, as_tuple=True)
            new[b_i, jm[b_i, k_i], k_i] = False
            new[b_i, jp[b_i, k_i], k_i] = True
        else:  # transfer between columns
            ga, ka = torch.topk(gp, pairs, dim=1)  # (B, p) columns that gain most from an addition
            cm2 = cm.clone()
            cm2[bidx[:, None], ka] = float("inf")
            cr, kr = torch.topk(-cm2, pairs, dim=1)  # columns where a removal costs least
            cr = -cr
            prop = (ga > cr) & (ga > 0) & torch.isfinite(cr)
            b_i, t_i = torch.nonzero(prop, as_tuple=True)
            new[b_i, jp[b_i, ka[b_i, t_i]], ka[b_i, t_i]] = True
            new[b_i, jm[b_i, kr[b_i, t_i]], kr[b_i, t_i]] = False
        if not prop.any():
            if step % 2 == 1:
                break
            continue
        M2, R2 = sai_lstsq_dense(A, new)
        res_new = (R2**2).sum(1)
        if step % 2 == 0:
            acc = prop & (res_new < res_old)
        else:
            ok = (res_new.gather(1, ka) + res_new.gather(1, kr)) < (res_old.gather(1, ka) + res_old.gather(1, kr))
            ok &= prop
            acc = torch.zeros_like(prop.new_zeros((Bn, n)))
            acc.scatter_(1, ka, ok)
            acc2 = torch.zeros_like(acc)
            acc2.scatter_(1, kr, ok)
            acc |= acc2
        a3 = acc[:, None, :]
        mask = torch.where(a3, new, mask)
        M = torch.where(a3, M2, M)
        R = torch.where(a3, R2, R)
    return mask, M, R
