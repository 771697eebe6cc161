import pickle

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import LinearOperator, gmres
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skising.datasets import make_banded_binary_matrices
from skising.metrics import sai_residual
from skising.precondition import (
    EntryGCNII,
    SAIPreconditioner,
    candidate_pattern,
    entry_graph,
    greedy_spai,
    sai_lstsq,
    sai_lstsq_dense,
    spai,
)
from skising.sampling import is_valid_coloring


@pytest.fixture(scope="module")
def mats():
    return make_banded_binary_matrices(24, random_state=0)


@pytest.fixture(scope="module")
def fitted(mats):
    return SAIPreconditioner(max_epochs=2, batch_size=8, random_state=0).fit(mats[:8])


def _pattern_arrays(P):
    P = sp.csc_matrix(P)
    P.sum_duplicates()
    P.sort_indices()
    c = np.repeat(np.arange(P.shape[1]), np.diff(P.indptr)).astype(np.int64)
    return P.indices.astype(np.int64), c


# ---------------------------------------------------------------- least squares
@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 9), density=st.floats(0.05, 0.9), seed=st.integers(0, 10_000))
def test_lstsq_matches_numpy_per_column(n, density, seed):
    rng = np.random.default_rng(seed)
    A = sp.csr_matrix(rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.5) + np.eye(n) * 3)
    P = (rng.random((n, n)) < density) | np.eye(n, dtype=bool)
    r, c = _pattern_arrays(sp.csr_matrix(P.astype(float)))
    vals, res2 = sai_lstsq(A, r, c)
    Ad = A.toarray()
    for k in range(n):  # reference: per-column numpy lstsq
        J = r[c == k]
        m, *_ = np.linalg.lstsq(Ad[:, J], np.eye(n)[:, k], rcond=None)
        np.testing.assert_allclose(vals[c == k], m, atol=1e-8, rtol=1e-6)
        np.testing.assert_allclose(res2[k], ((Ad[:, J] @ m - np.eye(n)[:, k]) ** 2).sum(), atol=1e-9)
    M, R = sai_lstsq_dense(torch.as_tensor(Ad)[None], torch.as_tensor(P)[None])
    Ms = sp.csc_matrix((vals, (r, c)), shape=(n, n)).toarray()
    np.testing.assert_allclose(M[0].numpy(), Ms, atol=1e-8)
    np.testing.assert_allclose((R[0] ** 2).sum(0).numpy(), res2, atol=1e-9)


def test_lstsq_zero_padding_between_real_columns():
    # the gelsy pitfall: columns with very different pattern sizes in one batch
    rng = np.random.default_rng(1)
    n = 20
    A = sp.csr_matrix(rng.standard_normal((n, n)) + 5 * np.eye(n))
    P = np.eye(n, dtype=bool)
    P[:, 0] = True  # one full column, the rest diagonal only
    r, c = _pattern_arrays(sp.csr_matrix(P.astype(float)))
    vals, _ = sai_lstsq(A, r, c)
    np.testing.assert_allclose(vals[c == 0], np.linalg.solve(A.toarray(), np.eye(n)[:, 0]), atol=1e-10)


def test_full_pattern_gives_inverse():
    A = pyamg.gallery.poisson((4, 4), format="csr")
    M = spai(A, pattern="full")
    np.testing.assert_allclose(M.toarray(), np.linalg.inv(A.toarray()), atol=1e-10)
    assert sai_residual(A, M) < 1e-10


def test_greedy_spai_beats_static_and_hits_budget(mats):
    A = mats[0]
    Mg = greedy_spai(A, pattern="A2", fraction=0.5)
    Ms = spai(A, pattern="A")
    assert sai_residual(A, Mg) < sai_residual(A, Ms)
    r, c = candidate_pattern(A, "A2")
    budget = np.round(0.5 * np.bincount(c, minlength=30))
    assert Mg.nnz <= 30 + budget.sum()


# ---------------------------------------------------------------- entry graph
def test_entry_graph_is_row_column_line_graph():
    A = sp.csr_matrix(sp.random(7, 7, density=0.4, random_state=3) + sp.eye(7))
    r, c = candidate_pattern(A, "A2")
    g = entry_graph(r, c)
    e = set(map(tuple, g.edges.numpy().T.tolist()))
    ref = {(i, j) for i in range(r.size) for j in range(i + 1, r.size) if r[i] == r[j] or c[i] == c[j]}
    assert e == ref
    assert is_valid_coloring(g, g._colors["auto"])


def test_gcnii_matches_pyg_gcn2conv():
    from torch_geometric.nn import GCN2Conv

    A = sp.csr_matrix(sp.random(6, 6, density=0.5, random_state=0) + sp.eye(6))
    r, c = candidate_pattern(A, "A2")
    g = entry_graph(r, c)
    ei = torch.cat([g.edges, g.edges.flip(0)], 1)
    torch.manual_seed(0)
    net = EntryGCNII(2, hidden=8, n_layers=2)
    x = torch.randn(r.size, 8)
    for li, layer in enumerate(net.layers):
        conv = GCN2Conv(8, alpha=0.1, theta=0.5, layer=li + 1, shared_weights=True)
        conv.weight1.data.copy_(layer.weight.data)
        prop = net.propagation(torch.as_tensor(r), torch.as_tensor(c))
        ours = layer(x, x * 0.5, prop)
        theirs = conv(x, x * 0.5, ei)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- estimator
