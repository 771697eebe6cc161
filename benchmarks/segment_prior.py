"""The coupling prior vs the field scale (why J = 1 is slow to train).

A synthetic field like the trained ones after about 10 epochs (mean |h| 0.8,
right sign on 99.3% of the pixels of 16 test masks) is sampled on the
8-neighbour grid for several couplings J and field scales: ``err10`` is the
misclassification of a 10-sweep sample from a random start (what training
sees), ``err200`` of a 200-sweep sample started from sign(h) (near
equilibrium), ``differ10`` the fraction of pixels where two 10-sweep chains
differ. Output: ``benchmarks/results/segment_screen/prior.log``::

    PYTHONPATH=. python benchmarks/segment_prior.py
"""
import numpy as np, torch
from skising.datasets import load_weizmann_horse
from skising.sampling._grid import _grid_sample, grid_kernel
torch.set_num_threads(1)
te = load_weizmann_horse(64, split="test")
y = torch.as_tensor(te.masks[:16])
g = torch.Generator().manual_seed(0)
noise = torch.nn.functional.avg_pool2d(torch.randn(len(y), 1, 64, 64, generator=g), 9, 1, 4)[:, 0] * 3
h0 = 0.8 * (2 * y.float() - 1) + noise   # mean |h| ~ 0.8 like trained fields after 10 epochs
print("sign(h) error %.4f mean|h| %.3f" % (float(((h0 > 0) != y).float().mean()), float(h0.abs().mean())), flush=True)
for J in (1.0, 0.5, 0.25, 0.1, 0.0):
    k = grid_kernel(J)
    out = []
    for scale in (1, 2, 4, 8):
        h = h0 * scale
        x = _grid_sample(h, k, 1.0, 2, 10, "metropolis", "random", g)
        xe = _grid_sample(h, k, 1.0, 2, 200, "metropolis", torch.where(h > 0, 1.0, -1.0)[None].expand(2, *h.shape), g)
        out.append("x%d: err10 %.3f err200 %.3f differ10 %.3f" % (scale, float(((x > 0) != y).float().mean()),
                   float(((xe > 0) != y).float().mean()), float((x[0] != x[1]).float().mean())))
    print(f"J={J}: " + " | ".join(out), flush=True)
