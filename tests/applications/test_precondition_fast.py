"""Fast setup paths of SAIPreconditioner: chunked GCNII inference and the rook-graph sampler."""

import itertools

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp
import torch

from skising.datasets import make_banded_binary_matrices
from skising.precondition import (
    EntryGCNII,
    SAIPreconditioner,
    _inference,
    _items,
    candidate_pattern,
    entry_graph,
)
from skising.sampling import is_valid_coloring
from skising.sampling._energy import _energy
from skising.sampling._rook import (
    _luby_coloring,
    rook_coloring,
    rook_energy,
    rook_num_edges,
    sample_rook,
)


def _random_pattern(seed, n=9, density=0.35):
    A = sp.csr_matrix(sp.random(n, n, density=density, random_state=seed) + sp.eye(n))
    return candidate_pattern(A, "A")


@pytest.mark.parametrize("n_layers", [1, 4])
@pytest.mark.parametrize("batched", [False, True])
def test_chunked_forward_equals_full(n_layers, batched):
    torch.manual_seed(0)
    net = EntryGCNII(3, hidden=16, n_layers=n_layers)
    m = 3000
    rows, cols = torch.randint(0, 200, (m,)), torch.randint(0, 150, (m,))
    x = torch.randn(m, 3)
    batch = torch.sort(torch.randint(0, 3, (m,))).values if batched else None
    with torch.enable_grad():
        ref = net(x, rows, cols, batch).detach()
    with torch.no_grad():
        out = net._forward_chunked(x, rows, cols, batch, chunk=257)
        auto = net(x, rows, cols, batch)  # m > block size: the chunked path
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(auto, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rook_edges_energy_and_coloring_match_entry_graph(seed):
    rows, cols = _random_pattern(seed)
    g = entry_graph(rows, cols)
    assert rook_num_edges(rows, cols) == g.num_edges
    for colors in (rook_coloring(rows, cols), _luby_coloring(rows, cols, seed=seed)):
        assert is_valid_coloring(g, colors)
    x = torch.randint(0, 2, (5, rows.size)).double() * 2 - 1
    h = torch.randn(rows.size, dtype=torch.float64)
    J = -0.4
    ref = _energy(g, x, h[None], J * torch.ones(g.num_edges, dtype=torch.float64))[:, 0]
    torch.testing.assert_close(rook_energy(rows, cols, x, h, J), ref)


@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
def test_rook_sampler_is_exact(update):
    # 8 entries in a 4 x 4 pattern: compare with the exact Boltzmann distribution of eq. 1
    rows = np.array([1, 2, 0, 2, 0, 3, 1, 0])
    cols = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    m = rows.size
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(m, generator=gen, dtype=torch.float64) * 0.5
    J, beta = -0.4, 1.0
    states = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=m)), dtype=torch.float64)
    p = torch.softmax(-beta * rook_energy(rows, cols, states, h, J), 0)
    n = 100_000
    x = sample_rook(rows, cols, h, J, beta, n, 15, update, gen)
    key = ((x > 0).long() * (2 ** torch.arange(m - 1, -1, -1))).sum(1)
    emp = torch.bincount(key, minlength=2**m).double() / n
    tv = 0.5 * float((emp - p).abs().sum())
    # sampling noise alone gives about 0.5 * sum sqrt(2 p / (pi n)) ~ 0.02 here
    noise = 0.5 * float(torch.sqrt(2 * p / (np.pi * n)).sum())
    assert tv < 1.5 * noise, (tv, noise)


def test_large_transform_uses_rook_path(monkeypatch):
    est = SAIPreconditioner(max_epochs=0, prior=None, decode="sample", random_state=0)
    est.fit(make_banded_binary_matrices(4, random_state=0))
    A = pyamg.gallery.poisson((30, 30), format="csr")
    built = []
    orig = _items.entry_graph

    def spy(*a, **k):
        built.append(1)
        return orig(*a, **k)

    monkeypatch.setattr(_items, "entry_graph", spy)
    monkeypatch.setattr(_inference, "_ROOK_MIN_EDGES", 0)
    M1 = est.transform(A).M_
    assert not built  # the entry graph was never materialised
    assert 0.4 < est.kept_fraction_ < 0.6
    M2 = est.transform(A).M_  # same seed -> same pattern
    assert (M1 != M2).nnz == 0
    r_rook = est.residual_
    monkeypatch.setattr(_inference, "_ROOK_MIN_EDGES", 10**12)
    est.transform(A)  # the engine on the explicit entry graph
    assert built
    assert abs(est.residual_ - r_rook) < 0.05 * r_rook  # same model, same distribution


# ---------------------------------------------------------------- features="lstsq" and the kept-fraction calibration
def test_lstsq_features_hand_computed():
    from skising.precondition._pattern import entry_features

    rng = np.random.default_rng(0)
    n = 6
    Ad = rng.standard_normal((n, n)) + 4 * np.eye(n)
    A = sp.csr_matrix(Ad)
    rows, cols = candidate_pattern(A, "full")
    f = entry_features(A, rows, cols, "full", "lstsq").numpy().astype(float)
    assert f.shape == (rows.size, 6)
    inv = np.abs(np.linalg.inv(Ad))
    np.testing.assert_allclose(f[:, 3], inv[rows, cols] / inv.max(), rtol=1e-4)  # |M*| = |A^-1| on "full"
    v = inv[rows, cols]
    colmax = np.zeros(n)
    np.maximum.at(colmax, cols, v)  # over the off-diagonal candidates of the column
    np.testing.assert_allclose(f[:, 2], v / colmax[cols], rtol=1e-4)
    # greedy score from the diagonal start: (a_i . r_k)^2 / ||a_i||^2, r_k = e_k - a_k m_kk
    norms2 = (Ad**2).sum(0)
    mkk = np.diag(Ad) / norms2
    R = np.eye(n) - Ad * mkk[None, :]
    score = (Ad.T @ R) ** 2 / norms2[:, None]
    s = score[rows, cols]
    smax = np.zeros(n)
    np.maximum.at(smax, cols, s)
    np.testing.assert_allclose(f[:, 4], s / smax[cols], rtol=1e-4)
    np.testing.assert_allclose(f[:, 5], 1.0)


def test_calibrated_fraction_and_features_param():
    mats = make_banded_binary_matrices(40, random_state=1)
    est = SAIPreconditioner(features="lstsq", max_epochs=1, batch_size=16, random_state=0)
    est.fit(mats[:16], X_val=mats[16:28])
    assert est.n_features_in_ == 5
    assert est.field_offset_ != 0.0
    _, frac = est.evaluate(mats[28:])
    assert abs(frac.mean() - 0.5) < 0.03
    with pytest.raises(ValueError, match="features"):
        SAIPreconditioner(features="bogus", max_epochs=1).fit(mats[:4])
