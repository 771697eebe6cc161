"""The generic learned subsampler."""

from ._features import default_node_features
from ._subsampler import IsingSubsampler

__all__ = ["IsingSubsampler", "default_node_features"]
