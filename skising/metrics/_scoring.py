"""Scorers built from task losses, for ``cross_val_score`` / ``GridSearchCV``."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["loss_score", "make_loss_scorer"]


def loss_score(loss, graphs, masks):
    """Minus the mean task loss of kept-node ``masks`` on ``graphs`` (higher is better).

    Parameters
    ----------
    loss : callable
        ``loss(x, graph) -> (n_samples,)`` or ``(n_samples, 1)``, ``x`` in {-1, +1}
        (the loss protocol of :class:`~skising.IsingSubsampler`).
    graphs : list of :class:`~skising.graph.Graph`
    masks : list of bool arrays, ``(n_i,)`` or ``(k, n_i)`` per graph

    Returns
    -------
    float
        ``-mean_i mean_k loss(mask_ik, graph_i)``: every graph weighs the same.

    Examples
    --------
    >>> import numpy as np
    >>> from skising.datasets import load_bunny
    >>> from skising.metrics import loss_score
    >>> from skising.subsampling import CoverageLoss
    >>> g = load_bunny()
    >>> every_other = np.arange(g.num_nodes) % 2 == 0
    >>> one = np.zeros(g.num_nodes, dtype=bool); one[0] = True
    >>> bool(loss_score(CoverageLoss(), [g], [every_other]) > loss_score(CoverageLoss(), [g], [one]))
    True
    """
    if len(masks) != len(graphs):
        raise ValueError(f"masks: expected {len(graphs)} masks (one per graph), got {len(masks)}")
    vals = []
    for i, (g, m) in enumerate(zip(graphs, masks)):
        m = np.asarray(m.detach().cpu() if isinstance(m, torch.Tensor) else m, dtype=bool)
        m = m.reshape(-1, g.num_nodes) if m.size % max(g.num_nodes, 1) == 0 else None
        if m is None:
            raise ValueError(f"masks[{i}]: expected {g.num_nodes} entries per mask")
        x = torch.as_tensor(m, dtype=torch.float32) * 2 - 1
        val = torch.as_tensor(loss(x, g)).float()
        if not torch.isfinite(val).all():
            raise ValueError(f"loss: returned NaN/inf on graph {i}")
        vals.append(float(val.mean()))
    return -float(np.mean(vals))


class _LossScorer:
    """``scorer(estimator, X, y=None) -> -mean task loss`` (see :func:`make_loss_scorer`)."""

    def __init__(self, loss, n_samples=1):
        self.loss = loss
        self.n_samples = n_samples

    def __call__(self, estimator, X, y=None):
        from .._validation import check_graphs

        graphs, single = check_graphs(X)
        if self.n_samples == 1:
            masks = estimator.transform(graphs)
        else:
            masks = estimator.sample(graphs, self.n_samples)
        return loss_score(self.loss, graphs, masks)

    def __repr__(self):
        extra = f", n_samples={self.n_samples}" if self.n_samples != 1 else ""
        return f"make_loss_scorer({self.loss!r}{extra})"


def make_loss_scorer(loss, n_samples=1):
    """A scikit-learn scorer from a task loss: minus the mean loss of the subsampler's masks.

    Parameters
    ----------
    loss : callable
        ``loss(x, graph)`` as for :class:`~skising.IsingSubsampler` (lower
        is better); need not be differentiable.
    n_samples : int, default 1
        1 scores what ``transform`` returns; more scores the mean over
        ``estimator.sample(X, n_samples)`` (less noise for random methods).

    Returns
    -------
    callable
        ``scorer(estimator, X, y=None) -> float``, higher is better, for
        ``scoring=`` in :func:`sklearn.model_selection.cross_val_score` and
        :class:`~sklearn.model_selection.GridSearchCV`.

    Examples
    --------
    >>> import networkx as nx
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skising import RandomSubsampler, as_graph
    >>> from skising.metrics import make_loss_scorer
    >>> from skising.subsampling import CoverageLoss
    >>> graphs = [as_graph(nx.random_geometric_graph(60, 0.25, seed=s)) for s in range(4)]
    >>> search = GridSearchCV(RandomSubsampler(random_state=0), {"target_fraction": [0.1, 0.5]},
    ...                       scoring=make_loss_scorer(CoverageLoss()), cv=2).fit(graphs)
    >>> search.best_params_
    {'target_fraction': 0.5}
    """
    from .._validation import check_int, check_loss

    check_loss(loss)
    check_int(n_samples, "n_samples", low=1)
    return _LossScorer(loss, int(n_samples))
