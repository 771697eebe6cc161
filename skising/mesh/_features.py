"""Per-vertex input features of the mesh field networks (rotation-invariant scalars).

All are computed on the mesh scaled to unit mean edge length, so they are
scale-free too:

* ``"curvature"``: ``log1p(z)``, ``z = ||L r||^2`` (eq. 25, the paper's input);
* ``"qem_cost"``: ``log1p(c)``, ``c`` the quadric error of the vertex's
  cheapest half-edge collapse (:func:`~skising.mesh._qem.qem_vertex_cost`),
  what quadric simplification removes first;
* ``"concavity"``: the signed mean-curvature normal along the outward vertex
  normal, ``-sign(H) log1p(|H|)`` with ``H = (L r) . n``: positive in
  concave regions (creases between parts, after the minima rule of part
  segmentation), negative on convex ones. It depends on the face
  orientation (outward normals), not on rotations.
"""

from __future__ import annotations

import numpy as np

from ._laplacian import _cotangent_laplacian
from ._qem import qem_vertex_cost

__all__ = ["VERTEX_FEATURES", "vertex_features"]

VERTEX_FEATURES = ("curvature", "qem_cost", "concavity")


def _vertex_normals(V, F):
    fn = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])  # area-weighted
    vn = np.zeros_like(V)
    for c in range(3):  # loop over the 3 corners
        np.add.at(vn, F[:, c], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-300)


def vertex_features(V, F, edges, names=("curvature",)):
    """Kernel: features (n, len(names)) float64 of a mesh already scaled to unit mean edge length."""
    cols, LV = [], None
    for name in names:  # loop over feature names
        if name in ("curvature", "concavity") and LV is None:
            LV = _cotangent_laplacian(V, F) @ V
        if name == "curvature":
            cols.append(np.log1p(np.einsum("ij,ij->i", LV, LV)))
        elif name == "qem_cost":
            cols.append(np.log1p(qem_vertex_cost(V, F, edges)))
        elif name == "concavity":
            H = np.einsum("ij,ij->i", LV, _vertex_normals(V, F))
            cols.append(-np.sign(H) * np.log1p(np.abs(H)))
        else:
            raise ValueError(f"features: unknown feature {name!r}; expected names from {VERTEX_FEATURES}")
    return np.stack(cols, axis=1)
