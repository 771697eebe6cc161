"""Shared plumbing of the segmenters: image and mask checks, standardisation, the U-Net field, Dice scoring."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics._segment import dice_score
from ._unet import UNet

__all__ = []

_PREDICTIONS = ("majority", "sample", "mean_field")
_CREDITS = ("image", "local")


# ---------------------------------------------------------------- input checks
def _check_images(X, name="X"):
    """Images (n, H, W, C) or (n, H, W) (grey) -> float32 array (n, C, H, W) in [0, 1]."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if isinstance(X, (list, tuple)):
        shapes = {np.shape(a) for a in X}
        if len(shapes) > 1:
            raise ValueError(f"{name}: all images must have the same shape (resize them first), got {sorted(shapes)[:3]}...")
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numeric images, got dtype {X.dtype}")
    if X.ndim == 3:
        X = X[..., None]
    if X.ndim != 4:
        raise ValueError(f"{name}: expected images of shape (n_images, height, width, channels), got {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no images")
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / 255.0
    else:
        X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return np.ascontiguousarray(X.transpose(0, 3, 1, 2))


def _check_masks(y, X, name="y"):
    """Binary masks (n, H, W) matching X (n, C, H, W) -> bool array."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 4 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.ndim != 3:
        raise ValueError(f"{name}: expected masks of shape (n_images, height, width), got {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{name}: {y.shape[0]} masks for {X.shape[0]} images")
    if y.shape[1:] != X.shape[2:]:
        raise ValueError(f"{name}: mask size {y.shape[1:]} does not match the image size {X.shape[2:]}")
    if y.dtype != bool:
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            raise ValueError(f"{name}: masks must be binary (booleans or 0/1 values)")
        y = y.astype(bool)
    return y


class _SegmenterMixin:
    """Data handling, prediction in chunks and Dice scoring shared by both segmenters."""

    def _image_data(self, X, y, X_val, y_val):
        """Checked training images (standardised), masks and ``(X_val, y_val)`` or None; learns the standardisation."""
        Xa = _check_images(X, "X")
        ya = _check_masks(y, Xa, "y")
        n, _, H, W = Xa.shape
        bs = min(int(self.batch_size), n)
        smallest = min(bs, n % bs or bs)
        if self.field_model is None and smallest * -(-H // 8) * -(-W // 8) < 2:
            # batch norm cannot train on one value per channel (lowest U-Net level: 1/8 size)
            raise ValueError(
                f"X: {H}x{W} images in a batch of {smallest} leave one value per channel at the U-Net's lowest "
                f"resolution, where batch norm cannot train; use images larger than 8 px or a batch_size "
                f"(now {self.batch_size}) that leaves no batch of a single image"
            )
        self.n_channels_in_ = Xa.shape[1]
        # per-channel standardisation learned on the training images
        self.channel_mean_ = Xa.mean((0, 2, 3), dtype=np.float64)  # float64: no overflow on huge values
        self.channel_std_ = Xa.std((0, 2, 3), dtype=np.float64) + 1e-6
        val = None
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val: pass both X_val and y_val, or neither")
        if X_val is not None:
            Xv = self._transform_images(X_val, "X_val")
            yv = _check_masks(y_val, Xv, "y_val")
            val = (Xv, yv)
        return self._standardise(Xa), ya, val

    def _standardise(self, Xa, name="X"):
        out = (Xa - self.channel_mean_[None, :, None, None]) / self.channel_std_[None, :, None, None]
        if np.abs(out).max() > 1e30:  # would overflow float32 in the network
            raise ValueError(f"{name}: pixel values lie far outside the range of the training images "
                             "(standardised magnitude > 1e30); rescale the images like the training ones")
        return out.astype(np.float32)

    def _transform_images(self, X, name="X"):
        Xa = _check_images(X, name)
        if Xa.shape[1] != self.n_channels_in_:
            raise ValueError(f"{name}: images have {Xa.shape[1]} channels, the model was fitted on {self.n_channels_in_}")
        return self._standardise(Xa, name)

    def _build_field_model(self):
        return UNet(in_channels=self.n_channels_in_, out_channels=1)

    def _forward(self, Xb):
        """Field / logits (B, H, W) of standardised images (B, C, H, W)."""
        return self.field_model_(Xb)[:, 0]

    def _chunks(self, Xa):
        bs = int(self.batch_size)
        for s in range(0, Xa.shape[0], bs):
            yield torch.as_tensor(Xa[s : s + bs], device=self._device)

    def _outputs(self, Xa):
        """Field model outputs (n, H, W) for standardised images, eval mode, no grad."""
        model = self.field_model_
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = torch.cat([self._forward(xb) for xb in self._chunks(Xa)])
        model.train(was_training)
        return out

    def decision_function(self, X):
        """Raw network output per pixel: the Ising field ``h`` (IsingSegmenter)
        or the logit (UNetSegmenter); array of shape (n_images, height, width)."""
        self._check_fitted()
        return self._outputs(self._transform_images(X)).cpu().numpy()

    def score(self, X, y):
        """Mean Dice coefficient of ``predict(X)`` against the masks ``y``."""
        self._check_fitted()
        Xa = _check_images(X, "X")
        ya = _check_masks(y, Xa, "y")
        return dice_score(ya, self.predict(X))

    def _selection_score(self, Xv, yv):
        return dice_score(yv, self._predict_std(Xv))
