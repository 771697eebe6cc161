"""Mesh -> skising Graph (the Ising model's graph: one node per vertex, one edge per mesh edge)."""

from __future__ import annotations

import torch

from ..graph import as_graph
from ._io import mesh_edges

__all__ = ["mesh_graph"]


def mesh_graph(vertices, faces, name=None, *, edges=None):
    """A skising Graph of a triangle mesh: edges of the faces, ``pos``, ``data["faces"]``.

    Parameters
    ----------
    vertices : array-like of shape (n, 3)
        Vertex positions, stored as ``pos``.
    faces : array-like of shape (f, 3)
        Triangles (vertex indices), stored as ``data["faces"]``.
    name : str, optional
        Stored as ``data["name"]``.
    edges : ndarray of shape (2, e), optional
        ``mesh_edges(faces)`` when the caller already has it (not checked).

    Returns
    -------
    skising.graph.Graph
        One node per vertex, one unit-weight edge per unique mesh edge.

    Examples
    --------
    >>> from skising.mesh import mesh_graph
    >>> square = mesh_graph([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 3, 2]])
    >>> square.num_nodes, square.edges.tolist()
    (4, [[0, 0, 1, 1, 2], [1, 2, 2, 3, 3]])
    """
    g = as_graph(torch.as_tensor(mesh_edges(faces) if edges is None else edges), num_nodes=len(vertices), pos=vertices)
    g.data["faces"] = faces
    if name is not None:
        g.data["name"] = str(name)
    return g
