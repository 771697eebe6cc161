"""Training checkpoints: one atomic file per fit, resumable to the identical result.

The training loop (:meth:`skising._base.BaseIsingEstimator._train`) writes
``checkpoint_dir/checkpoint.pt`` after every epoch: model and optimiser
state, both random streams, the history and the best model so far. Writing
goes through a temporary file and an atomic rename, so a fit killed at any
moment leaves either the previous or the new checkpoint, never a torn one.

Under ``torch.distributed`` only rank 0 writes, and rank 0 reads and
broadcasts the state when resuming, so that ranks need not share a file
system. The data-parallel loop draws its batch order and its samples from
``(seed, epoch, item)`` only (see :mod:`skising.distributed`), so a
checkpoint written by N ranks resumes with any other number of ranks.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

__all__ = ["check_checkpoint_dir", "checkpoint_path", "load_checkpoint", "save_checkpoint"]

FILENAME = "checkpoint.pt"


def check_checkpoint_dir(checkpoint_dir, resume):
    """Validate the ``checkpoint_dir`` / ``resume`` arguments of ``fit``; return them normalised."""
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir: expected a path, got {type(checkpoint_dir).__name__}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume: resuming needs a checkpoint_dir")
    return checkpoint_dir, bool(resume)


def checkpoint_path(checkpoint_dir, create=True):
    """``checkpoint_dir/checkpoint.pt`` (the folder created when ``create``), or None without a folder."""
    if checkpoint_dir is None:
        return None
    d = Path(checkpoint_dir)
    if create:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"checkpoint_dir: cannot create {d}: {exc}") from exc
    return d / FILENAME


def save_checkpoint(path, state):
    """Write ``state`` (a dict) to ``path`` atomically (temp file in the same folder + rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-", suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path, estimator, device):
    """The state dict in ``path``, checked against the estimator class and device type, or None.

    Raises ``ValueError`` naming ``checkpoint_dir`` when the file was written by
    another estimator, or on another device type (CPU and CUDA generator
    states are not interchangeable).
    """
    if path is None or not path.exists():
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    if state.get("estimator") != estimator:
        raise ValueError(f"checkpoint_dir: {path} was written by {state.get('estimator')}, not {estimator}")
    written_on = torch.device(state.get("device", "cpu")).type
    if written_on != torch.device(device).type:
        raise ValueError(f"checkpoint_dir: {path} was written on {written_on}; resume it on {written_on} "
                         f"(device={str(device)!r} now) or start a new fit")
    return state
