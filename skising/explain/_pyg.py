"""The Ising explainer as a PyG :class:`~torch_geometric.explain.algorithm.ExplainerAlgorithm`."""

from __future__ import annotations

import torch

try:
    from torch_geometric.explain import Explanation
    from torch_geometric.explain.algorithm import ExplainerAlgorithm
    from torch_geometric.explain.config import (
        MaskType,
        ModelMode,
        ModelReturnType,
        ModelTaskLevel,
    )
except ImportError as exc:  # pragma: no cover - torch_geometric is a core dependency
    raise ImportError("skising.explain needs torch_geometric (pip install torch_geometric)") from exc

from ._explainer import IsingGraphExplainer
from ._subgraph import _accepts_num_graphs

__all__ = ["IsingExplainerAlgorithm"]


class _LogitModel(torch.nn.Module):
    """Wraps a PyG-configured model so that it returns logits for the Ising explainer."""

    def __init__(self, model, mode, return_type):
        super().__init__()
        self.model, self.mode, self.return_type = model, mode, return_type

    def forward(self, x, edge_index, batch=None, num_graphs=None, **kwargs):
        if num_graphs is not None and _accepts_num_graphs(self.model):
            kwargs["num_graphs"] = num_graphs
        out = self.model(x, edge_index, batch=batch, **kwargs)
        if num_graphs is not None and out.shape[0] < num_graphs:  # trailing empty graphs: no evidence
            pad = out.new_zeros(num_graphs, out.shape[1])
            pad[: out.shape[0]] = out
            out = pad
        if self.mode == ModelMode.binary_classification:
            out = out.reshape(-1, 1)
            if self.return_type == ModelReturnType.probs:
                out = torch.logit(out.clamp(1e-6, 1 - 1e-6))
            return torch.cat([torch.zeros_like(out), out], dim=1)
        if self.return_type == ModelReturnType.probs:
            return torch.log(out.clamp_min(1e-12))
        return out  # raw logits or log-probabilities (softmax-equivalent)


