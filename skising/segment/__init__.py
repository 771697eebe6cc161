"""Binary image segmentation with a learned Ising field (paper Section 4.1)."""

from ._segmenter import IsingSegmenter, UNetSegmenter
from ._unet import UNet

__all__ = ["IsingSegmenter", "UNetSegmenter", "UNet"]
