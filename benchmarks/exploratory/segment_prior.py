"""The coupling prior against the field scale: why the paper's J = 1 trains slowly on horses.

A synthetic field like a trained one after about 10 epochs (mean |h| about 0.8, the right sign on
more than 99 % of the pixels of the first test masks) is sampled on the 8-neighbour grid for several
couplings J and field scales. Printed per (J, scale): ``err_short``, the misclassification of a
``--sweeps``-sweep sample from a random start (what training sees); ``err_long``, of a
``--long-sweeps`` sample started from sign(h) (near equilibrium); ``differ``, the fraction of pixels
where two short chains differ (only those pixels get an RLOO gradient).

Exploratory: prints only, writes no results file::

    python benchmarks/exploratory/segment_prior.py
    python benchmarks/exploratory/segment_prior.py --couplings 1 0.25 --scales 1 4 --n-images 8
"""

import argparse

import torch

from skising.datasets import load_weizmann_horse
from skising.sampling import sample_ising_grid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="image side in pixels")
    ap.add_argument("--n-images", type=int, default=16, help="first N test masks")
    ap.add_argument("--couplings", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.1, 0.0])
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 2, 4, 8], help="multiples of the field")
    ap.add_argument("--sweeps", type=int, default=10)
    ap.add_argument("--long-sweeps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    te = load_weizmann_horse(a.size, split="test")
    y = torch.as_tensor(te.masks[: a.n_images])
    g = torch.Generator().manual_seed(a.seed)
    noise = torch.nn.functional.avg_pool2d(torch.randn(len(y), 1, a.size, a.size, generator=g), 9, 1, 4)[:, 0] * 3
    h0 = 0.8 * (2 * y.float() - 1) + noise
    print(f"sign(h) error {float(((h0 > 0) != y).float().mean()):.4f}  mean|h| {float(h0.abs().mean()):.3f}")
    for J in a.couplings:
        out = []
        for scale in a.scales:
            h = h0 * scale
            x = sample_ising_grid(h, J, 1.0, 2, a.sweeps, random_state=g)
            start = torch.where(h > 0, 1.0, -1.0)[None].expand(2, *h.shape)
            xe = sample_ising_grid(h, J, 1.0, 2, a.long_sweeps, init=start, random_state=g)
            out.append(f"x{scale:g}: err_short {float(((x > 0) != y).float().mean()):.3f} "
                       f"err_long {float(((xe > 0) != y).float().mean()):.3f} "
                       f"differ {float((x[0] != x[1]).float().mean()):.3f}")
        print(f"J={J:g}: " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
