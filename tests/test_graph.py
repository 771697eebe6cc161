"""Graph input normalisation and its errors."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skising.graph import Graph, as_graph, batch_graphs, grid_graph


def _same(a, b):
    return a.num_nodes == b.num_nodes and torch.equal(a.edges, b.edges) and torch.allclose(a.weight, b.weight)


def test_all_formats_give_the_same_graph():
    G = nx.karate_club_graph()
    for u, v in G.edges:
        G[u][v]["weight"] = float(u + v + 1)
    ref = as_graph(G)
    A = nx.to_scipy_sparse_array(G, nodelist=range(34), weight="weight")
    assert _same(ref, as_graph(A))
    assert _same(ref, as_graph(sp.csr_matrix(A)))
    e = ref.edges
    both = torch.cat([e, e.flip(0)], 1)
    w = torch.cat([ref.weight, ref.weight])
    assert _same(ref, as_graph(both, edge_weight=w))
    assert _same(ref, as_graph(e.numpy(), edge_weight=ref.weight.numpy()))
    from torch_geometric.data import Data

    assert _same(ref, as_graph(Data(edge_index=both, edge_weight=w, num_nodes=34)))


def test_csr_is_symmetric_and_loop_free():
    rng = np.random.default_rng(0)
    ei = rng.integers(0, 50, (2, 400))
    g = as_graph(ei, num_nodes=50)
    A = g.to_scipy()
    assert (A != A.T).nnz == 0
    assert A.diagonal().sum() == 0
    assert A.nnz == 2 * g.num_edges
    assert (g.edges[0] < g.edges[1]).all()


def test_self_loops_dropped_and_isolated_nodes_kept():
    g = as_graph(np.array([[0, 1, 2], [0, 2, 1]]), num_nodes=5)
    assert g.num_edges == 1 and g.num_nodes == 5
    assert g.degree.tolist() == [0, 1, 1, 0, 0]


def test_pyg_batch_keeps_graph_ids():
    from torch_geometric.data import Batch, Data

    d1 = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
    d2 = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3)
    g = as_graph(Batch.from_data_list([d1, d2]))
    assert g.num_graphs == 2 and g.ptr.tolist() == [0, 2, 5]


def test_batch_graphs_union_and_colour_cache():
    from skising.sampling import color_graph

    a, b = as_graph(nx.cycle_graph(5)), as_graph(nx.path_graph(4))
    ca, cb = color_graph(a), color_graph(b)
    u = batch_graphs([a, b])
    assert u.num_nodes == 9 and u.num_edges == 8 and u.num_graphs == 2
    assert u.batch.tolist() == [0] * 5 + [1] * 4
    assert np.array_equal(u._colors["auto"], np.concatenate([ca, cb]))


def test_grid_graph_counts():
    g4, g8 = grid_graph(5, 7, 4), grid_graph(5, 7, 8)
    assert g4.num_edges == 5 * 6 + 4 * 7
    assert g8.num_edges == g4.num_edges + 2 * 4 * 6


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: as_graph(sp.csr_matrix(np.ones((2, 3)))), ValueError, "square"),
        (lambda: as_graph(sp.csr_matrix(np.triu(np.ones((3, 3)), 1))), ValueError, "symmetric"),
        (lambda: as_graph(sp.csr_matrix(np.array([[0, np.nan], [np.nan, 0]]))), ValueError, "NaN"),
        (lambda: as_graph(np.array([[0, 1], [1, -2]])), ValueError, "negative"),
        (lambda: as_graph(np.array([[0, 1], [1, 5]]), num_nodes=3), ValueError, "out of range"),
        (lambda: as_graph(np.array([[0.0, 1.0], [1.0, 0.0]])), TypeError, "graph"),
        (lambda: as_graph(torch.tensor([[0.0, 1.0], [1.0, 0.0]])), TypeError, "graph"),
        (lambda: as_graph(np.array([[0, 1, 2]])), TypeError, "graph"),
        (lambda: as_graph(np.array([[0, 1], [1, 2]]), edge_weight=[1.0]), ValueError, "edge_weight"),
        (lambda: as_graph(np.array([[0, 1], [1, 2]]), edge_weight=[1.0, np.inf]), ValueError, "edge_weight"),
        (lambda: as_graph(np.array([[0, 1], [1, 0]]), edge_weight=[1.0, 2.0]), ValueError, "edge_weight"),
        (lambda: as_graph(np.zeros((2, 0), dtype=int)), ValueError, "num_nodes"),
        (lambda: as_graph(np.zeros((2, 0), dtype=int), num_nodes=0), ValueError, "empty"),
        (lambda: as_graph(nx.Graph()), ValueError, "empty"),
        (lambda: as_graph(nx.DiGraph([(0, 1)])), ValueError, "directed"),
        (lambda: as_graph("graph.txt"), TypeError, "unsupported"),
        (lambda: as_graph(nx.path_graph(3), pos=np.zeros((2, 3))), ValueError, "pos"),
        (lambda: as_graph(nx.path_graph(3), x=np.full((3, 1), np.nan)), ValueError, "x"),
        (lambda: as_graph(sp.csr_matrix((0, 0))), ValueError, "empty"),
    ],
)
def test_bad_graph_input_is_a_clear_error(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_graph_pickles():
    import pickle

    g = as_graph(nx.cycle_graph(6), pos=np.random.rand(6, 2))
    h = pickle.loads(pickle.dumps(g))
    assert isinstance(h, Graph) and torch.equal(h.edges, g.edges) and torch.equal(h.pos, g.pos)
