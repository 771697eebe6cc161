"""The U-Net of the paper's Table 2, used as the field model of the segmenter."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["UNet"]


class _DoubleConv(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class _Up(nn.Module):
    """Bilinear upsampling to the skip's size, concatenation, double conv."""

    def __init__(self, c_in, c_skip, c_out):
        super().__init__()
        self.conv = _DoubleConv(c_in + c_skip, c_out)

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], 1))


class UNet(nn.Module):
    """U-Net with the widths of the paper's Table 2.

    ``in_channels -> 16`` (input block), encoders ``32 / 64 / 128`` (each a
    2x2 max-pool and a double 3x3 conv with batch norm), a ``128`` middle
    block at the lowest resolution, decoders ``64 / 32 / 16`` (bilinear
    upsampling, skip concatenation, double conv) and a 1x1 output conv to
    ``out_channels``. Any image size works (upsampling matches the skip's
    size).

    Parameters
    ----------
    in_channels : int
        Image channels (3 for RGB).
    out_channels : int
        1: the per-pixel external field ``h`` (IsingSegmenter) or the logit
        (UNetSegmenter).
    widths : tuple of int
        Input block and encoder widths ``(16, 32, 64, 128)``.

    Examples
    --------
    >>> import torch
    >>> from skising.segment import UNet
    >>> UNet()(torch.zeros(2, 3, 20, 30)).shape
    torch.Size([2, 1, 20, 30])
    """

    def __init__(self, in_channels=3, out_channels=1, widths=(16, 32, 64, 128)):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.inc = _DoubleConv(in_channels, w0)
        self.enc1 = _DoubleConv(w0, w1)
        self.enc2 = _DoubleConv(w1, w2)
        self.enc3 = _DoubleConv(w2, w3)
        self.mid = _DoubleConv(w3, w3)
        self.dec1 = _Up(w3, w2, w2)
        self.dec2 = _Up(w2, w1, w1)
        self.dec3 = _Up(w1, w0, w0)
        self.out = nn.Conv2d(w0, out_channels, 1)

    @staticmethod
    def _pool(x):
        # ceil_mode keeps odd sizes (down to 1 px) valid
        return F.max_pool2d(x, 2, ceil_mode=True)

    def forward(self, x):
        x0 = self.inc(x)
        x1 = self.enc1(self._pool(x0))
        x2 = self.enc2(self._pool(x1))
        x3 = self.enc3(self._pool(x2))
        m = self.mid(x3)
        y = self.dec1(m, x2)
        y = self.dec2(y, x1)
        y = self.dec3(y, x0)
        return self.out(y)
