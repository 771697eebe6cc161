"""Baselines, first-class and comparable: same ``fit``/``transform``/``sample`` contract
and ``fraction`` parameter as the learned subsamplers."""

from ._constant import ConstantFieldIsingSubsampler
from ._fps import FarthestPointSubsampler, farthest_point_sampling
from ._random import RandomSubsampler
from ._spectral import SpectralSubsampler, top_laplacian_eigenvector

__all__ = [
    "RandomSubsampler",
    "FarthestPointSubsampler",
    "SpectralSubsampler",
    "ConstantFieldIsingSubsampler",
    "farthest_point_sampling",
    "top_laplacian_eigenvector",
]
