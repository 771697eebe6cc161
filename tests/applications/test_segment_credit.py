"""IsingSegmenter's per-pixel RLOO credit (credit="local"): scale, unbiasedness
without coupling (exact enumeration), parameter checks, real-data training."""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from skising.gradients import rloo_surrogate
from skising.sampling._grid import grid_kernel
from skising.segment import IsingSegmenter


def _grad(est, x, h, y, beta=1.0):
    """Gradient w.r.t. the field of the training loop's surrogate for samples x (K, B, H, W)."""
    B, H, W = y.shape
    batch = SimpleNamespace(shape=(B, H, W), y=y)
    h = h.detach().clone().reshape(-1).requires_grad_(True)
    losses = est._task_loss(x, batch)
    obj = rloo_surrogate(losses, est._energy_batch(batch, x, h, est.kernel_), beta)
    obj.backward()
    return h.grad.reshape(B, H, W)


def _est(credit, radius, coupling):
    est = IsingSegmenter(credit=credit, credit_radius=radius, coupling=coupling)
    est.kernel_ = grid_kernel(coupling)
    return est


@pytest.mark.parametrize("K", [2, 3])
def test_local_credit_with_a_whole_image_window_is_the_image_credit(K):
    g = torch.Generator().manual_seed(0)
    B, H, W = 3, 5, 4
    x = torch.where(torch.rand(K, B, H, W, generator=g) < 0.5, 1.0, -1.0)
    h = torch.randn(B, H, W, generator=g)
    y = torch.rand(B, H, W, generator=g) < 0.5
    image = _grad(_est("image", 0, 0.25), x, h, y)
    local = _grad(_est("local", max(H, W), 0.25), x, h, y)
    torch.testing.assert_close(local, image)


def test_pixel_credit_pushes_each_disagreeing_pixel_toward_its_label():
    y = torch.tensor([[[True, False], [True, False]]])
    x = torch.tensor([[[[1.0, 1.0], [-1.0, -1.0]]], [[[-1.0, -1.0], [-1.0, -1.0]]]])  # (K=2, B=1, 2, 2)
    grad = _grad(_est("local", 0, 0.25), x, torch.zeros(1, 2, 2), y)
    # samples differ in the top row only: descent raises h where y = 1, lowers it where y = 0
    assert grad[0, 0, 0] < 0 and grad[0, 0, 1] > 0
    assert grad[0, 1].abs().max() == 0


@pytest.mark.parametrize("radius", [0, 1])
def test_local_credit_is_unbiased_without_coupling(radius):
    """Exact enumeration on a 2x2 image with J = 0 (independent pixels): the
    expectation of the estimator over all pairs of samples equals the exact
    gradient of the expected misclassification rate."""
    beta = 0.7
    h = torch.tensor([[[0.3, -0.8], [1.1, 0.2]]], dtype=torch.float64)
    y = torch.tensor([[[True, False], [False, True]]])
    states = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=4)), dtype=torch.float64)  # (16, 4)
    hv = h.reshape(-1).clone().requires_grad_(True)
    logp = torch.log_softmax(beta * states @ hv, 0)
    loss = ((states > 0) != y.reshape(1, -1)).double().mean(1)
    (logp.exp() * loss).sum().backward()
    exact = hv.grad.reshape(1, 2, 2)
    p = logp.detach().exp()
    est = _est("local", radius, 0.0)
    mean = torch.zeros_like(h)
    for i, j in itertools.product(range(16), repeat=2):  # loop over the 256 sample pairs of the test
        x = torch.stack([states[i], states[j]]).reshape(2, 1, 2, 2)
        mean += p[i] * p[j] * _grad(est, x, h, y, beta)
    torch.testing.assert_close(mean, exact)


def test_credit_parameters_are_checked():
    X = np.random.default_rng(0).random((2, 8, 8, 3))
    y = X[..., 0] > 0.5
    with pytest.raises(ValueError, match="'credit'"):
        IsingSegmenter(max_epochs=0, credit="pixel").fit(X, y)
    with pytest.raises(ValueError, match="credit_radius"):
        IsingSegmenter(max_epochs=0, credit="local", credit_radius=-1).fit(X, y)


def test_local_credit_trains_on_real_horses(horses):
    tr, va = horses
    est = IsingSegmenter(max_epochs=6, lr=3e-3, batch_size=8, n_sweeps=5, n_predict_samples=4, coupling=0.25,
                         credit="local", random_state=0).fit(tr.images, tr.masks, va.images, va.masks)
    untrained = IsingSegmenter(max_epochs=0, n_sweeps=5, n_predict_samples=4, coupling=0.25,
                               random_state=0).fit(tr.images, tr.masks)
    losses = [r["loss"] for r in est.history_]
    assert np.mean(losses[-2:]) < losses[0]
    assert est.score(va.images, va.masks) > untrained.score(va.images, va.masks) + 0.1
