"""The generic learned subsampler and ready-made task losses."""

from ._features import default_node_features
from ._losses import CoverageLoss
from ._subsampler import IsingSubsampler

__all__ = ["IsingSubsampler", "CoverageLoss", "default_node_features"]
