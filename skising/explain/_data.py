"""Input checks of the explainer: lists of PyG graphs."""

from __future__ import annotations

import torch

__all__ = []


def _as_data_list(X, name="X"):
    from torch_geometric.data import Batch, Data

    if isinstance(X, (str, bytes)):
        raise TypeError(f"{name}: expected a list/dataset of torch_geometric Data graphs, got {type(X).__name__}")
    if isinstance(X, Batch):
        X = X.to_data_list()
    elif isinstance(X, Data):
        X = [X]
    try:
        X = list(X)
    except TypeError as exc:
        raise TypeError(f"{name}: expected a list/dataset of torch_geometric Data graphs, got {type(X).__name__}") from exc
    if not X:
        raise ValueError(f"{name}: no graphs given")
    for i, d in enumerate(X):
        if not isinstance(d, Data) or getattr(d, "x", None) is None or getattr(d, "edge_index", None) is None:
            raise TypeError(f"{name}: item {i} is not a torch_geometric Data with x and edge_index")
        x = d.x
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name}[{i}].x: expected a real (num_nodes, num_features) tensor, "
                            f"got {type(x).__name__} of shape {tuple(getattr(x, 'shape', ()))}")
        if x.shape[0] == 0:
            raise ValueError(f"{name}[{i}]: graph without nodes")
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError(f"{name}[{i}].x: node features contain NaN or infinite values")
        ea = getattr(d, "edge_attr", None)
        if isinstance(ea, torch.Tensor) and ea.is_floating_point() and not torch.isfinite(ea).all():
            raise ValueError(f"{name}[{i}].edge_attr: edge features contain NaN or infinite values")
    return X


def _without_edge_attr(d):
    """A shallow copy of the PyG graph ``d`` without ``edge_attr``."""
    import copy

    d = copy.copy(d)
    d.edge_attr = None
    return d
