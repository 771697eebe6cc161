"""The bundled losses against their dense twins, their degenerate cases and their memory declaration."""

import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skising import IsingSubsampler
from skising.graph import as_graph, batch_graphs
from skising.subsampling import CoverageLoss
from skising.subsampling._losses import _diameter
from skising.subsampling._reference import coverage_loss_dense


def _graph(pos):
    n = len(pos)
    e = torch.stack([torch.arange(n - 1), torch.arange(1, n)]) if n > 1 else torch.zeros(2, 0, dtype=torch.long)
    return as_graph(e, num_nodes=n, pos=torch.as_tensor(pos, dtype=torch.float64))


def _spins(rng, K, n, frac):
    x = torch.where(torch.as_tensor(rng.random((K, n)) < frac), 1.0, -1.0)
    return x


@st.composite
def batches(draw):
    d = draw(st.sampled_from([1, 2, 3]))
    sizes = draw(st.lists(st.integers(1, 40), min_size=1, max_size=4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    graphs = []
    for n in sizes:
        kind = draw(st.sampled_from(["random", "grid", "line", "plane"]))
        if kind == "random":
            p = rng.normal(size=(n, d)) * 10.0 ** rng.uniform(-3, 3)
        elif kind == "grid":  # duplicates and exact ties
            p = rng.integers(0, 3, size=(n, d)).astype(float)
        elif kind == "line":
            p = np.outer(rng.random(n), rng.normal(size=d)) + rng.normal(size=d)
        else:
            p = rng.random((n, 2)) @ rng.normal(size=(2, d)) if d >= 2 else rng.random((n, 1))
        graphs.append(_graph(p))
    K = draw(st.integers(1, 4))
    frac = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    g = batch_graphs(graphs) if len(graphs) > 1 else graphs[0]
    x = _spins(rng, K, g.num_nodes, frac)
    x[0, : sizes[0]] = -1  # the first sample keeps nothing of the first graph: its diameter
    region = None
    if draw(st.booleans()):
        region = (rng.normal(size=d) * 0.5, float(rng.uniform(0.2, 1.5)))
    return g, x, region, float(draw(st.sampled_from([0.02, 0.5, 1.0])))


@settings(max_examples=60, deadline=None)
@given(batches())
def test_coverage_matches_dense_formula(case):
    g, x, region, ow = case
    fast = CoverageLoss(region=region, outside_weight=ow)(x, g)
    dense = coverage_loss_dense(x, g, region, ow)
    assert fast.shape == dense.shape == (x.shape[0], g.num_graphs)
    assert fast.dtype == torch.float32
    np.testing.assert_allclose(fast.numpy(), dense.numpy(), rtol=2e-6, atol=1e-6)


def test_coverage_on_a_mesh_batch_with_region():
    from skising.datasets import load_bunny
    from skising.subsampling import default_node_features

    g1 = load_bunny()
    g2 = as_graph(g1.edges, num_nodes=g1.num_nodes, pos=g1.pos * 3.0 + 1.0)  # same shape, other scale
    g = batch_graphs([g1, g2])
    ears = default_node_features(g1)[g1.pos[:, 1].argmax(), :3].tolist()
    rng = np.random.default_rng(0)
    x = _spins(rng, 6, g.num_nodes, 0.2)
    x[2, g1.num_nodes:] = -1
    loss = CoverageLoss(region=(ears, 1.0), outside_weight=0.02)
    fast, dense = loss(x, g), coverage_loss_dense(x, g, (ears, 1.0), 0.02)
    np.testing.assert_allclose(fast.numpy(), dense.numpy(), rtol=1e-6)
    # scale-free: the same kept set on the scaled copy scores the same
    same = torch.cat([x[:, : g1.num_nodes], x[:, : g1.num_nodes]], 1)
    out = loss(same, g)
    np.testing.assert_allclose(out[:, 0].numpy(), out[:, 1].numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    "pos",
    [
        np.zeros((1, 3)),  # one node
        np.ones((5, 3)),  # identical points
        np.array([[0.0, 0, 0], [3, 4, 0]]),  # two points
        np.outer(np.linspace(-1, 2, 30), [1.0, -2, 0.5]),  # collinear
        np.c_[np.random.default_rng(1).random((40, 2)), np.zeros(40)],  # coplanar
        np.random.default_rng(2).integers(0, 2, (50, 3)).astype(float),  # cube corners, many duplicates
        np.random.default_rng(3).normal(size=(200, 3)),
        np.random.default_rng(4).normal(size=(100, 2)),
        np.random.default_rng(5).normal(size=(20, 1)),
    ],
)
def test_diameter_is_the_largest_pairwise_distance(pos):
    exact = float(torch.cdist(torch.as_tensor(pos), torch.as_tensor(pos), compute_mode="donot_use_mm_for_euclid_dist").max())
    assert _diameter(pos) == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_coverage_is_a_valid_training_loss_and_deterministic():
    from skising.datasets import load_bunny

    g = load_bunny()
    est = IsingSubsampler(loss=CoverageLoss(), coupling=-1.0, target_fraction=0.2, magnetization="sample",
                          n_samples=2, n_sweeps=2, max_epochs=2, random_state=0)
    a = est.fit([g]).history_[-1]["loss"]
    b = IsingSubsampler(**est.get_params()).fit([g]).history_[-1]["loss"]
    assert np.isfinite(a) and a == b


@pytest.mark.parametrize(
    ("kwargs", "x_shape", "pos", "match"),
    [
        ({}, (2, 5), None, "graph.pos"),
        ({}, (2, 4), "ok", "x: expected"),
        ({"region": ([0.0, 0.0], 1.0)}, (2, 5), "ok", "region"),
        ({"region": "ball"}, (2, 5), "ok", "region"),
        ({"region": ([0.0, 0.0, 0.0], 1.0), "outside_weight": -1.0}, (2, 5), "ok", "outside_weight"),
        ({"region": ([0.0, 0.0, 0.0], 1.0), "outside_weight": float("nan")}, (2, 5), "ok", "outside_weight"),
    ],
)
def test_coverage_rejects_bad_input_naming_the_parameter(kwargs, x_shape, pos, match):
    e = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    g = as_graph(e, num_nodes=5, pos=None if pos is None else torch.randn(5, 3))
    with pytest.raises(ValueError, match=match):
        CoverageLoss(**kwargs)(torch.ones(x_shape), g)


def test_coverage_memory_is_declared_linear_and_bounds_the_allocations():
    rng = np.random.default_rng(0)
    loss = CoverageLoss(region=(np.zeros(3), 1.0), outside_weight=0.1)
    sizes = (2000, 8000)
    declared = []
    for n in sizes:
        g = _graph(rng.random((n, 3)))
        declared.append(loss.memory_bytes(g, 4))
        x = _spins(rng, 4, n, 0.5)
        tracemalloc.start()
        loss(x, g)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= declared[-1], (n, peak, declared[-1])
    assert declared[1] / declared[0] == pytest.approx(sizes[1] / sizes[0], rel=0.01)


def test_declared_loss_memory_stops_fit_naming_the_parameters():
    from skising.datasets import load_bunny

    class Huge(CoverageLoss):
        def memory_bytes(self, graph, n_samples):
            return 2**60

    est = IsingSubsampler(loss=Huge(), n_samples=2, n_sweeps=1, max_epochs=1, random_state=0)
    with pytest.raises(MemoryError, match="batch_size.*n_samples"):
        est.fit([load_bunny()])

    class Bad(CoverageLoss):
        def memory_bytes(self, graph, n_samples):
            return "a lot"

    with pytest.raises(TypeError, match="loss: memory_bytes"):
        IsingSubsampler(loss=Bad(), n_samples=2, n_sweeps=1, max_epochs=1, random_state=0).fit([load_bunny()])
