"""Slow, obviously-correct twins of the bundled losses, used only by tests and benchmarks."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["coverage_loss_dense"]


def coverage_loss_dense(x, graph, region=None, outside_weight=0.1):
    """:class:`~skising.subsampling.CoverageLoss` through the dense ``(n, n)`` distance matrix.

    O(n^2) time and memory per graph and O(K n^2) for the masked copy: for
    checking the fast loss on small graphs only.
    """
    kept = x > 0
    out = torch.empty(x.shape[0], graph.num_graphs, dtype=torch.float32, device=x.device)
    for gi, (s, e) in enumerate(graph.subgraph_slices()):  # loop over graphs, vectorised inside
        p = graph.pos[s:e].to(x.device).double()
        p = p - p.mean(0, keepdim=True)
        p = p / p.pow(2).sum(1).mean().sqrt().clamp_min(1e-12)
        if region is None:
            w = torch.ones(p.shape[0], dtype=p.dtype, device=p.device)
        else:
            c = torch.as_tensor(np.asarray(region[0], dtype=np.float64), dtype=p.dtype, device=p.device)
            w = torch.where((p - c).norm(dim=1) <= float(region[1]), 1.0, float(outside_weight)).to(p.dtype)
        D = torch.cdist(p, p)  # (n, n)
        k = kept[:, s:e]  # (K, n)
        Dm = D[None].expand(k.shape[0], -1, -1).masked_fill(~k[:, None, :], float("inf"))
        d = Dm.min(-1).values
        d = torch.where(torch.isfinite(d), d, D.max())
        out[:, gi] = ((d * w).sum(1) / w.sum()).float()
    return out
