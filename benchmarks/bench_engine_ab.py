"""Engine kernels, old against new, interleaved in one process (for a shared, noisy machine).

The compiled sweep kernels of a baseline commit (``git show <commit>:skising/sampling/_kernels.py``,
imported from a temporary file) and of the working tree run on the same colour-permuted
plan, alternately, ``--repeats`` times each; the minimum per kernel is kept and the ratio
old / new reported. Both must return the same spins bit for bit (checked on every case).
Couplings are dyadic random values (exact local fields), fields normal(0, 0.5).

Run::

    python benchmarks/bench_engine_ab.py                       # baseline 240165c, 1M Delaunay + bust + luxembourg_osm
    python benchmarks/bench_engine_ab.py --graphs bust --threads 1,2

Writes ``benchmarks/results/engine_ab.json`` (tidy records) and ``engine_ab.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# numba's and torch's OpenMP workers busy-wait after each parallel region; alternating old (numba
# threads) and new (the explicit-SIMD kernel's own threads) kernels, the spinning workers of one
# took a core from the other (bust, 32 chains, 2 threads: the new kernel no faster than on one
# thread). Set before numba or torch start their pools, as in bench_engine.py.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_engine import delaunay2d, psb_mesh, suitesparse  # noqa: E402

from skising.sampling import _kernels  # noqa: E402
from skising.sampling._sampler import _plan  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = "python benchmarks/bench_engine_ab.py " + " ".join(sys.argv[1:])
RECORDS = []


def record(dataset, method, metric, values, unit):
    v = np.atleast_1d(np.asarray(values, dtype=float))
    RECORDS.append({
        "task": "engine", "dataset": dataset, "method": method, "metric": metric, "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else None, "n": int(v.size) if v.size > 1 else None,
        "unit": unit, "device": "cpu", "command": COMMAND.strip(),
    })


def load_baseline(commit):
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:skising/sampling/_kernels.py"],
                         check=True, capture_output=True, text=True).stdout
    d = Path(tempfile.mkdtemp(prefix="skising_ab_"))
    path = d / f"kernels_{commit[:10]}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def graph(name, n):
    if name == "delaunay":
        return delaunay2d(n), f"delaunay2d_{n:.0e}".replace("+0", "")
    if name == "bust":
        return psb_mesh()
    return suitesparse(name), name


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="240165c", help="commit whose kernels are the 'old' side")
    p.add_argument("--graphs", default="delaunay,bust,luxembourg_osm")
    p.add_argument("--n", type=int, default=10**6, help="nodes of the Delaunay graph")
    p.add_argument("--chains", default="1,2,32")
    p.add_argument("--threads", default="1")
    p.add_argument("--rules", default="metropolis,heat_bath")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sweeps", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)
    old_k = load_baseline(args.baseline)
    # a baseline with the sliced-ELL kernels gets the same layout (compares kernels, not layouts)
    old_has_ell = "ell" in inspect.signature(old_k.sweeps_numba).parameters
    load0 = os.getloadavg()
    rng = np.random.default_rng(0)
    for gname in args.graphs.split(","):
        g, name = graph(gname, args.n)
        plan = _plan(g, "auto", "cpu")
        t0 = time.perf_counter()
        lay = plan.ell()
        t_ell = time.perf_counter() - t0
        n = plan.n
        print(f"== {name}: n={n:,}, {plan.col.size:,} entries, sliced ELL {t_ell:.3f} s, "
              f"padding {lay[4].size / max(1, plan.col.size):.3f}x", flush=True)
        record(name, "skising sliced ELL", "setup_seconds", t_ell, "s")
        record(name, "skising sliced ELL", "padding", lay[4].size / max(1, plan.col.size), "x")
        J = rng.choice(np.array([-1.0, -0.5, 0.25, 1.0], np.float32), g.num_edges)
        val = J[plan.eid_np]
        ell = (*lay[:5], np.append(J, np.float32(0))[lay[5]])
        sk = _kernels.sweep_keys(7, args.sweeps)
        for rule in args.rules.split(","):
            heat = rule == "heat_bath"
            for K in map(int, args.chains.split(",")):
                H = rng.normal(0, 0.5, (n, 1)).astype(np.float32)
                X0 = np.where(rng.random((n, K)) < 0.5, -1, 1).astype(np.int8)
                for th in map(int, args.threads.split(",")):
                    def run_old():
                        X = X0.copy()
                        kw = {"ell": ell if K < 8 else None} if old_has_ell else {}
                        old_k.sweeps_numba(plan.rowptr, plan.col, val, X, H, plan.bounds, sk, 3, 0.5, heat,
                                           n_threads=th, **kw)
                        return X

                    def run_new():
                        X = X0.copy()
                        _kernels.sweeps_numba(plan.rowptr, plan.col, val, X, H, plan.bounds, sk, 3, 0.5, heat,
                                              n_threads=th, ell=ell if K < 8 else None)
                        return X

                    if not np.array_equal(run_old(), run_new()):
                        raise AssertionError(f"{name} {rule} K={K}: old and new kernels disagree")
                    to, tn = [], []
                    for _ in range(args.repeats):
                        t = time.perf_counter()
                        run_old()
                        to.append((time.perf_counter() - t) / args.sweeps)
                        t = time.perf_counter()
                        run_new()
                        tn.append((time.perf_counter() - t) / args.sweeps)
                    a, b = min(to), min(tn)
                    tag = f"{rule}, {K} chain{'s' * (K > 1)}, {th} thread{'s' * (th > 1)}"
                    record(name, f"old kernels ({args.baseline}), {tag}", "sweep_seconds", a, "s")
                    record(name, f"new kernels, {tag}", "sweep_seconds", b, "s")
                    record(name, f"new kernels, {tag}", "updates_per_second", n * K / b, "updates/s")
                    record(name, f"old / new, {tag}", "speedup", a / b, "x")
                    print(f"  {tag:42s} old {a * 1e3:8.2f} ms  new {b * 1e3:8.2f} ms  ({n * K / b:.3g} updates/s)  "
                          f"old/new {a / b:.2f}", flush=True)
    load1 = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "engine_ab.json").write_text(json.dumps(RECORDS, indent=1))
    lines = [
        "# Engine kernels: old against new, in one process",
        "",
        f"Command: `{COMMAND.strip()}`. Machine: {platform.machine()}, {os.cpu_count()} cores, numba "
        f"{getattr(_kernels._nb, '__version__', 'absent')}; load average {load0[0]:.1f} at the start, "
        f"{load1[0]:.1f} at the end (shared machine: absolute times are inflated; old and new ran "
        "alternately, minimum of the repeats, so the ratios are the figures to read). Kernel time only "
        "(no per-call set-up); outputs checked identical bit for bit.",
        "",
        "| dataset | method | metric | value | unit |",
        "|---|---|---|---|---|",
    ]
    for r in RECORDS:
        lines.append(f"| {r['dataset']} | {r['method']} | {r['metric']} | {r['mean']:.4g} | {r['unit']} |")
    (RESULTS / "engine_ab.md").write_text("\n".join(lines) + "\n")
    print(f"(wrote {RESULTS / 'engine_ab'}.json and .md)")


if __name__ == "__main__":
    main()
