"""IsingGraphExplainer: explanations of GNN graph classifiers by Ising sampling.

The field network predicts one external field value per node; an Ising
model with ferromagnetic couplings on the graph's edges (``J > 0``, so kept
nodes clump into connected pieces) samples the nodes to keep (+1). The task
loss is the cross-entropy between the classifier's prediction on the whole
graph and on the induced subgraph of the kept nodes (eq. 20); it is not
differentiable and is trained with RLOO through the shared training loop of
:class:`skising._base.BaseIsingEstimator`. The field is zero-sum per graph
(``h - mean_g(h)``), which keeps the explainer from keeping everything.

Subgraph prediction deletes nodes: the dropped nodes and all their edges
are removed from the input before the classifier runs (they do not count in
mean pooling), which is the paper's meaning of "the kept subgraph" (PyG's
masking metrics instead multiply features and messages by the mask).
"""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import BaseIsingEstimator, ItemInferenceMixin
from ..fields._gin import GINField
from ..graph import as_graph, batch_graphs
from ..sampling._coloring import color_graph
from ._data import _as_data_list, _without_edge_attr
from ._subgraph import _accepts_edge_attr, _induced_logits

__all__ = ["IsingGraphExplainer"]


class _Batch:
    """What the training loop sees: ``.graph`` (skising), ``.items`` and the PyG batch."""

    def __init__(self, graph, items, pyg, target):
        self.graph, self.items, self.pyg, self.target = graph, items, pyg, target


