"""Mesh metrics: the vertex-to-mesh distance of eq. 21 and Table 5; part-boundary preservation."""

from __future__ import annotations

import numpy as np

from ..mesh._distance import NORMALIZATIONS, _distance, _normalize
from ..mesh._labels import check_face_labels, face_areas, part_boundary_mask, transfer_error
from ..mesh._mesh import as_mesh, mean_edge_length

__all__ = ["vertex_to_mesh_distance", "segmentation_transfer_error", "part_boundary_recall"]


def vertex_to_mesh_distance(mesh, coarse, normalization="table"):
    """Distance of a mesh's vertices to a coarse mesh's surface (eq. 21 / Table 5).

    Parameters
    ----------
    mesh : mesh input
        The original mesh: ``(vertices, faces)``, an ``.off`` path or a skising
        Graph with ``pos`` and ``data["faces"]``.
    coarse : mesh input
        The coarse mesh (e.g. from :func:`skising.sparsify.coarsen_mesh`).
    normalization : {"table", "eq21", "mean"}, default="table"
        ``"table"``: 10 x mean unsquared distance / mean edge length of the
        original mesh (the normalisation the paper's Table 5 numbers fit);
        ``"eq21"``: sum of squared distances, eq. 21 as written;
        ``"mean"``: mean unsquared distance.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skising.datasets import load_bunny
    >>> from skising.metrics import vertex_to_mesh_distance
    >>> from skising.mesh import coarsen_mesh
    >>> g = load_bunny()
    >>> vertex_to_mesh_distance(g, coarsen_mesh(g, np.ones(g.num_nodes, bool)))
    0.0
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization: expected one of {NORMALIZATIONS}, got {normalization!r}")
    V, F = as_mesh(mesh, "mesh")
    Vc, Fc = as_mesh(coarse, "coarse")
    if len(Fc) == 0:
        raise ValueError("coarse: the coarse mesh has no faces")
    d, _, _ = _distance(V, Vc, Fc)
    return _normalize(d, normalization, mean_edge_length(V, F) if normalization == "table" else 1.0)


def segmentation_transfer_error(mesh, coarse, face_labels):
    """Area fraction of a part segmentation that a coarse mesh cannot carry.

    Every face of ``mesh`` is assigned to the face of ``coarse`` nearest to
    its centroid; every coarse face takes the label covering most area among
    the faces assigned to it (the best any labelling of the coarse mesh can
    do for this transfer); the error is the fraction of the original surface
    area whose label differs from its coarse face's. It is 0 when every
    coarse face lies within one part, so it measures how well the coarse
    mesh's edges follow the part boundaries (and its surface the thin parts).

    Parameters
    ----------
    mesh : mesh input
        The original mesh (see :func:`vertex_to_mesh_distance`).
    coarse : mesh input
        The coarse mesh, e.g. from :func:`skising.mesh.coarsen_mesh` or any
        simplifier (positions may move).
    face_labels : int array-like of shape (n_faces,)
        One part label per face of ``mesh`` (e.g.
        :func:`skising.datasets.load_psb_segmentation`).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    A square split into two parts along its diagonal; a coarse copy that
    keeps the diagonal edge carries the labels exactly.

    >>> from skising.metrics import segmentation_transfer_error
    >>> V = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    >>> F = [[0, 1, 2], [0, 2, 3]]
    >>> segmentation_transfer_error((V, F), (V, F), [0, 1])
    0.0
    """
    V, F = as_mesh(mesh, "mesh")
    Vc, Fc = as_mesh(coarse, "coarse")
    if len(F) == 0:
        raise ValueError("mesh: the mesh has no faces")
    if len(Fc) == 0:
        raise ValueError("coarse: the coarse mesh has no faces")
    labels = check_face_labels(face_labels, len(F))
    _, face, _ = _distance(V[F].mean(1), Vc, Fc)
    return transfer_error(face, labels, face_areas(V, F), len(Fc))


def part_boundary_recall(mesh, keep, face_labels):
    """Fraction of the part-boundary vertices that a kept-vertex mask keeps.

    A part-boundary vertex has incident faces of two or more labels.

    Parameters
    ----------
    mesh : mesh input
    keep : bool array-like of shape (n_vertices,)
    face_labels : int array-like of shape (n_faces,)

    Returns
    -------
    float in [0, 1] (NaN when the segmentation has a single part)

    Examples
    --------
    >>> from skising.metrics import part_boundary_recall
    >>> V = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    >>> F = [[0, 1, 2], [0, 2, 3]]
    >>> part_boundary_recall((V, F), [True, False, False, False], [0, 1])
    0.5
    """
    V, F = as_mesh(mesh, "mesh")
    labels = check_face_labels(face_labels, len(F))
    k = np.asarray(keep)
    if k.shape != (len(V),):
        raise ValueError(f"keep: expected shape ({len(V)},), got {k.shape}")
    b = part_boundary_mask(F, labels, len(V))
    return float(k.astype(bool)[b].mean()) if b.any() else float("nan")
