"""
Segmenting horses with a learned Ising field (the paper's Figure 2)
===================================================================

A U-Net predicts the external field ``h`` of an 8-neighbour grid Ising model
(``beta = 1``); a sample of the model is the segmentation. The paper's
coupling ``J = 1`` puts the 8-neighbour model deep in its ordered phase
(critical ``beta J`` is about 0.19): the neighbours' field (up to 8) swamps
``h``, the two RLOO samples agree almost everywhere and training crawls. We
use ``J = 0.25``, just above the critical coupling (see
``benchmarks/results/segment.md``). Because the misclassification loss is not differentiable in
the sample, the U-Net is trained with the RLOO REINFORCE estimator
(:class:`skising.segment.IsingSegmenter`), here with per-pixel credit
(``credit="local"``: each pixel's field is credited with its own
misclassification difference between the two samples rather than the whole
image's, an extension of the paper's eq. 15 that learns much faster). The
plain baseline trains the same U-Net with binary cross-entropy
(:class:`skising.segment.UNetSegmenter`).

The figure shows, for a few test images: the image, the ground truth, the
U-Net's logits, the learned Ising field, and the Ising prediction (majority
of 16 samples). The paper used CUB-200-2011 birds; we use the Weizmann Horse
database (``load_weizmann_horse``: 262 training, 33 validation and 33 test
images).

To keep this page quick to build, the defaults are small: images resized to
32 x 32 and 10 epochs per estimator (about a minute of CPU time for both),
so the Dice scores printed below are lower than the benchmark's. For the
benchmark's setting (64 x 64, 30 epochs, several seeds; results in
``benchmarks/results/segment.md``) run
``python examples/plot_segmentation.py --size 64 --epochs 30`` or
``python benchmarks/bench_segment.py``.
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from skising.datasets import load_weizmann_horse  # noqa: E402
from skising.segment import IsingSegmenter, UNetSegmenter  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, default=32)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--n-show", type=int, default=4)
parser.add_argument("--out", default="plot_segmentation.png")
args = parser.parse_args()
torch.set_num_threads(1)

train = load_weizmann_horse(args.size, split="train")
val = load_weizmann_horse(args.size, split="val")
test = load_weizmann_horse(args.size, split="test")

common = dict(max_epochs=args.epochs, lr=args.lr, batch_size=32, random_state=0)
ising = IsingSegmenter(coupling=0.25, credit="local", **common).fit(train.images, train.masks, val.images, val.masks)
unet = UNetSegmenter(**common).fit(train.images, train.masks, val.images, val.masks)
print(f"test Dice: IsingSegmenter {ising.score(test.images, test.masks):.3f}, "
      f"UNetSegmenter {unet.score(test.images, test.masks):.3f} "
      f"({args.size}px, {args.epochs} epochs, best validation epoch kept)")

idx = np.arange(min(args.n_show, len(test.images)))
imgs, masks = test.images[idx], test.masks[idx]
logits = unet.decision_function(imgs)
field = ising.decision_function(imgs)
pred = ising.predict(imgs)

cols = ["image", "ground truth", "U-Net logits", "Ising field h", "Ising prediction"]
fig, axes = plt.subplots(len(idx), len(cols), figsize=(2.2 * len(cols), 2.2 * len(idx)), squeeze=False)
for r in range(len(idx)):
    panels = [imgs[r], masks[r], logits[r], field[r], pred[r]]
    for c, (ax, p) in enumerate(zip(axes[r], panels)):
        if c in (2, 3):
            lim = np.abs(p).max()
            ax.imshow(p, cmap="coolwarm", vmin=-lim, vmax=lim)
        else:
            ax.imshow(p, cmap=None if c == 0 else "gray")
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(cols[c], fontsize=9)
fig.tight_layout()
fig.savefig(args.out, dpi=120)
print(f"wrote {args.out}")
