"""Hostile images and masks against IsingSegmenter and UNetSegmenter.

Wrong ndim, channel count, size mismatch, non-binary / NaN masks, NaN or
huge pixels, empty and ragged lists, non-numeric dtypes. Every case either
works (boolean masks / finite probabilities of the right shape) or raises
ValueError/TypeError naming the argument.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skising.segment import IsingSegmenter, UNetSegmenter

OK_ERRORS = (ValueError, TypeError)
FEW = settings(max_examples=max(6, settings.default.max_examples // 5))


def _named(exc, *names):
    msg = str(exc)
    return isinstance(exc, OK_ERRORS) and any(msg.startswith(f"{n}:") for n in names)


@st.composite
def images(draw, valid=False):
    n = draw(st.integers(1 if valid else 0, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    c = draw(st.sampled_from([1, 3, 3, 3, 4]))
    X = np.random.default_rng(draw(st.integers(0, 3))).random((n, h, w, c))
    op = "none" if valid else draw(st.sampled_from(
        ["none", "none", "grey", "uint8", "nan", "inf", "huge", "2d", "5d", "list", "ragged", "empty_list",
         "object", "complex", "str", "bool", "torch", "constant"]))
    if op == "grey":
        return X[..., 0]
    if op == "uint8":
        return (X * 255).astype(np.uint8)
    if op == "nan" and X.size:
        X.flat[draw(st.integers(0, X.size - 1))] = np.nan
    if op == "inf" and X.size:
        X.flat[0] = -np.inf
    if op == "huge":
        return X * 1e37
    if op == "2d":
        return X[0] if n else np.zeros((0, 4))
    if op == "5d":
        return X[None]
    if op == "list":
        return list(X)
    if op == "ragged" and n:
        return [X[0], X[0, :1]]
    if op == "empty_list":
        return []
    if op == "object":
        return np.array([None] * max(n, 1), dtype=object)
    if op == "complex":
        return X + 0j
    if op == "str":
        return "image.png"
    if op == "bool":
        return X > 0.5
    if op == "torch":
        return torch.as_tensor(X)
    if op == "constant":
        return np.zeros_like(X)
    return X


def _shape(X):
    try:
        return np.asarray(X).shape
    except Exception:  # noqa: BLE001 - ragged lists
        return ()


@st.composite
def masks(draw, X, valid=False):
    shp = _shape(X)
    n, hw = (shp[0], shp[1:3]) if len(shp) >= 3 else (1, (4, 4))
    y = np.random.default_rng(0).random((n,) + tuple(hw)) > 0.5
    op = "none" if valid else draw(st.sampled_from(
        ["none", "none", "int", "float01", "nonbinary", "nan", "neg", "size", "count", "4d", "2d", "str", "torch"]))
    if op == "int":
        return y.astype(np.int64)
    if op == "float01":
        return y.astype(float)
    if op == "nonbinary":
        return y * 2
    if op == "nan":
        return np.where(y, np.nan, 0.0)
    if op == "neg":
        return -y.astype(int)
    if op == "size":
        return y[:, :1]
    if op == "count":
        return y[:0]
    if op == "4d":
        return y[..., None]
    if op == "2d":
        return y[0] if n else np.zeros((0, 4), bool)
    if op == "str":
        return np.array("mask")
    if op == "torch":
        return torch.as_tensor(y)
    return y


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.random((2, 8, 8, 3))
    y = X[..., 0] > 0.5
    return [cls(epochs=1, batch_size=2, random_state=0, **kw).fit(X, y)
            for cls, kw in ((IsingSegmenter, {"n_sweeps": 1, "n_predict_samples": 2}), (UNetSegmenter, {}))]


@given(images(), st.sampled_from(["predict", "predict_proba", "decision_function"]), st.integers(0, 1))
def test_fuzz_segmenter_predict(fitted, X, method, which):
    est = fitted[which]
    try:
        out = getattr(est, method)(X)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "X"), repr(exc)
        return
    shp = np.asarray(X).shape
    assert out.shape == shp[:3]
    if method == "predict":
        assert out.dtype == bool
    else:
        assert np.isfinite(out).all()
        if method == "predict_proba":
            assert ((out >= 0) & (out <= 1)).all()


@given(st.data(), st.integers(0, 1))
def test_fuzz_segmenter_score(fitted, data, which):
    X = data.draw(images())
    y = data.draw(masks(X))
    try:
        s = fitted[which].score(X, y)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "X", "y"), repr(exc)
        return
    assert 0.0 <= s <= 1.0


@FEW
@given(st.data(), st.sampled_from([IsingSegmenter, UNetSegmenter]), st.booleans(), st.booleans())
def test_fuzz_segmenter_fit(data, cls, good_X, good_y):
    X = data.draw(images(valid=good_X))
    y = data.draw(masks(X, valid=good_y))
    kw = {"n_sweeps": 1, "n_predict_samples": 2} if cls is IsingSegmenter else {}
    est = cls(epochs=1, batch_size=4, random_state=0, **kw)
    try:
        est.fit(X, y)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "X", "y"), repr(exc)
        return
    assert np.isfinite(est.history_[0]["loss"])
    assert est.predict(X).shape == np.asarray(X).shape[:3]


def test_validation_pair_must_be_complete():
    X = np.random.default_rng(0).random((2, 6, 6, 3))
    y = X[..., 0] > 0.5
    for cls in (IsingSegmenter, UNetSegmenter):
        with pytest.raises(ValueError, match="^X_val"):
            cls(epochs=1).fit(X, y, X_val=X)
        with pytest.raises(ValueError, match="^y_val"):
            cls(epochs=1).fit(X, y, X_val=X, y_val=y[:1])
        with pytest.raises(ValueError, match="^X_val"):
            cls(epochs=1).fit(X, y, X_val=X[..., :1], y_val=y)
