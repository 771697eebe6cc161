"""Task metrics."""

from ._mesh import point_mesh_distance, vertex_to_mesh_distance

__all__ = ["point_mesh_distance", "vertex_to_mesh_distance"]

from ._sai import sai_residual

__all__ += ["sai_residual"]
