"""IsingModel: prepared once, the samples of sample_ising; the conversion cache of sample_ising."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skising.sampling import IsingModel, ising_energy, mean_field, sample_ising


@pytest.mark.parametrize("K", [1, 3, 8, 32])
@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
def test_model_samples_equal_sample_ising(K, update):
    G = nx.random_regular_graph(4, 60, seed=0)
    A = nx.to_scipy_sparse_array(G, format="csr").astype(np.float32)
    model = IsingModel(A, coupling=-0.7, beta=0.8, update=update)
    for seed in (0, 1):
        a = model.sample(0.1, n_chains=K, n_sweeps=4, random_state=seed)
        b = sample_ising(A, 0.1, coupling=-0.7, beta=0.8, n_chains=K, n_sweeps=4, update=update, random_state=seed)
        c = sample_ising(G, 0.1, coupling=-0.7, beta=0.8, n_chains=K, n_sweeps=4, update=update, random_state=seed)
        assert torch.equal(a, b) and torch.equal(a, c)


def test_model_energy_and_mean_field_use_its_couplings():
    G = nx.cycle_graph(8)
    J = np.linspace(-1, 1, 8)
    model = IsingModel(G, coupling=J, beta=0.3)
    x = model.sample(0.2, n_chains=5, n_sweeps=3, random_state=0)
    assert torch.allclose(model.energy(x, 0.2), ising_energy(G, x, 0.2, J))
    assert torch.allclose(model.mean_field(0.2), mean_field(G, 0.2, J, 0.3))
    assert model.n_nodes == 8 and model.n_edges == 8 and model.n_colors == 2


def test_model_rejects_bad_parameters():
    G = nx.cycle_graph(4)
    with pytest.raises(ValueError, match="beta"):
        IsingModel(G, beta=-1.0)
    with pytest.raises(ValueError, match="update"):
        IsingModel(G, update="glauber")
    with pytest.raises(ValueError, match="coupling"):
        IsingModel(G, coupling=[1.0, 2.0])
    with pytest.raises(ValueError, match="n_chains"):
        IsingModel(G).sample(n_chains=0)


def test_sample_ising_after_an_in_place_edit_uses_the_new_matrix():
    """The conversion cache is keyed on the matrix's content: an edit is never sampled stale."""
    G = nx.path_graph(5)
    A = nx.to_scipy_sparse_array(G, format="csr").astype(float)
    x1 = sample_ising(A, 0.0, coupling=1.0, beta=2.0, n_chains=64, n_sweeps=30, random_state=0)
    A.data[:] = -1.0  # antiferromagnetic now
    x2 = sample_ising(A, 0.0, coupling=1.0, beta=2.0, n_chains=64, n_sweeps=30, random_state=0)
    ref = sample_ising(sp.csr_matrix(A), 0.0, coupling=1.0, beta=2.0, n_chains=64, n_sweeps=30, random_state=0)
    assert torch.equal(x2, ref) and not torch.equal(x1, x2)
    assert (x2[:, 1:] * x2[:, :-1]).mean() < 0 < (x1[:, 1:] * x1[:, :-1]).mean()
