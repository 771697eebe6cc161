"""Exactness of the shared sampler against exact enumeration of all 2^n states."""

import math

import networkx as nx
import numpy as np
import pytest
import torch

from skising.graph import as_graph
from skising.sampling import color_graph, sample_ising
from skising.sampling._reference import exact_distribution, metropolis_reference

from conftest import DEVICES


def _random_graph(n, p, seed):
    rng = np.random.default_rng(seed)
    while True:
        G = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
        if G.number_of_edges() >= n - 1:
            return G


def _state_index(x):
    """{-1,+1} rows -> integer index in the order of enumerate_states."""
    bits = (np.asarray(x) > 0).astype(np.int64)
    n = bits.shape[1]
    return bits @ (1 << np.arange(n - 1, -1, -1))


def _tv_and_bound(samples, p):
    N = samples.shape[0]
    counts = np.bincount(_state_index(samples), minlength=p.size)
    tv = 0.5 * np.abs(counts / N - p).sum()
    # E|p_hat - p| <= sqrt(p(1-p)/N) per state; 4 x the expected TV is far out in the tail
    bound = 4 * 0.5 * np.sqrt(p * (1 - p) / N).sum() + 1e-3
    return tv, bound


CASES = [
    # (n, edge prob, J kind, beta, seed)
    (5, 0.6, "ferro", 0.5, 0),
    (6, 0.5, "antiferro", 1.0, 1),
    (6, 0.7, "mixed", 0.8, 2),
    (5, 0.8, "mixed", 1.3, 3),
]


def _couplings(kind, m, rng):
    if kind == "ferro":
        return rng.uniform(0.3, 1.0, m)
    if kind == "antiferro":
        return -rng.uniform(0.3, 1.0, m)
    return rng.uniform(-1.0, 1.0, m)


@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
@pytest.mark.parametrize("n,p,kind,beta,seed", CASES)
def test_distribution_matches_enumeration(n, p, kind, beta, seed, update):
    rng = np.random.default_rng(seed)
    g = as_graph(_random_graph(n, p, seed))
    J = _couplings(kind, g.num_edges, rng)
    h = rng.normal(0, 0.7, n)
    X, prob = exact_distribution(n, g.edges.T.numpy(), J, h, beta)
    x = sample_ising(g, h, coupling=J, beta=beta, n_chains=20000, n_sweeps=40, update=update,
                     random_state=seed, dtype=torch.float64)
    tv, bound = _tv_and_bound(x.numpy(), prob)
    assert tv < bound, f"TV {tv:.4f} >= bound {bound:.4f}"


def test_printed_algorithm_samples_at_twice_beta():
    """Alg. 1 as printed (exp(-2 beta dE)) is far from eq. 1 at beta, exact at 2 beta."""
    n, seed, beta = 5, 7, 0.6
    rng = np.random.default_rng(seed)
    g = as_graph(_random_graph(n, 0.7, seed))
    J = _couplings("mixed", g.num_edges, rng)
    h = rng.normal(0, 0.7, n)
    colors = color_graph(g).tolist()
    edges = g.edges.T.tolist()
    py = np.random.default_rng(0)
    runs = 4000
    xs = np.array([
        metropolis_reference(n, edges, J, h, colors, beta, 25, py.choice([-1.0, 1.0], n), py, paper_acceptance=True)
        for _ in range(runs)
    ])
    _, p_beta = exact_distribution(n, edges, J, h, beta)
    _, p_2beta = exact_distribution(n, edges, J, h, 2 * beta)
    tv2, bound2 = _tv_and_bound(xs, p_2beta)
    tv1, bound1 = _tv_and_bound(xs, p_beta)
    assert tv2 < bound2
    assert tv1 > bound1  # the printed rule does not sample eq. 1


def test_literal_reference_matches_enumeration_and_engine():
    n, seed, beta = 4, 11, 0.9
    rng = np.random.default_rng(seed)
    g = as_graph(nx.cycle_graph(n))
    J = _couplings("mixed", g.num_edges, rng)
    h = rng.normal(0, 0.5, n)
    colors = color_graph(g).tolist()
    py = np.random.default_rng(1)
    xs = np.array([
        metropolis_reference(n, g.edges.T.tolist(), J, h, colors, beta, 20, py.choice([-1.0, 1.0], n), py)
        for _ in range(3000)
    ])
    _, prob = exact_distribution(n, g.edges.T.numpy(), J, h, beta)
    tv, bound = _tv_and_bound(xs, prob)
    assert tv < bound


