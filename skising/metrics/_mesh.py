"""Mesh metrics: the vertex-to-mesh distance of eq. 21 and Table 5."""

from __future__ import annotations

from ..mesh._distance import NORMALIZATIONS, _distance, _normalize
from ..mesh._mesh import as_mesh, mean_edge_length

__all__ = ["vertex_to_mesh_distance"]


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
