"""Compiled least squares, the static-score prior of the field and the GMRES-proxy task loss of SAIPreconditioner."""

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp
import torch

from skising.datasets import make_banded_binary_matrices
from skising.precondition import (
    EntryGCNII,
    PriorField,
    SAIPreconditioner,
    candidate_pattern,
    check_matrix,
    sai_lstsq,
    spai,
)
from skising.precondition._items import _Batch, _Item
from skising.precondition._lstsq import _sai_lstsq_torch
from skising.precondition._pattern import entry_features


def _dense_row_matrix(n, seed):
    rng = np.random.default_rng(seed)
    A = sp.random(n, n, density=0.08, random_state=seed).tolil()
    A[3, :] = rng.standard_normal(n)  # a dense row and a dense column
    A[:, 5] = rng.standard_normal((n, 1))
    return check_matrix(A + sp.eye(n) * 0.3)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("keep_diagonal", [False, True])
def test_compiled_lstsq_matches_batched_qr(seed, keep_diagonal):
    # keep_diagonal=True leaves the diagonal out of the pattern: some columns never reach their own row
    A = _dense_row_matrix(40, seed)
    r, c = candidate_pattern(A, "A2", keep_diagonal=keep_diagonal)
    v1, res1 = sai_lstsq(A, r, c)
    v2, res2 = _sai_lstsq_torch(A, r, c)
    np.testing.assert_allclose(v1, v2, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res1, res2, rtol=1e-8, atol=1e-12)
    # and the residuals are those of the values
    M = sp.csc_matrix((v1, (r, c)), shape=A.shape)
    np.testing.assert_allclose(np.asarray(((A @ M - sp.eye(40)).power(2)).sum(0)).ravel(), res1, atol=1e-10)


def _poisson():
    return pyamg.gallery.poisson((9, 9), format="csr")


def test_top_prior_at_initialisation_is_top_mstar():
    est = SAIPreconditioner(prior="top", decode="top", max_epochs=0, random_state=0)
    est.fit(make_banded_binary_matrices(4, random_state=0))
    A = check_matrix(_poisson())
    r, c = candidate_pattern(A, "A2", True, est.max_candidates)
    score = entry_features(A, r, c, "A2", "lstsq", est.max_candidates)[:, 3].numpy()
    est.transform(A, fraction=0.3)
    k = round(0.3 * r.size)
    top = np.zeros(r.size, dtype=bool)
    top[np.argsort(-score, kind="stable")[:k]] = True
    kept = np.asarray(est.M_[r, c]).ravel() != 0
    np.testing.assert_array_equal(kept, top)


def test_A_prior_at_initialisation_is_static_spai():
    est = SAIPreconditioner(prior="A", decode="top", max_epochs=0, random_state=0)
    est.fit(make_banded_binary_matrices(4, random_state=0))
    A = check_matrix(_poisson())
    r, _ = candidate_pattern(A, "A2", True, est.max_candidates)
    est.transform(A, fraction=(A.nnz - A.shape[0]) / r.size)
    S = spai(A, "A")
    assert (est.M_ != 0).sum() == S.nnz
    np.testing.assert_allclose(est.M_.toarray(), S.toarray(), atol=1e-12)


def test_prior_field_starts_as_the_score_and_learns_a_correction():
    net = PriorField(EntryGCNII(3, hidden=8, n_layers=2), prior_column=1)
    x = torch.rand(20, 3)
    rows, cols = torch.randint(0, 6, (2, 20))
    h = net(x, rows, cols, torch.zeros(20, dtype=torch.long))
    torch.testing.assert_close(h, torch.log(x[:, 1] + 1e-4))  # scale 1, correction 0
    h.sum().backward()
    assert net.correction.lin_out.weight.grad.abs().sum() > 0  # the correction trains


def test_krylov_loss_is_the_gmres_residual():
    mats = [check_matrix(m) for m in make_banded_binary_matrices(2, random_state=1)]
    mats = [m + 3 * sp.eye(m.shape[0]) for m in mats]
    items = [_Item(check_matrix(m), "A2", True, True, "A") for m in mats]
    b = _Batch(items, torch.device("cpu"), 2)
    rng = np.random.default_rng(0)
    keep = rng.random((2, sum(it.m for it in items))) < 0.5
    steps = 4
    got = b.krylov(keep, True, steps=steps, probes=2)
    _, (r, c, vals) = b.residuals(keep, True)
    N = b.N
    M = sp.csc_matrix((vals, (r, c)), shape=(2 * N, 2 * N)).toarray()
    probes = np.random.default_rng(0).standard_normal((N, 2))
    off = np.cumsum([0] + [it.n for it in items])
    for s in range(2):  # reference: least squares over an explicit Krylov basis, per sample and matrix
        for g, it in enumerate(items):
            A = it.A.toarray()
            Mg = M[s * N + off[g] : s * N + off[g + 1], s * N + off[g] : s * N + off[g + 1]]
            AM = A @ Mg
            logs = []
            for p in range(2):
                v = probes[off[g] : off[g + 1], p]
                Kr = np.stack([np.linalg.matrix_power(AM, j) @ v for j in range(steps)], 1)
                y = np.linalg.lstsq(AM @ Kr, v, rcond=None)[0]
                logs.append(np.log10(np.linalg.norm(v - AM @ Kr @ y) / np.linalg.norm(v)))
            assert got[s, g] == pytest.approx(np.mean(logs), abs=1e-6)


def test_prior_and_loss_parameters():
    X = make_banded_binary_matrices(4, random_state=0)
    est = SAIPreconditioner(prior="A", loss="krylov", max_epochs=2, random_state=0).fit(X)
    assert isinstance(est.field_model_, PriorField)
    assert np.isfinite([h["loss"] for h in est.history_]).all()
    with pytest.raises(ValueError, match="prior"):
        SAIPreconditioner(prior="bad").fit(X)
    with pytest.raises(ValueError, match="prior"):
        SAIPreconditioner(prior="top", features="A").fit(X)
    with pytest.raises(ValueError, match="loss"):
        SAIPreconditioner(loss="kry").fit(X)


def test_fsai_top_prior_at_initialisation_is_top_gstar():
    from skising.precondition._fsai import fsai_features

    spd = [sp.csr_matrix(m + m.T + 30 * sp.eye(30)) for m in make_banded_binary_matrices(4, random_state=0)]
    est = SAIPreconditioner(form="fsai", prior="auto", decode="top", max_epochs=0, random_state=0).fit(spd)
    assert est._prior() == "top"
    A = check_matrix(_poisson())
    r, c = candidate_pattern(A, "A2", True, est.max_candidates)
    low = r > c
    r, c = r[low], c[low]
    score = fsai_features(A, r, c)[1]
    est.transform(A, fraction=0.4, solver="cg")
    top = np.zeros(r.size, dtype=bool)
    top[np.argsort(-score, kind="stable")[: round(0.4 * r.size)]] = True
    np.testing.assert_array_equal(np.asarray(est.G_[r, c]).ravel() != 0, top)


def test_prior_field_shortcut_equals_full_forward():
    net = PriorField(EntryGCNII(3, hidden=8, n_layers=2), prior_column=0)
    x = torch.rand(30, 3)
    rows, cols = torch.randint(0, 8, (2, 30))
    with torch.no_grad():
        fast = net(x, rows, cols)  # zero read-out: the hidden layers are skipped
        full = net.scale * net.prior(x) + net.correction(x, rows, cols)
    torch.testing.assert_close(fast, full)
