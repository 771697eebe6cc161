"""Ready-made task losses for :class:`~skising.IsingSubsampler` (plain callables)."""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["CoverageLoss"]


class CoverageLoss:
    """Importance-weighted distance from every node to its nearest kept node.

    ``loss(x, graph)`` returns, per sample and graph, the weighted mean over
    all nodes *i* of ``min_{j kept} ||pos_i - pos_j||`` divided by the graph's
    RMS radius (scale-free). Node weights are 1 inside the ball
    ``region = (center, radius)`` (in the standardised coordinates of
    :func:`~skising.subsampling.default_node_features`) and ``outside_weight``
    elsewhere; ``region=None`` weighs all nodes equally (plain coverage, the
    k-centre objective FPS is built for). A sample that keeps no node scores
    the graph's diameter (its largest pairwise distance).

    The nearest kept node comes from one k-d tree
    (:class:`scipy.spatial.cKDTree`) over the kept nodes of every sample and
    graph of the batch, each (sample, graph) pair shifted along an extra
    coordinate so that no query crosses pairs: O(n log n) time and O(n)
    memory per sample, on any device (the positions go through the CPU).
    The diameter, needed only for a sample that keeps nothing, is the largest
    distance between the vertices of the convex hull, exact.

    Parameters
    ----------
    region : tuple (center, radius) or None, default None
        Ball of important nodes: ``center`` an array-like of length ``d``
        (the dimension of ``graph.pos``) and ``radius`` a float, both in
        the standardised coordinates. ``None``: all nodes weigh 1.
    outside_weight : float, default 0.1
        Weight (> 0) of the nodes outside ``region`` (unused when
        ``region`` is None).

    Examples
    --------
    >>> import torch
    >>> from skising.subsampling import CoverageLoss
    >>> from skising.datasets import load_bunny
    >>> g = load_bunny()
    >>> x = -torch.ones(2, g.num_nodes); x[0, ::2] = 1; x[1, 0] = 1
    >>> l = CoverageLoss()(x, g)
    >>> tuple(l.shape), bool(l[0, 0] < l[1, 0])
    ((2, 1), True)
    """

    def __init__(self, region=None, outside_weight=0.1):
        self.region = region
        self.outside_weight = outside_weight

    def __repr__(self):
        return f"CoverageLoss(region={self.region!r}, outside_weight={self.outside_weight!r})"

    # ------------------------------------------------------------------ checks
    def _check(self, x, graph):
        if graph.pos is None:
            raise ValueError("graph: CoverageLoss needs node positions (graph.pos)")
        if x.dim() != 2 or x.shape[1] != graph.num_nodes:
            raise ValueError(
                f"x: expected spins of shape (n_samples, {graph.num_nodes}), got {tuple(x.shape)}"
            )
        w = self.outside_weight
        if self.region is not None and (
            not isinstance(w, numbers.Real) or isinstance(w, bool) or not np.isfinite(w) or w <= 0
        ):
            raise ValueError(f"outside_weight: expected a finite number > 0, got {w!r}")
        d = graph.pos.shape[1]
        if self.region is None:
            return None
        try:
            center, radius = self.region
            center = np.asarray(center, dtype=np.float64).reshape(-1)
            radius = float(radius)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"region: expected None or (center, radius), got {self.region!r}") from exc
        if center.shape[0] != d or not np.isfinite(center).all() or not np.isfinite(radius):
            raise ValueError(
                f"region: expected a finite center of length {d} (the dimension of graph.pos) and a finite "
                f"radius, got center of shape {center.shape} and radius {radius!r}"
            )
        return center, radius

    # ------------------------------------------------------------------ compute
    def __call__(self, x, graph):
        x = torch.as_tensor(x)
        region = self._check(x, graph)
        ptr = graph.ptr.cpu().numpy()
        counts = np.diff(ptr)
        G, K = len(counts), int(x.shape[0])
        gid = np.repeat(np.arange(G), counts)
        p = _standardise(graph.pos.detach().cpu().numpy().astype(np.float64), gid, counts)
        if region is None:
            w = np.ones(len(p))
        else:
            inside = np.linalg.norm(p - region[0], axis=1) <= region[1]
            w = np.where(inside, 1.0, float(self.outside_weight))
        kept = (x.detach() > 0).cpu().numpy()
        dist = _nearest_kept_distance(p, gid, kept)  # (K, n), inf where the sample keeps nothing of the graph
        wsum = np.bincount(gid, weights=w, minlength=G)
        out = np.stack([np.bincount(gid, weights=np.where(np.isfinite(dk), dk, 0.0) * w, minlength=G)
                        for dk in dist]) / wsum
        empty = np.stack([np.bincount(gid, weights=kr, minlength=G) for kr in kept]) == 0  # (K, G)
        if empty.any():
            diam = {g: _diameter(p[ptr[g]:ptr[g + 1]]) for g in np.unique(np.nonzero(empty)[1])}
            for k, g in zip(*np.nonzero(empty)):  # loop over the rare empty (sample, graph) pairs
                out[k, g] = diam[g]
        return torch.as_tensor(out, dtype=torch.float32, device=x.device)

    def memory_bytes(self, graph, n_samples):
        """Upper bound on the bytes one call allocates for ``n_samples`` samples of ``graph``.

        Linear in the nodes: float64 positions and weights, the k-d tree over
        (at most) every node of every sample, and one sample's queries and
        distances at a time. See "Writing a loss" in the user guide.
        """
        n, K = int(graph.num_nodes), int(n_samples)
        d = 0 if graph.pos is None else int(graph.pos.shape[1])
        tree = K * n * (8 * (d + 1) + 8) + 2 * K * n * 8  # kept points + index, nodes (<= 2 per point)
        per_sample = n * (8 * (d + 1) + 8 + 8 + 8)  # queries, distances, indices, weighted terms
        return 8 * n * (2 * d + 4) + tree + per_sample + K * n * 9  # + the (K, n) distances and kept mask


