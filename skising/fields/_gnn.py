"""Default field network of the generic :class:`~skising.IsingSubsampler`."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GNNField", "graph_edge_index"]


def graph_edge_index(graph):
    """PyG-style ``edge_index`` (both directions) of a skising Graph.

    Parameters
    ----------
    graph : skising.graph.Graph
        The graph (see :func:`~skising.graph.as_graph`).

    Returns
    -------
    torch.LongTensor of shape (2, 2 m)
        The ``m`` undirected edges ``graph.edges`` followed by the same
        edges reversed, on the graph's device.

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.graph import as_graph
    >>> from skising.fields import graph_edge_index
    >>> graph_edge_index(as_graph(nx.path_graph(3))).tolist()
    [[0, 1, 1, 2], [1, 2, 0, 1]]
    """
    e = graph.edges
    return torch.cat([e, e.flip(0)], dim=1)


class GNNField(nn.Module):
    """Small message-passing network mapping node features to a scalar field h.

    An MLP encoder, ``num_layers`` residual :class:`torch_geometric.nn.GraphConv`
    layers (sum aggregation with a root weight) and a linear read-out.

    Parameters
    ----------
    in_channels : int
    hidden_channels : int, default 32
    num_layers : int, default 3

    Examples
    --------
    >>> import torch
    >>> from skising.fields import GNNField
    >>> net = GNNField(3)
    >>> h = net(torch.randn(4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]]))
    >>> tuple(h.shape)
    (4,)
    """

    def __init__(self, in_channels, hidden_channels=32, num_layers=3):
        super().__init__()
        from torch_geometric.nn import GraphConv

        self.encoder = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.ReLU(),
                                     nn.Linear(hidden_channels, hidden_channels))
        self.convs = nn.ModuleList([GraphConv(hidden_channels, hidden_channels, aggr="mean") for _ in range(num_layers)])
        self.out = nn.Linear(hidden_channels, 1)

    def forward(self, x, edge_index):
        z = self.encoder(x)
        for conv in self.convs:
            z = z + torch.relu(conv(z, edge_index))
        return self.out(z).squeeze(-1)
