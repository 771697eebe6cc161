"""SPECTRAL baseline: polarity of the top Laplacian eigenvector (Shuman et al. 2016)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from sklearn.utils._param_validation import StrOptions

from ._base import BaseSubsampler

__all__ = ["SpectralSubsampler", "top_laplacian_eigenvector"]


def top_laplacian_eigenvector(graph, laplacian="normalized", seed=0):
    """Eigenvector of the largest eigenvalue of the graph Laplacian.

    Parameters
    ----------
    graph : skising.graph.Graph
        The graph (see :func:`~skising.graph.as_graph`). The absolute values
        of its edge weights form the adjacency matrix ``A``; a batched graph
        is treated as one graph.
    laplacian : {"normalized", "combinatorial"}, default "normalized"
        ``"normalized"``: ``I - D^{-1/2} A D^{-1/2}`` (the rows of isolated
        nodes are those of ``I``); ``"combinatorial"``: ``D - A``.
    seed : int, default 0
        Seed of the random start vector of the ARPACK solver
        (:func:`scipy.sparse.linalg.eigsh`); unused for graphs with fewer
        than 3 nodes, which are solved densely.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Unit-norm eigenvector; its sign is arbitrary.

    Raises
    ------
    ValueError
        If ``laplacian`` is not one of the two accepted values.

    Examples
    --------
    >>> import networkx as nx, numpy as np
    >>> from skising.baselines import top_laplacian_eigenvector
    >>> from skising.graph import as_graph
    >>> v = top_laplacian_eigenvector(as_graph(nx.cycle_graph(4)))
    >>> bool(np.all(np.sign(v) == -np.roll(np.sign(v), 1)))   # alternating signs
    True
    """
    A = graph.to_scipy(weighted=True).astype(np.float64)
    A = abs(A)
    d = np.asarray(A.sum(1)).ravel()
    n = graph.num_nodes
    if laplacian == "normalized":
        with np.errstate(divide="ignore"):
            dis = np.where(d > 0, 1.0 / np.sqrt(d), 0.0)
        L = sp.eye(n) - sp.diags(dis) @ A @ sp.diags(dis)
    elif laplacian == "combinatorial":
        L = sp.diags(d) - A
    else:
        raise ValueError(f"laplacian: expected 'normalized' or 'combinatorial', got {laplacian!r}")
    if n < 3:
        w, V = np.linalg.eigh(L.toarray())
        return V[:, -1]
    v0 = np.random.default_rng(seed).standard_normal(n)
    try:
        _, V = spla.eigsh(L.tocsr(), k=1, which="LA", v0=v0, tol=1e-8, maxiter=max(1000, 20 * n))
    except spla.ArpackNoConvergence as exc:  # pragma: no cover - rare
        V = exc.eigenvectors
        if V.size == 0:
            raise
    return V[:, 0]


class SpectralSubsampler(BaseSubsampler):
    """Keep one polarity class of the top Laplacian eigenvector.

    Parameters
    ----------
    target_fraction : float in (0, 1)
        With ``mode="polarity"`` the sign whose kept share is closest to
        ``target_fraction`` is kept (the eigenvector's sign is arbitrary); with
        ``mode="rank"`` the ``round(target_fraction n)`` nodes with the largest
        values of the sign-fixed eigenvector are kept.
    laplacian : {"normalized", "combinatorial"}
        The normalised Laplacian is the default: with ``D - A`` the top
        eigenvector localises on a few high-degree nodes (see PAPER_NOTES).
    mode : {"polarity", "rank"}
    random_state : None, int, numpy RandomState or Generator, default None
        Accepted for API consistency with the other subsamplers; the masks
        are deterministic and do not depend on it.
    loss : callable or None, default None
        Task loss ``loss(x, graph)`` (as for :class:`~skising.IsingSubsampler`)
        used by :meth:`score`; not used to choose the nodes.
    fraction : deprecated
        Former name of ``target_fraction``; setting it warns (``FutureWarning``).

    Examples
    --------
    >>> import networkx as nx
    >>> from skising import SpectralSubsampler
    >>> SpectralSubsampler().fit_transform(nx.cycle_graph(6)).astype(int).tolist() in ([1,0,1,0,1,0],[0,1,0,1,0,1])
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSubsampler._parameter_constraints,
        "laplacian": [StrOptions({"normalized", "combinatorial"})],
        "mode": [StrOptions({"polarity", "rank"})],
    }

    def __init__(self, target_fraction=0.5, laplacian="normalized", mode="polarity", random_state=None, loss=None,
                 fraction="deprecated"):
        self.target_fraction = target_fraction
        self.laplacian = laplacian
        self.mode = mode
        self.random_state = random_state
        self.loss = loss
        self.fraction = fraction

    def _masks(self, graph, n, rng):
        v = top_laplacian_eigenvector(graph, self.laplacian, 0)  # deterministic start vector
        N = graph.num_nodes
        target = float(self._fraction) * N
        # the eigenvector's sign is arbitrary: fix it deterministically
        pos_side, neg_side = (v >= 0).sum(), (v <= 0).sum()
        dp, dn = abs(pos_side - target), abs(neg_side - target)
        if dn < dp or (dn == dp and v[np.argmax(np.abs(v))] < 0):
            v = -v
        if self.mode == "polarity":
            m = v >= 0
        else:
            k = self._n_keep(N)
            m = np.zeros(N, dtype=bool)
            m[np.argsort(-v, kind="stable")[:k]] = True
        return np.repeat(m[None], n, axis=0)
