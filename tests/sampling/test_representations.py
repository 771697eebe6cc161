"""Every coupling representation of the engine through one harness.

* Exactness: on tiny models, the empirical distribution of each
  representation (CSR graph, conv grid, rook row/column sums, independent
  spins) matches the exact Boltzmann distribution from enumerating all 2^n
  states, for both update rules.
* One random-number contract: a representation gives the same samples, bit
  for bit, as the CSR sampler on the explicit graph of the same couplings
  with the same layout (dyadic couplings make every local field exact), for
  float32 and float64, the torch and the compiled CPU path of the CSR sampler.
"""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skising._validation import check_generator
from skising.graph import as_graph, grid_colors, grid_graph
from skising.precondition import candidate_pattern, entry_graph
from skising.sampling import (
    GraphCouplings,
    GridCouplings,
    IndependentSpins,
    RookCouplings,
    rook_coloring,
    sample_ising,
    sample_ising_grid,
)
from skising.sampling._reference import exact_distribution
from skising.sampling._sampler import _sample

UPDATES = ["metropolis", "heat_bath"]


# ---------------------------------------------------------------- tiny models, each with its explicit twin
def _grid_edges(B, H, W, kernel):
    """Edges and couplings of B disjoint H x W 8-neighbour grids (node b*H*W + r*W + c), read from the kernel."""
    g = grid_graph(H, W, 8)
    u, v = g.edges.numpy()
    J = np.asarray(kernel)[1 + v // W - u // W, 1 + v % W - u % W]
    off = np.repeat(np.arange(B) * H * W, u.size)
    edges = np.stack([np.tile(u, B) + off, np.tile(v, B) + off])
    return edges, np.tile(J, B)


def _symmetric_kernel(rng, dyadic=False):
    k = rng.normal(size=(3, 3))
    if dyadic:
        k = np.round(k * 4) / 4
    k = 0.5 * (k + k[::-1, ::-1])
    k[1, 1] = 0.0
    return k


def _pattern(seed, n=6, density=0.4):
    A = sp.csr_matrix(sp.random(n, n, density=density, random_state=seed) + sp.eye(n))
    return candidate_pattern(A, "A")


def _rook_edges(rows, cols):
    g = entry_graph(rows, cols)
    return g.edges.numpy(), g


def case(kind, rng, dyadic=False):
    """(representation, field (natural shape), edges (2, m), couplings (m,), n): one tiny model."""
    if kind == "graph":
        G = nx.gnp_random_graph(7, 0.5, seed=int(rng.integers(1 << 20)))
        g = as_graph(G)
        J = rng.uniform(-1, 1, g.num_edges)
        if dyadic:
            J = np.round(J * 4) / 4
        h = rng.normal(0, 0.7, 7)
        return GraphCouplings(g, torch.as_tensor(J), dtype=torch.float64), torch.as_tensor(h), g.edges.numpy(), J, 7
    if kind == "grid":
        k = 0.6 * _symmetric_kernel(rng, dyadic)
        h = rng.normal(0, 0.7, (2, 2, 3))
        edges, J = _grid_edges(2, 2, 3, k)
        return GridCouplings(torch.as_tensor(k), (2, 2, 3)), torch.as_tensor(h), edges, J, 12
    if kind == "rook":
        rows, cols = _pattern(int(rng.integers(1 << 20)))
        rows, cols = rows[:9], cols[:9]
        J = -0.5 if dyadic else -0.4
        edges, _ = _rook_edges(rows, cols)
        h = rng.normal(0, 0.5, rows.size)
        return RookCouplings(rows, cols, J), torch.as_tensor(h), edges, np.full(edges.shape[1], J), rows.size
    if kind == "independent":
        h = rng.normal(0, 0.8, 6)
        return IndependentSpins(6), torch.as_tensor(h), np.zeros((2, 0), np.int64), np.zeros(0), 6
    raise ValueError(kind)


def _state_index(x):
    bits = (np.asarray(x) > 0).astype(np.int64)
    return bits @ (1 << np.arange(bits.shape[1] - 1, -1, -1))


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("kind", ["graph", "grid", "rook", "independent"])
def test_every_representation_samples_the_exact_distribution(kind, update):
    rng = np.random.default_rng(["graph", "grid", "rook", "independent"].index(kind))
    rep, h, edges, J, n = case(kind, rng)
    beta = 0.9
    _, p = exact_distribution(n, edges.T, J, h.numpy().ravel(), beta)
    N = 20_000
    x = rep.sample(h, n_chains=N, n_sweeps=25, beta=beta, update=update, random_state=1, dtype=torch.float64)
    assert tuple(x.shape) == (N,) + tuple(h.shape)
    counts = np.bincount(_state_index(x.reshape(N, -1).numpy()), minlength=p.size)
    tv = 0.5 * np.abs(counts / N - p).sum()
    # the expected TV of an exact sampler of this size, x 1.5 (plus slack for tiny states)
    noise = 0.5 * np.sqrt(2 * p * (1 - p) / (np.pi * N)).sum()
    assert tv < 1.5 * noise + 0.005, (tv, noise)


@pytest.mark.parametrize("kind", ["graph", "grid", "rook", "independent"])
def test_energy_and_local_field_match_the_explicit_graph(kind):
    rng = np.random.default_rng(5)
    rep, h, edges, J, n = case(kind, rng)
    x = torch.as_tensor(rng.choice([-1.0, 1.0], size=(4,) + tuple(h.shape)))
    flat = x.reshape(4, n).numpy()
    hf = h.numpy().ravel()
    e_ref = -(flat[:, edges[0]] * flat[:, edges[1]] * J).sum(1) - flat @ hf
    e = rep.energy(x, h)
    np.testing.assert_allclose(e.reshape(4, -1).sum(1).numpy(), e_ref, rtol=1e-10, atol=1e-10)
    loc_ref = np.zeros_like(flat)
    np.add.at(loc_ref, (slice(None), edges[0]), flat[:, edges[1]] * J)
    np.add.at(loc_ref, (slice(None), edges[1]), flat[:, edges[0]] * J)
    np.testing.assert_allclose(rep.local_field(x).reshape(4, n).numpy(), loc_ref, atol=1e-10)
    # differentiable in the field
    hg = h.clone().requires_grad_(True)
    rep.energy(x, hg).sum().backward()
    np.testing.assert_allclose(hg.grad.numpy(), -x.sum(0).numpy())


# ---------------------------------------------------------------- one random-number contract
def _csr_twin(edges, J, n, colors, dtype):
    """The explicit graph of a representation, with its colouring cached (same layout)."""
    g = as_graph(torch.as_tensor(edges), num_nodes=n) if edges.size else as_graph(nx.empty_graph(n))
    # as_graph may reorder edges: couplings by (u, v) lookup
    key = dict(zip(map(tuple, np.sort(edges, 0).T.tolist()), J))
    ge = np.sort(g.edges.numpy(), 0).T
    Jg = torch.as_tensor([key[tuple(e)] for e in ge.tolist()], dtype=dtype)
    g._colors["auto"] = np.asarray(colors, dtype=np.int64)
    return g, Jg


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_grid_and_rook_equal_csr_bit_for_bit(dtype, update, backend):
    rng = np.random.default_rng(7)
    # grid: 3 images of 5 x 6, dyadic kernel, per-image fields
    B, H, W, K = 3, 5, 6, 4
    k = _symmetric_kernel(rng, dyadic=True)
    edges, J = _grid_edges(B, H, W, k)
    g, Jg = _csr_twin(edges, J, B * H * W, np.tile(grid_colors(H, W, 8), B), dtype)
    h = torch.as_tensor(rng.normal(size=(B, H, W)), dtype=dtype)
    xg = GridCouplings(torch.as_tensor(k), (B, H, W)).sample(h, K, 6, 0.8, update, random_state=3, dtype=dtype)
    xc = _sample(g, h.reshape(-1), Jg, 0.8, K, 6, update, "random", check_generator(3), "auto", dtype, backend)
    assert torch.equal(xg.reshape(K, -1), xc)
    # rook: the entry graph of a random pattern with the rook colouring, J = -0.5
    rows, cols = _pattern(3, n=10)
    colors = rook_coloring(rows, cols)
    edges, _ = _rook_edges(rows, cols)
    g, Jg = _csr_twin(edges, np.full(edges.shape[1], -0.5), rows.size, colors, dtype)
    hr = torch.as_tensor(rng.normal(size=rows.size), dtype=dtype)
    for K in (1, 5, 9):
        xr = RookCouplings(rows, cols, -0.5, colors=colors).sample(hr, K, 5, 1.1, update, random_state=4, dtype=dtype)
        xc = _sample(g, hr, Jg, 1.1, K, 5, update, "random", check_generator(4), "auto", dtype, backend)
        assert torch.equal(xr, xc)
    # independent spins: the edgeless graph
    hi = torch.as_tensor(rng.normal(size=9), dtype=dtype)
    xi = IndependentSpins(9).sample(hi, 6, 2, 0.7, update, random_state=5, dtype=dtype)
    g0 = as_graph(nx.empty_graph(9))
    xc = _sample(g0, hi, torch.zeros(0, dtype=dtype), 0.7, 6, 2, update, "random", check_generator(5), "auto", dtype,
                 backend)
    assert torch.equal(xi, xc)


def test_grid_per_chain_field_and_init_equal_csr():
    rng = np.random.default_rng(2)
    B, H, W, K = 2, 4, 5, 3
    k = _symmetric_kernel(rng, dyadic=True)
    edges, J = _grid_edges(B, H, W, k)
    g, Jg = _csr_twin(edges, J, B * H * W, np.tile(grid_colors(H, W, 8), B), torch.float32)
    h = torch.as_tensor(rng.normal(size=(K, B, H, W)), dtype=torch.float32)
    x0 = torch.as_tensor(rng.choice([-1.0, 1.0], size=(K, B, H, W)), dtype=torch.float32)
    xg = sample_ising_grid(h[0], coupling=k, beta=0.6, n_chains=K, n_sweeps=4, init=x0, random_state=8)
    xc = sample_ising(g, h[0].reshape(-1), coupling=Jg, beta=0.6, n_chains=K, n_sweeps=4, init=x0.reshape(K, -1),
                      random_state=8)
    assert torch.equal(xg.reshape(K, -1), xc)
    xg = GridCouplings(torch.as_tensor(k), (B, H, W)).sample(h, K, 4, 0.6, "heat_bath", random_state=9)
    xc = sample_ising(g, h.reshape(K, -1), coupling=Jg, beta=0.6, n_chains=K, n_sweeps=4, update="heat_bath",
                      random_state=9)
    assert torch.equal(xg.reshape(K, -1), xc)


def test_same_seed_same_samples_and_generator_advances():
    rep = GridCouplings(0.3, (6, 7))
    h = torch.randn(6, 7, generator=torch.Generator().manual_seed(0))
    a = rep.sample(h, 3, 5, random_state=11)
    assert torch.equal(a, rep.sample(h, 3, 5, random_state=11))
    gen = torch.Generator().manual_seed(1)
    b, c = rep.sample(h, 3, 5, random_state=gen), rep.sample(h, 3, 5, random_state=gen)
    assert not torch.equal(b, c)
    assert a.shape == (3, 6, 7)


def test_mean_field_of_each_representation_is_a_fixed_point():
    rng = np.random.default_rng(4)
    for kind in ("graph", "grid", "rook", "independent"):
        rep, h, *_ = case(kind, rng)
        h = h.float()
        m = rep.mean_field(h, beta=0.5, tol=1e-7, max_iter=5000, final_step=False)
        fixed = torch.tanh(0.5 * (h + rep.local_field(m)))
        torch.testing.assert_close(m, fixed, atol=1e-5, rtol=0)


def test_bad_arguments_name_the_parameter():
    rep = RookCouplings(np.array([0, 1]), np.array([1, 0]), -0.4)
    with pytest.raises(ValueError, match="update"):
        rep.sample(torch.zeros(2), update="gibbs")
    with pytest.raises(ValueError, match="init"):
        rep.sample(torch.zeros(2), init="sideways")
    with pytest.raises(ValueError, match="field"):
        rep.sample(torch.zeros(3))
    with pytest.raises(ValueError, match="field"):
        GridCouplings(1.0, (3, 4)).sample(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="shape"):
        GridCouplings(1.0, (3,))
    with pytest.raises(ValueError, match="cols"):
        RookCouplings(np.array([0, 1]), np.array([1]))
    with pytest.raises(ValueError, match="n_chains"):
        IndependentSpins(3).sample(torch.zeros(3), n_chains=0)


def test_32_bit_counter_hash_equals_the_64_bit_form():
    from skising.sampling._arith import hash_uniform_torch

    g = torch.Generator().manual_seed(0)
    idx = torch.cat([torch.randint(0, 2**31 - 1, (5000,), generator=g), torch.tensor([0, 1, 2**31 - 1])])
    for k0, skey in ((0, 0), (2**32 - 1, 0x9E3779B1), (123456789, 2**31)):
        for dt in (torch.float32, torch.float64):
            a = hash_uniform_torch(idx, k0, skey, dt)
            b = hash_uniform_torch(idx.to(torch.int32), k0, skey, dt)
            assert torch.equal(a, b)
