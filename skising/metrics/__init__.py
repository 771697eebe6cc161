"""Task metrics."""

from ..mesh import point_mesh_distance
from ._mesh import part_boundary_recall, segmentation_transfer_error, vertex_to_mesh_distance

__all__ = ["point_mesh_distance", "vertex_to_mesh_distance", "segmentation_transfer_error", "part_boundary_recall"]

from ._sai import sai_residual

__all__ += ["sai_residual"]

from ._explain import graph_explanation_accuracy, harmonic_fidelity, prediction_fidelity, topk_node_mask

__all__ += ["graph_explanation_accuracy", "harmonic_fidelity", "prediction_fidelity", "topk_node_mask"]

from ._segment import dice_score

__all__ += ["dice_score"]

from ._scoring import loss_score, make_loss_scorer

__all__ += ["loss_score", "make_loss_scorer"]
