"""Hostile matrices against SAIPreconditioner and the matrix loaders.

Every case either works (finite M of the right shape, finite residuals) or
raises ValueError/TypeError/FileNotFoundError whose message names the
argument or the file -- never a bare numpy/scipy/torch error or NaN output.
Singular, zero rows/columns, NaN/inf, subnormal and huge entries, wrong
shape, non-square, empty, dense/sparse/torch/list/object/complex inputs.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import LinearOperator

from skising.datasets import make_banded_binary_matrices, read_matrix_market
from skising.precondition import SAIPreconditioner
from skising.precondition._pattern import check_matrix

OK_ERRORS = (ValueError, TypeError, FileNotFoundError)
FEW = settings(max_examples=max(8, settings.default.max_examples // 4))

VALUES = [0.0, 0.0, 0.0, 1.0, -1.0, 0.5, 3.0, np.nan, np.inf, -np.inf, 1e-310, 1e300]


def _named(exc, *names):
    msg = str(exc)
    return isinstance(exc, OK_ERRORS) and any(msg.startswith(n) or f"{n}:" in msg for n in names)


@st.composite
def matrices(draw):
    """A matrix-like object, often malformed, in one of many containers."""
    n = draw(st.integers(0, 6))
    m = draw(st.sampled_from([n, n, n, n + 1, max(n - 1, 0)]))
    clean = draw(st.booleans())
    pool = VALUES[:7] if clean else VALUES
    vals = np.array(draw(st.lists(st.sampled_from(pool), min_size=n * m, max_size=n * m))).reshape(n, m)
    if draw(st.booleans()) and n == m and n:
        vals = vals + np.eye(n) * draw(st.sampled_from([1.0, 4.0, 0.0]))
    kind = draw(st.sampled_from(
        ["dense", "csr", "coo", "csc", "list", "torch", "torch_sparse", "1d", "3d", "object", "complex",
         "str", "none", "bool", "int", "float32"]
    ))
    if kind == "dense":
        return vals
    if kind in ("csr", "coo", "csc"):
        return getattr(sp, f"{kind}_matrix")(vals)
    if kind == "list":
        return vals.tolist()
    if kind == "torch":
        return torch.as_tensor(vals)
    if kind == "torch_sparse":
        return torch.as_tensor(vals).to_sparse()
    if kind == "1d":
        return vals.ravel()
    if kind == "3d":
        return vals[None]
    if kind == "object":
        out = vals.astype(object)
        if out.size:
            out.flat[0] = None
        return out
    if kind == "complex":
        return vals + 1j
    if kind == "str":
        return "matrix"
    if kind == "none":
        return None
    if kind == "bool":
        return np.nan_to_num(vals) != 0
    if kind == "int":
        return np.nan_to_num(vals, posinf=7, neginf=-7).astype(np.int64)
    return vals.astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    mats = make_banded_binary_matrices(4, size=8, random_state=0)
    return SAIPreconditioner(max_epochs=1, batch_size=4, n_sweeps=1, random_state=0).fit(mats)


@given(matrices())
def test_fuzz_check_matrix(A):
    try:
        M = check_matrix(A)
    except Exception as exc:  # noqa: BLE001 - classify every failure
        assert _named(exc, "A"), repr(exc)
        return
    assert sp.isspmatrix_csr(M) and M.shape[0] == M.shape[1] > 0
    assert np.isfinite(M.data).all()
    assert (np.diff(M.indptr) > 0).all() and (np.bincount(M.indices, minlength=M.shape[0]) > 0).all()


@given(matrices(), st.sampled_from([None, 0.3]))
def test_fuzz_sai_transform(fitted, A, fraction):
    try:
        op = fitted.transform(A, fraction=fraction)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "A"), repr(exc)
        return
    n = fitted.M_.shape[0]
    assert isinstance(op, LinearOperator) and op.shape == (n, n)
    assert np.isfinite(fitted.M_.data).all() and np.isfinite(fitted.residual_) and fitted.residual_ >= 0
    assert np.isfinite(op.matvec(np.ones(n))).all()


@given(st.lists(matrices(), min_size=0, max_size=3))
def test_fuzz_sai_evaluate(fitted, X):
    try:
        res, frac = fitted.evaluate(X)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "X"), repr(exc)
        return
    assert res.shape == frac.shape == (len(X),)
    assert np.isfinite(res).all() and ((frac >= 0) & (frac <= 1)).all()


@FEW
@given(st.lists(matrices(), min_size=0, max_size=2), st.sampled_from(["A2", "A", "full"]))
def test_fuzz_sai_fit(X, pattern):
    est = SAIPreconditioner(pattern=pattern, max_epochs=1, n_sweeps=1, random_state=0)
    try:
        est.fit(X)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "X", "pattern"), repr(exc)
        return
    assert est.n_features_in_ in (2, 3, 5, 6) and len(est.history_) == 1  # features="A" or "lstsq"
    assert np.isfinite(est.history_[0]["loss"])


@pytest.mark.parametrize("X", [np.ones((2, 3, 3)), sp.eye(3), [sp.eye(3), np.eye(3)], (np.eye(2),)])
def test_sai_accepts_stacks_and_single_matrices(fitted, X):
    res, _ = fitted.evaluate(X)
    assert np.isfinite(res).all()


def test_sai_rejects_non_matrix_collections(fitted):
    for X, exc in [("abc", TypeError), ({1: 2}, TypeError), ([], ValueError), (3.0, TypeError)]:
        with pytest.raises(exc, match="^X"):
            fitted.evaluate(X)


# ---------------------------------------------------------------- MatrixMarket files
GOOD_MTX = "%%MatrixMarket matrix coordinate real general\n3 3 4\n1 1 2.0\n2 2 1.5\n3 3 1.0\n1 3 -1.0\n"


@st.composite
def mtx_texts(draw):
    """A MatrixMarket file, mutated: header, counts, indices, values, truncation."""
    lines = GOOD_MTX.splitlines()
    op = draw(st.sampled_from(["none", "header", "counts", "index", "value", "truncate", "extra", "pattern",
                               "symmetric", "garbage", "empty"]))
    if op == "header":
        lines[0] = draw(st.sampled_from(["%%MatrixMarket matrix coordinate complex general",
                                         "%%MatrixMarket matrix array real general", "%%NotMatrixMarket",
                                         "%%MatrixMarket tensor coordinate real general", ""]))
    elif op == "counts":
        lines[1] = draw(st.sampled_from(["3 3 9", "3 3 2", "0 0 0", "-1 3 4", "3 x 4", "3 3", "2 2 4"]))
    elif op == "index":
        k = draw(st.integers(2, 5))
        lines[k] = draw(st.sampled_from(["0 1 1.0", "4 1 1.0", "1 -1 1.0", "1.5 1 1.0", "a b c", "1"]))
    elif op == "value":
        k = draw(st.integers(2, 5))
        i, j, _ = lines[k].split()
        lines[k] = f"{i} {j} " + draw(st.sampled_from(["nan", "inf", "-inf", "1e400", "x", "", "1 2"]))
    elif op == "truncate":
        text = "\n".join(lines)
        return text[: draw(st.integers(0, len(text) - 1))]
    elif op == "extra":
        lines.append(draw(st.sampled_from(["2 1 5.0", "% comment", "", "9 9 9"])))
    elif op == "pattern":
        lines[0] = "%%MatrixMarket matrix coordinate pattern general"
        lines[2:] = [" ".join(ln.split()[:2]) for ln in lines[2:]]
    elif op == "symmetric":
        lines[0] = "%%MatrixMarket matrix coordinate real symmetric"
    elif op == "garbage":
        return draw(st.text(max_size=40))
    elif op == "empty":
        return ""
    return "\n".join(lines) + "\n"


@given(mtx_texts())
def test_fuzz_read_matrix_market(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("mtx") / "m.mtx"
    path.write_text(text)
    try:
        A = read_matrix_market(path)
    except Exception as exc:  # noqa: BLE001
        assert isinstance(exc, OK_ERRORS) and str(path) in str(exc), repr(exc)
        return
    assert sp.isspmatrix_csr(A) and A.dtype == np.float64
    assert A.nnz <= 9  # never more entries than the file holds (both triangles when symmetric)


def test_read_matrix_market_missing_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        read_matrix_market(tmp_path / "nope.mtx")
    with pytest.raises(FileNotFoundError, match="path"):
        read_matrix_market(tmp_path)


@pytest.mark.parametrize("form", ["sai", "fsai"])
@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_sai_extreme_scales_give_finite_results(form, scale):
    # the features are invariant to the scale of A: huge or tiny entries must not overflow to a NaN field
    A = sp.csr_matrix(np.array([[4.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 4.0]]) * scale)
    est = SAIPreconditioner(form=form, random_state=0).fit([A])
    res, frac = est.evaluate([A])
    assert np.isfinite(res).all() and ((frac >= 0) & (frac <= 1)).all()
    M = est.transform(A).M_.toarray()
    assert np.isfinite(M).all()
    # the same preconditioner as for the well-scaled matrix, divided by the scale
    M1 = SAIPreconditioner(form=form, random_state=0).fit([A / scale]).transform(A / scale).M_.toarray()
    np.testing.assert_allclose(M * scale, M1, rtol=1e-12)


def test_sai_one_huge_entry_is_finite(fitted):
    # found by test_fuzz_sai_evaluate: a 1e300 entry overflowed the least-squares features
    X = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1e300], [0.0, 1.0, 0.0]])
    try:
        res, _ = fitted.evaluate([X])
    except ValueError as exc:  # entries 1e300 apart: no float64 scaling helps, and the error says so
        assert str(exc).startswith("X[0]:") and "rescale" in str(exc)
    else:
        assert np.isfinite(res).all()
