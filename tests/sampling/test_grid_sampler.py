"""The convolutional 8-neighbour grid sampler: exactness, energy, colouring, errors."""

import numpy as np
import pytest
import torch

from skising.graph import grid_colors, grid_graph
from skising.sampling import mean_field
from skising.sampling._energy import _energy
from skising.sampling._grid import (
    _grid_energy,
    grid_kernel,
    ising_energy_grid,
    mean_field_grid,
    sample_ising_grid,
)
from skising.sampling._reference import exact_distribution


def _random_kernel(rng):
    k = rng.normal(size=(3, 3))
    k = 0.5 * (k + k[::-1, ::-1])
    k[1, 1] = 0.0
    return k


def _edge_couplings(height, width, kernel):
    """Per-edge J of grid_graph(height, width, 8) read from the 3x3 kernel."""
    g = grid_graph(height, width, 8)
    u, v = g.edges.numpy()
    du, dv = v // width - u // width, v % width - u % width
    return g, torch.as_tensor(np.asarray(kernel)[1 + du, 1 + dv], dtype=torch.float64)


def _state_index(x):
    """Row-major spins (S, n) in {-1, +1} -> index into enumerate_states order."""
    bits = (x > 0).astype(np.int64)
    n = bits.shape[1]
    return bits @ (1 << np.arange(n - 1, -1, -1))


def test_grid_coloring_is_proper_for_8_neighbours():
    g = grid_graph(7, 6, 8)
    c = grid_colors(7, 6, 8)
    u, v = g.edges.numpy()
    assert len(np.unique(c)) == 4
    assert np.all(c[u] != c[v])


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 4), (6, 7)])
def test_conv_energy_equals_graph_energy(shape):
    rng = np.random.default_rng(0)
    H, W = shape
    k = _random_kernel(rng)
    g, J = _edge_couplings(H, W, k)
    x = torch.as_tensor(rng.choice([-1.0, 1.0], size=(5, 2, H, W)))
    h = torch.as_tensor(rng.normal(size=(2, H, W)))
    e_conv = _grid_energy(x, h, torch.as_tensor(k))
    for b in range(2):
        e_graph = _energy(g, x[:, b].reshape(5, -1), h[b].reshape(1, -1), J)[:, 0]
        np.testing.assert_allclose(e_conv[:, b].numpy(), e_graph.numpy(), rtol=1e-10, atol=1e-10)
    # the public wrapper with a scalar coupling
    e1 = ising_energy_grid(x[:, 0], h[0], 0.7)
    _, J1 = _edge_couplings(H, W, grid_kernel(0.7, dtype=torch.float64).numpy())
    e2 = _energy(g, x[:, 0].reshape(5, -1), h[0].reshape(1, -1), J1)[:, 0]
    np.testing.assert_allclose(e1.numpy(), e2.numpy(), rtol=1e-6, atol=1e-6)


def test_conv_energy_is_differentiable_in_field():
    h = torch.zeros(1, 3, 3, requires_grad=True)
    x = torch.ones(2, 1, 3, 3)
    x[1] = -1
    ising_energy_grid(x, h).sum().backward()
    # dE/dh = -x summed over samples: -(1) + -(-1) = 0
    assert torch.allclose(h.grad, torch.zeros_like(h))


def _exact(H, W, kernel, h, beta):
    g, J = _edge_couplings(H, W, kernel)
    edges = g.edges.numpy().T
    return exact_distribution(H * W, edges, J.numpy(), np.asarray(h).ravel(), beta)


@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
def test_sampler_matches_exact_enumeration_3x3(update):
    rng = np.random.default_rng(1)
    H = W = 3
    k = 0.6 * _random_kernel(rng)
    h = 0.8 * rng.normal(size=(H, W))
    beta = 0.9
    _, p = _exact(H, W, k, h, beta)
    n = 40_000
    x = sample_ising_grid(torch.as_tensor(h), coupling=k, beta=beta, n_chains=n, n_sweeps=30,
                          update=update, random_state=0)
    idx = _state_index(x.reshape(n, -1).numpy())
    emp = np.bincount(idx, minlength=len(p)) / n
    tv = 0.5 * np.abs(emp - p).sum()
    # noise level: TV between p and an independent multinomial sample of the same size
    noise = [0.5 * np.abs(np.random.default_rng(s).multinomial(n, p) / n - p).sum() for s in range(5)]
    assert tv < 1.5 * max(noise) + 0.005, (tv, noise)
    # the paper's printed acceptance samples at 2 beta: far from eq. 1
    _, p2 = _exact(H, W, k, h, 2 * beta)
    assert 0.5 * np.abs(emp - p2).sum() > 5 * tv


def test_sampler_batched_images_are_independent_models():
    """Two images with opposite strong fields in one call: each follows its own field."""
    h = torch.stack([torch.full((4, 5), 3.0), torch.full((4, 5), -3.0)])
    x = sample_ising_grid(h, coupling=0.2, n_chains=50, n_sweeps=10, random_state=0)
    assert x.shape == (50, 2, 4, 5)
    assert x[:, 0].mean() > 0.95 and x[:, 1].mean() < -0.95


def test_sampler_seed_determinism_and_init():
    h = torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(0))
    a = sample_ising_grid(h, n_chains=3, random_state=5)
    b = sample_ising_grid(h, n_chains=3, random_state=5)
    c = sample_ising_grid(h, n_chains=3, random_state=6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    up = sample_ising_grid(h, n_chains=2, n_sweeps=0, init="up")
    assert torch.all(up == 1)
    init = torch.ones(6, 6, dtype=torch.bool)
    x0 = sample_ising_grid(h[0], n_chains=2, n_sweeps=0, init=init)
    assert x0.shape == (2, 6, 6) and torch.all(x0 == 1)


def test_mean_field_grid_equals_graph_mean_field():
    rng = np.random.default_rng(3)
    h = torch.as_tensor(rng.normal(size=(4, 5)), dtype=torch.float32)
    m_grid = mean_field_grid(h, coupling=0.1, beta=1.0, tol=1e-7, max_iter=2000)
    g = grid_graph(4, 5, 8)
    m_graph = mean_field(g, h.reshape(-1), coupling=0.1, beta=1.0, tol=1e-7, max_iter=2000)
    np.testing.assert_allclose(m_grid.reshape(-1).numpy(), m_graph.detach().numpy(), atol=1e-4)


def test_bad_inputs_raise_named_errors():
    with pytest.raises(ValueError, match="coupling"):
        grid_kernel(np.ones((3, 3)))  # non-zero centre
    k = np.zeros((3, 3))
    k[0, 0] = 1.0
    with pytest.raises(ValueError, match="point-symmetric"):
        grid_kernel(k)
    with pytest.raises(ValueError, match="coupling"):
        grid_kernel(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="field"):
        sample_ising_grid(np.zeros(5))
    with pytest.raises(ValueError, match="field"):
        sample_ising_grid(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="update"):
        sample_ising_grid(np.zeros((2, 2)), update="gibbs")
    with pytest.raises(ValueError, match="init"):
        sample_ising_grid(np.zeros((2, 2)), init="sideways")
    with pytest.raises(ValueError, match="init"):
        sample_ising_grid(np.zeros((2, 2)), init=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="beta"):
        sample_ising_grid(np.zeros((2, 2)), beta=-1)
    with pytest.raises(TypeError, match="n_chains"):
        sample_ising_grid(np.zeros((2, 2)), n_chains=1.5)
