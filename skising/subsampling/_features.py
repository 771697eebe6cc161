"""Default node features for graphs without task-specific ones."""

from __future__ import annotations

import torch

__all__ = ["default_node_features"]


def default_node_features(graph):
    """``[x, standardised pos, degree / mean degree]`` (whichever exist), float32.

    Positions are centred on the graph's mean and scaled by its RMS radius,
    so the features are invariant to translation and scale of the input.
    Cached in ``graph.data["features"]``.

    Parameters
    ----------
    graph : skising.graph.Graph
        The graph (see :func:`~skising.graph.as_graph`); uses its ``x`` and
        ``pos`` when present, and its degrees.

    Returns
    -------
    torch.Tensor of shape (n, n_features), float32
        ``n_features`` is ``F + d + 1`` for node features ``x`` of width
        ``F`` and positions of dimension ``d`` (each term only if present).

    Examples
    --------
    >>> from skising.datasets import load_bunny
    >>> from skising.subsampling import default_node_features
    >>> tuple(default_node_features(load_bunny()).shape)   # 3 position columns + degree
    (502, 4)
    """
    cached = graph.data.get("features")
    if cached is not None:
        return cached
    parts = []
    if graph.x is not None:
        parts.append(graph.x.float())
    if graph.pos is not None:
        p = graph.pos.double()
        p = p - p.mean(0, keepdim=True)
        scale = p.pow(2).sum(1).mean().sqrt().clamp_min(1e-12)
        parts.append((p / scale).float())
    deg = graph.degree.float()
    parts.append((deg / deg.mean().clamp_min(1.0))[:, None])
    feats = torch.cat(parts, dim=1)
    graph.data["features"] = feats
    return feats
