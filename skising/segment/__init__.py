"""Binary image segmentation with a learned Ising field (paper Section 4.1)."""

from ._segmenter import IsingSegmenter
from ._unet import UNet
from ._unet_baseline import UNetSegmenter

__all__ = ["IsingSegmenter", "UNetSegmenter", "UNet"]
