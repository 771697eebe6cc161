"""Hostile graph inputs: every case either works correctly or raises a clear
ValueError/TypeError naming the argument -- never a bare torch/scipy traceback."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

from skising import (
    ConstantFieldIsingSubsampler,
    RandomSubsampler,
    SpectralSubsampler,
    as_graph,
    sample_ising,
)

NAMES = ("graph", "edge_index", "edge_weight", "num_nodes", "field", "coupling", "x", "pos", "X")

finite = st.floats(-5, 5, allow_nan=False)
anyfloat = st.one_of(finite, st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")))


@st.composite
def edge_index_inputs(draw):
    n = draw(st.integers(0, 12))
    E = draw(st.integers(0, 30))
    lo = draw(st.sampled_from([0, -2]))
    hi = draw(st.sampled_from([max(n - 1, 0), n + 2]))
    src = draw(st.lists(st.integers(lo, hi), min_size=E, max_size=E))
    dst = draw(st.lists(st.integers(lo, hi), min_size=E, max_size=E))
    ei = np.array([src, dst], dtype=draw(st.sampled_from([np.int64, np.int32, np.float64])))
    kind = draw(st.sampled_from(["none", "ok", "short", "bad"]))
    w = None
    if kind == "ok":
        w = np.array(draw(st.lists(finite, min_size=E, max_size=E)))
    elif kind == "short":
        w = np.ones(max(E - 1, 0))
    elif kind == "bad":
        w = np.array(draw(st.lists(anyfloat, min_size=E, max_size=E)))
    num_nodes = draw(st.one_of(st.none(), st.integers(-1, 14)))
    return ei, w, num_nodes


def _check_graph_invariants(g):
    assert g.num_nodes >= 1
    e = g.edges
    if e.numel():
        assert (e[0] < e[1]).all() and e.max() < g.num_nodes
        keys = e[0] * g.num_nodes + e[1]
        assert torch.unique(keys).numel() == keys.numel()
    assert torch.isfinite(g.weight).all()
    A = g.to_scipy()
    assert (A != A.T).nnz == 0


def _clear(exc):
    msg = str(exc)
    return isinstance(exc, (ValueError, TypeError)) and any(n in msg for n in NAMES)


@given(edge_index_inputs())
def test_fuzz_edge_index(case):
    ei, w, num_nodes = case
    try:
        g = as_graph(ei, edge_weight=w, num_nodes=num_nodes)
    except Exception as exc:  # noqa: BLE001 - the point is to classify every failure
        assert _clear(exc), repr(exc)
        return
    _check_graph_invariants(g)
    x = sample_ising(g, 0.1, coupling=-1.0, n_chains=2, n_sweeps=2, random_state=0)
    assert x.shape == (2, g.num_nodes)


@st.composite
def matrices(draw):
    n = draw(st.integers(0, 8))
    m = draw(st.sampled_from([n, n + 1]))
    vals = draw(st.lists(st.one_of(st.just(0.0), anyfloat), min_size=n * m, max_size=n * m))
    A = np.array(vals, dtype=np.float64).reshape(n, m)
    if draw(st.booleans()) and n == m:
        A = np.triu(A) + np.triu(A, 1).T
    return sp.csr_matrix(A) if draw(st.booleans()) else A


@given(matrices())
def test_fuzz_matrices(A):
    try:
        g = as_graph(A)
    except Exception as exc:  # noqa: BLE001
        assert _clear(exc), repr(exc)
        return
    _check_graph_invariants(g)


@given(st.lists(anyfloat, min_size=0, max_size=8), st.one_of(finite, anyfloat, st.lists(finite, max_size=6)))
def test_fuzz_fields_and_couplings(field, coupling):
    G = nx.cycle_graph(5)
    try:
        x = sample_ising(G, field, coupling=coupling, n_chains=2, n_sweeps=1, random_state=0)
    except Exception as exc:  # noqa: BLE001
        assert _clear(exc), repr(exc)
        return
    assert x.shape == (2, 5) and set(x.unique().tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize(
    "G",
    [
        nx.empty_graph(7),  # isolated nodes only
        nx.disjoint_union(nx.path_graph(4), nx.complete_graph(5)),  # disconnected
        nx.star_graph(60),  # one huge degree
        nx.path_graph(1),  # single node
    ],
)
def test_odd_graphs_work_with_every_baseline(G):
    g = as_graph(G)
    for est in (RandomSubsampler(0.5, random_state=0), SpectralSubsampler(0.5),
                ConstantFieldIsingSubsampler(0.5, coupling=-1.0, random_state=0)):
        m = est.fit(g).transform(g)
        assert m.shape == (g.num_nodes,) and m.dtype == bool
    x = sample_ising(g, 0.0, n_chains=3, n_sweeps=3, random_state=0)
    assert x.shape == (3, g.num_nodes)
