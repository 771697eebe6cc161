"""Mesh sparsification with a learned Ising model (paper Section 4.3, Appendix E)."""

from ..mesh import as_mesh, coarsen_mesh, cotangent_laplacian, curvature_features, mean_edge_length  # re-exported
from ._fields import EquivariantMeshField, InvariantMeshField, MeshPriorField
from ._sparsifier import MeshSparsifier
from ._point_sampler import DevConv, DevConvMeshField, PointSamplerSubsampler

__all__ = [
    "MeshSparsifier",
    "PointSamplerSubsampler",
    "DevConvMeshField",
    "DevConv",
    "EquivariantMeshField",
    "InvariantMeshField",
    "MeshPriorField",
    "coarsen_mesh", "cotangent_laplacian", "curvature_features", "as_mesh", "mean_edge_length"]
