"""Torch field models: node features -> external field h."""

from ._gnn import GNNField, graph_edge_index

__all__ = ["GNNField", "graph_edge_index"]

from ._gin import GINClassifier, GINField

__all__ += ["GINClassifier", "GINField"]
