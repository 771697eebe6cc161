"""RLOO: the surrogate's gradient is eq. 15 and is unbiased (checked by enumeration)."""

import networkx as nx
import numpy as np
import pytest
import torch

from skising.gradients import magnetization_penalty, rloo_surrogate
from skising.graph import as_graph
from skising.sampling import ising_energy
from skising.sampling._reference import enumerate_states


def test_k2_equals_eq15():
    g = as_graph(nx.path_graph(4))
    theta = torch.randn(4, requires_grad=True)
    x = torch.tensor([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0]])
    losses = torch.tensor([0.7, 0.2])
    beta = 0.8
    E = ising_energy(g, x, theta, 0.5)
    rloo_surrogate(losses, E, beta).backward()
    g1 = theta.grad.clone()
    theta.grad = None
    E = ising_energy(g, x, theta, 0.5)
    (-(beta / 2) * (losses[0] - losses[1]) * (E[0] - E[1])).backward()
    assert torch.allclose(g1, theta.grad)


def _exact_gradient(g, theta, J, beta, loss_table):
    X = torch.tensor(enumerate_states(g.num_nodes))
    th = theta.clone().requires_grad_(True)
    E = ising_energy(g, X, th.expand(len(X), -1), J)
    p = torch.softmax(-beta * E, 0)
    (p * loss_table).sum().backward()
    return th.grad


@pytest.mark.parametrize("K", [2, 3, 5])
def test_rloo_is_unbiased(K):
    rng = np.random.default_rng(K)
    g = as_graph(nx.cycle_graph(4))
    n, beta, J = 4, 0.9, 0.6
    theta = torch.tensor(rng.normal(0, 0.5, n))
    X = torch.tensor(enumerate_states(n))
    loss_table = torch.tensor(rng.uniform(0, 2, len(X)))  # arbitrary, non-differentiable loss
    exact = _exact_gradient(g, theta, J, beta, loss_table)
    # exact samples (by enumeration) so that only the estimator is tested
    with torch.no_grad():
        p = torch.softmax(-beta * ising_energy(g, X, theta.expand(len(X), -1), J), 0)
    R = 20000
    idx = torch.multinomial(p, R * K, replacement=True, generator=torch.Generator().manual_seed(K)).view(R, K)
    th = theta.clone().requires_grad_(True)
    xs = X[idx]  # (R, K, n)
    E = ising_energy(g, xs.reshape(R * K, n), th.expand(R * K, -1), J).view(R, K)
    losses = loss_table[idx]  # (R, K)
    # R independent estimates in one go: surrogate per replicate, summed
    base = (losses.sum(1, keepdim=True) - losses) / (K - 1)
    per = -(beta / K) * ((losses - base) * E).sum(1)
    # per-replicate estimates in closed form (dE/dtheta = -x), to get a standard error
    grads = (beta / K) * ((losses - base)[..., None] * xs).sum(1)
    mean = torch.autograd.grad(per.mean(), th)[0]
    assert torch.allclose(mean, grads.mean(0), atol=1e-9)
    se = grads.std(0) / np.sqrt(R)
    assert torch.all((mean - exact).abs() < 5 * se + 1e-4), (mean, exact, se)
    # the surrogate helper gives the same mean gradient
    th2 = theta.clone().requires_grad_(True)
    E2 = ising_energy(g, xs.reshape(R * K, n), th2.expand(R * K, -1), J).view(R, K).T  # (K, R) as (K, G)
    rloo_surrogate(losses.T, E2, beta).backward()
    assert torch.allclose(th2.grad, mean, atol=1e-9)


def test_surrogate_errors():
    with pytest.raises(ValueError, match="at least 2"):
        rloo_surrogate(torch.tensor([1.0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="NaN"):
        rloo_surrogate(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        rloo_surrogate(torch.zeros(2, 3), torch.zeros(2, 2))


def test_magnetization_penalty():
    h = torch.tensor([0.0, 0.0], requires_grad=True)
    pen = magnetization_penalty(h, 1.0, 0.75)  # eta = 0.5, eta_det = 0
    assert torch.isclose(pen, torch.tensor(0.25))
    pen.backward()
    assert (h.grad < 0).all()  # raising h moves the kept fraction up