def test_batch_of_graphs_samples_each_exactly():
    from skising.graph import batch_graphs

    g1, g2 = as_graph(nx.path_graph(3)), as_graph(nx.cycle_graph(4))
    b = batch_graphs([g1, g2])
    h = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.0, 0.2])
    x = sample_ising(b, h, coupling=0.7, beta=1.0, n_chains=20000, n_sweeps=30, random_state=3, dtype=torch.float64)
    for (s, e), g in zip(b.subgraph_slices(), [g1, g2]):
        _, prob = exact_distribution(e - s, g.edges.T.numpy(), np.full(g.num_edges, 0.7), h[s:e], 1.0)
        tv, bound = _tv_and_bound(x[:, s:e].numpy(), prob)
        assert tv < bound


def test_per_chain_field():
    g = as_graph(nx.path_graph(3))
    h = torch.tensor([[5.0, 5.0, 5.0], [-5.0, -5.0, -5.0]])
    x = sample_ising(g, h, coupling=0.0, n_chains=2, n_sweeps=5, random_state=0, update="heat_bath")
    assert (x[0] == 1).float().mean() > 0.6 and (x[1] == -1).float().mean() > 0.6


@pytest.mark.parametrize("device", DEVICES)
def test_same_seed_same_samples(device):
    G = nx.random_regular_graph(3, 30, seed=0)
    a = sample_ising(G, 0.1, coupling=-1.0, n_chains=8, n_sweeps=5, random_state=42, device=device)
    b = sample_ising(G, 0.1, coupling=-1.0, n_chains=8, n_sweeps=5, random_state=42, device=device)
    c = sample_ising(G, 0.1, coupling=-1.0, n_chains=8, n_sweeps=5, random_state=43, device=device)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.device.type == torch.device(device).type


def test_strong_fields_dominate_and_init_modes():
    G = nx.path_graph(10)
    up = sample_ising(G, 50.0, n_chains=4, n_sweeps=3, random_state=0)
    assert (up == 1).all()
    x0 = sample_ising(G, 0.0, n_chains=2, n_sweeps=0, init="down")
    assert (x0 == -1).all()
    given = torch.ones(10)
    assert (sample_ising(G, 0.0, n_chains=3, n_sweeps=0, init=given) == 1).all()


def test_antiferro_ground_state_on_bipartite_graph():
    G = nx.path_graph(20)  # a tree: each edge is frustrated independently with prob ~ e^-6
    x = sample_ising(G, 0.0, coupling=-1.0, beta=3.0, n_chains=16, n_sweeps=300, random_state=0, update="heat_bath")
    g = as_graph(G)
    e = g.edges
    agree = (x[:, e[0]] != x[:, e[1]]).float().mean()
    assert agree > 0.95


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"beta": -1.0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"n_chains": 0}, "n_chains"),
        ({"n_sweeps": -1}, "n_sweeps"),
        ({"update": "gibbs"}, "update"),
        ({"coupling": [1.0, 2.0]}, "coupling"),
        ({"coupling": float("inf")}, "coupling"),
        ({"field": [0.0] * 4}, "field"),
        ({"field": [float("nan")] * 5}, "field"),
        ({"init": "sideways"}, "init"),
        ({"init": [0.0] * 5}, "init"),
        ({"random_state": "seed"}, "random_state"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, match):
    G = nx.path_graph(5)
    args = {"field": 0.0}
    args.update(kwargs)
    field = args.pop("field")
    with pytest.raises((ValueError, TypeError), match=match):
        sample_ising(G, field, **args)


def test_cuda_unavailable_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="device"):
        sample_ising(nx.path_graph(3), 0.0, device="cuda")


def test_metropolis_acceptance_formula_on_single_spin():
    """One isolated spin with field h: P(up) = e^{beta h} / (2 cosh(beta h))."""
    g = as_graph(np.zeros((2, 0), dtype=np.int64), num_nodes=1)
    for update in ["metropolis", "heat_bath"]:
        x = sample_ising(g, 0.4, beta=1.5, n_chains=200000, n_sweeps=7, update=update, random_state=0)
        p = float((x == 1).float().mean())
        expected = math.exp(0.6) / (2 * math.cosh(0.6))
        assert abs(p - expected) < 0.005


def test_memory_guard_names_the_parameter():
    with pytest.raises(MemoryError, match="n_chains"):
        sample_ising(nx.path_graph(50), 0.0, n_chains=10**10, n_sweeps=1)
