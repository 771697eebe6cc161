"""Colourings: validity (hypothesis), networkx semantics, grid closed form, caching."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skising.graph import as_graph, grid_colors, grid_graph
from skising.sampling import color_graph, greedy_color, is_valid_coloring


@st.composite
def random_graphs(draw):
    n = draw(st.integers(1, 60))
    m = draw(st.integers(0, 4 * n))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    return as_graph(np.array([src, dst], dtype=np.int64).reshape(2, -1), num_nodes=n)


@given(random_graphs(), st.integers(0, 5))
def test_jones_plassmann_is_a_valid_colouring(g, seed):
    c = color_graph(g, "jp", seed=seed)
    assert c.shape == (g.num_nodes,)
    assert is_valid_coloring(g, c)
    # never more colours than max degree + 1
    assert c.max() + 1 <= int(g.degree.max()) + 1 if g.num_edges else c.max() == 0


@given(random_graphs())
def test_greedy_colour_matches_networkx(g):
    G = g.to_networkx()
    d = nx.greedy_color(G, strategy="largest_first")
    c = greedy_color(g, "largest_first")
    assert all(c[k] == v for k, v in d.items())
    assert is_valid_coloring(g, c)


def test_jp_colour_count_is_close_to_largest_first():
    G = nx.random_geometric_graph(3000, 0.03, seed=1)
    g = as_graph(G)
    jp = color_graph(g, "jp").max() + 1
    lf = greedy_color(g).max() + 1
    assert jp <= 1.5 * lf


@pytest.mark.parametrize("conn,k", [(4, 2), (8, 4)])
def test_grid_closed_form(conn, k):
    g = grid_graph(9, 11, conn)
    c = color_graph(g)
    assert np.array_equal(c, grid_colors(9, 11, conn))
    assert c.max() + 1 == k
    assert is_valid_coloring(g, c)


def test_colouring_is_cached_on_the_graph():
    g = as_graph(nx.petersen_graph())
    a = color_graph(g)
    assert color_graph(g) is a


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        color_graph(nx.path_graph(3), "rainbow")
    with pytest.raises(ValueError, match="strategy"):
        greedy_color(nx.path_graph(3), "rainbow")
