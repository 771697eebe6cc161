"""Shared plumbing of the baseline subsamplers (same contract as IsingSubsampler.transform)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._base import graph_key, seed_from, stream_seed
from .._validation import check_graphs, check_int, check_scalar

__all__ = ["BaseSubsampler"]


class BaseSubsampler(TransformerMixin, BaseEstimator):
    """Base of the non-learned subsamplers.

    Subclasses implement ``_masks(graph, n, rng) -> bool array (n, n_nodes)``
    (``rng``: a numpy Generator) and may override ``_fit(graphs)``.
    ``transform`` is deterministic for a fitted estimator: every graph gets
    its own stream, derived from ``random_state`` and the graph's content
    (:func:`skising._base.stream_seed`), so a graph's mask does not depend
    on the other graphs passed with it; ``sample(X, n)`` gives ``n`` draws.
    """

    def _validate_fraction(self):
        f = check_scalar(self.fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)
        if f >= 1.0:
            raise ValueError(f"fraction: expected a value in (0, 1), got {self.fraction!r}")
        return f

    def _fit(self, graphs):
        pass

    def fit(self, X=None, y=None):
        """Validate parameters (and tune, for subclasses that need it). Returns self."""
        self._validate_fraction()
        self._seed = seed_from(getattr(self, "random_state", None))
        graphs = None if X is None else check_graphs(X)[0]
        self._fit(graphs)
        self.is_fitted_ = True
        return self

    def _n_keep(self, n):
        return int(min(max(round(float(self.fraction) * n), 1), n))

    def sample(self, X, n=1):
        """``n`` kept-node masks per graph: bool array (n, n_nodes) (list for a list input)."""
        check_is_fitted(self, "is_fitted_")
        n = check_int(n, "n", low=1)
        graphs, single = check_graphs(X)
        out = [self._masks(g, n, np.random.default_rng(stream_seed(self._seed, "sample", graph_key(g))))
               for g in graphs]
        return out[0] if single else out

    def transform(self, X):
        """Kept-node mask per graph (bool array, or a list for a list input)."""
        s = self.sample(X, 1)
        return s[0] if isinstance(s, np.ndarray) else [m[0] for m in s]

    def score(self, X, y=None):
        """Minus the mean task loss ``loss`` of the masks :meth:`transform` returns (higher is better).

        ``y`` is ignored. Every graph weighs the same. For a scorer without
        a ``loss`` parameter use :func:`skising.metrics.make_loss_scorer`.
        """
        from ..metrics._scoring import loss_score

        check_is_fitted(self, "is_fitted_")
        if getattr(self, "loss", None) is None:
            raise ValueError("loss: score needs a task loss; pass loss=<callable loss(x, graph)> to the "
                             f"{type(self).__name__}, or scoring=skising.metrics.make_loss_scorer(loss)")
        graphs, _ = check_graphs(X)
        return loss_score(self.loss, graphs, self.transform(graphs))

    @staticmethod
    def _torch_seed(rng):
        return int(rng.integers(0, 2**31 - 1))

    @staticmethod
    def _as_numpy(t):
        return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
