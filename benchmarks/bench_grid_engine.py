"""Grid sampling through the engine against the previous conv sampler, interleaved in one process.

The previous grid sampler (``skising/sampling/_grid.py`` and ``_arith.py`` of a baseline
commit, loaded from ``git show`` into a temporary package: ``conv2d`` per colour, uniforms
from ``torch.rand``, ``torch.exp``/``torch.sigmoid`` acceptance) and the working tree's
:class:`~skising.sampling.GridCouplings` (the engine's driver: same ``conv2d`` per colour,
counter-based uniforms, the shared polynomial ``exp``) sample the same fields, alternately,
``--repeats`` times each; the minimum per side is kept and the ratio reported. Both are
O(pixels) per sweep; the difference is the cost of the counter-based random numbers.

Run::

    python benchmarks/bench_grid_engine.py                 # 8 images of 128 x 128, 4 chains, 1 thread
    python benchmarks/bench_grid_engine.py --images 16 --chains 8 --threads 2

Writes ``benchmarks/results/grid_engine.json`` (tidy records) and ``grid_engine.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _records import record  # noqa: E402

from skising.sampling import GridCouplings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = ("python benchmarks/bench_grid_engine.py " + " ".join(sys.argv[1:])).strip()


def load_baseline(commit):
    """The baseline's ``_grid`` module (with its own ``_arith``) as a temporary package."""
    import importlib

    d = Path(tempfile.mkdtemp(prefix="skising_grid_ab_"))
    pkg = d / "grid_baseline"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("_grid.py", "_arith.py"):
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:skising/sampling/{name}"],
                             check=True, capture_output=True, text=True).stdout
        (pkg / name).write_text(src.replace("from .._validation import", "from skising._validation import"))
    sys.path.insert(0, str(d))
    return importlib.import_module("grid_baseline._grid")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="bf3a3d6", help="commit whose grid sampler is the 'old' side")
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--sweeps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    old = load_baseline(args.baseline)
    B, S, K, T = args.images, args.size, args.chains, args.sweeps
    h = torch.randn(B, S, S, generator=torch.Generator().manual_seed(0))
    kernel = old.grid_kernel(0.3)
    rep = GridCouplings(0.3, (B, S, S))
    load0 = os.getloadavg()
    records = []
    for rule in ("metropolis", "heat_bath"):
        def run_old(seed, rule=rule):
            return old._grid_sample(h, kernel, 1.0, K, T, rule, "random", torch.Generator().manual_seed(seed))

        def run_new(seed, rule=rule):
            return rep.sample(h, K, T, 1.0, rule, "random", seed)

        run_old(0), run_new(0)  # warm-up
        to, tn = [], []
        for r in range(args.repeats):  # interleaved: both sides see the same machine load
            t = time.perf_counter()
            run_old(r)
            to.append(time.perf_counter() - t)
            t = time.perf_counter()
            run_new(r)
            tn.append(time.perf_counter() - t)
        a, b = min(to), min(tn)
        params = {"update": rule, "n_images": B, "height": S, "width": S, "n_chains": K, "n_sweeps": T,
                  "threads": args.threads}
        ups_old, ups_new = B * S * S * K * T / a, B * S * S * K * T / b
        records += [
            record("engine", "synthetic_grid", "GridCouplings",
                   {**params, "random_numbers": f"torch.rand (baseline {args.baseline})"},
                   "updates_per_second", {0: ups_old}, "updates/s", "cpu", COMMAND),
            record("engine", "synthetic_grid", "GridCouplings", {**params, "random_numbers": "counter-based"},
                   "updates_per_second", {0: ups_new}, "updates/s", "cpu", COMMAND),
            record("engine", "synthetic_grid", "GridCouplings", {**params, "ratio": "counter-based / torch.rand"},
                   "speed_ratio", {0: a / b}, "x", "cpu", COMMAND),
        ]
        print(f"{rule:11s} torch.rand {a * 1e3:8.1f} ms  counter-based {b * 1e3:8.1f} ms  "
              f"speed ratio new/old {a / b:.2f}", flush=True)
    load1 = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "grid_engine.json").write_text(json.dumps(records, indent=1))
    lines = [
        "# Grid sampling: the engine's counter-based random numbers against torch.rand",
        "",
        f"Command: `{COMMAND}`. Machine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} "
        f"thread(s); load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end (shared machine: "
        "old and new ran alternately, minimum of the repeats; read the ratios). "
        f"{B} images of {S} x {S}, {K} chains, {T} sweeps per call, coupling 0.3, normal fields.",
        "",
        "| update | random numbers | metric | value | unit |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        what = r["params"].get("random_numbers", r["params"].get("ratio"))
        lines.append(f"| {r['params']['update']} | {what} | {r['metric']} | {r['mean']:.4g} | {r['unit']} |")
    (RESULTS / "grid_engine.md").write_text("\n".join(lines) + "\n")
    print(f"(wrote {RESULTS / 'grid_engine'}.json and .md)")


if __name__ == "__main__":
    main()
