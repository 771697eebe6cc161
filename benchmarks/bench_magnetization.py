"""Does the magnetisation penalty control the kept fraction? (task `engine`, generic estimator)

Trains the demo's IsingSubsampler (bundled bunny, coupling J = -1, target 20 %) with
eq. 16's deterministic penalty (`magnetization="det"`, eta_det = mean tanh(beta h)) and
with the same penalty on the sampled magnetisation (`magnetization="sample"`, eq. 13,
handled by RLOO), and reports the kept fraction of 16 samples per seed.

    python benchmarks/bench_magnetization.py
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from skising import IsingSubsampler
from skising.__main__ import _region_center
from skising.datasets import load_bunny
from skising.subsampling import CoverageLoss

torch.set_num_threads(1)
COMMAND = "python benchmarks/bench_magnetization.py"


def main(seeds=(0, 1, 2, 3, 4), fraction=0.2, epochs=150):
    g = load_bunny()
    loss = CoverageLoss(region=(_region_center(g), 1.0), outside_weight=0.02)
    records = []
    for mode, penalty in [("det", 1.0), ("det", 10.0), ("sample", 10.0)]:
        kept, losses = [], []
        for seed in seeds:
            est = IsingSubsampler(loss=loss, coupling=-1.0, target_fraction=fraction, magnetization=mode,
                                  penalty=penalty, n_samples=4, max_epochs=epochs, random_state=seed).fit([g])
            s = est.sample(g, 16)
            kept.append(float(s.mean()))
            losses.append(float(loss(torch.as_tensor(s).float() * 2 - 1, g).mean()))
        method = f"magnetization={mode}, penalty={penalty:g}"
        for metric, vals in [("kept_fraction", kept), ("coverage_loss", losses)]:
            records.append({"task": "engine", "dataset": "bunny-502v", "method": method, "metric": metric,
                            "mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals),
                            "unit": "fraction" if metric == "kept_fraction" else "", "device": "cpu",
                            "command": COMMAND, "per_seed": [round(v, 4) for v in vals]})
        print(f"{method:34s} kept per seed {[round(k, 3) for k in kept]}  loss {np.mean(losses):.4f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "magnetization.json").write_text(json.dumps(records, indent=1))
    lines = [f"# Kept fraction under J = -1, target {fraction:.0%} (bunny, {epochs} epochs, seeds {list(seeds)})", "",
             f"Command: `{COMMAND}`", "", "| method | metric | mean | std | n | per seed |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['metric']} | {r['mean']:.4f} | {r['std']:.4f} | {r['n']} | {r['per_seed']} |"
              for r in records]
    (out / "magnetization.md").write_text("\n".join(lines) + "\n")
    return records


if __name__ == "__main__":
    sys.exit(main() and 0)
