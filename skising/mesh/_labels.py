r"""Part labels on a mesh and on its coarse version: boundaries and label transfer.

A part segmentation gives every face of the original mesh a label (PSB's
``gt/*.seg`` files). What a coarse mesh can still say about it is measured by
moving labels through the coarse surface and back:

* every original face is assigned to the coarse face nearest to its centroid;
* every coarse face takes the label covering most area among the original
  faces assigned to it (the best labelling any segmentation of the coarse mesh
  could have for this transfer);
* the **transfer error** is the fraction of the original surface area whose
  label differs from that of its coarse face.

It is zero when every coarse face lies inside one part, so it measures how
well the coarse mesh's edges follow the part boundaries (and, through the
nearest-face assignment, how well its surface follows thin parts). The
**part-boundary vertices** are the vertices with incident faces of two or
more labels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_face_labels", "part_boundary_mask", "part_boundary_vertices", "transfer_error",
           "transfer_face_labels"]


def check_face_labels(labels, n_faces, name="face_labels"):
    """Validate per-face part labels: an int64 array of shape ``(n_faces,)``, values >= 0.

    Parameters
    ----------
    labels : array-like of int
    n_faces : int
        The mesh's face count.
    name : str
        The argument name used in error messages.

    Returns
    -------
    ndarray (n_faces,), int64
    """
    if labels is None:
        raise ValueError(f"{name}: missing; a part segmentation (one label per face) is needed")
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    try:
        lab = np.asarray(labels)
    except (TypeError, ValueError) as exc:  # pragma: no cover - ragged input
        raise TypeError(f"{name}: expected an integer array of shape ({n_faces},)") from exc
    if lab.shape != (n_faces,):
        raise ValueError(f"{name}: expected one label per face, shape ({n_faces},), got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.isfinite(lab).all() and np.all(np.mod(lab, 1) == 0):
            lab = lab.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integer labels, got dtype {lab.dtype}")
    if lab.size and lab.min() < 0:
        raise ValueError(f"{name}: labels must be >= 0, got {int(lab.min())}")
    return np.ascontiguousarray(lab, dtype=np.int64)


def part_boundary_mask(F, labels, n_vertices):
    """Kernel: bool (n_vertices,), the vertices whose incident faces carry two or more labels."""
    F = np.asarray(F, dtype=np.int64)
    lab = np.repeat(np.asarray(labels, dtype=np.int64), 3)
    v = F.ravel()
    lo = np.full(n_vertices, np.iinfo(np.int64).max)
    hi = np.full(n_vertices, -1)
    np.minimum.at(lo, v, lab)
    np.maximum.at(hi, v, lab)
    return (hi >= 0) & (lo != hi)


def face_areas(V, F):
    """Triangle areas (f,)."""
    t = V[F]
    return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)


def transfer_labels(coarse_face, labels, area, n_coarse_faces):
    """Kernel: the area-majority label of every coarse face (-1: no original face assigned to it).

    ``coarse_face`` (f,) is the coarse face nearest to each original face's centroid.
    """
    names, code = np.unique(labels, return_inverse=True)  # sparse label ids -> 0..L-1
    n_labels = max(len(names), 1)
    votes = np.bincount(coarse_face * n_labels + code, weights=area,
                        minlength=n_coarse_faces * n_labels).reshape(n_coarse_faces, n_labels)
    out = names[votes.argmax(1)] if len(names) else np.zeros(n_coarse_faces, dtype=np.int64)
    out[votes.sum(1) <= 0] = -1
    return out


def transfer_error(coarse_face, labels, area, n_coarse_faces):
    """Kernel: area fraction of the original faces whose coarse face's majority label differs from theirs."""
    coarse_label = transfer_labels(coarse_face, labels, area, n_coarse_faces)
    total = float(area.sum())
    wrong = coarse_label[coarse_face] != labels
    if total <= 0:  # all faces degenerate: count faces instead
        return float(wrong.mean())
    return float(area[wrong].sum() / total)


def transfer_face_labels(mesh, coarse, face_labels):
    """Carry a part segmentation from a mesh to a coarse version of it.

    Every face of ``mesh`` is assigned to the face of ``coarse`` nearest to
    its centroid; every coarse face takes the label covering most area among
    the faces assigned to it.

    Parameters
    ----------
    mesh : mesh input
        The original mesh (``(vertices, faces)``, ``.off`` path, Graph, ...).
    coarse : mesh input
        Any coarse mesh of it (from :func:`coarsen_mesh` or a simplifier).
    face_labels : int array-like of shape (n_faces,)
        One part label per face of ``mesh``.

    Returns
    -------
    ndarray (n_coarse_faces,), int64
        The label of every coarse face; -1 where no original face is nearest
        to it.

    Examples
    --------
    >>> from skising.mesh import transfer_face_labels
    >>> V = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    >>> transfer_face_labels((V, [[0, 1, 2], [0, 2, 3]]), (V, [[0, 2, 3], [0, 1, 2]]), [4, 7]).tolist()
    [7, 4]
    """
    from ._distance import _distance
    from ._mesh import as_mesh

    V, F = as_mesh(mesh, "mesh")
    Vc, Fc = as_mesh(coarse, "coarse")
    if len(Fc) == 0:
        raise ValueError("coarse: the coarse mesh has no faces")
    labels = check_face_labels(face_labels, len(F))
    _, face, _ = _distance(V[F].mean(1), Vc, Fc)
    return transfer_labels(face, labels, face_areas(V, F), len(Fc))


def part_boundary_vertices(mesh, face_labels):
    """The vertices on a part boundary of a segmented mesh: incident faces of two or more labels.

    Locking them in :func:`qem_removal_order` (``locked=``) keeps every part
    boundary of the segmentation in the coarse mesh.

    Parameters
    ----------
    mesh : mesh input
        A ``(vertices, faces)`` pair, an ``.off`` path, or a skising Graph
        with ``pos`` and ``data["faces"]``.
    face_labels : int array-like of shape (n_faces,)
        One part label per face (PSB's ``gt/*.seg``: ``load_psb(...,
        segmentation=True)`` puts them in ``data["face_labels"]``).

    Returns
    -------
    ndarray of bool, shape (n_vertices,)

    Examples
    --------
    >>> from skising.mesh import part_boundary_vertices
    >>> V = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    >>> part_boundary_vertices((V, [[0, 1, 2], [0, 2, 3]]), [4, 7]).tolist()
    [True, False, True, False]
    """
    from ._mesh import as_mesh

    V, F = as_mesh(mesh, "mesh")
    return part_boundary_mask(F, check_face_labels(face_labels, len(F)), len(V))