class IsingGraphExplainer(TransformerMixin, ItemInferenceMixin, BaseIsingEstimator):
    """Explain a GNN graph classifier with a learned Ising model (paper Sec. 4.2).

    A field network (default: the classifier's architecture without pooling,
    3-layer GIN, or GINE when the graphs have ``edge_attr``; hidden 64)
    predicts a zero-sum external field ``h`` per node. Ising samples with
    ferromagnetic coupling pick the kept nodes, and the field network is
    trained (RLOO, ``n_samples`` samples per graph in one batched forward
    pass of the classifier) to minimise the cross-entropy between the
    classifier's prediction on the whole graph and on the induced subgraph of
    the kept nodes (dropped nodes and their edges deleted).

    Parameters
    ----------
    model : torch.nn.Module
        The trained classifier, ``model(x, edge_index, batch=..., [edge_attr=...])
        -> logits (n_graphs, n_classes)``. It is not modified.
    field_model : None, torch.nn.Module class or instance
        Maps ``(x, edge_index[, edge_attr])`` to ``(n,)``. None:
        :class:`~skising.fields.GINField` (3 layers, hidden 64) with
        BatchNorm in its MLPs (``norm=True``, as GIN's reference code).
    coupling : float, default 1.0
        Ferromagnetic coupling ``J`` (> 0) on every edge.
    beta : float, default 1.0
    n_samples : int, default 4
        Samples per graph and step (RLOO needs >= 2).
    n_sweeps : int, default 10
    update : {"metropolis", "heat_bath"}
    max_epochs : int, default 100
    lr : float, default 1e-3
    batch_size : int, default 64
    target_fraction : float or None, default None
        Optional magnetisation penalty towards this kept fraction (eq. 16);
        the paper's explainer uses only the zero-sum field.
    penalty : float, default 1.0
    loss_target : {"soft", "hard"}, default "hard"
        Cross-entropy against the classifier's predicted class / the given
        ``y`` (``"hard"``) or its probabilities on the whole graph
        (``"soft"``, the paper's). With ``"soft"`` a graph the classifier is
        unsure of (p = 0.6) penalises explanations that make it surer
        (p = 0.98); for a confident classifier the two are the same.
    sparsity : float, default 2.0
        Weight of the kept fraction of each sample added to its task loss
        (``loss = CE + sparsity * kept_fraction``; through RLOO like the
        cross-entropy). 0 is the paper's loss; a positive value keeps
        pushing unneeded nodes out once the cross-entropy is saturated
        (see ``doc/defaults.md``).
    use_edge_attr : {"auto", True, False}, default "auto"
        Edge features: ``"auto"`` uses ``edge_attr`` (GINE field, and
        passed to ``model``) when the training graphs carry it and
        ``model.forward`` takes an ``edge_attr`` argument, and ignores it
        otherwise; ``True`` requires both; ``False`` ignores edge features
        everywhere (the classifier is called without ``edge_attr``). After
        ``fit``, graphs must carry ``edge_attr`` exactly when the explainer
        uses it (``uses_edge_attr_``), unless ``use_edge_attr=False``.
    device : str, default "cpu"
    random_state : None, int or numpy RandomState/Generator
        Seed of every random stream: training uses it directly; ``sample``
        and ``transform`` derive one stream per graph from it and the
        graph's content, so a graph's explanation does not depend on the
        other graphs passed with it or on its position.
    verbose : int, default 0
    epochs : deprecated
        Former name of ``max_epochs``; setting it warns (``FutureWarning``).

    Attributes
    ----------
    field_model_ : torch.nn.Module
    history_ : list of dict
    n_features_in_ : int
    uses_edge_attr_ : bool
        Whether the fitted explainer (field network and classifier calls)
        uses the graphs' ``edge_attr``.

    Examples
    --------
    >>> import torch
    >>> from skising.datasets import make_ba2motifs
    >>> from skising.fields import GINClassifier
    >>> from skising.explain import IsingGraphExplainer
    >>> ds = make_ba2motifs(8, random_state=0)
    >>> ex = IsingGraphExplainer(GINClassifier(10), max_epochs=1, random_state=0).fit(ds)
    >>> masks = ex.transform(ds[:2])
    >>> masks[0].shape, masks[0].dtype
    ((25,), dtype('bool'))
    >>> h = ex.field(ds[:1])[0]
    >>> bool(abs(float(h.sum())) < 1e-4)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseIsingEstimator._parameter_constraints,
        "model": [torch.nn.Module],
        "coupling": [Interval(Real, 0, None, closed="neither")],
        "loss_target": [StrOptions({"soft", "hard"})],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "use_edge_attr": ["boolean", StrOptions({"auto"})],
    }

    def __init__(self, model, field_model=None, coupling=1.0, beta=1.0, n_samples=4, n_sweeps=10,
                 update="metropolis", max_epochs=100, lr=1e-3, batch_size=64, target_fraction=None, penalty=1.0,
                 loss_target="hard", sparsity=2.0, use_edge_attr="auto", device="cpu", random_state=None, verbose=0,
                 epochs="deprecated"):
        self.model = model
        self.field_model = field_model
        self.coupling = coupling
        self.beta = beta
        self.n_samples = n_samples
        self.n_sweeps = n_sweeps
        self.update = update
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.target_fraction = target_fraction
        self.penalty = penalty
        self.loss_target = loss_target
        self.sparsity = sparsity
        self.use_edge_attr = use_edge_attr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.epochs = epochs

    # ------------------------------------------------------------ data
    def _decide_edge_attr(self, data):
        """At ``fit``: whether to use the graphs' ``edge_attr`` (see ``use_edge_attr``)."""
        has = [getattr(d, "edge_attr", None) is not None for d in data]
        if self.use_edge_attr is False:
            return False
        if any(has) and not all(has):
            i = has.index(False)
            raise ValueError(f"X[{i}].edge_attr: missing, while other graphs carry edge_attr; give every graph "
                             "edge features or none (or pass use_edge_attr=False to ignore them)")
        takes = _accepts_edge_attr(self.model)
        if self.use_edge_attr is True:
            if not all(has):
                raise ValueError("use_edge_attr=True: the graphs carry no edge_attr")
            if not takes:
                raise ValueError("use_edge_attr=True: model.forward takes no edge_attr argument")
            return True
        return bool(has and all(has) and takes)

    def _data_list(self, X, name="X"):
        """Validated PyG graphs, with ``edge_attr`` as at fit time (stripped where unused)."""
        data = _as_data_list(X, name)
        out = []
        for i, d in enumerate(data):
            has = getattr(d, "edge_attr", None) is not None
            if self.uses_edge_attr_:
                if not has:
                    raise ValueError(f"{name}[{i}].edge_attr: missing, but the explainer was fitted with edge "
                                     f"features (edge_attr of width {self._edge_dim}); pass graphs with edge_attr "
                                     "or refit with use_edge_attr=False")
                ea = d.edge_attr
                width = int(ea.shape[1]) if ea.dim() == 2 else 1
                if width != self._edge_dim:
                    raise ValueError(f"{name}[{i}].edge_attr: {width} edge features, the explainer was fitted "
                                     f"with {self._edge_dim}")
            elif has:
                if self.use_edge_attr == "auto" and not self._fit_had_edge_attr:
                    raise ValueError(f"{name}[{i}].edge_attr: present, but the explainer was fitted on graphs "
                                     "without edge features; pass graphs without edge_attr, or set "
                                     "use_edge_attr=False to ignore edge features")
                d = _without_edge_attr(d)
            out.append(d)
        return out

    def _model_kwargs(self, pyg):
        return {"edge_attr": pyg.edge_attr} if self._edge_dim is not None else {}

    def _prepare(self, X, y=None):
        data = self._data_list(X)
        for i, d in enumerate(data):
            if d.x.shape[1] != self.n_features_in_:
                raise ValueError(f"X: graph {i} has {d.x.shape[1]} node features, expected {self.n_features_in_}")
        items = []
        for i, d in enumerate(data):
            g = as_graph(d.edge_index.cpu(), num_nodes=int(d.num_nodes), name=f"X[{i}]")
            color_graph(g, "auto")  # cached on g, concatenated by batch_graphs
            items.append({"data": d, "graph": g, "key": self._data_key(d)})
        # targets: the classifier's probabilities on the whole graphs (or given labels)
        from ._classifier import predict_proba

        try:
            probs = predict_proba(self.model, data, device=self._device)
        except (RuntimeError, IndexError) as exc:  # shape mismatch inside the user's classifier
            raise ValueError(f"X: the classifier `model` fails on these graphs ({exc})") from exc
        if y is not None:
            ya = np.asarray(y)
            if ya.dtype.kind not in "biuf" or (ya.dtype.kind == "f" and not np.array_equal(ya, np.round(ya))):
                raise TypeError(f"y: expected integer class labels, got {ya.dtype} values")
            y = torch.as_tensor(ya).long().reshape(-1)
            if y.numel() != len(data):
                raise ValueError(f"y: expected {len(data)} labels (one per graph), got {y.numel()}")
            if y.numel() and (int(y.min()) < 0 or int(y.max()) >= probs.shape[1]):
                raise ValueError(f"y: labels must lie in [0, {probs.shape[1]}) (the classifier's classes), "
                                 f"got {int(y.min())}..{int(y.max())}")
            tgt = torch.nn.functional.one_hot(y, probs.shape[1]).float()
        elif self.loss_target == "hard":
            tgt = torch.nn.functional.one_hot(probs.argmax(1), probs.shape[1]).float()
        else:
            tgt = probs
        for it, t in zip(items, tgt):
            it["target"] = t
        return items

    def _collate(self, items):
        from torch_geometric.data import Batch

        pyg = Batch.from_data_list([it["data"] for it in items]).to(self._device)
        graph = batch_graphs([it["graph"] for it in items]).to(self._device)
        target = torch.stack([it["target"] for it in items]).to(self._device)
        return _Batch(graph, items, pyg, target)

    # ------------------------------------------------------------ hooks
    def _field(self, batch):
        pyg = batch.pyg
        args = (pyg.x, pyg.edge_index) + ((pyg.edge_attr,) if self._edge_dim is not None else ())
        h = self.field_model_(*args).reshape(-1)
        G = batch.graph.num_graphs
        b = batch.graph.batch_vector
        mean = torch.zeros(G, device=h.device, dtype=h.dtype).index_add(0, b, h)
        mean = mean / torch.bincount(b, minlength=G).to(h.dtype)
        return h - mean[b]

    @torch.no_grad()
    def _task_loss(self, x, batch):
        pyg = batch.pyg
        logits = _induced_logits(self.model, pyg.x, pyg.edge_index, pyg.batch, batch.graph.num_graphs, x > 0,
                                 getattr(pyg, "edge_attr", None) if self._edge_dim is not None else None)
        logp = torch.log_softmax(logits.float(), -1)
        loss = -(batch.target[None] * logp).sum(-1)  # (K, G)
        if self.sparsity:
            g = batch.graph
            kept = torch.zeros(x.shape[0], g.num_graphs, device=x.device, dtype=torch.float32)
            kept.index_add_(1, g.batch_vector, (x > 0).float())
            loss = loss + float(self.sparsity) * kept / torch.bincount(g.batch_vector, minlength=g.num_graphs)
        return loss

    # ------------------------------------------------------------ fit hooks
    def _fit_data(self, X, y, X_val, y_val):
        """PyG graphs ``X`` (a list, Batch or Dataset) and optional labels ``y`` to explain (phenomenon;
        default: the classifier's predictions, explaining the model)."""
        self._no_validation_data(X_val, y_val)
        data = _as_data_list(X)
        self.n_features_in_ = int(data[0].x.shape[1])
        self._fit_had_edge_attr = getattr(data[0], "edge_attr", None) is not None
        self.uses_edge_attr_ = self._decide_edge_attr(data)
        ea = data[0].edge_attr if self.uses_edge_attr_ else None
        self._edge_dim = (int(ea.shape[1]) if ea.dim() == 2 else 1) if ea is not None else None
        self.model.to(self._device).eval()
        items = self._prepare(data, y)
        # a one-node graph has the zero-sum field h = 0: nothing to learn from it,
        # and alone in a batch it would break the field network's batch norm
        items = [it for it in items if it["graph"].num_nodes > 1]
        if not items:
            raise ValueError("X: every graph has a single node; there is nothing to explain")
        return items, None

    def _build_field_model(self):
        # BatchNorm in the GIN MLPs: without it, sum aggregation on constant
        # features gives hubs large |h| from the random initialisation, and once
        # the loss saturates nothing moves them, so they outrank the motif.
        return GINField(self.n_features_in_, 64, 3, self._edge_dim, norm=True)

    def _data_key(self, d):
        from .._base import item_key

        return item_key(d.x, d.edge_index, getattr(d, "edge_attr", None) if self.uses_edge_attr_ else None)

    # ------------------------------------------------------------ inference hooks (field/transform: see the base)
    def _predict_items(self, X):
        """Checked graphs of a fitted explainer; the outputs are always lists (one entry per graph)."""
        self._check_fitted()
        items = []
        for i, d in enumerate(self._data_list(X)):
            if d.x.shape[1] != self.n_features_in_:
                raise ValueError(f"X: graph {i} has {d.x.shape[1]} node features, the explainer was fitted on "
                                 f"{self.n_features_in_}")
            g = as_graph(d.edge_index.cpu(), num_nodes=int(d.num_nodes), name=f"X[{i}]")
            color_graph(g, "auto")
            items.append({"data": d, "graph": g, "target": torch.zeros(1), "key": self._data_key(d)})
        self.field_model_.eval()
        return items, False

    def _item_key(self, item):
        return item["key"]

    def _fields(self, items):
        return [h.numpy() for h in self._field_tensors(items)]

    @torch.no_grad()
    def _field_tensors(self, items):
        """Zero-sum fields of checked items as CPU tensors, batched (for :meth:`node_scores` and :meth:`explain`)."""
        out = []
        bs = max(int(self.batch_size), 1)
        for s in range(0, len(items), bs):
            batch = self._collate(items[s : s + bs])
            h = self._field(batch).cpu()
            out.extend(h[a:b] for a, b in batch.graph.subgraph_slices())
        return out

    def sample(self, X, n_samples=1, random_state=None):
        """Ising samples from the learned fields: a list of ``(n_samples, n_i)`` bool numpy arrays (True = kept).

        Every graph is sampled from its own stream, derived from
        ``random_state`` (default: the estimator's) and the graph's content.
        """
        return [(s > 0).numpy() for s in self._sample_tensors(X, n_samples, random_state)]

    def _sample_tensors(self, X, n_samples=1, random_state=None):
        """:meth:`sample` as ±1 CPU tensors (for :meth:`node_scores`)."""
        from .._validation import check_int, seed_from

        n_samples = check_int(n_samples, "n_samples", low=1)
        items, _ = self._predict_items(X)
        seed = None if random_state is None else seed_from(random_state)
        return [x.cpu() for _, _, x in self._sample_items(items, n_samples, seed=seed)]

    def node_scores(self, X, kind="field", n_samples=32, random_state=None):
        """Node importance per graph: ``"field"`` (h), ``"probability"`` (sigmoid(2 beta h),
        the single-spin keep probability) or ``"sample_mean"`` (fraction of
        ``n_samples`` samples that keep the node): a list of ``(n_i,)`` torch
        tensors, as PyG's explanation metrics take them."""
        if kind == "field":
            return self._field_tensors(self._predict_items(X)[0])
        if kind == "probability":
            return [torch.sigmoid(2.0 * float(self.beta) * h) for h in self._field_tensors(self._predict_items(X)[0])]
        if kind == "sample_mean":
            return [(s > 0).float().mean(0) for s in self._sample_tensors(X, n_samples, random_state)]
        raise ValueError(f"kind: expected 'field', 'probability' or 'sample_mean', got {kind!r}")

    def explain(self, graph, kind="probability", n_samples=32):
        """A :class:`torch_geometric.explain.Explanation` for one graph.

        ``node_mask`` (n, 1) holds :meth:`node_scores` of ``kind`` (``"sample"``
        gives one binary sample); ``edge_mask`` (E,) the product of its
        endpoints' scores (for ``"field"``: the smaller of the two).
        """
        from torch_geometric.explain import Explanation

        if kind == "sample":
            s = (self._sample_tensors([graph], 1)[0][0] > 0).float()
        else:
            s = self.node_scores([graph], kind=kind, n_samples=n_samples)[0]
        ei = graph.edge_index.cpu()
        em = torch.minimum(s[ei[0]], s[ei[1]]) if kind == "field" else s[ei[0]] * s[ei[1]]
        return Explanation(node_mask=s[:, None], edge_mask=em, x=graph.x, edge_index=graph.edge_index)
