"""UNetSegmenter: the same U-Net as IsingSegmenter's field, trained plainly with binary cross-entropy (the baseline).

A plain scikit-learn estimator with its own short training loop (epochs of
Adam steps on the binary cross-entropy, best-epoch selection on validation
Dice, checkpoints); it shares the data handling of the segmenters
(:class:`~skising.segment._common._SegmenterMixin`) and the torch plumbing
(device, seed, field-model construction, checkpoints, pickling:
:class:`~skising._base.TorchEstimatorMixin`), but no Ising model.
"""

from __future__ import annotations

import copy
import math
import time
from typing import ClassVar

import torch
from sklearn.base import BaseEstimator, _fit_context
from torch.nn import functional as F

from .._base import _COMMON_CONSTRAINTS, TorchEstimatorMixin, TrainingDiverged
from .._validation import check_device

__all__ = ["UNetSegmenter"]

_PREDICTIONS = ("majority", "sample", "mean_field")
_CREDITS = ("image", "local")


from ._common import _SegmenterMixin


class UNetSegmenter(_SegmenterMixin, TorchEstimatorMixin, BaseEstimator):
    """Baseline: the same U-Net trained with binary cross-entropy.

    Same data handling, validation-based model selection and API as
    :class:`IsingSegmenter`; ``predict`` thresholds the logit at 0.

    Parameters
    ----------
    field_model : torch.nn.Module class or instance, optional
        Default :class:`UNet`.
    max_epochs, lr, batch_size, device, random_state, verbose
        As in :class:`IsingSegmenter`.
    epochs : deprecated
        Former name of ``max_epochs``; setting it warns (``FutureWarning``).

    Examples
    --------
    >>> import numpy as np
    >>> from skising.segment import UNetSegmenter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((4, 16, 16, 3)); y = X[..., 0] > 0.5
    >>> UNetSegmenter(max_epochs=1, batch_size=4, random_state=0).fit(X, y).predict_proba(X).shape
    (4, 16, 16)
    """

    _parameter_constraints: ClassVar[dict] = {k: _COMMON_CONSTRAINTS[k] for k in (
        "field_model", "max_epochs", "epochs", "lr", "batch_size", "device", "random_state", "verbose")}

    def __init__(self, field_model=None, max_epochs=50, lr=1e-3, batch_size=8, device="cpu", random_state=None,
                 verbose=0, epochs="deprecated"):
        self.field_model = field_model
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.epochs = epochs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_val=None, y_val=None, checkpoint_dir=None, resume=False):
        """Train with binary cross-entropy; see :meth:`IsingSegmenter.fit` (also for checkpoints)."""
        self._set_checkpointing(checkpoint_dir, resume)
        self._device = check_device(self.device)
        n_epochs = self._max_epochs()
        self._init_random(self._device)
        Xa, ya, val = self._image_data(X, y, X_val, y_val)
        model = self.field_model_ = self._make_model(self._build_field_model)
        Xt = torch.as_tensor(Xa, device=self._device)
        yt = torch.as_tensor(ya, device=self._device, dtype=torch.float32)
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr))
        n, bs = Xa.shape[0], int(self.batch_size)
        best = (-math.inf, None, None)
        self.history_ = []
        ckpt = self._checkpoint_path()
        start_epoch, best = self._load_checkpoint(ckpt, model, opt, best)
        for epoch in range(start_epoch, n_epochs):  # loop over epochs and batches only
            t0 = time.perf_counter()
            model.train()
            order = self._np_rng.permutation(n)
            tot = 0.0
            for s in range(0, n, bs):
                idx = torch.as_tensor(order[s : s + bs], device=self._device)
                logits = self._forward(Xt[idx])
                loss = F.binary_cross_entropy_with_logits(logits, yt[idx])
                if not torch.isfinite(loss):
                    raise TrainingDiverged(f"binary cross-entropy became NaN/inf at epoch {epoch}; lower lr (now {self.lr})")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * len(idx)
            rec = {"epoch": epoch, "loss": tot / n, "seconds": time.perf_counter() - t0}
            if val is not None:
                score = self._selection_score(*val)
                rec["val_score"] = score
                if score > best[0]:
                    best = (score, copy.deepcopy(model.state_dict()), epoch)
            self.history_.append(rec)
            if ckpt is not None:
                self._save_checkpoint(ckpt, epoch, opt, best)
        if best[1] is not None:
            model.load_state_dict(best[1])
            self.best_epoch_ = best[2]
        model.eval()
        self.n_epochs_ = n_epochs
        return self

    def _predict_std(self, Xa):
        return (self._outputs(Xa) > 0).cpu().numpy()

    def predict(self, X):
        """Binary masks (n_images, height, width): logit > 0."""
        self._check_fitted()
        return self._predict_std(self._transform_images(X))

    def predict_proba(self, X):
        """Per-pixel foreground probability sigmoid(logit), shape (n_images, height, width)."""
        self._check_fitted()
        return torch.sigmoid(self._outputs(self._transform_images(X))).cpu().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
