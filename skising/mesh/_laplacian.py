r"""Cotangent Laplacian and the curvature input of the mesh field network.

For a triangle mesh with vertex positions :math:`r_i`, the cotangent weight
of an interior edge :math:`\{i, j\}` is
:math:`C_{ij} = \tfrac12(\cot\alpha_{ij} + \cot\beta_{ij})`, the angles
opposite the edge in its two triangles (eq. 24 of the paper). The Laplacian
returned here is the positive semi-definite ``L = D - C`` (zero row sums):
``(L r)_i = sum_j C_ij (r_i - r_j)``, the mean-curvature normal times twice
the vertex area, and the curvature feature of eq. 25 is
:math:`z_i = \| \sum_j C_{ij} (r_i - r_j) \|^2`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._mesh import check_mesh

__all__ = ["cotangent_laplacian", "curvature_features"]


def _cotangent_laplacian(V, F):
    """Kernel: PSD cotangent Laplacian ``D - C`` (scipy CSR), trusts input."""
    n = len(V)
    # corner k of each face is opposite the edge (k+1, k+2)
    i1, i2, i3 = F[:, 0], F[:, 1], F[:, 2]
    e1 = V[i3] - V[i2]  # opposite corner 0
    e2 = V[i1] - V[i3]  # opposite corner 1
    e3 = V[i2] - V[i1]  # opposite corner 2
    # cot of the angle at corner k = <a, b> / |a x b| with a, b the edges leaving it
    dbl_area = np.linalg.norm(np.cross(e3, -e2), axis=1)
    dbl_area = np.maximum(dbl_area, np.finfo(np.float64).tiny)
    cot0 = np.einsum("ij,ij->i", e3, -e2) / dbl_area  # angle at i1 between (i2-i1), (i3-i1)
    cot1 = np.einsum("ij,ij->i", e1, -e3) / dbl_area  # angle at i2
    cot2 = np.einsum("ij,ij->i", e2, -e1) / dbl_area  # angle at i3
    rows = np.concatenate([i2, i3, i1])
    cols = np.concatenate([i3, i1, i2])
    w = 0.5 * np.concatenate([cot0, cot1, cot2])
    C = sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    C = C + C.T
    L = sp.diags(np.asarray(C.sum(axis=1)).ravel()) - C
    L = L.tocsr()
    L.sum_duplicates()
    return L


def cotangent_laplacian(vertices, faces):
    """Cotangent Laplacian ``L = D - C`` of a triangle mesh (eq. 24).

    Parameters
    ----------
    vertices : array of shape (n_vertices, 3)
    faces : int array of shape (n_faces, 3)

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_vertices, n_vertices)
        Symmetric, zero row sums, positive semi-definite on Delaunay-ish
        meshes; equal to ``-igl.cotmatrix(V, F)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skising.mesh import cotangent_laplacian
    >>> V = np.array([[0., 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> L = cotangent_laplacian(V, np.array([[0, 1, 2]]))
    >>> np.round(L.toarray(), 3)
    array([[ 1. , -0.5, -0.5],
           [-0.5,  0.5,  0. ],
           [-0.5,  0. ,  0.5]])
    """
    V, F = check_mesh(vertices, faces)
    return _cotangent_laplacian(V, F)


def _curvature(V, F, L=None):
    if L is None:
        L = _cotangent_laplacian(V, F)
    LV = L @ V
    return np.einsum("ij,ij->i", LV, LV)


def curvature_features(vertices, faces):
    """Curvature input ``z_i = || sum_j C_ij (r_i - r_j) ||^2`` (eq. 25).

    Parameters
    ----------
    vertices : array of shape (n_vertices, 3)
    faces : int array of shape (n_faces, 3)

    Returns
    -------
    ndarray of shape (n_vertices,)
        Zero on flat regions; it scales with length^2 (the field network
        normalises it by the squared mean edge length).

    Examples
    --------
    >>> import numpy as np
    >>> from skising.mesh import curvature_features
    >>> V = np.array([[0., 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [.5, .5, 0]])
    >>> F = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    >>> float(curvature_features(V, F)[4])  # interior vertex of a flat fan
    0.0
    >>> V[4, 2] = 0.5  # lift it: a pyramid tip
    >>> float(curvature_features(V, F)[4].round(3))
    2.0
    """
    V, F = check_mesh(vertices, faces)
    return _curvature(V, F)
