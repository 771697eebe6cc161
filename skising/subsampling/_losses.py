"""Ready-made task losses for :class:`~skising.IsingSubsampler` (plain callables)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CoverageLoss"]


class CoverageLoss:
    """Importance-weighted distance from every node to its nearest kept node.

    ``loss(x, graph)`` returns, per sample and graph, the weighted mean over
    all nodes *i* of ``min_{j kept} ||pos_i - pos_j||`` divided by the graph's
    RMS radius (scale-free). Node weights are 1 inside the ball
    ``region = (center, radius)`` (in the standardised coordinates of
    :func:`~skising.subsampling.default_node_features`) and ``outside_weight``
    elsewhere; ``region=None`` weighs all nodes equally (plain coverage, the
    k-centre objective FPS is built for). A sample that keeps no node scores
    the graph's diameter.

    Parameters
    ----------
    region : tuple (center, radius) or None, default None
        Ball of important nodes: ``center`` an array-like of length ``d``
        (the dimension of ``graph.pos``) and ``radius`` a float, both in
        the standardised coordinates. ``None``: all nodes weigh 1.
    outside_weight : float, default 0.1
        Weight of the nodes outside ``region`` (unused when ``region`` is
        None).

    Examples
    --------
    >>> import torch
    >>> from skising.subsampling import CoverageLoss
    >>> from skising.datasets import load_bunny
    >>> g = load_bunny()
    >>> x = -torch.ones(2, g.num_nodes); x[0, ::2] = 1; x[1, 0] = 1
    >>> l = CoverageLoss()(x, g)
    >>> tuple(l.shape), bool(l[0, 0] < l[1, 0])
    ((2, 1), True)
    """

    def __init__(self, region=None, outside_weight=0.1):
        self.region = region
        self.outside_weight = outside_weight

    def __repr__(self):
        return f"CoverageLoss(region={self.region!r}, outside_weight={self.outside_weight!r})"

    def _weights(self, p):
        if self.region is None:
            return torch.ones(p.shape[0], dtype=p.dtype, device=p.device)
        center, radius = self.region
        c = torch.as_tensor(np.asarray(center, dtype=np.float64), dtype=p.dtype, device=p.device)
        inside = (p - c).norm(dim=1) <= float(radius)
        return torch.where(inside, 1.0, float(self.outside_weight)).to(p.dtype)

    def __call__(self, x, graph):
        if graph.pos is None:
            raise ValueError("graph: CoverageLoss needs node positions (graph.pos)")
        kept = x > 0
        out = torch.empty(x.shape[0], graph.num_graphs, dtype=torch.float32, device=x.device)
        for gi, (s, e) in enumerate(graph.subgraph_slices()):  # loop over graphs, vectorised inside
            p = graph.pos[s:e].to(x.device).double()
            p = p - p.mean(0, keepdim=True)
            p = p / p.pow(2).sum(1).mean().sqrt().clamp_min(1e-12)
            w = self._weights(p)
            D = torch.cdist(p, p)  # (n, n)
            k = kept[:, s:e]  # (K, n)
            Dm = D[None].expand(k.shape[0], -1, -1).masked_fill(~k[:, None, :], float("inf"))
            d = Dm.min(-1).values
            d = torch.where(torch.isfinite(d), d, D.max())
            out[:, gi] = ((d * w).sum(1) / w.sum()).float()
        return out
