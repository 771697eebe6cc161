"""Energy, local fields, mean field and magnetisations."""

import networkx as nx
import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from skising.graph import as_graph, batch_graphs
from skising.sampling import ising_energy, local_field, magnetization_det, magnetization_sto, mean_field
from skising.sampling._reference import energy_reference


@st.composite
def ising_problems(draw):
    n = draw(st.integers(2, 12))
    G = nx.gnp_random_graph(n, draw(st.floats(0.2, 0.9)), seed=draw(st.integers(0, 1000)))
    g = as_graph(G) if G.number_of_edges() else as_graph(np.zeros((2, 0), dtype=np.int64), num_nodes=n)
    fl = st.floats(-2, 2, allow_nan=False)
    J = np.array(draw(st.lists(fl, min_size=g.num_edges, max_size=g.num_edges)), dtype=np.float64)
    h = np.array(draw(st.lists(fl, min_size=n, max_size=n)), dtype=np.float64)
    x = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    return g, J, h, x


@given(ising_problems())
def test_energy_matches_reference(p):
    g, J, h, x = p
    e = ising_energy(g, torch.tensor(x), torch.tensor(h), torch.tensor(J))
    ref = energy_reference(g.edges.T.tolist(), J, h, x)
    assert abs(float(e[0]) - ref) < 1e-9


@given(ising_problems(), st.data())
def test_flip_energy_difference_equals_local_field_formula(p, data):
    g, J, h, x = p
    i = data.draw(st.integers(0, g.num_nodes - 1))
    xt = torch.tensor(x)
    loc = local_field(g, xt, torch.tensor(J))[0]
    dE = 2 * xt[i] * (loc[i] + h[i])
    y = xt.clone()
    y[i] = -y[i]
    e0 = ising_energy(g, xt, torch.tensor(h), torch.tensor(J))
    e1 = ising_energy(g, y, torch.tensor(h), torch.tensor(J))
    assert torch.allclose(e1 - e0, dE.reshape(1), atol=1e-9)


def test_energy_is_differentiable_in_field_and_coupling():
    g = as_graph(nx.cycle_graph(5))
    h = torch.zeros(5, requires_grad=True)
    J = torch.ones(5, requires_grad=True)
    x = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    ising_energy(g, x, h, J).sum().backward()
    assert torch.equal(h.grad, -x)
    assert torch.equal(J.grad, -(x[g.edges[0]] * x[g.edges[1]]))


def test_batched_energy_per_graph():
    a, b = as_graph(nx.path_graph(3)), as_graph(nx.cycle_graph(4))
    u = batch_graphs([a, b])
    x = torch.tensor([[1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0]])
    h = torch.full((7,), 0.5)
    e = ising_energy(u, x, h)
    assert e.shape == (1, 2)
    assert torch.allclose(e[0, 0], ising_energy(a, x[:, :3], h[:3])[0])
    assert torch.allclose(e[0, 1], ising_energy(b, x[:, 3:], h[3:])[0])


def test_mean_field_fixed_point_residual():
    g = as_graph(nx.random_regular_graph(3, 40, seed=0))
    h = torch.randn(40, generator=torch.Generator().manual_seed(0)) * 0.5
    for J in (0.3, -0.3):
        m = mean_field(g, h, coupling=J, beta=1.0, tol=1e-10)
        resid = m - torch.tanh(h + local_field(g, m[None], J)[0])
        assert resid.abs().max() < 1e-5


def test_magnetisations():
    h = torch.tensor([0.0, 1.0, -2.0, 0.5])
    assert torch.allclose(magnetization_det(h, 0.7), torch.tanh(0.7 * h).mean())
    b = torch.tensor([0, 0, 1, 1])
    assert torch.allclose(magnetization_det(h, 1.0, b), torch.stack([torch.tanh(h[:2]).mean(), torch.tanh(h[2:]).mean()]))
    x = torch.tensor([[1.0, 1.0, -1.0, 1.0]])
    assert torch.allclose(magnetization_sto(x), torch.tensor([0.5]))
    assert torch.allclose(magnetization_sto(x > 0, b), torch.tensor([[1.0, 0.0]]))
