"""Graph input: every supported format normalised to one internal :class:`Graph`."""

from ._graph import Graph, as_graph, batch_graphs
from ._grid import grid_colors, grid_graph

__all__ = ["Graph", "as_graph", "batch_graphs", "grid_graph", "grid_colors"]
