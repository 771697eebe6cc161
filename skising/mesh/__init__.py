"""Triangle-mesh geometry: reading, edges, graph, Laplacian, coarsening, point-to-mesh distance.

The layer that :mod:`skising.sparsify`, :mod:`skising.metrics` and
:mod:`skising.datasets` build on; it depends only on :mod:`skising.graph`.
"""

from ._coarsen import COARSENINGS, coarsen_mesh
from ._distance import point_mesh_distance
from ._graph import mesh_graph
from ._io import mesh_edges, read_off, write_off
from ._labels import part_boundary_vertices, transfer_face_labels
from ._laplacian import cotangent_laplacian, curvature_features
from ._mesh import as_mesh, check_mesh, mean_edge_length
from ._qem import qem_removal_order

__all__ = [
    "read_off", "write_off", "mesh_edges", "mesh_graph", "as_mesh", "check_mesh", "mean_edge_length",
    "cotangent_laplacian", "curvature_features", "coarsen_mesh", "COARSENINGS", "point_mesh_distance",
    "transfer_face_labels", "part_boundary_vertices", "qem_removal_order",
]
