"""Local search after sampling: :func:`refine_patterns` groups SAI patterns by size for :func:`swap_refine_dense`."""

from __future__ import annotations

import numpy as np
import torch

from ._greedy import swap_refine_dense

__all__ = ["refine_patterns"]


def refine_patterns(items, keeps, steps, pairs=4, chunk=64):
    """Refine sampled patterns by :func:`swap_refine_dense` (diagonal kept and fixed).

    Parameters
    ----------
    items : list of _Item
    keeps : list of bool arrays (K, m_i)
        Kept candidates of every sample of every item.
    steps, pairs : int
        See :func:`swap_refine_dense`.

    Returns
    -------
    keeps : list of bool arrays (K, m_i), same number kept per sample
    residuals : list of float arrays (K,), ``||AM - I||_F`` of the refined patterns
    """
    out_k = [None] * len(items)
    out_r = [None] * len(items)
    by_n = {}
    for i, it in enumerate(items):  # group matrices by size (loop over matrices)
        by_n.setdefault(it.n, []).append(i)
    for n, idx in by_n.items():
        jobs = [(i, s) for i in idx for s in range(keeps[i].shape[0])]
        res = {i: np.empty(keeps[i].shape[0]) for i in idx}
        kp = {i: np.empty_like(keeps[i]) for i in idx}
        eye = torch.eye(n, dtype=torch.bool)
        for c0 in range(0, len(jobs), chunk):  # chunks of (matrix, sample) problems
            jb = jobs[c0 : c0 + chunk]
            P = len(jb)
            A = torch.as_tensor(np.stack([items[i].A.toarray() for i, _ in jb]))
            cand = torch.zeros((P, n, n), dtype=torch.bool)
            start = eye.expand(P, n, n).clone()
            p_of = np.concatenate([np.full(items[i].m, p) for p, (i, _) in enumerate(jb)])
            r_of = np.concatenate([items[i].rows for i, _ in jb])
            c_of = np.concatenate([items[i].cols for i, _ in jb])
            k_of = np.concatenate([keeps[i][s] for i, s in jb])
            cand[p_of, r_of, c_of] = True
            start[p_of[k_of], r_of[k_of], c_of[k_of]] = True
            mask, _, R = swap_refine_dense(A, cand, start, steps=steps, pairs=pairs, fixed=eye.expand(P, n, n))
            got = mask[p_of, r_of, c_of].numpy()
            rn = torch.linalg.norm(R, dim=(1, 2)).numpy()
            off = np.cumsum([0] + [items[i].m for i, _ in jb])
            for p, (i, s) in enumerate(jb):  # scatter back (loop over matrices)
                kp[i][s] = got[off[p] : off[p + 1]]
                res[i][s] = rn[p]
        for i in idx:
            out_k[i], out_r[i] = kp[i], res[i]
    return out_k, out_r
