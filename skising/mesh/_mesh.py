"""Mesh inputs: one place that turns what users pass into ``(V, F)`` arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["check_mesh", "as_mesh", "mean_edge_length", "check_vertex_mask"]


def check_mesh(vertices, faces, name="mesh"):
    """Validate a ``(vertices, faces)`` pair and return contiguous float64 / int64 arrays.

    Parameters
    ----------
    vertices : array-like or tensor of shape (n_vertices, 3)
        Finite coordinates.
    faces : integer array-like or tensor of shape (n_faces, 3)
        Triangles as vertex indices in ``[0, n_vertices)``.
    name : str, default="mesh"
        The argument name used in error messages.

    Returns
    -------
    V : ndarray of shape (n_vertices, 3), float64
    F : ndarray of shape (n_faces, 3), int64

    Examples
    --------
    >>> from skising.mesh import check_mesh
    >>> V, F = check_mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    >>> V.dtype, F.dtype
    (dtype('float64'), dtype('int64'))
    >>> check_mesh([[0, 0, 0]], [[0, 1, 2]])
    Traceback (most recent call last):
    ...
    ValueError: mesh: face indices must lie in [0, 1), got range [0, 2]
    """
    if isinstance(vertices, torch.Tensor):
        vertices = vertices.detach().cpu().numpy()
    if isinstance(faces, torch.Tensor):
        faces = faces.detach().cpu().numpy()
    try:
        V = np.asarray(vertices, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: vertices must be a numeric array of shape (n_vertices, 3)") from exc
    if V.ndim != 2 or V.shape[1] != 3 or len(V) == 0:
        raise ValueError(f"{name}: vertices must have shape (n_vertices, 3) with n_vertices > 0, got {V.shape}")
    if not np.isfinite(V).all():
        raise ValueError(f"{name}: vertices contain NaN or infinite coordinates")
    F = np.asarray(faces)
    if F.size == 0:
        F = F.reshape(0, 3)
    if F.ndim != 2 or F.shape[1] != 3:
        raise ValueError(f"{name}: faces must have shape (n_faces, 3) (triangles only), got {F.shape}")
    if not np.issubdtype(F.dtype, np.integer):
        if np.issubdtype(F.dtype, np.floating) and np.all(np.mod(F, 1) == 0):
            F = F.astype(np.int64)
        else:
            raise TypeError(f"{name}: faces must be integer vertex indices, got dtype {F.dtype}")
    F = F.astype(np.int64, copy=False)
    if F.size and (F.min() < 0 or F.max() >= len(V)):
        raise ValueError(f"{name}: face indices must lie in [0, {len(V)}), got range [{F.min()}, {F.max()}]")
    return np.ascontiguousarray(V), np.ascontiguousarray(F)


def as_mesh(mesh, name="mesh"):
    """Any supported mesh input -> ``(V, F)``.

    Accepted: a ``(vertices, faces)`` pair; a path to an ``.off`` file; a
    :class:`skising.graph.Graph` with ``pos`` and ``data["faces"]`` (as
    returned by :func:`skising.datasets.load_psb`); any object with
    ``vertices`` and ``faces`` attributes (trimesh, ...); a PyG ``Data``
    with ``pos`` and ``face`` (3, f).

    Parameters
    ----------
    mesh : tuple, str, Path, Graph or mesh-like object
        One of the inputs above.
    name : str, default="mesh"
        The argument name used in error messages.

    Returns
    -------
    V : ndarray of shape (n, 3), float64
    F : ndarray of shape (f, 3), int64

    Examples
    --------
    >>> from skising.datasets import load_bunny
    >>> from skising.mesh import as_mesh
    >>> V, F = as_mesh(load_bunny())
    >>> V.shape, F.shape
    ((502, 3), (1000, 3))
    >>> V, F = as_mesh(([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]]))
    >>> V.dtype, F.dtype
    (dtype('float64'), dtype('int64'))
    """
    from ..graph import Graph

    if isinstance(mesh, (str, os.PathLike)):
        from ._io import read_off

        p = Path(mesh)
        if not p.exists():
            raise FileNotFoundError(f"{name}: no such mesh file {p}")
        return read_off(p)
    if isinstance(mesh, Graph):
        if mesh.pos is None or "faces" not in mesh.data:
            raise ValueError(f"{name}: a Graph needs pos and data['faces'] to be used as a mesh")
        return check_mesh(mesh.pos, mesh.data["faces"], name)
    if isinstance(mesh, (tuple, list)) and len(mesh) == 2:
        return check_mesh(mesh[0], mesh[1], name)
    if hasattr(mesh, "vertices") and hasattr(mesh, "faces"):
        return check_mesh(mesh.vertices, mesh.faces, name)
    if hasattr(mesh, "pos") and getattr(mesh, "face", None) is not None:
        return check_mesh(mesh.pos, torch.as_tensor(mesh.face).T, name)
    raise TypeError(
        f"{name}: expected a (vertices, faces) pair, an .off path, a skising Graph with pos and data['faces'], "
        f"or an object with vertices/faces; got {type(mesh).__name__}"
    )


def mean_edge_length(vertices, faces):
    """Mean length of the unique undirected edges of a triangle mesh.

    Parameters
    ----------
    vertices : array-like of shape (n, 3)
    faces : int array-like of shape (f, 3)

    Returns
    -------
    float

    Examples
    --------
    A right triangle with legs 1: edges 1, 1 and sqrt(2).

    >>> from skising.mesh import mean_edge_length
    >>> round(mean_edge_length([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]]), 4)
    1.1381
    """
    from ._io import mesh_edges

    V = np.asarray(vertices, dtype=np.float64)
    e = mesh_edges(faces)
    return float(np.linalg.norm(V[e[0]] - V[e[1]], axis=1).mean())


def check_vertex_mask(mask, n_vertices, name="locked"):
    """Validate a per-vertex boolean mask (bools or 0/1 numbers; numpy, lists or torch): bool ndarray (n,)."""
    m = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
    if m.shape != (n_vertices,):
        raise ValueError(f"{name}: expected a bool mask of shape ({n_vertices},), got {m.shape}")
    if m.dtype != np.bool_:
        if not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
            raise ValueError(f"{name}: expected booleans (or 0/1), got dtype {m.dtype}")
        m = m.astype(bool)
    return np.ascontiguousarray(m)
