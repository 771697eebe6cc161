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


# ----------------------------------------------------------------------------- O(n + m) conversion
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from skising.graph import _csr  # noqa: E402


def _sorting_path(obj, **kw):
    with _csr.disabled():
        return as_graph(obj, **kw)


def _identical(a, b):
    for k in ("edges", "weight", "rowptr", "col", "eid", "_row"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and torch.equal(x, y), k


@pytest.mark.skipif(not _csr.available(), reason="the compiled conversion needs numba")
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 25), st.integers(0, 80), st.integers(0, 2**31 - 1), st.booleans())
def test_compiled_conversion_equals_the_sorting_path(n, E, seed, loops):
    """Edge lists (duplicates, both directions, self-loops) and every sparse format give the very
    arrays of the sorting path: edges, weights, CSR and edge ids (so colourings, plans and samples
    stay the same)."""
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n, (2, E))
    if not loops:
        ei = ei[:, ei[0] != ei[1]]
    key = np.minimum(ei[0], ei[1]) * n + np.maximum(ei[0], ei[1])
    w = (key % 3) + 0.5  # consistent weights per undirected edge
    _identical(as_graph(ei, num_nodes=n, edge_weight=w), _sorting_path(ei, num_nodes=n, edge_weight=w))
    _identical(as_graph(torch.as_tensor(ei), num_nodes=n), _sorting_path(torch.as_tensor(ei), num_nodes=n))
    A = sp.random(n, n, density=0.3, random_state=seed % 2**32, format="csr")
    A = A + A.T
    if loops:
        A.setdiag(2.0)
    for M in (A, A.tocoo(), A.tocsc(), A.astype(np.float32), A != 0, A.tolil()):
        _identical(as_graph(M), _sorting_path(M))


def test_invalid_matrices_are_named_by_the_sorting_path():
    with pytest.raises(ValueError, match="not symmetric"):
        as_graph(sp.csr_matrix(np.array([[0, 1.0], [0, 0]])))
    with pytest.raises(ValueError, match="not symmetric"):  # same pattern, other values
        as_graph(sp.csr_matrix(np.array([[0, 1.0, 0], [2.0, 0, 1], [0, 1, 0]])))
    with pytest.raises(ValueError, match="NaN"):
        as_graph(sp.csr_matrix(np.array([[0, np.nan], [np.nan, 0]])))
    with pytest.raises(ValueError, match="different weights"):
        as_graph(np.array([[0, 1], [1, 0]]), edge_weight=[1.0, 2.0])
    # symmetric only up to rounding: accepted (by the sorting path's tolerance)
    g = as_graph(sp.csr_matrix(np.array([[0, 1.0], [1.0 + 1e-13, 0]])))
    assert g.num_edges == 1


def test_conversion_cache_sees_in_place_edits():
    from skising.graph._cache import cached_graph, clear_cache

    clear_cache()
    A = nx.to_scipy_sparse_array(nx.cycle_graph(6), format="csr").astype(float)
    g = cached_graph(A)
    assert cached_graph(A) is g  # same unchanged object: the same Graph (colouring, plan)
    assert cached_graph(A.copy()) is not g  # another object
    A.data[:] = 3.0  # an in-place edit of the values
    g2 = cached_graph(A)
    assert g2 is not g and g2.weight.max() == 3.0
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    g3 = cached_graph(ei)
    ei[1, 2] = 3
    assert cached_graph(ei).num_nodes == 4 and g3.num_nodes == 3
    clear_cache()


def test_row_index_is_built_on_first_use_and_pickles():
    import pickle

    g = as_graph(nx.path_graph(4))
    assert g._row.tolist() == [0, 1, 1, 2, 2, 3]
    h = pickle.loads(pickle.dumps(g))
    assert torch.equal(h._row, g._row) and torch.equal(h.eid, g.eid)
