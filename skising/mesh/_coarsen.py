"""Mesh coarsening to a kept vertex set: quadric-ordered collapses, or the paper's nearest-neighbour rule (Appendix E)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ._io import mesh_edges
from ._mesh import as_mesh
from ._qem import qem_collapse

__all__ = ["coarsen_mesh", "COARSENINGS"]

COARSENINGS = ("qem", "nearest")


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


def _clean_faces(Fm, keep):
    """Re-index faces (original ids, all corners kept) to the kept vertices; drop degenerate and duplicate faces."""
    n = len(keep)
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    Fm = new_index[Fm]
    valid = (Fm[:, 0] != Fm[:, 1]) & (Fm[:, 1] != Fm[:, 2]) & (Fm[:, 0] != Fm[:, 2])
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
    return Fm.reshape(-1, 3)


def _coarsen(V, F, keep, edges=None, method="qem"):
    """Kernel: trusts ``keep`` (bool (n,)) and the mesh. Returns (Vc, Fc, target).

    ``target`` (n,) is the original index of the kept vertex each vertex
    went to (-1: its component kept nothing).
    """
    if edges is None:
        edges = mesh_edges(F)
    if method == "qem":
        Fm, target = qem_collapse(V, F, keep, edges)
    else:
        n = len(V)
        target = _collapse_targets(V, F, keep, edges)
        Fm = np.where(target < 0, n, target)[F]
        Fm = Fm[(Fm < n).all(1)]
    return V[keep], _clean_faces(Fm, keep), target


def coarsen_mesh(mesh, keep, return_mapping=False, method="qem"):
    """Coarsen a triangle mesh to the kept vertices, positions fixed.

    ``method="qem"``: the removed vertices disappear through half-edge
    collapses onto neighbours, cheapest quadric error first, with
    link-condition and normal-flip checks (a removed vertex without a kept
    neighbour goes through a chain of collapses); see
    :mod:`skising.mesh._qem`. ``method="nearest"`` (the paper's Appendix E):
    every removed vertex is collapsed onto its nearest kept 1-ring neighbour
    (without kept neighbours: its nearest kept vertex along the mesh edges),
    fully vectorised. Either way faces that became degenerate (a repeated
    vertex) or duplicate (same vertex set as an earlier face) are dropped.

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
    method : {"qem", "nearest"}, default="qem"
        The connectivity rule above.

    Returns
    -------
    vertices : ndarray (n_kept, 3)
    faces : ndarray (n_coarse_faces, 3)
    mapping : ndarray (n_vertices,), only with ``return_mapping=True``

    Examples
    --------
    >>> import numpy as np
    >>> from skising.datasets import load_bunny
    >>> from skising.mesh import coarsen_mesh
    >>> g = load_bunny()
    >>> keep = np.arange(g.num_nodes) % 2 == 0
    >>> Vc, Fc = coarsen_mesh(g, keep)
    >>> Vc.shape, bool((Fc[:, 0] != Fc[:, 1]).all())
    ((251, 3), True)
    """
    V, F = as_mesh(mesh)
    if method not in COARSENINGS:
        raise ValueError(f"method: expected one of {COARSENINGS}, got {method!r}")
    k = np.asarray(keep.detach().cpu().numpy() if hasattr(keep, "detach") else keep)
    if k.shape != (len(V),):
        raise ValueError(f"keep: expected shape ({len(V)},), got {k.shape}")
    if k.dtype != bool:
        if not np.isin(k, (-1, 0, 1)).all():
            raise ValueError("keep: expected booleans or spins in {-1, +1}")
        k = k > 0
    if not k.any():
        raise ValueError("keep: at least one vertex must be kept")
    Vc, Fc, target = _coarsen(V, F, k, method=method)
    if return_mapping:
        new_index = np.full(len(V) + 1, -1, dtype=np.int64)
        new_index[: len(V)][k] = np.arange(int(k.sum()))
        return Vc, Fc, new_index[np.where(target < 0, len(V), target)]
    return Vc, Fc
