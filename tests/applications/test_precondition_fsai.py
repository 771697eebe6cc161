"""FSAI form, bounded candidate sets and the solver contract of SAIPreconditioner."""

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from skising.datasets import make_banded_binary_matrices
from skising.precondition import SAIPreconditioner, candidate_pattern, check_matrix, fsai, fsai_factor, sai_lstsq


def _spd(n, seed, density=0.3):
    rng = np.random.default_rng(seed)
    B = sp.random(n, n, density=density, random_state=seed)
    return sp.csr_matrix(B @ B.T + n * sp.eye(n) * (0.5 + rng.random()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fsai_factor_matches_dense_reference(seed):
    A = _spd(11, seed)
    rng = np.random.default_rng(seed)
    pr, pc = np.nonzero(np.tril(rng.random((11, 11)) < 0.4, -1))
    G, y = fsai_factor(A, pr, pc)
    Ad, ref = A.toarray(), np.zeros((11, 11))
    for i in range(11):  # reference: one dense solve per row
        J = sorted(set(pc[pr == i].tolist())) + [i]
        yy = np.linalg.solve(Ad[np.ix_(J, J)], np.eye(len(J))[-1])
        ref[i, J] = yy / np.sqrt(yy[-1])
        assert y[i] == pytest.approx(yy[-1])
    np.testing.assert_allclose(G.toarray(), ref, atol=1e-12)
    np.testing.assert_allclose((G @ A @ G.T).diagonal(), 1.0)  # FSAI scaling


def test_fsai_rejects_indefinite():
    A = sp.csr_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="positive definite"):
        fsai_factor(A, np.array([1]), np.array([0]))


def test_fsai_operator_is_symmetric_and_cg_converges():
    A = pyamg.gallery.poisson((20, 20), format="csr")
    M = fsai(A)
    v, w = np.random.default_rng(0).standard_normal((2, 400))
    assert v @ M.matvec(w) == pytest.approx(w @ M.matvec(v))
    _, info = cg(A, np.ones(400), M=M, rtol=1e-8)
    assert info == 0


def _spd_windows(k):
    return [sp.csr_matrix(m + m.T + 30 * sp.eye(30)) for m in make_banded_binary_matrices(k, random_state=0)]


def test_estimator_fsai_cg_and_solver_contract():
    A = pyamg.gallery.poisson((15, 15), format="csr")
    b = np.ones(A.shape[0])
    est = SAIPreconditioner(form="fsai", max_epochs=1, batch_size=8, random_state=0).fit(_spd_windows(8))
    M = est.transform(A, solver="cg")
    assert sp.tril(est.G_, -1).nnz + A.shape[0] == est.G_.nnz  # lower triangular, full diagonal
    np.testing.assert_allclose(est.M_.toarray(), est.M_.toarray().T, atol=1e-12)
    _, info = cg(A, b, M=M, rtol=1e-8)
    assert info == 0
    # same seed, same pattern
    est2 = SAIPreconditioner(form="fsai", max_epochs=1, batch_size=8, random_state=0).fit(_spd_windows(8))
    est2.transform(A)
    assert (est2.G_ != est.G_).nnz == 0
    with pytest.raises(ValueError, match="symmetric"):
        est.transform(sp.csr_matrix(sp.triu(A)))
    sai = SAIPreconditioner(max_epochs=0, random_state=0).fit(make_banded_binary_matrices(2))
    with pytest.raises(ValueError, match="solver"):
        sai.transform(A, solver="cg")
    sai.transform(A, solver="gmres")
    with pytest.raises(ValueError, match="form"):
        SAIPreconditioner(form="ic").fit(make_banded_binary_matrices(2))
    with pytest.raises(ValueError, match="max_candidates"):
        SAIPreconditioner(max_candidates=0).fit(make_banded_binary_matrices(2))


def test_capped_candidates_bounded_and_exact_when_not_binding():
    A = check_matrix(pyamg.gallery.poisson((9, 9), format="csr"))
    r0, c0 = candidate_pattern(A, "A2")
    r1, c1 = candidate_pattern(A, "A2", max_candidates=64)
    assert (r0 == r1).all() and (c0 == c1).all()
    # a dense row and column: A + A^2 is dense, the capped set is not
    n = 300
    B = sp.lil_matrix(sp.eye(n) * 4.0 + sp.diags([-1.0, -1.0], [-1, 1], shape=(n, n)))
    B[0, :] = 0.1
    B[:, 0] = 0.1
    B[0, 0] = 4.0
    B = check_matrix(B)
    r, c = candidate_pattern(B, "A2", max_candidates=8)
    assert np.bincount(c, minlength=n).max() <= 8
    # entries of A come first: every column keeps its tridiagonal neighbours
    key = set((c * n + r).tolist())
    assert all((j * n + j + 1) in key for j in range(1, n - 1))


def test_lstsq_chunks_by_size_match_one_chunk():
    A = check_matrix(sp.random(60, 60, density=0.08, random_state=1) + sp.eye(60) * 3)
    r, c = candidate_pattern(A, "A2", keep_diagonal=False)
    v1, res1 = sai_lstsq(A, r, c)
    v2, res2 = sai_lstsq(A, r, c, max_bytes=2000)  # many small chunks
    np.testing.assert_allclose(v1, v2, atol=1e-12)
    np.testing.assert_allclose(res1, res2, atol=1e-12)


def test_torch_operator_matches_scipy_apply():
    import torch

    from skising.precondition._fsai import TorchSparseOperator

    A = pyamg.gallery.poisson((12, 12), format="csr")
    G = fsai(A).G_
    op = TorchSparseOperator([G.T.tocsr(), G], "cpu", symmetric=True)
    v = np.random.default_rng(0).standard_normal(144)
    np.testing.assert_allclose(op.matvec(v), G.T @ (G @ v), atol=1e-12)
    out = op.apply(torch.as_tensor(v))  # tensors stay on the device
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), G.T @ (G @ v), atol=1e-12)
    _, info = cg(A, np.ones(144), M=op, rtol=1e-8)
    assert info == 0