class IsingExplainerAlgorithm(ExplainerAlgorithm):
    """Ising explainer for :class:`torch_geometric.explain.Explainer` (graph-level classification).

    Two modes:

    * ``estimator`` given and fitted (an :class:`IsingGraphExplainer` trained
      on a dataset, the paper's amortised set-up): its field network explains
      any graph at once;
    * otherwise the algorithm fits a fresh :class:`IsingGraphExplainer` on the
      graph(s) being explained for ``epochs`` epochs (instance-level, like
      GNNExplainer), with ``**params`` passed to it.

    For ``explanation_type="model"`` the explainer reproduces the model's
    prediction; for ``"phenomenon"`` the given ``target`` labels.

    Parameters
    ----------
    estimator : IsingGraphExplainer, optional
    mask : {"probability", "sample_mean", "sample", "field"}, default "probability"
        What ``node_mask`` holds: ``sigmoid(2 beta h)``, the fraction of
        ``n_mask_samples`` Ising samples keeping the node, one binary sample,
        or the raw zero-sum field. ``edge_mask`` (when requested) is the
        product of its endpoints' masks (``"field"``: the minimum).
    n_mask_samples : int, default 32
    epochs : int, default 100
        Epochs of the per-instance fit (no ``estimator``).
    **params
        Other :class:`IsingGraphExplainer` parameters for the per-instance fit.

    Examples
    --------
    >>> import torch
    >>> from torch_geometric.explain import Explainer
    >>> from skising.datasets import make_ba2motifs
    >>> from skising.fields import GINClassifier
    >>> from skising.explain import IsingExplainerAlgorithm
    >>> g = make_ba2motifs(1, random_state=0)[0]
    >>> explainer = Explainer(GINClassifier(10), algorithm=IsingExplainerAlgorithm(epochs=2, random_state=0),
    ...     explanation_type="model", node_mask_type="object", edge_mask_type="object",
    ...     model_config=dict(mode="multiclass_classification", task_level="graph", return_type="raw"))
    >>> e = explainer(g.x, g.edge_index)
    >>> tuple(e.node_mask.shape), e.edge_mask.shape == g.edge_index.shape[1:]
    ((25, 1), True)
    """

    def __init__(self, estimator=None, mask="probability", n_mask_samples=32, epochs=100, **params):
        super().__init__()
        if mask not in ("probability", "sample_mean", "sample", "field"):
            raise ValueError(f"mask: expected 'probability', 'sample_mean', 'sample' or 'field', got {mask!r}")
        if estimator is not None and not isinstance(estimator, IsingGraphExplainer):
            raise TypeError(f"estimator: expected an IsingGraphExplainer, got {type(estimator).__name__}")
        self.estimator = estimator
        self.mask = mask
        self.n_mask_samples = int(n_mask_samples)
        self.epochs = int(epochs)
        self.params = params
        self.last_estimator_ = None

    def supports(self) -> bool:
        cfg, mcfg = self.explainer_config, self.model_config
        if mcfg.task_level != ModelTaskLevel.graph:
            raise ValueError(f"IsingExplainerAlgorithm explains graph-level tasks only, got task_level='{mcfg.task_level.value}'")
        if mcfg.mode == ModelMode.regression:
            raise ValueError("IsingExplainerAlgorithm explains classifiers; mode='regression' is not supported")
        if cfg.node_mask_type != MaskType.object:
            got = None if cfg.node_mask_type is None else cfg.node_mask_type.value
            raise ValueError(f"IsingExplainerAlgorithm selects nodes: it needs node_mask_type='object', got {got!r}")
        if cfg.edge_mask_type not in (None, MaskType.object):
            raise ValueError(f"IsingExplainerAlgorithm derives edge masks from nodes: edge_mask_type must be "
                             f"None or 'object', got '{cfg.edge_mask_type.value}'")
        return True

    def forward(self, model, x, edge_index, *, target, index=None, batch=None, edge_attr=None, **kwargs):
        from torch_geometric.data import Data

        if isinstance(x, dict):
            raise ValueError("IsingExplainerAlgorithm: heterogeneous graphs are not supported")
        if kwargs:
            raise ValueError(f"IsingExplainerAlgorithm: unsupported model arguments {sorted(kwargs)}; "
                             "the model may take batch and edge_attr")
        n = x.shape[0]
        if batch is None:
            batch = torch.zeros(n, dtype=torch.long, device=x.device)
        G = int(batch.max()) + 1
        ebatch = batch[edge_index[0]]
        starts = torch.cumsum(torch.bincount(batch, minlength=G), 0) - torch.bincount(batch, minlength=G)
        graphs = []
        for g in range(G):  # loop over graphs (not nodes)
            nm, em = batch == g, ebatch == g
            d = Data(x=x[nm], edge_index=edge_index[:, em] - starts[g])
            if edge_attr is not None:
                d.edge_attr = edge_attr[em]
            graphs.append(d)
        wrapped = _LogitModel(model, self.model_config.mode, self.model_config.return_type)
        est = self.estimator
        if est is None:
            params = dict(self.params)
            params.setdefault("batch_size", max(G, 1))
            est = IsingGraphExplainer(wrapped, max_epochs=self.epochs, **params)
            y = target.reshape(-1).long().cpu() if self.explainer_config.explanation_type.value == "phenomenon" else None
            if y is not None and y.numel() != G:
                raise ValueError(f"target: expected one class label per graph ({G}), got {y.numel()}")
            est.fit(graphs, y)
            self.last_estimator_ = est
        if self.mask == "sample":
            scores = [(s[0] > 0).float() for s in est._sample_tensors(graphs, 1)]  # torch for PyG
        else:
            scores = est.node_scores(graphs, kind=self.mask, n_samples=self.n_mask_samples)
        s = torch.cat(scores).to(x.device)
        node_mask = s[:, None]
        edge_mask = None
        if self.explainer_config.edge_mask_type == MaskType.object:
            a, b = s[edge_index[0]], s[edge_index[1]]
            edge_mask = torch.minimum(a, b) if self.mask == "field" else a * b
        return Explanation(node_mask=node_mask, edge_mask=edge_mask)
