"""IsingSubsampler: the generic estimator every application builds on."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import StrOptions

from .._base import BaseIsingEstimator, ItemInferenceMixin, graph_key
from .._validation import check_graphs, check_loss
from ..fields import GNNField, graph_edge_index
from ..graph import batch_graphs
from ..sampling._energy import _energy, magnetization_sto
from ..sampling._energy import mean_field as _mean_field
from ._features import default_node_features

__all__ = ["IsingSubsampler"]

_MODES = ("sample", "majority", "mean_field")
_MAGNETIZATION = ("det", "sample")


class _Batch:
    """A mini-batch: the union graph on the device, its features and items."""

    def __init__(self, items, device, index):
        self.items = items
        g = batch_graphs(items)
        self.graph = g.to(device)
        self.graph.data["index"] = list(index)
        self.features = torch.cat([default_node_features(it) for it in items]).to(device)
        self.edge_index = graph_edge_index(self.graph)


class IsingSubsampler(TransformerMixin, ItemInferenceMixin, BaseIsingEstimator):
    r"""Learn which nodes of a graph to keep for any task loss.

    A field network maps node features to an external field :math:`h`; the
    kept nodes are a sample :math:`x \sim p(x) \propto e^{-\beta E(x)}` of the
    Ising model with couplings ``coupling`` on the graph's edges (eq. 1),
    :math:`x_i = +1` meaning "keep node i". The network is trained with the
    REINFORCE leave-one-out estimator (eq. 15) on ``loss`` -- any callable,
    differentiable or not -- plus the magnetisation penalty of eq. 16 that
    steers the kept fraction to ``target_fraction``.

    Parameters
    ----------
    field_model : None, torch.nn.Module subclass or instance
        Called as ``field_model(features, edge_index) -> (n_nodes,)``.
        Default: :class:`skising.fields.GNNField` on the default node
        features (node ``x``, standardised ``pos`` and relative degree).
    loss : callable
        ``loss(x, graph) -> tensor (n_samples,) or (n_samples, n_graphs)``:
        ``x`` is ``(n_samples, n_nodes)`` spins in {-1, +1} of a mini-batch
        ``graph`` (a batched :class:`skising.graph.Graph` on ``device``, with
        ``pos``/``x``/``batch``/``ptr`` and ``graph.data["index"]``, the
        positions of its graphs in the input list). Lower is better.
    coupling : float, default -1.0
        Coupling J (multiplies the edge weights): > 0 ferromagnetic (kept
        nodes cluster), < 0 antiferromagnetic (kept nodes spread out).
    beta : float, default 1.0
        Inverse temperature.
    target_fraction : float in (0, 1) or None, default 0.5
        Fraction of nodes to keep (eta = 2 fraction - 1); None: no penalty.
    penalty : float, default 10.0
        Weight of the magnetisation penalty.
    magnetization : {"det", "sample"}, default "sample"
        ``"det"``: eq. 16, :math:`(\eta_{det} - \eta)^2` with
        :math:`\eta_{det} = \mathrm{mean}\,\tanh(\beta h)` (eq. 12),
        differentiable in h; exact only without coupling. ``"sample"``: adds
        :math:`(\eta_{sto}(x) - \eta)^2` (eq. 13) to every sample's loss and
        lets RLOO handle it, which controls the fraction actually sampled
        under strong couplings. When all samples of a step are identical
        (a field so strong that the sampler is frozen) RLOO has no
        gradient; such steps use the non-saturating penalty
        :math:`(\beta \bar h - \operatorname{atanh}\eta)^2` instead, which
        pulls the field back (``history_[i]["rloo_signal"]`` records it).
    n_samples : int >= 2, default 4
        RLOO samples K per graph and step.
    n_sweeps : int, default 10
        Sweeps of the sampler per sample.
    update : {"metropolis", "heat_bath"}, default "metropolis"
    transform_mode : {"sample", "majority", "mean_field"}, default "sample"
        ``transform`` returns one sample, the majority vote of ``n_samples``
        samples, or the sign of the mean-field magnetisation (eq. 11).
    max_epochs, lr, batch_size : int, float, int, default 150, 5e-3, 16
        Training schedule (Adam).
    device : str, default "cpu"
    random_state : None, int or numpy RandomState/Generator, default None
        Seed of every random stream (see :data:`skising._base.SEED_STREAMS`):
        training uses it directly; ``sample``/``transform``/``score`` derive
        one stream per graph from it and the graph's content.
    verbose : int, default 0
        Progress bar (tqdm) when > 0.

    Notes
    -----
    The defaults are the generic recipe measured best in
    ``benchmarks/results/magnetization.md`` (antiferromagnetic coupling with
    the sampled magnetisation penalty keeps the target fraction; eq. 16's
    deterministic penalty keeps about 45 % for a 20 % target under
    ``coupling=-1``). The paper's generic settings are ``coupling=1.0,
    magnetization="det", penalty=1.0, n_samples=2``.

    Attributes
    ----------
    field_model_ : torch.nn.Module
    n_features_in_ : int
    best_epoch_ : int
        The epoch kept when ``fit`` got validation graphs ``X_val`` (best :meth:`score`).
    history_ : list of dict
        Per epoch: mean task loss, penalty, seconds, and ``rloo_signal``, the
        fraction of batches whose samples had different losses (0 means no
        gradient from the task loss; a ``ConvergenceWarning`` says so).

    Examples
    --------
    >>> import torch
    >>> from skising import IsingSubsampler
    >>> from skising.datasets import load_bunny
    >>> g = load_bunny()
    >>> def loss(x, graph):            # reward keeping the vertices with z > 0
    ...     return -(x * graph.pos[:, 2].sign()).mean(1)
    >>> sub = IsingSubsampler(loss=loss, coupling=0.0, n_samples=8, n_sweeps=2, max_epochs=30,
    ...                       random_state=0).fit([g])
    >>> mask = sub.transform(g)
    >>> bool(g.pos[torch.as_tensor(mask), 2].mean() > g.pos[:, 2].mean())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseIsingEstimator._parameter_constraints,
        "loss": [None, callable],
        "magnetization": [StrOptions(set(_MAGNETIZATION))],
        "transform_mode": [StrOptions(set(_MODES))],
    }

    def __init__(
        self,
        field_model=None,
        loss=None,
        coupling=-1.0,
        beta=1.0,
        target_fraction=0.5,
        penalty=10.0,
        magnetization="sample",
        n_samples=4,
        n_sweeps=10,
        update="metropolis",
        transform_mode="sample",
        max_epochs=150,
        lr=5e-3,
        batch_size=16,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.field_model = field_model
        self.loss = loss
        self.coupling = coupling
        self.beta = beta
        self.target_fraction = target_fraction
        self.penalty = penalty
        self.magnetization = magnetization
        self.n_samples = n_samples
        self.n_sweeps = n_sweeps
        self.update = update
        self.transform_mode = transform_mode
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- hooks
    def _collate(self, items, index=None):
        return _Batch(items, self._device, range(len(items)) if index is None else index)

    def _field(self, batch):
        h = self.field_model_(batch.features, batch.edge_index)
        if h.dim() != 1 or h.shape[0] != batch.graph.num_nodes:
            raise ValueError(
                f"field_model: expected an output of shape ({batch.graph.num_nodes},), got {tuple(h.shape)}"
            )
        return h

    def _task_loss(self, x, batch):
        raw = self.loss(x, batch.graph)
        try:
            if isinstance(raw, torch.Tensor):
                if raw.is_complex():
                    raise TypeError("complex loss")
                out = raw.detach().to(torch.float32)
            else:
                out = torch.as_tensor(np.asarray(raw, dtype=np.float32))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                f"loss: expected a tensor/array of numbers of shape (n_samples,) or (n_samples, n_graphs), "
                f"got {type(raw).__name__}"
            ) from exc
        out = out.to(x.device)
        K = x.shape[0]
        if out.dim() == 0 or out.dim() > 2 or out.shape[0] != K:
            raise ValueError(
                f"loss: expected a tensor of shape ({K},) or ({K}, n_graphs) (one value per sample), "
                f"got shape {tuple(out.shape)}"
            )
        if self.magnetization == "sample" and self.target_fraction is not None:
            eta = 2.0 * float(self.target_fraction) - 1.0
            m = magnetization_sto(x, batch.graph.batch_vector)  # (K, G)
            pen = float(self.penalty) * (m - eta) ** 2
            if out.dim() == 1:
                pen = pen.mean(1)
            elif out.shape != pen.shape:
                raise ValueError(f"loss: expected shape {tuple(pen.shape)} (n_samples, n_graphs), got {tuple(out.shape)}")
            out = out + pen
        return out

    def _penalty_weight(self):
        return float(self.penalty) if self.magnetization == "det" else 0.0

    def _frozen_penalty_weight(self):
        # magnetization="sample" learns the kept fraction from the samples only; when they are
        # all identical (e.g. the field pushed every spin down) that signal is gone, and a
        # non-saturating penalty on the field level pulls the field back
        return float(self.penalty) if self.target_fraction is not None else 0.0

    # ---------------------------------------------------------------- fit hooks
    def _check_params(self):
        check_loss(self.loss)

    def _check_features(self, graphs, name="X"):
        for i, g in enumerate(graphs):
            f = default_node_features(g)
            if f.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"{name}[{i}]: graph has {f.shape[1]} node features (x, pos, degree), the subsampler was "
                    f"fitted with {self.n_features_in_}"
                )

    def _fit_data(self, X, y, X_val, y_val):
        """Graphs ``X`` (one graph or a list; ``y`` ignored); ``X_val``: graphs scored by :meth:`score` after
        every epoch to keep the best one."""
        self._no_validation_data(None, y_val)
        graphs, _ = check_graphs(X)
        feats = [default_node_features(g) for g in graphs]
        nf = {f.shape[1] for f in feats}
        if len(nf) != 1:
            raise ValueError(f"X: graphs have different numbers of node features {sorted(nf)}")
        self.n_features_in_ = nf.pop()
        val = None
        if X_val is not None:
            val = check_graphs(X_val, "X_val")[0]
            self._check_features(val, "X_val")
        return graphs, val

    def _build_field_model(self):
        return GNNField(self.n_features_in_)

    def _validation_score(self, graphs):
        """:meth:`score` on the validation graphs (best-epoch selection)."""
        return self.score(graphs)

    def _batches(self, graphs):
        bs = int(self.batch_size)
        for s in range(0, len(graphs), bs):
            yield self._collate(graphs[s : s + bs], index=range(s, min(s + bs, len(graphs))))

    # ---------------------------------------------------------------- inference hooks
    def _predict_items(self, X):
        self._check_fitted()
        graphs, single = check_graphs(X)
        self._check_features(graphs)
        return graphs, single

    def _item_key(self, graph):
        return graph_key(graph)

    def _collate_one(self, graph, index):
        return self._collate([graph], index=[index])  # graph.data["index"]: its position in the input

    def _fields(self, graphs):
        out = []
        with torch.no_grad():
            for b in self._batches(graphs):
                h = self._field(b).cpu().numpy()
                out.extend(np.split(h, b.graph.ptr[1:-1].cpu().numpy()))
        return out

    def _transform_items(self, graphs):
        """``transform_mode``: one sample, the majority of ``n_samples`` samples, or the mean-field sign."""
        if self.transform_mode == "mean_field":
            out = []
            with torch.no_grad():
                for b in self._batches(graphs):
                    h = self._field(b)
                    m = _mean_field(b.graph, h, self._couplings(b), float(self.beta))
                    out.extend(p.cpu().numpy() for p in torch.tensor_split(m > 0, b.graph.ptr[1:-1].cpu()))
            return out
        k = 1 if self.transform_mode == "sample" else int(self.n_samples)
        return [(x[0] > 0).cpu().numpy() if k == 1 else (x > 0).cpu().numpy().mean(0) > 0.5
                for _, _, x in self._sample_items(graphs, k)]

    # ---------------------------------------------------------------- API (field, sample, transform: see the base)
    def score(self, X, y=None):
        """Minus the mean task loss over graphs (``n_samples`` samples each); higher is better.

        ``y`` is ignored. Every graph is scored on its own random stream, so
        the score of a list is the mean of its graphs' scores.
        """
        graphs, _ = self._predict_items(X)
        vals = []
        for b, _, x in self._sample_items(graphs, int(self.n_samples), "score"):
            loss = torch.as_tensor(self.loss(x, b.graph)).float()
            vals.append(float(loss.mean()))
        return -float(np.mean(vals))

    def energy(self, X, masks):
        """Ising energy of kept-node ``masks`` under the learned field (diagnostic)."""
        graphs, single = self._predict_items(X)
        masks = [masks] if single else masks
        out = []
        with torch.no_grad():
            for g, m in zip(graphs, masks):
                b = self._collate([g])
                x = torch.as_tensor(np.asarray(m), device=self._device).reshape(1, -1).float() * 2 - 1
                out.append(float(_energy(b.graph, x, self._field(b)[None], self._couplings(b))[0, 0]))
        return out[0] if single else out