def _standardise(pos, gid, counts):
    """Centre every graph on its mean and scale it by its RMS radius (as the node features do)."""
    c = np.stack([np.bincount(gid, weights=col, minlength=len(counts)) for col in pos.T], 1)
    p = pos - (c / np.maximum(counts, 1)[:, None])[gid]
    r = np.sqrt(np.bincount(gid, weights=(p * p).sum(1), minlength=len(counts)) / np.maximum(counts, 1))
    return p / np.maximum(r, 1e-12)[gid, None]


def _nearest_kept_distance(p, gid, kept):
    """Distance from every node to the nearest kept node of its graph, per sample: ``(K, n)`` float64.

    One k-d tree over all kept nodes; each (sample, graph) pair sits at its
    own offset along an extra coordinate, farther from every other pair than
    any distance inside a pair, so a query bounded by half that offset only
    finds nodes of its own pair (and ``inf`` when the pair keeps nothing).
    Same-pair differences along the extra coordinate are exactly 0, so the
    distances are those of ``p`` itself.
    """
    from scipy.spatial import cKDTree

    K, n = kept.shape
    G = int(gid.max()) + 1 if n else 1
    reach = 2.0 * float(np.sqrt((p * p).sum(1).max())) if n else 0.0  # >= every in-graph distance
    gap = 2.0 * reach + 1.0
    dist = np.full((K, n), np.inf)
    ks, nodes = np.nonzero(kept)
    if nodes.size == 0:
        return dist
    pts = np.empty((nodes.size, p.shape[1] + 1))
    pts[:, :-1] = p[nodes]
    pts[:, -1] = (ks * G + gid[nodes]) * gap
    tree = cKDTree(pts, balanced_tree=False, compact_nodes=False)
    workers = max(1, torch.get_num_threads())
    bound = reach + 0.5 * (gap - reach)
    for k in range(K):  # one query per sample keeps the query buffer O(n)
        dist[k, kept[k]] = 0.0  # a kept node is its own nearest kept node
        free = np.flatnonzero(~kept[k])
        q = np.empty((free.size, p.shape[1] + 1))
        q[:, :-1] = p[free]
        q[:, -1] = (k * G + gid[free]) * gap
        dist[k, free] = tree.query(q, k=1, distance_upper_bound=bound, workers=workers)[0]
    return dist


def _diameter(p):
    """Largest pairwise distance of the points ``p`` (n, d), exact.

    The two farthest points are vertices of the convex hull: Qhull in the
    points' affine span (which handles collinear and coplanar sets), then
    the pairwise distances between hull vertices, rows sorted by distance
    to the centroid and skipped once they cannot beat the best pair found.
    """
    from scipy.spatial.distance import cdist

    n = len(p)
    if n < 2:
        return 0.0
    c = p - p.mean(0)
    cand = _hull_vertices(c)
    if cand is None:  # flat: the hull in the affine span
        ev, vec = np.linalg.eigh(c.T @ c)
        r = int((ev > ev.max() * 1e-14).sum())
        cand = _hull_vertices(c @ vec[:, -r:]) if r else np.array([0])
        if cand is None:  # nearly degenerate: every point is a candidate
            cand = np.arange(n)
    rad = np.linalg.norm(c[cand], axis=1)
    order = np.argsort(-rad)
    cand, rad = cand[order], rad[order]
    pc = p[cand]
    best, step = 0.0, max(1, 2**22 // len(cand))
    for s in range(0, len(cand), step):  # chunks of rows: O(len(cand)) memory
        if rad[s] + rad[0] <= best:  # no later row can reach farther
            break
        best = max(best, float(cdist(pc[s:s + step], pc).max()))
    return best


def _hull_vertices(q):
    """Indices of the convex hull's vertices of ``q`` (n, r), or None when Qhull finds it flat."""
    from scipy.spatial import ConvexHull, QhullError

    if q.shape[1] == 1:
        return np.array([q[:, 0].argmin(), q[:, 0].argmax()])
    if len(q) <= q.shape[1]:
        return None
    try:
        return ConvexHull(q).vertices
    except QhullError:
        return None