def test_transform_is_linear_operator(fitted):
    A = pyamg.gallery.poisson((8, 8), format="csr")
    op = fitted.transform(A)
    assert isinstance(op, LinearOperator)
    assert op.shape == (64, 64)
    assert op.dtype == np.float64
    assert sp.isspmatrix_csr(fitted.M_)
    v = np.random.default_rng(0).standard_normal(64)
    np.testing.assert_allclose(op.matvec(v), fitted.M_ @ v)
    np.testing.assert_allclose(op.rmatvec(v), fitted.M_.T @ v)
    assert np.all(fitted.M_.diagonal() != 0)  # keep_diagonal=True
    assert 0.2 < fitted.kept_fraction_ < 0.8


def test_gmres_converges_faster(fitted):
    A = pyamg.gallery.poisson((16, 16), format="csr")
    b = np.ones(A.shape[0])

    def iters(M):
        count = []
        x, info = gmres(A, b, M=M, rtol=1e-8, restart=50, callback=lambda r: count.append(r), callback_type="pr_norm")
        assert info == 0
        return len(count)

    # the learned operator is a working preconditioner (converges) ...
    iters(fitted.transform(A))
    # ... and the least-squares machinery behind it beats no preconditioner with
    # the structured pattern of A. NOTE: Ising-sampled patterns from a briefly
    # trained model do NOT beat unpreconditioned GMRES on Poisson (see
    # benchmarks/results/sai.md); that is a measured finding, not asserted here.
    assert iters(spai(A, "A")) < iters(None)
    assert iters(spai(A, "A2")) < iters(spai(A, "A"))


def test_fraction_controls_nnz(fitted):
    A = pyamg.gallery.poisson((10, 10), format="csr")
    fitted.transform(A, fraction=0.2)
    lo = fitted.M_.nnz
    fitted.transform(A, fraction=0.8)
    assert fitted.M_.nnz > lo


def test_large_matrix_sparse_setup(fitted):
    A = pyamg.gallery.poisson((60, 60), format="csr")  # n = 3600, 'full' would be 1.3e7 candidates
    op = fitted.transform(A)
    assert op.shape == (3600, 3600)
    assert fitted.M_.nnz < 13 * 3600


def test_same_seed_same_output(mats):
    a = SAIPreconditioner(max_epochs=1, random_state=3).fit(mats[:2])
    b = SAIPreconditioner(max_epochs=1, random_state=3).fit(mats[:2])
    A = mats[20]
    a.transform(A)
    b.transform(A)
    assert (a.M_ != b.M_).nnz == 0


def test_clone_pickle_and_not_fitted(fitted, mats):
    est = clone(fitted)
    assert est.get_params() == SAIPreconditioner(max_epochs=2, batch_size=8, random_state=0).get_params()
    with pytest.raises(NotFittedError):
        est.transform(mats[0])
    again = pickle.loads(pickle.dumps(fitted))
    fitted.transform(mats[1])
    again.transform(mats[1])
    assert (again.M_ != fitted.M_).nnz == 0
    assert fitted.score(mats[16:20]) < 0


def test_full_pattern_setting_fits(mats):
    est = SAIPreconditioner(pattern="full", max_epochs=1, batch_size=2, random_state=0).fit(mats[:2])
    res, frac = est.evaluate(mats[20:22])
    assert res.shape == (2,) and np.all(res > 0)
    assert np.all((frac > 0.2) & (frac < 0.8))


def test_trained_beats_random_on_dataset1(mats):
    """End to end: a short training run, evaluated on held-out matrices."""
    from skising.precondition._items import _Batch, _Item

    train, test = make_banded_binary_matrices(32, random_state=1), mats[16:24]
    est = SAIPreconditioner(max_epochs=2, batch_size=16, random_state=0).fit(train)
    learned, frac = est.evaluate(test, n_samples=4)
    items = [_Item(A, "A2", True) for A in test]
    b = _Batch(items, "cpu", 1)
    rng = np.random.default_rng(0)
    rand, _ = b.residuals(rng.random((16, b.rows.size)) < 0.5, True)
    assert learned.mean() < rand.mean()
    assert 0.35 < frac.mean() < 0.65


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "bad, exc, word",
    [
        (sp.csr_matrix(np.ones((3, 4))), ValueError, "square"),
        (sp.csr_matrix(np.array([[1.0, 0], [2.0, 0]])), ValueError, "column 1 is empty"),
        (sp.csr_matrix(np.array([[np.nan, 0], [0, 1.0]])), ValueError, "NaN"),
        ("not a matrix", TypeError, "A"),
        (np.array([[object(), 1], [1, 1]], dtype=object), TypeError, "A"),
    ],
)
def test_bad_matrices(fitted, bad, exc, word):
    with pytest.raises(exc, match=word):
        fitted.transform(bad)
    with pytest.raises(exc, match=word):
        spai(bad)


def test_bad_params(mats):
    with pytest.raises(ValueError, match="pattern"):
        SAIPreconditioner(pattern="B").fit(mats[:2])
    with pytest.raises(ValueError, match="beta"):
        SAIPreconditioner(beta=-1.0).fit(mats[:2])
    with pytest.raises(ValueError, match="n_samples"):
        SAIPreconditioner(n_samples=1).fit(mats[:2])
    with pytest.raises(TypeError, match="X"):
        SAIPreconditioner().fit(5)
    with pytest.raises(ValueError, match="fraction"):
        SAIPreconditioner(max_epochs=0, random_state=0).fit(mats[:2]).transform(mats[0], fraction=1.5)
    with pytest.raises(ValueError, match="pattern"):
        spai(mats[0], pattern=sp.csr_matrix((30, 30)), keep_diagonal=False)
