"""The estimator template: ``fit``, the hooks, and THE training loop.

Parameter constraints live in :mod:`skising._params`, the named seed
streams in :mod:`skising._seeds`, the torch plumbing and the item-wise
inference skeleton in :mod:`skising._mixins`; this module re-exports them.

Every learned Ising estimator of skising (the generic
:class:`~skising.IsingSubsampler` and the applications) subclasses
:class:`BaseIsingEstimator`, whose ``fit`` is a template method:

1. ``_validate_params()``: the declared ``_parameter_constraints``
   (scikit-learn's ``Interval``/``StrOptions``; every error names the
   parameter), then the device and ``_check_params()`` (the checks that
   involve several parameters or the estimator's own vocabulary);
2. ``_fit_data(X, y, X_val, y_val) -> (items, val_items)``: checks the data
   and sets the data-derived fitted attributes (``n_features_in_``, ...);
3. ``_init_random``: the seed (``random_state`` through
   :func:`~skising._validation.seed_from`, drawn once) and the training
   streams;
4. ``field_model_``: the ``field_model`` parameter, or
   ``_build_field_model()`` when it is None, built under the seed;
5. ``_train(items, val_items)``, the one training loop, with these hooks:

``_collate(items)``           a batch object with at least ``.graph`` (a
                              :class:`~skising.graph.Graph` on the device)
                              and ``.items``
``_field(batch)``             field ``h`` of shape ``(n_nodes,)`` (with grad)
``_task_loss(x, batch)``      detached losses ``(K,)`` or ``(K, n_graphs)``

and optionally ``_couplings(batch)`` (per-edge ``J``),
``_sample_batch(batch, h, J, n_chains, gen)`` and ``_energy_batch`` (e.g.
the convolutional grid path of the segmenter), ``_node_batch(batch)`` (node
-> item index, for the magnetisation penalty), ``_validation_score(val_items)``
for best-model selection;
6. ``_after_train(items, val_items)`` (e.g. a calibration), then ``self``.

The loop samples ``n_samples`` chains from the current field, evaluates the
task loss, and minimises the RLOO surrogate (eq. 15) plus, when
``target_fraction`` is set, ``penalty * (eta_det - eta)^2`` (eq. 16). Under
``torch.distributed`` it trains data-parallel (:mod:`skising.distributed`).

Randomness is an argument, never swapped state: every sampling hook takes
the ``torch.Generator`` it draws from. The streams are named
(:data:`SEED_STREAMS`): training uses the seed; inference derives one
stream per item from the seed and the item's content (:func:`stream_seed`).

Inference is a template too: ``field``, ``sample`` and ``transform`` call
``_predict_items(X) -> (items, single)`` (input checks of a fitted
estimator), then work item by item (``_collate_one``, ``_field``,
``_sample_batch`` with the item's own generator from ``_item_key``;
``_fields`` and ``_transform_items`` may batch or decode differently), and
return numpy arrays: one per item, or one array for a single item
(:class:`ItemInferenceMixin`). The segmenters (image stacks) and the
preconditioner (an operator per matrix) keep their own inference methods,
with the same names and numpy outputs.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning

from ._mixins import ItemInferenceMixin, TorchEstimatorMixin, _to_device  # noqa: F401  (re-exported)
from ._params import _COMMON_CONSTRAINTS, DEVICE, FRACTION, SEED, Int, deprecated_alias  # noqa: F401
from ._seeds import SEED_STREAMS, graph_key, item_key, stream_generator, stream_seed  # noqa: F401
from ._validation import check_device, check_generator, seed_from  # noqa: F401
from .gradients import magnetization_penalty, rloo_surrogate
from .sampling import GraphCouplings
from .sampling._energy import _energy

__all__ = [
    "DEVICE",
    "FRACTION",
    "SEED",
    "SEED_STREAMS",
    "BaseIsingEstimator",
    "Int",
    "ItemInferenceMixin",
    "TorchEstimatorMixin",
    "TrainingDiverged",
    "deprecated_alias",
    "graph_key",
    "item_key",
    "seed_from",
    "stream_generator",
    "stream_seed",
]


class TrainingDiverged(ValueError):
    """Raised when the loss or the field becomes NaN/inf; the last good parameters are kept."""


def _unfreeze_penalty(h, beta, target_fraction, batch=None):
    r""":math:`(\beta \bar h_g - \operatorname{atanh}\eta)^2`, averaged over graphs ``g``.

    The field level at which an uncoupled model keeps the target fraction.
    Unlike eq. 16's :math:`\tanh`, it never saturates, so it still has a
    gradient when the field has driven every sample to the same state.
    """
    eta = min(max(2.0 * float(target_fraction) - 1.0, -0.999), 0.999)
    bh = float(beta) * h
    if batch is None:
        level = bh.mean()[None]
    else:
        n_graphs = int(batch.max()) + 1 if batch.numel() else 1
        level = torch.zeros(n_graphs, dtype=bh.dtype, device=bh.device).index_add_(0, batch, bh)
        level = level / torch.bincount(batch, minlength=n_graphs).clamp(min=1).to(bh.dtype)
    return ((level - math.atanh(eta)) ** 2).mean()


class BaseIsingEstimator(TorchEstimatorMixin, BaseEstimator):
    """Base class: the ``fit`` template, declared parameter constraints and the RLOO training loop (see module doc).

    Subclasses declare their constructor parameters (stored as given, no work
    in ``__init__``), their ``_parameter_constraints`` (merged with the
    common ones) and implement the hooks.
    """

    _parameter_constraints: ClassVar[dict] = dict(_COMMON_CONSTRAINTS)

    # ------------------------------------------------------------ fit (template method)
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, X_val=None, y_val=None, checkpoint_dir=None, resume=False):
        """Train the field model on ``X``.

        Parameters
        ----------
        X : the estimator's training data
            Graphs, PyG graphs, meshes, matrices or images; see the class
            documentation.
        y : optional
            Targets where the estimator has them (the segmenters' masks, the
            explainer's labels); ignored otherwise.
        X_val, y_val : optional
            Validation data of the same kind (``y_val`` only where ``y`` is
            used): after every epoch the estimator's validation score is
            measured on it and the parameters of the best epoch are kept
            (``best_epoch_``).
        checkpoint_dir : str or path, optional
            Write the full training state (model, optimiser, random streams,
            history) atomically to ``checkpoint_dir/checkpoint.pt`` after
            every epoch.
        resume : bool
            Continue from the checkpoint in ``checkpoint_dir`` if there is
            one; the result is identical to an uninterrupted fit with the
            same ``random_state``.

        Returns
        -------
        self
        """
        self._set_checkpointing(checkpoint_dir, resume)
        self._device = check_device(self.device)
        self._fraction = self._target_fraction()
        self._check_params()
        n_epochs = self._fit_epochs = self._max_epochs()
        items, val_items = self._fit_data(X, y, X_val, y_val)
        self._init_random(self._device)
        self.field_model_ = self._make_model(self._build_field_model)
        self._train(items, val_items, epochs=n_epochs)
        self._after_train(items, val_items)
        return self

    # ------------------------------------------------------------ fit hooks
    def _check_params(self):
        """Checks beyond ``_parameter_constraints`` (several parameters together, callables); default none."""

    def _fit_data(self, X, y, X_val, y_val):  # pragma: no cover - every estimator implements it
        """Validated training data -> ``(items, val_items or None)``; sets the data-derived fitted attributes."""
        raise NotImplementedError

    def _no_validation_data(self, X_val, y_val, y=None):
        """Refuse validation data (and ``y``) an estimator has no use for, naming the argument."""
        for name, v in (("X_val", X_val), ("y_val", y_val)):
            if v is not None:
                raise ValueError(f"{name}: {type(self).__name__} has no validation score; fit it without {name}")

    def _build_field_model(self):  # pragma: no cover - every estimator implements it
        """The default field model for the fitted data (when ``field_model`` is None)."""
        raise NotImplementedError

    def _after_train(self, items, val_items):
        """Work after training (e.g. a calibration); default none."""

    # ------------------------------------------------------------ training hooks
    def _couplings(self, batch):
        """Per-edge couplings J of the batch graph (default: coupling x weights)."""
        g = batch.graph
        return float(self.coupling) * g.weight.to(device=self._device, dtype=torch.float32)

    def _sample_batch(self, batch, h, J, n_chains, gen, n_sweeps=None):
        """``n_chains`` samples of the batch from the (detached) field ``h``, drawn from ``gen``."""
        return GraphCouplings(batch.graph, J.detach(), device=h.device).sample(
            h.detach(), n_chains, self.n_sweeps if n_sweeps is None else n_sweeps, float(self.beta),
            getattr(self, "update", "metropolis"), "random", gen,
        )

    def _energy_batch(self, batch, x, h, J):
        """Differentiable energies (K, G) of samples x under field h."""
        return _energy(batch.graph, x, h[None] if h.dim() == 1 else h, J)

    def _node_batch(self, batch):
        """Node -> item index of the batch (for the magnetisation penalty)."""
        return batch.graph.batch

    def _batch_extent(self, batch):
        """``(n_nodes, n_edges)`` of a batch, for the memory check."""
        g = batch.graph
        return int(getattr(g, "num_nodes", 0)), int(getattr(g, "num_edges", 0) or 0)

    def _validation_score(self, items):  # pragma: no cover - optional hook
        raise NotImplementedError

    # ------------------------------------------------------------ loop
    def _penalty_weight(self):
        return float(getattr(self, "penalty", 1.0))

    def _train(self, items, val_items=None, epochs=None):
        """The one RLOO training loop. Fills ``history_`` and ``n_epochs_``.

        Under ``torch.distributed`` it trains data-parallel: items sharded
        over the ranks, per-item sample streams, one gradient all-reduce per
        global batch (see :mod:`skising.distributed._data_parallel`).
        """
        from .distributed._data_parallel import data_parallel, epoch_order, item_seed

        model = self.field_model_
        epochs = int(self.max_epochs if epochs is None else epochs)
        K = int(self.n_samples)
        frac = self._fraction
        bs = int(self.batch_size)
        n = len(items)
        self.history_ = []
        best = (-math.inf, None)
        dp = data_parallel()
        if dp is not None:  # one seed and one starting model on every rank
            seed = dp.broadcast_seed(self._seed)
            if seed != self._seed:
                self._seed, self._torch_gen = seed, check_generator(seed, self._device)
                self._np_rng = np.random.default_rng(seed)
            dp.broadcast_module(model)
        verbose = int(getattr(self, "verbose", 0) or 0) if dp is None or dp.rank == 0 else 0
        pbar = None
        if verbose:
            try:
                from tqdm.auto import tqdm

                pbar = tqdm(total=epochs, desc=type(self).__name__, leave=False)
            except ImportError:  # tqdm is an optional extra
                pbar = None
        ckpt = self._checkpoint_path() if dp is None or dp.rank == 0 else None
        # no optimiser without epochs to run: creating one imports torch._dynamo (about 1.5 s)
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr)) if epochs > 0 or ckpt else None
        start_epoch, best = self._load_checkpoint(ckpt, model, opt, best, dp)
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            order = self._np_rng.permutation(n) if dp is None else epoch_order(self._seed, epoch, n)
            model.train()
            tot, cnt, pen_tot = 0.0, 0, 0.0
            n_batches, n_signal = 0, 0
            for start in range(0, n, bs):
                ids = order[start : start + bs]
                opt.zero_grad(set_to_none=True)
                if dp is None:  # the whole batch, sampled with the estimator's generator
                    groups, weight = [(ids, None)], 1.0
                else:  # this rank's items, each sampled with its own generator
                    groups, weight = [([i], item_seed(self._seed, epoch, i)) for i in dp.shard(ids)], 1.0 / len(ids)
                b_loss, b_cnt, b_pen, b_signal = 0.0, 0, 0.0, 0
                for group, gseed in groups:
                    loss_mean, size, pen, signal = self._train_step(
                        [items[i] for i in group], K, frac, epoch, weight,
                        None if gseed is None else check_generator(gseed, self._device), epoch == start_epoch)
                    b_loss += loss_mean * size
                    b_cnt += size
                    b_pen += pen * weight
                    b_signal = max(b_signal, int(signal))
                if dp is not None:
                    b_loss, b_cnt, b_pen, b_signal = dp.all_reduce_step(model.parameters(),
                                                                        [b_loss, b_cnt, b_pen, b_signal])
                clip = getattr(self, "max_grad_norm", None)  # optional estimator parameter
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), float(clip))
                opt.step()
                self._last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
                n_batches += 1
                n_signal += int(b_signal > 0)
                tot += b_loss
                cnt += int(round(b_cnt))
                pen_tot += b_pen
            rec = {"epoch": epoch, "loss": tot / max(cnt, 1), "penalty": pen_tot, "seconds": time.perf_counter() - t0,
                   "rloo_signal": n_signal / max(n_batches, 1)}
            if val_items is not None:  # every rank scores the same validation items the same way
                model.eval()
                score = float(self._validation_score(val_items))
                rec["val_score"] = score
                if score > best[0]:
                    best = (score, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch)
            self.history_.append(rec)
            if ckpt is not None:
                self._save_checkpoint(ckpt, epoch, opt, best)
            if pbar is not None:
                pbar.update(1)
                pbar.set_postfix(loss=f"{rec['loss']:.4g}")
        if pbar is not None:
            pbar.close()
        if self.history_ and self.history_[-1].get("rloo_signal", 1.0) == 0:
            warnings.warn(
                f"{type(self).__name__}: in the last epoch all n_samples={K} samples of every batch had the same "
                "loss, so the RLOO gradient of the task loss was zero (a frozen sampler: e.g. a saturated field or "
                "a strong coupling; history_[i]['rloo_signal'] shows since when). Lower lr, beta or the coupling, "
                "or raise n_samples.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if val_items is not None and best[1] is not None:
            model.load_state_dict(best[1])
            self.best_epoch_ = best[2]
        if dp is not None:  # bit-identical fitted estimators on every rank
            dp.broadcast_module(model)
        model.eval()
        self.n_epochs_ = epochs
        return self

    def _train_step(self, group, K, frac, epoch, weight, gen, check_memory):
        """Forward, sample, loss and backward of ``weight`` x the objective on one group of items.

        ``gen``: the group's own generator (data-parallel loop), or None for the
        estimator's training stream; it is passed to ``_sample_batch``. Gradients accumulate in the field model; returns
        ``(mean loss, number of items, penalty, whether the K losses differ)``.
        """
        beta = float(self.beta)
        batch = self._collate(group)
        if check_memory:
            self._check_batch_memory(batch, K)
        h = self._field(batch)
        if not torch.isfinite(h.detach()).all():
            self._restore_last_good()
            raise TrainingDiverged(
                f"field_model produced NaN/inf fields at epoch {epoch}; lower lr (now {self.lr}) "
                "or check the input features. The last good parameters were kept."
            )
        J = self._couplings(batch)
        with torch.no_grad():
            x = self._sample_batch(batch, h, J, K, self._torch_gen if gen is None else gen)
        losses = torch.as_tensor(self._task_loss(x, batch)).detach()
        if losses.dim() == 0 or losses.shape[0] != K:
            raise ValueError(
                f"loss: expected a tensor of shape ({K},) or ({K}, n_graphs) (one value per sample), "
                f"got shape {tuple(losses.shape)}"
            )
        if not torch.isfinite(losses).all():
            self._restore_last_good()
            raise TrainingDiverged(
                f"loss returned NaN/inf at epoch {epoch}; the last good parameters were kept"
            )
        # RLOO learns only from differences between the K samples' losses
        signal = bool((losses != losses[:1]).any())
        E = self._energy_batch(batch, x, h, J)
        obj = rloo_surrogate(losses.to(self._device), E, beta)
        pen = torch.zeros((), device=self._device)
        if frac is not None and not signal and self._frozen_penalty_weight() > 0:
            # a frozen sampler (identical samples, no RLOO gradient) under a saturated field:
            # pull the field level back to where samples differ again
            pen = _unfreeze_penalty(h, beta, frac, self._node_batch(batch))
            obj = obj + self._frozen_penalty_weight() * pen
        elif frac is not None and self._penalty_weight() > 0:
            pen = magnetization_penalty(h, beta, frac, self._node_batch(batch))
            obj = obj + self._penalty_weight() * pen
        (obj * weight if weight != 1.0 else obj).backward()
        size = len(batch.items if hasattr(batch, "items") else [0])
        return float(losses.mean()), size, float(pen.detach()), signal

    def _frozen_penalty_weight(self):
        """Weight of :func:`_unfreeze_penalty` for a batch whose samples all had the same loss (default 0)."""
        return 0.0

    def _check_batch_memory(self, batch, K):
        """``MemoryError`` (estimate + parameters to change) before sampling a batch that cannot fit.

        Counts the K chains, the per-edge energy terms kept for the gradient
        (float32) and the task loss's own footprint when the loss declares one
        (``loss.memory_bytes(graph, n_samples)``, see ``_loss_memory_bytes``);
        not the field network's activations: a lower bound.
        """
        from ._validation import check_memory

        n, m = self._batch_extent(batch)
        items = len(getattr(batch, "items", ()) or ())
        loss_bytes = self._loss_memory_bytes(getattr(self, "loss", None), getattr(batch, "graph", None), K)
        what = f"a training batch of {items} item(s) ({n} nodes, {m} edges) with n_samples={K} chains"
        if loss_bytes:
            what += f" and its loss ({loss_bytes / 2**30:.2f} GiB declared by loss.memory_bytes)"
        check_memory(
            4 * K * (6 * n + 3 * m) + loss_bytes,
            what,
            f"reduce batch_size (now {getattr(self, 'batch_size', None)}) or n_samples (now {K})",
            self._device,
        )

    @staticmethod
    def _loss_memory_bytes(loss, graph, n_samples):
        """Bytes a task loss declares for one call on ``graph`` with ``n_samples`` samples (0: none declared).

        A loss may define ``memory_bytes(graph, n_samples) -> int``, an upper
        bound on what one call allocates; it is checked with the chains before
        the first batches are sampled.
        """
        fn = getattr(loss, "memory_bytes", None)
        if not callable(fn):
            return 0
        nbytes = fn(graph, n_samples)
        try:
            nbytes = int(nbytes)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"loss: memory_bytes(graph, n_samples) must return a number of bytes, "
                            f"got {type(nbytes).__name__}") from exc
        if nbytes < 0:
            raise ValueError(f"loss: memory_bytes(graph, n_samples) returned a negative count {nbytes}")
        return nbytes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
