"""BA-2Motifs: load the PGExplainer release or generate a fresh copy."""

from __future__ import annotations

import numpy as np
import torch

from ._home import data_path

__all__ = ["load_ba2motifs", "make_ba2motifs"]


def _to_data(adj, x, y, node_gt, idx, remove_self_loops):
    from torch_geometric.data import Data

    a = np.array(adj, copy=True)
    if remove_self_loops:
        np.fill_diagonal(a, 0)
    r, c = np.nonzero(a)
    edge_index = torch.as_tensor(np.stack([r, c]), dtype=torch.long)
    node_gt = torch.as_tensor(node_gt, dtype=torch.bool)
    edge_gt = node_gt[edge_index[0]] & node_gt[edge_index[1]]
    return Data(x=torch.as_tensor(x, dtype=torch.float32), edge_index=edge_index,
                y=torch.tensor([int(y)]), node_gt=node_gt, edge_gt=edge_gt, idx=torch.tensor([int(idx)]))


def load_ba2motifs(data_home=None, remove_self_loops=False):
    """The BA-2Motifs graph-classification benchmark (Luo et al., 2020).

    1000 graphs of 25 nodes: a 20-node Barabasi-Albert tree (nodes 0-19) and
    a motif (nodes 20-24), a 5-cycle (label 0, graphs 0-499) or a house
    (label 1, graphs 500-999). Read from ``ba2motifs/ba2motifs.npz`` under
    the data home (see its ``SOURCE.md``).

    Parameters
    ----------
    data_home : str or Path, optional
        See :func:`skising.datasets.get_data_home`.
    remove_self_loops : bool, default False
        In 40 graphs of the original release the motif is not attached and
        node 20 carries a self-loop instead; ``True`` drops it.

    Returns
    -------
    list of torch_geometric.data.Data
        ``x`` (25, 10) constant 0.1, ``edge_index`` (both directions), ``y``
        (1,), ``node_gt`` (25,) bool (motif nodes), ``edge_gt`` (E,) bool
        (edges inside the motif), ``idx``.

    Examples
    --------
    >>> from skising.datasets import load_ba2motifs
    >>> ds = load_ba2motifs()  # doctest: +SKIP
    >>> len(ds), int(ds[0].node_gt.sum())  # doctest: +SKIP
    (1000, 5)
    """
    path = data_path("ba2motifs", "ba2motifs.npz", data_home=data_home)
    with np.load(path) as f:
        adj, x, y, node_gt = f["adj"], f["x"], f["y"], f["node_gt"]
    return [_to_data(adj[i], x[i], y[i], node_gt[i], i, remove_self_loops) for i in range(len(y))]


def make_ba2motifs(n_graphs=1000, n_base=20, random_state=None):
    """Generate BA-2Motifs: BA base + house (label 1) or 5-cycle (label 0).

    Follows the original recipe: a Barabasi-Albert tree of ``n_base`` nodes
    (one edge per new node), the motif on nodes ``n_base .. n_base + 4``,
    joined to the base by one edge between a random base node and a random
    motif node; 10 constant features 0.1; half of each class (first the
    cycles, then the houses).

    Parameters
    ----------
    n_graphs : int, default 1000
    n_base : int, default 20
    random_state : int, numpy Generator or None

    Returns
    -------
    list of torch_geometric.data.Data
        As :func:`load_ba2motifs`.

    Examples
    --------
    >>> from skising.datasets import make_ba2motifs
    >>> ds = make_ba2motifs(4, random_state=0)
    >>> [int(d.y) for d in ds], ds[0].num_nodes, int(ds[3].edge_gt.sum())
    ([0, 0, 1, 1], 25, 12)
    """
    import networkx as nx

    if not isinstance(n_graphs, (int, np.integer)) or n_graphs < 1:
        raise ValueError(f"n_graphs: expected a positive int, got {n_graphs!r}")
    if not isinstance(n_base, (int, np.integer)) or n_base < 2:
        raise ValueError(f"n_base: expected an int >= 2, got {n_base!r}")
    rng = np.random.default_rng(random_state)
    cycle = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]
    house = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4)]
    n = n_base + 5
    out = []
    n0 = n_graphs // 2
    for i in range(n_graphs):
        label = 0 if i < n0 else 1
        g = nx.barabasi_albert_graph(n_base, 1, seed=int(rng.integers(2**31)))
        adj = np.zeros((n, n), dtype=np.float32)
        e = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2)
        adj[e[:, 0], e[:, 1]] = adj[e[:, 1], e[:, 0]] = 1
        m = np.asarray(cycle if label == 0 else house) + n_base
        adj[m[:, 0], m[:, 1]] = adj[m[:, 1], m[:, 0]] = 1
        a, b = int(rng.integers(n_base)), n_base + int(rng.integers(5))
        adj[a, b] = adj[b, a] = 1
        node_gt = np.r_[np.zeros(n_base), np.ones(5)]
        out.append(_to_data(adj, np.full((n, 10), 0.1, np.float32), label, node_gt, i, False))
    return out
