"""IsingSegmenter / UNetSegmenter, the Weizmann horse loader and the Dice score."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skising.datasets._horse import load_weizmann_horse
from skising.metrics._segment import dice_score
from skising.segment import IsingSegmenter, UNet, UNetSegmenter


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # small convolutions: one thread avoids oversubscription on shared CI cores
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    X = (rng.random((6, 12, 10, 3)) * 255).astype(np.uint8)
    y = X[..., 0] > 127
    return X, y


# ------------------------------------------------------------------ Dice
def test_dice_hand_computed():
    a = np.zeros((2, 3, 3), bool)
    b = np.zeros((2, 3, 3), bool)
    a[0, :2, :2] = True  # 4 px
    b[0, :2, :1] = True  # 2 px, all inside a
    a[1, 0, 0] = True
    b[1, 2, 2] = True  # disjoint
    np.testing.assert_allclose(dice_score(a, b, average=False), [2 * 2 / 6, 0.0])
    assert dice_score(a, a) == 1.0
    assert dice_score(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # both empty
    assert dice_score(np.zeros((2, 2)), np.zeros((2, 2)), empty_score=0.0) == 0.0
    with pytest.raises(ValueError, match="y_pred"):
        dice_score(a, b[:, :2])
    with pytest.raises(ValueError, match="y_true"):
        dice_score(np.full((2, 2), 2), np.zeros((2, 2)))


# ------------------------------------------------------------------ loader
def test_horse_loader_split_is_fixed_and_disjoint():
    try:
        d = load_weizmann_horse(size=16)
    except FileNotFoundError:
        pytest.skip("Weizmann horse data not available (set SKISING_DATA)")
    assert d.images.shape == (328, 16, 16, 3) and d.images.dtype == np.uint8
    assert d.masks.shape == (328, 16, 16) and d.masks.dtype == bool
    s = d.split_indices
    assert [len(s[k]) for k in ("train", "val", "test")] == [262, 33, 33]
    allidx = np.concatenate([s["train"], s["val"], s["test"]])
    assert len(np.unique(allidx)) == 328
    te = load_weizmann_horse(size=16, split="test")
    np.testing.assert_array_equal(te.index, s["test"])
    np.testing.assert_array_equal(te.masks, d.masks[s["test"]])
    assert 0.15 < d.masks.mean() < 0.4  # SOURCE.md: mean foreground 25%
    raw = load_weizmann_horse(size=None, split="val", n_images=2)
    assert isinstance(raw.images, list) and max(raw.images[0].shape[:2]) == 128
    assert raw.images[0].shape[:2] == raw.masks[0].shape


def test_horse_loader_errors(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_weizmann_horse(split="dev")
    with pytest.raises(ValueError, match="size"):
        load_weizmann_horse(size=0)
    with pytest.raises(FileNotFoundError, match="weizmann_horse"):
        load_weizmann_horse(data_home=tmp_path)


# ------------------------------------------------------------------ U-Net
def test_unet_shapes_any_size():
    net = UNet(in_channels=1)
    for hw in [(1, 1), (7, 9), (32, 32)]:
        assert net(torch.zeros(2, 1, *hw)).shape == (2, 1, *hw)


# ------------------------------------------------------------------ estimators
@pytest.mark.parametrize("cls", [IsingSegmenter, UNetSegmenter])
def test_predictions_are_binary_masks_of_input_shape(cls, toy):
    X, y = toy
    est = cls(epochs=1, batch_size=4, random_state=0).fit(X, y, X[:2], y[:2])
    pred = est.predict(X)
    assert pred.shape == y.shape and pred.dtype == bool
    proba = est.predict_proba(X)
    assert proba.shape == y.shape and proba.min() >= 0 and proba.max() <= 1
    assert est.decision_function(X).shape == y.shape
    assert 0.0 <= est.score(X, y) <= 1.0
    assert len(est.history_) == 1 and "val_score" in est.history_[0]
    # repeatable predictions, clone and pickle
    np.testing.assert_array_equal(est.predict(X), est.predict(X))
    assert clone(est).get_params() == est.get_params()
    est2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est2.predict(X), pred)


def test_ising_prediction_modes_and_samples(toy):
    X, y = toy
    est = IsingSegmenter(max_epochs=1, batch_size=6, n_predict_samples=5, random_state=0).fit(X, y)
    for mode in ("majority", "sample", "mean_field"):
        est.set_params(prediction=mode)
        assert est.predict(X).shape == y.shape
    s = est.sample(X[:2], n_samples=3)
    assert s.shape == (3, 2, 12, 10) and s.dtype == bool
    # majority of the samples agrees with predict_proba > 1/2
    est.set_params(prediction="majority")
    np.testing.assert_array_equal(est.predict(X), est.predict_proba(X) > 0.5)


def test_same_seed_same_model(toy):
    X, y = toy
    a = IsingSegmenter(max_epochs=2, batch_size=3, random_state=3).fit(X, y)
    b = IsingSegmenter(max_epochs=2, batch_size=3, random_state=3).fit(X, y)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-5, atol=1e-5)
    assert [r["loss"] for r in a.history_] == [r["loss"] for r in b.history_]


def test_magnetisation_penalty_and_heat_bath_run(toy):
    X, y = toy
    est = IsingSegmenter(max_epochs=1, batch_size=3, target_fraction=0.3, update="heat_bath",
                         coupling=np.array([[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]]), random_state=0).fit(X, y)
    assert est.history_[0]["penalty"] > 0
    assert est.predict(X).shape == y.shape


@pytest.mark.parametrize("cls", [IsingSegmenter, UNetSegmenter])
def test_bad_inputs_raise_clear_errors(cls, toy):
    X, y = toy
    with pytest.raises(ValueError, match="mask size"):
        cls(epochs=0).fit(X, y[:, :5])
    with pytest.raises(ValueError, match="binary"):
        cls(epochs=0).fit(X, y.astype(int) * 2)
    with pytest.raises(ValueError, match="masks for"):
        cls(epochs=0).fit(X, y[:3])
    with pytest.raises(ValueError, match="X: expected images"):
        cls(epochs=0).fit(X[None], y)
    with pytest.raises(ValueError, match="X_val"):
        cls(epochs=0).fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="epochs"):
        cls(epochs=-1).fit(X, y)
    with pytest.raises(ValueError, match="lr"):
        cls(epochs=0, lr=0).fit(X, y)
    est = cls(epochs=0, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="channels"):
        est.predict(X[..., :2])
    with pytest.raises(Exception, match="not fitted"):
        cls().predict(X)


def test_ising_bad_params(toy):
    X, y = toy
    with pytest.raises(ValueError, match="prediction"):
        IsingSegmenter(max_epochs=0, prediction="vote").fit(X, y)
    with pytest.raises(ValueError, match="coupling"):
        IsingSegmenter(epochs=0, coupling=np.ones((3, 3))).fit(X, y)
    with pytest.raises(ValueError, match="n_samples"):
        IsingSegmenter(max_epochs=0, n_samples=1).fit(X, y)
    with pytest.raises(ValueError, match="update"):
        IsingSegmenter(max_epochs=0, update="gibbs").fit(X, y)


# ------------------------------------------------------------------ real data, end to end
@pytest.mark.slow
def test_ising_training_on_real_horses_reduces_loss_and_beats_untrained(horses):
    tr, va = horses
    est = IsingSegmenter(max_epochs=8, lr=3e-3, batch_size=8, n_sweeps=5, n_predict_samples=4, random_state=0)
    est.fit(tr.images, tr.masks, va.images, va.masks)
    losses = [r["loss"] for r in est.history_]
    assert np.mean(losses[-2:]) < losses[0]
    untrained = IsingSegmenter(max_epochs=0, n_sweeps=5, n_predict_samples=4, random_state=0).fit(tr.images, tr.masks)
    assert est.score(va.images, va.masks) > untrained.score(va.images, va.masks)
    assert 0 <= est.best_epoch_ < 8


def test_unet_training_on_real_horses_reduces_loss(horses):
    tr, va = horses
    est = UNetSegmenter(max_epochs=4, lr=3e-3, batch_size=8, random_state=0).fit(tr.images, tr.masks, va.images, va.masks)
    losses = [r["loss"] for r in est.history_]
    assert losses[-1] < losses[0]
