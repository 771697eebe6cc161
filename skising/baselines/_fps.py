"""FPS baseline: farthest point sampling on node positions."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions

from .._base import Int
from ._base import BaseSubsampler

__all__ = ["FarthestPointSubsampler", "farthest_point_sampling"]


def _fps_torch(pos, k, start):
    """Exact FPS, vectorised over points: k steps of an O(n) torch update."""
    n = pos.shape[0]
    sel = torch.empty(k, dtype=torch.long)
    dist = torch.full((n,), float("inf"), dtype=pos.dtype)
    cur = int(start)
    for i in range(k):  # loop over selected points; each step is vectorised over all nodes
        sel[i] = cur
        dist = torch.minimum(dist, (pos - pos[cur]).pow(2).sum(1))
        cur = int(torch.argmax(dist))
    return sel.numpy()


def farthest_point_sampling(pos, k, start=0, backend="auto"):
    """Indices of ``k`` farthest-point samples of ``pos`` (n, d), starting at ``start``.

    ``backend="auto"`` uses the compiled ``fpsample`` package when installed
    (``pip install skising[fps]``; bucket-KD-tree FPS, exact up to ties) and
    the torch implementation otherwise.

    Parameters
    ----------
    pos : array-like of shape (n, d)
        Point coordinates (converted to float32).
    k : int
        Number of points to select, ``1 <= k <= n``.
    start : int, default 0
        Index of the first selected point; the result always starts with it.
        (``fpsample``'s fast bucket-KD-tree FPS, used for 3-D inputs with
        at least 32 points, reads its ``start_idx`` in its own internal
        point order in fpsample 1.0; when its first point is not ``start``,
        the exact compiled O(n k) ``fpsample.fps_sampling`` is used instead.)
    backend : {"auto", "fpsample", "torch"}, default "auto"
        ``"fpsample"`` requires the ``fpsample`` package (``ImportError``
        otherwise); ``"auto"`` uses it when installed and falls back to
        ``"torch"``.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        Indices into ``pos`` of the selected points.

    Examples
    --------
    >>> import numpy as np
    >>> from skising.baselines import farthest_point_sampling
    >>> sorted(farthest_point_sampling(np.array([[0., 0.], [1., 0.], [10., 0.]]), 2, start=0).tolist())
    [0, 2]
    """
    return _fps(pos, k, start, backend, exact_start=True)


def _fps(pos, k, start, backend, exact_start):
    """FPS; with ``exact_start=False`` the bucket variant may start at another
    point (fpsample maps ``start`` through a permutation of the points, so a
    uniformly random ``start`` still gives a uniformly random first point)."""
    pos = np.ascontiguousarray(np.asarray(pos, dtype=np.float32))
    if backend in ("auto", "fpsample"):
        try:
            import fpsample
        except ImportError:
            if backend == "fpsample":
                raise ImportError("farthest_point_sampling(backend='fpsample') needs `pip install skising[fps]`") from None
        else:
            if pos.shape[1] == 3 and pos.shape[0] >= 32:  # fpsample asserts 2**h <= n
                out = np.asarray(fpsample.bucket_fps_kdline_sampling(pos, k, h=5, start_idx=int(start)), dtype=np.int64)
                if out[0] == int(start) or not exact_start:
                    return out
            return np.asarray(fpsample.fps_sampling(pos, k, start_idx=int(start)), dtype=np.int64)
    return _fps_torch(torch.from_numpy(pos).double(), k, start)


class FarthestPointSubsampler(BaseSubsampler):
    """Keep ``round(target_fraction * n)`` nodes by farthest point sampling on ``graph.pos``.

    Parameters
    ----------
    target_fraction : float in (0, 1)
    start : "random" or int
        First point: random (from ``random_state``) or a fixed node index.
    backend : {"auto", "fpsample", "torch"}
    random_state : None or int
    loss : callable or None, default None
        Task loss ``loss(x, graph)`` (as for :class:`~skising.IsingSubsampler`)
        used by :meth:`score`; not used to choose the nodes.
    fraction : deprecated
        Former name of ``target_fraction``; setting it warns (``FutureWarning``).

    Examples
    --------
    >>> from skising import FarthestPointSubsampler
    >>> from skising.datasets import load_bunny
    >>> FarthestPointSubsampler(target_fraction=0.1, start=0).fit_transform(load_bunny()).sum()
    np.int64(50)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSubsampler._parameter_constraints,
        "start": [StrOptions({"random"}), Int(0)],
        "backend": [StrOptions({"auto", "fpsample", "torch"})],
    }

    def __init__(self, target_fraction=0.5, start="random", backend="auto", random_state=None, loss=None,
                 fraction="deprecated"):
        self.target_fraction = target_fraction
        self.start = start
        self.backend = backend
        self.random_state = random_state
        self.loss = loss
        self.fraction = fraction

    def _masks(self, graph, n, rng):
        if graph.pos is None:
            raise ValueError("X: FarthestPointSubsampler needs node positions (graph.pos / Data.pos / pos=...)")
        N = graph.num_nodes
        k = self._n_keep(N)
        pos = graph.pos.detach().cpu().numpy()
        out = np.zeros((n, N), dtype=bool)
        for r in range(n):  # loop over requested draws, not nodes
            if self.start == "random":
                s = int(rng.integers(N))
            else:
                if self.start >= N:
                    raise ValueError(f"start: node index {self.start} out of range for a graph of {N} nodes")
                s = int(self.start)
            out[r, _fps(pos, k, s, self.backend, exact_start=self.start != "random")] = True
        return out
