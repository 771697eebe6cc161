"""Estimator mixins: torch plumbing (device, seed, model, checkpoints, pickling) and item-wise inference."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import _checkpoint
from ._params import deprecated_alias
from ._seeds import stream_generator
from ._validation import check_generator, check_int, seed_from

__all__ = ["ItemInferenceMixin", "TorchEstimatorMixin"]


def _to_device(obj, device):
    """Tensors and modules in ``obj`` (also inside dicts/lists/tuples) moved to ``device``;
    modules are copied, never moved in place."""
    if isinstance(obj, torch.nn.Module):
        return copy.deepcopy(obj).to(device)
    if isinstance(obj, torch.Tensor):
        return obj.detach().to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


class TorchEstimatorMixin:
    """Device, seed, field-model construction, checkpoints and pickling of a torch-backed estimator.

    Shared by :class:`BaseIsingEstimator` and the plain baselines that train
    a network of their own (:class:`~skising.segment.UNetSegmenter`).
    """

    # ------------------------------------------------------------ randomness
    def _init_random(self, device):
        """Seed -> (torch.Generator on device, numpy Generator) of the ``"train"`` stream, stored on self."""
        self._seed = seed_from(getattr(self, "random_state", None))
        self._torch_gen = check_generator(self._seed, device)
        self._np_rng = np.random.default_rng(self._seed)

    def _make_model(self, factory):
        """Build the field model deterministically from the seed.

        ``self.field_model`` may be None (use ``factory()``), a ``torch.nn.Module``
        class (instantiated without arguments) or an instance (deep-copied, so
        the estimator parameter is never trained in place).
        """
        fm = getattr(self, "field_model", None)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            if fm is None:
                model = factory()
            elif isinstance(fm, type) and issubclass(fm, torch.nn.Module):
                model = fm()
            elif isinstance(fm, torch.nn.Module):
                model = copy.deepcopy(fm)
            else:
                raise TypeError(
                    f"field_model: expected None, a torch.nn.Module subclass or instance, got {type(fm).__name__}"
                )
        return model.to(self._device)

    def _max_epochs(self):
        """``max_epochs``, or the deprecated ``epochs`` when it was set (with a ``FutureWarning``)."""
        return deprecated_alias(self, "max_epochs", "epochs", self.max_epochs)

    def _target_fraction(self):
        """``target_fraction``, or the deprecated ``fraction`` when it was set (with a ``FutureWarning``)."""
        return deprecated_alias(self, "target_fraction", "fraction", getattr(self, "target_fraction", None))

    # ------------------------------------------------------------ checkpoints
    def _set_checkpointing(self, checkpoint_dir=None, resume=False):
        """Enable per-epoch atomic checkpoints in ``checkpoint_dir`` (and resuming); see :mod:`skising._checkpoint`."""
        self._checkpoint_dir, self._resume = _checkpoint.check_checkpoint_dir(checkpoint_dir, resume)

    def _checkpoint_path(self):
        return _checkpoint.checkpoint_path(getattr(self, "_checkpoint_dir", None))

    def _load_checkpoint(self, path, model, opt, best, dp=None):
        """Restore the training state from ``path`` when resuming; return ``(start_epoch, best)``.

        With ``dp`` (data-parallel training), rank 0 reads the file and broadcasts it.
        """
        resume = getattr(self, "_resume", False)
        state = _checkpoint.load_checkpoint(path, type(self).__name__, self._device) if resume else None
        if dp is not None and resume:
            state = _to_device(dp.broadcast_object(None if state is None else _to_device(state, "cpu")), self._device)
        if state is None:
            return 0, best
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        self._torch_gen.set_state(state["torch_gen"].cpu())
        self._np_rng.bit_generator.state = state["np_rng"]
        self.history_ = list(state["history"])
        return int(state["epoch"]) + 1, state["best"]

    def _save_checkpoint(self, path, epoch, opt, best):
        """Write the full training state atomically (temp file + rename)."""
        _checkpoint.save_checkpoint(path, {
            "estimator": type(self).__name__,
            "device": str(self._device),
            "epoch": epoch,
            "model": self.field_model_.state_dict(),
            "optimizer": opt.state_dict(),
            "torch_gen": self._torch_gen.get_state(),
            "np_rng": self._np_rng.bit_generator.state,
            "history": self.history_,
            "best": best,
        })

    def _restore_last_good(self):
        state = getattr(self, "_last_good", None)
        if state is not None:
            self.field_model_.load_state_dict(state)

    # ------------------------------------------------------------ misc
    def _check_fitted(self):
        check_is_fitted(self, "field_model_")

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_last_good", None)
        state.pop("_checkpoint_dir", None)
        state.pop("_resume", None)
        gen = state.pop("_torch_gen", None)
        if gen is not None:  # torch.Generator does not pickle: keep its state
            state["_torch_gen_state"] = (str(gen.device), gen.get_state())
        dev = state.get("_device")
        if dev is not None and torch.device(dev).type != "cpu":
            # tensors and modules are pickled on the CPU, so that a model fitted on
            # CUDA unpickles on a CPU-only machine; __setstate__ moves them back
            state = {k: _to_device(v, "cpu") for k, v in state.items()}
            state["_pickled_device"] = str(dev)
        return state

    def __setstate__(self, state):
        gen_state = state.pop("_torch_gen_state", None)
        dev = state.pop("_pickled_device", None)
        if dev is not None:
            if torch.device(dev).type == "cuda" and not torch.cuda.is_available():
                state["_device"] = torch.device("cpu")  # fitted on CUDA, loaded without one
            else:
                state = {k: _to_device(v, dev) for k, v in state.items()}
        self.__dict__.update(state)
        if gen_state is not None:
            dev, st = gen_state
            if dev.startswith("cuda") and not torch.cuda.is_available():
                dev = "cpu"
                if hasattr(self, "_device"):
                    self._device = torch.device("cpu")
            gen = torch.Generator(device=dev)
            if dev == str(gen_state[0]):
                gen.set_state(st)
            else:
                gen.manual_seed(getattr(self, "_seed", 0))
            self._torch_gen = gen


class ItemInferenceMixin:
    """``field``/``sample``/``transform`` of a fitted :class:`BaseIsingEstimator` whose input is a list of items
    (graphs, PyG graphs, meshes), as template methods over the inference hooks (see :mod:`skising._base`)."""

    def field(self, X):
        """The learned field ``h`` per item: a numpy array, or a list of them for a list input."""
        items, single = self._predict_items(X)
        out = self._fields(items)
        return out[0] if single else out

    def sample(self, X, n_samples=1):
        """``n_samples`` kept-node masks per item, bool ``(n_samples, n_nodes)`` (a list of them for a list input).

        Every item is sampled from its own ``"sample"`` stream, derived from
        ``random_state`` and the item's content, so its samples do not
        depend on the other items passed with it or on its position.
        """
        n_samples = check_int(n_samples, "n_samples", low=1)
        items, single = self._predict_items(X)
        out = [(x > 0).cpu().numpy() for _, _, x in self._sample_items(items, n_samples)]
        return out[0] if single else out

    def transform(self, X):
        """Kept-node mask per item (bool numpy array, or a list of them for a list input)."""
        items, single = self._predict_items(X)
        out = self._transform_items(items)
        return out[0] if single else out

    # ------------------------------------------------------------ inference hooks
    def _predict_items(self, X):  # pragma: no cover - every estimator with the skeleton implements it
        """Checked input of a fitted estimator -> ``(items, single)`` (``single``: one item, not a list, was given)."""
        raise NotImplementedError

    def _item_key(self, item):  # pragma: no cover
        """Content key of one item (:func:`item_key`), which seeds its inference streams."""
        raise NotImplementedError

    def _collate_one(self, item, index):
        """The batch of one item at position ``index`` of the input (default: ``_collate([item])``)."""
        return self._collate([item])

    def _fields(self, items):
        """Numpy field per item (default: one item at a time)."""
        with torch.no_grad():
            return [self._field(self._collate_one(it, i)).cpu().numpy() for i, it in enumerate(items)]

    def _sample_items(self, items, n_samples, stream="sample", seed=None):
        """Yield ``(batch, h, x)`` per item: ``x`` (n_samples, n_nodes) spins from the item's own ``stream``
        (see :data:`SEED_STREAMS`; ``seed``: another seed than the estimator's)."""
        seed = self._seed if seed is None else seed
        with torch.no_grad():
            for i, it in enumerate(items):
                b = self._collate_one(it, i)
                h = self._field(b)
                gen = stream_generator(seed, stream, self._device, self._item_key(it))
                yield b, h, self._sample_batch(b, h, self._couplings(b), n_samples, gen)

    def _transform_items(self, items):
        """Mask per item (default: one sample from its ``"sample"`` stream)."""
        return [(x[0] > 0).cpu().numpy() for _, _, x in self._sample_items(items, 1)]
