"""Shared plumbing of the baseline subsamplers (same contract as IsingSubsampler.transform)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Hidden, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base import FRACTION, SEED, deprecated_alias, graph_key, seed_from, stream_seed
from .._validation import check_graphs, check_int

__all__ = ["BaseSubsampler"]


class BaseSubsampler(TransformerMixin, BaseEstimator):
    """Base of the non-learned subsamplers.

    Subclasses implement ``_masks(graph, n, rng) -> bool array (n, n_nodes)``
    (``rng``: a numpy Generator) and may override ``_fit(graphs)``.
    ``transform`` is deterministic for a fitted estimator: every graph gets
    its own stream, derived from ``random_state`` and the graph's content
    (:func:`skising._base.stream_seed`), so a graph's mask does not depend
    on the other graphs passed with it; ``sample(X, n_samples)`` gives ``n_samples`` draws.

    Parameters are validated by ``_parameter_constraints`` (scikit-learn's
    declared constraints); ``fraction`` is the deprecated former name of
    ``target_fraction`` (setting it warns, ``FutureWarning``).
    """

    _parameter_constraints: ClassVar[dict] = {
        "target_fraction": [FRACTION],
        "fraction": [FRACTION, Hidden(StrOptions({"deprecated"}))],
        "random_state": SEED,
        "loss": [None, callable],
    }

    def _fit(self, graphs):
        pass

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Validate parameters (and tune, for subclasses that need it). Returns self."""
        self._fraction = deprecated_alias(self, "target_fraction", "fraction", self.target_fraction)
        self._seed = seed_from(getattr(self, "random_state", None))
        graphs = None if X is None else check_graphs(X)[0]
        self._fit(graphs)
        self.is_fitted_ = True
        return self

    def _n_keep(self, n):
        return int(min(max(round(float(self._fraction) * n), 1), n))

    def sample(self, X, n_samples=1):
        """``n_samples`` kept-node masks per graph: bool array (n_samples, n_nodes) (list for a list input)."""
        check_is_fitted(self, "is_fitted_")
        n_samples = check_int(n_samples, "n_samples", low=1)
        graphs, single = check_graphs(X)
        out = [self._masks(g, n_samples, np.random.default_rng(stream_seed(self._seed, "sample", graph_key(g))))
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
