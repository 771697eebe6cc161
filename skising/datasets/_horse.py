"""Weizmann Horse database loader (images + figure-ground masks)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch

from ._home import data_path

__all__ = ["load_weizmann_horse"]

_SPLITS = ("train", "val", "test")
_SPLIT_SEED = 0


def _split_indices(n):
    """Fixed 0.8 / 0.1 / 0.1 split of ``n`` items (a permutation seeded with 0)."""
    perm = np.random.default_rng(_SPLIT_SEED).permutation(n)
    n_train = int(round(0.8 * n))
    n_val = int(round(0.1 * n))
    return {
        "train": np.sort(perm[:n_train]),
        "val": np.sort(perm[n_train : n_train + n_val]),
        "test": np.sort(perm[n_train + n_val :]),
    }


def _check_size(size):
    if size is None:
        return None
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        size = tuple(int(s) for s in size)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"size: expected None, an int or a (height, width) pair, got {size!r}") from exc
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size: expected a positive int or a (height, width) pair, got {size!r}")
    return size


def load_weizmann_horse(size=64, split=None, data_home=None, n_images=None):
    """Load the Weizmann Horse database (328 RGB images with horse masks).

    The shared copy (``<data_home>/weizmann_horse``, see its ``SOURCE.md``)
    holds images with a longest side of 128 px and binary masks. The split
    is fixed: a permutation seeded with 0 gives 262 train, 33 validation and
    33 test images (0.8 / 0.1 / 0.1), the same for every ``size``.

    Parameters
    ----------
    size : int, (height, width) or None
        Resize every pair to this size (the aspect ratio is not kept: horses
        are about 128 x 90 and are stretched to a square for ``size=64``).
        Images are resampled with a box filter (area average) when
        shrinking, bilinear otherwise; masks are box-filtered as grey levels
        and thresholded at one half, which keeps thin legs better than
        nearest-neighbour. ``None`` keeps the stored sizes and returns lists.
    split : {"train", "val", "test"} or None
        Return only that split; ``None`` returns all images in file order
        with the split indices in ``split_indices``.
    data_home : str or path, optional
        See :func:`skising.datasets.get_data_home`.
    n_images : int, optional
        Load only the first ``n_images`` of the selection (for quick tests).

    Returns
    -------
    sklearn.utils.Bunch with
        ``images`` : uint8 array (n, height, width, 3) (a list when ``size=None``),
        ``masks`` : bool array (n, height, width), True = horse,
        ``names`` : list of file stems (``"horse001"`` ...),
        ``index`` : positions in the full 328-image file order,
        ``split_indices`` : dict ``{"train", "val", "test"} -> index arrays``.

    Examples
    --------
    >>> from skising.datasets import load_weizmann_horse
    >>> d = load_weizmann_horse(size=32, split="val")  # doctest: +SKIP
    >>> d.images.shape, d.masks.shape  # doctest: +SKIP
    ((33, 32, 32, 3), (33, 32, 32))
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is in the segment extra
        raise ImportError("load_weizmann_horse needs pillow: `pip install skising[segment]`") from exc
    size = _check_size(size)
    if split is not None and split not in _SPLITS:
        raise ValueError(f"split: expected one of {_SPLITS} or None, got {split!r}")
    if n_images is not None:
        if not isinstance(n_images, numbers.Integral) or isinstance(n_images, bool) or n_images < 1:
            raise ValueError(f"n_images: expected a positive int or None, got {n_images!r}")
    root = data_path("weizmann_horse", data_home=data_home)
    img_dir, mask_dir = root / "images", root / "masks"
    if not img_dir.is_dir() or not mask_dir.is_dir():
        raise FileNotFoundError(f"{root}: expected the folders images/ and masks/ (see SOURCE.md)")
    names = sorted(p.stem for p in img_dir.glob("horse*.png"))
    if not names:
        raise FileNotFoundError(f"{img_dir}: no horseNNN.png images found")
    splits = _split_indices(len(names))
    index = np.arange(len(names)) if split is None else splits[split]
    if n_images is not None:
        index = index[: int(n_images)]
    images, masks = [], []
    for i in index:  # loop over files (few hundred), not pixels
        name = names[i]
        mpath = mask_dir / f"{name}.png"
        if not mpath.exists():
            raise FileNotFoundError(f"{mpath}: missing mask for image {name}")
        img = Image.open(img_dir / f"{name}.png").convert("RGB")
        msk = Image.open(mpath).convert("L")
        if img.size != msk.size:
            raise ValueError(f"{mpath}: mask size {msk.size} differs from the image's {img.size}")
        if size is not None:
            target = (size[1], size[0])  # PIL takes (width, height)
            shrink = size[0] <= img.size[1] and size[1] <= img.size[0]
            img = img.resize(target, Image.BOX if shrink else Image.BILINEAR)
            msk = msk.resize(target, Image.BOX if shrink else Image.BILINEAR)
        images.append(np.asarray(img, dtype=np.uint8))
        masks.append(np.asarray(msk) >= 128)
    if size is not None:
        images, masks = np.stack(images), np.stack(masks)
    return Bunch(
        images=images,
        masks=masks,
        names=[names[i] for i in index],
        index=index,
        split_indices=splits,
    )
