"""Segmentation metrics: the Dice coefficient."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dice_score"]


def _as_bool_masks(a, name):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype != bool:
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected a boolean or 0/1 array, got dtype {a.dtype}")
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name}: expected a binary mask (booleans or 0/1 values)")
        a = a.astype(bool)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name}: expected shape (height, width) or (n_images, height, width), got {a.shape}")
    return a


def dice_score(y_true, y_pred, average=True, empty_score=1.0):
    r"""Dice coefficient :math:`2|A \cap B| / (|A| + |B|)` per image.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (height, width) or (n_images, height, width)
        Binary masks (booleans or 0/1), foreground = True.
    average : bool
        Return the mean over images (default) or one score per image.
    empty_score : float
        Score of an image where both masks are empty.

    Returns
    -------
    float or numpy.ndarray of shape (n_images,)

    Examples
    --------
    >>> import numpy as np
    >>> from skising.metrics import dice_score
    >>> a = np.array([[1, 1], [0, 0]]); b = np.array([[1, 0], [0, 0]])
    >>> round(dice_score(a, b), 4)   # 2 * 1 / (2 + 1)
    0.6667
    """
    t = _as_bool_masks(y_true, "y_true")
    p = _as_bool_masks(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred: shape {p.shape} does not match y_true's {t.shape}")
    inter = (t & p).sum((1, 2)).astype(np.float64)
    total = (t.sum((1, 2)) + p.sum((1, 2))).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(total > 0, 2.0 * inter / np.maximum(total, 1), float(empty_score))
    return float(d.mean()) if average else d
