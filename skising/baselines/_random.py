"""RANDOM baseline: a uniformly random subset of exactly round(fraction n) nodes."""

from __future__ import annotations

import numpy as np

from ._base import BaseSubsampler

__all__ = ["RandomSubsampler"]


class RandomSubsampler(BaseSubsampler):
    """Keep ``round(target_fraction * n)`` nodes chosen uniformly at random.

    Parameters
    ----------
    target_fraction : float in (0, 1), default 0.5
        Share of nodes to keep: every mask keeps exactly
        ``round(target_fraction * n)`` nodes of an ``n``-node graph, clipped to
        ``[1, n]``.
    random_state : None, int, numpy RandomState or Generator, default None
        Seed of the draws, fixed at ``fit``: a fitted estimator returns the
        same masks on every ``transform``/``sample`` call. ``None`` draws a
        fresh seed at each ``fit``.
    loss : callable or None, default None
        Task loss ``loss(x, graph)`` (as for :class:`~skising.IsingSubsampler`)
        used by :meth:`score`; not used to choose the nodes.
    fraction : deprecated
        Former name of ``target_fraction``; setting it warns (``FutureWarning``).

    Examples
    --------
    >>> import networkx as nx
    >>> from skising import RandomSubsampler
    >>> RandomSubsampler(target_fraction=0.25, random_state=0).fit_transform(nx.path_graph(8)).sum()
    np.int64(2)
    """

    def __init__(self, target_fraction=0.5, random_state=None, loss=None, fraction="deprecated"):
        self.target_fraction = target_fraction
        self.random_state = random_state
        self.loss = loss
        self.fraction = fraction

    def _masks(self, graph, n, rng):
        N = graph.num_nodes
        k = self._n_keep(N)
        keys = rng.random((n, N))
        idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
        out = np.zeros((n, N), dtype=bool)
        np.put_along_axis(out, idx, True, axis=1)
        return out
