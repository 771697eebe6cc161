"""Mesh coarsening by collapsing removed vertices onto kept ones (Appendix E)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..datasets._mesh_io import mesh_edges
from ._mesh import as_mesh

__all__ = ["coarsen_mesh"]


def _unique_rows_first(keys):
    """Indices of the first occurrence of every distinct key, in original order."""
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)


def _collapse_targets(V, F, keep, edges=None):
    """Kernel: for every vertex the kept vertex it collapses onto (-1: none).

    Kept vertices map to themselves; a removed vertex goes to its nearest
    kept 1-ring neighbour (Euclidean edge length); a removed vertex without
    a kept neighbour goes to its nearest kept vertex along mesh edges
    (multi-source Dijkstra); vertices in a component without any kept
    vertex get -1.
    """
    n = len(V)
    if edges is None:
        edges = mesh_edges(F)
    u, v = edges
    length = np.linalg.norm(V[u] - V[v], axis=1)
    target = np.full(n, -1, dtype=np.int64)
    target[keep] = np.flatnonzero(keep)
    # directed half-edges removed -> kept
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    ln = np.concatenate([length, length])
    sel = ~keep[src] & keep[dst]
    src, dst, ln = src[sel], dst[sel], ln[sel]
    if src.size:
        order = np.lexsort((ln, src))  # by src, then length
        src_o = src[order]
        first = np.flatnonzero(np.r_[True, src_o[1:] != src_o[:-1]])
        target[src_o[first]] = dst[order][first]
    orphans = np.flatnonzero(target < 0)
    if orphans.size and keep.any():
        G = sp.coo_matrix((length, (u, v)), shape=(n, n)).tocsr()
        _, _, sources = dijkstra(
            G, directed=False, indices=np.flatnonzero(keep), min_only=True, return_predecessors=True
        )
        s = sources[orphans]
        ok = s >= 0
        target[orphans[ok]] = s[ok]
    return target


def _coarsen(V, F, keep, edges=None):
    """Kernel: trusts ``keep`` (bool (n,)) and the mesh. Returns (Vc, Fc, target)."""
    n = len(V)
    target = _collapse_targets(V, F, keep, edges)
    new_index = np.full(n + 1, -1, dtype=np.int64)  # slot n catches target == -1
    new_index[:n][keep] = np.arange(int(keep.sum()))
    Fm = new_index[np.where(target < 0, n, target)[F]]
    valid = (Fm >= 0).all(1)
    valid &= (Fm[:, 0] != Fm[:, 1]) & (Fm[:, 1] != Fm[:, 2]) & (Fm[:, 0] != Fm[:, 2])
    Fm = Fm[valid]
    nc = int(keep.sum())
    if len(Fm):
        s = np.sort(Fm, axis=1)
        if nc < 2_000_000:
            keys = (s[:, 0] * nc + s[:, 1]) * nc + s[:, 2]
            Fm = Fm[_unique_rows_first(keys)]
        else:  # pragma: no cover - huge meshes
            _, first = np.unique(s, axis=0, return_index=True)
            Fm = Fm[np.sort(first)]
    return V[keep], Fm.reshape(-1, 3), target


def coarsen_mesh(mesh, keep, return_mapping=False):
    """Coarsen a triangle mesh to the kept vertices, positions fixed.

    Every removed vertex is collapsed onto its nearest kept 1-ring neighbour
    (a removed vertex without kept neighbours goes to its nearest kept vertex
    along the mesh edges); faces are re-indexed, and faces that became
    degenerate (a repeated vertex) or duplicate (same vertex set as an earlier
    face) are dropped. Fully vectorised.

    Parameters
    ----------
    mesh : mesh input
        A ``(vertices, faces)`` pair, an ``.off`` path, or a skising Graph
        with ``pos`` and ``data["faces"]`` (see :func:`~skising.datasets.load_psb`).
    keep : bool array of shape (n_vertices,), or spins in {-1, +1}
        The kept vertices (+1 / True).
    return_mapping : bool, default=False
        Also return, for every original vertex, the index (into the coarse
        vertices) it was collapsed onto (-1 when its component kept nothing).

    Returns
    -------
    vertices : ndarray (n_kept, 3)
    faces : ndarray (n_coarse_faces, 3)
    mapping : ndarray (n_vertices,), only with ``return_mapping=True``

    Examples
    --------
    >>> import numpy as np
    >>> from skising.datasets import load_bunny
    >>> from skising.sparsify import coarsen_mesh
    >>> g = load_bunny()
    >>> keep = np.arange(g.num_nodes) % 2 == 0
    >>> Vc, Fc = coarsen_mesh(g, keep)
    >>> Vc.shape, bool((Fc[:, 0] != Fc[:, 1]).all())
    ((251, 3), True)
    """
    V, F = as_mesh(mesh)
    k = np.asarray(keep.detach().cpu().numpy() if hasattr(keep, "detach") else keep)
    if k.shape != (len(V),):
        raise ValueError(f"keep: expected shape ({len(V)},), got {k.shape}")
    if k.dtype != bool:
        if not np.isin(k, (-1, 0, 1)).all():
            raise ValueError("keep: expected booleans or spins in {-1, +1}")
        k = k > 0
    if not k.any():
        raise ValueError("keep: at least one vertex must be kept")
    Vc, Fc, target = _coarsen(V, F, k)
    if return_mapping:
        new_index = np.full(len(V) + 1, -1, dtype=np.int64)
        new_index[: len(V)][k] = np.arange(int(k.sum()))
        return Vc, Fc, new_index[np.where(target < 0, len(V), target)]
    return Vc, Fc
