"""The generic IsingSubsampler at real sizes: CoverageLoss training steps from 1e3 to 1e6 nodes.

Two parts, both with the README recipe (``CoverageLoss(region=(top, 1.0),
outside_weight=0.02)``, ``coupling=-1.0``, ``magnetization="sample"``,
``penalty=10``, ``target_fraction=0.2``, ``n_samples=4``, ``n_sweeps=10``):

* ``scaling``: one training step of the estimator split into field network
  forward, sampling (``n_sweeps`` sweeps of ``n_samples`` chains), task loss,
  and energy + backward + Adam step, next to the two reference costs -- one
  sampler sweep and one forward/backward of the field network -- and the
  seconds per epoch of a real ``fit`` (one graph, one step per epoch). Each
  graph runs in a fresh process, whose peak RSS (VmHWM) is the memory row.
  Graphs: PSB meshes (fourleg 398, 1,480 v; fourleg 385, 10,436 v), the
  road network ``luxembourg_osm`` (114,599 nodes; it has no coordinates, so
  its positions are its 3 lowest non-trivial Laplacian eigenvectors, computed
  once and not timed) and the 1M-node Delaunay graph of ``bench_engine.py``
  (random points in the unit square as positions). The dense loss
  (``skising.subsampling._reference.coverage_loss_dense``, the former
  implementation) runs in the same way on the two meshes: the "before" rows.
* ``recipe``: the README recipe trained on one PSB mesh per category (chosen
  on the bundled bunny, confirmed here; 150 epochs, the default, and 300) and compared at the same kept
  fraction with FPS, RANDOM, the constant-field Ising model and SPECTRAL:
  mean CoverageLoss over 16 samples each, kept fraction, and fit seconds.

Run::

    python benchmarks/bench_generic.py                  # both parts
    python benchmarks/bench_generic.py --parts scaling  # or: recipe
    python benchmarks/bench_generic.py --quick          # no 1M graph, recipe on 30 epochs

Writes ``benchmarks/results/generic.json`` (tidy records) and ``generic.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import delaunay2d, peak_rss_gib, reset_peak_rss, suitesparse  # noqa: E402

from skising.graph import as_graph  # noqa: E402
from skising.gradients import rloo_surrogate  # noqa: E402
from skising.subsampling import CoverageLoss, IsingSubsampler, default_node_features  # noqa: E402
from skising.subsampling._reference import coverage_loss_dense  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = ("python benchmarks/bench_generic.py " + " ".join(a for a in sys.argv[1:] if not a.startswith("--child"))).strip()
RECORDS = []
FRACTION = 0.2
RECIPE = dict(coupling=-1.0, target_fraction=FRACTION, magnetization="sample", penalty=10.0, n_samples=4,
              n_sweeps=10, lr=5e-3)
SCALING = {  # name -> (builder key, sizes tag)
    "psb_fourleg_398": "1e3",
    "psb_fourleg_385": "1e4",
    "luxembourg_osm": "1e5",
    "delaunay2d_1e6": "1e6",
}
DENSE_ON = ("psb_fourleg_398", "psb_fourleg_385")


def record(dataset, method, metric, values, unit, params=None):
    v = np.atleast_1d(np.asarray(values, dtype=float))
    rec = {
        "task": "generic", "dataset": dataset, "method": method, "params": dict(params or {}), "metric": metric,
        "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None,
        "n": int(v.size) if v.size > 1 else None, "unit": unit, "device": "cpu", "command": COMMAND,
    }
    RECORDS.append(rec)
    print(f"  {dataset:18s} {method:10s} {str(params or ''):42s} {metric:22s} {rec['mean']:.4g} {unit}", flush=True)
    return rec["mean"]


# ----------------------------------------------------------------------------- graphs
def build(name):
    if name.startswith("psb_"):
        from skising.datasets import load_psb

        _, cat, pid = name.split("_")
        return load_psb(cat, ids=[int(pid)])[0]
    if name == "luxembourg_osm":
        import scipy.sparse as sp
        from scipy.sparse.linalg import eigsh

        g = suitesparse(name)
        A = g.to_scipy(weighted=False).tocsr().astype(float)
        L = (sp.diags(np.asarray(A.sum(1)).ravel()) - A).tocsc()
        _, vec = eigsh(L, k=4, sigma=-1e-2, which="LM")  # connected: drop the constant vector
        return as_graph(g.edges, num_nodes=g.num_nodes, pos=torch.as_tensor(vec[:, 1:]))
    if name.startswith("delaunay2d_"):
        n = int(float(name.split("_")[1]))
        g = delaunay2d(n)  # seed 0, as in bench_engine.py; the same points as positions
        return as_graph(g.edges, num_nodes=n, pos=torch.as_tensor(np.random.default_rng(0).random((n, 2))))
    raise ValueError(name)


def region_loss(g, dense=False):
    p = default_node_features(g)[:, : g.pos.shape[1]]
    top = p[int(torch.argmax(p[:, 1]))].tolist()  # the highest node, as the README demo's ears
    if not dense:
        return CoverageLoss(region=(top, 1.0), outside_weight=0.02)
    return lambda x, graph: coverage_loss_dense(x, graph, (top, 1.0), 0.02)


# ----------------------------------------------------------------------------- scaling (child process)
def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def child_main(name, loss_kind, args):
    torch.set_num_threads(args.threads)
    g = build(name)
    gc.collect()
    reset_peak_rss()
    rss0 = peak_rss_gib()
    loss = region_loss(g, dense=loss_kind == "dense")
    est = IsingSubsampler(loss=loss, max_epochs=args.epochs, random_state=0, **RECIPE)
    est.fit([g])
    epoch_s = [r["seconds"] for r in est.history_[1:]] or [est.history_[0]["seconds"]]
    peak = peak_rss_gib()
    # one training step, phase by phase, as IsingSubsampler._train runs it
    K, beta = int(est.n_samples), float(est.beta)
    model = est.field_model_
    opt = torch.optim.Adam(model.parameters(), lr=est.lr)
    batch = est._collate([g])
    phases = {k: [] for k in ("forward", "sampling", "loss", "backward", "step", "sweep", "field_fwd_bwd")}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        h, t = _timed(lambda: est._field(batch))
        phases["forward"].append(t)
        J = est._couplings(batch)
        with torch.no_grad():
            x, t = _timed(lambda: est._sample_batch(batch, h, J, K, est._torch_gen))
        phases["sampling"].append(t)
        losses, t = _timed(lambda: est._task_loss(x, batch).detach())
        phases["loss"].append(t)

        def backward():
            E = est._energy_batch(batch, x, h, J)
            obj = rloo_surrogate(losses, E, beta)
            opt.zero_grad(set_to_none=True)
            obj.backward()
            opt.step()

        _, t = _timed(backward)
        phases["backward"].append(t)
        phases["step"].append(time.perf_counter() - t0)
        with torch.no_grad():
            _, t = _timed(lambda: est._sample_batch(batch, h.detach(), J, K, est._torch_gen, n_sweeps=1))
        phases["sweep"].append(t)

        def fwd_bwd():
            model.zero_grad(set_to_none=True)
            est._field(batch).sum().backward()

        _, t = _timed(fwd_bwd)
        phases["field_fwd_bwd"].append(t)
    print("RESULT", json.dumps({"n": g.num_nodes, "m": g.num_edges, "epoch": epoch_s, "peak": peak, "rss0": rss0,
                                "declared": est._loss_memory_bytes(loss, batch.graph, K), **phases}))


def scaling(args):
    names = [n for n in SCALING if not (args.quick and SCALING[n] == "1e6")]
    runs = [(n, "fast") for n in names] + [(n, "dense") for n in DENSE_ON]
    for name, kind in runs:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", name, kind, "--threads", str(args.threads),
                              "--repeats", str(args.repeats), "--epochs", str(args.epochs)],
                             capture_output=True, text=True)
        res = next((json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")), None)
        if res is None:
            print(f"({name}, {kind} loss: child failed: {out.stderr.strip()[-600:]})", flush=True)
            continue
        print(f"({name}, {kind} loss: {time.perf_counter() - t0:.0f} s)", flush=True)
        prm = {"loss": "CoverageLoss" if kind == "fast" else "dense (former)", "n_nodes": res["n"],
               "n_edges": res["m"], "threads": args.threads, **{k: RECIPE[k] for k in ("n_samples", "n_sweeps")}}
        method = "ISING+MAG"
        for ph in ("forward", "sampling", "loss", "backward", "step", "sweep", "field_fwd_bwd"):
            record(name, method, f"{ph}_seconds", res[ph], "s", prm)
        ref = np.median(res["sweep"]) + np.median(res["field_fwd_bwd"])
        record(name, method, "step_over_sweep_plus_fwd_bwd", np.median(res["step"]) / ref, "x", prm)
        record(name, method, "loss_over_sweep_plus_fwd_bwd", np.median(res["loss"]) / ref, "x", prm)
        record(name, method, "epoch_seconds", res["epoch"], "s", prm)
        record(name, method, "peak_rss", res["peak"], "GiB", prm)
        record(name, method, "peak_rss_above_start_per_node", (res["peak"] - res["rss0"]) * 2**30 / res["n"],
               "bytes/node", prm)
        if res["declared"]:
            record(name, method, "loss_memory_declared", res["declared"] / 2**30, "GiB", prm)
        write(args)


# ----------------------------------------------------------------------------- recipe on real meshes
def recipe(args):
    from skising import (
        ConstantFieldIsingSubsampler,
        FarthestPointSubsampler,
        RandomSubsampler,
        SpectralSubsampler,
    )

    torch.set_num_threads(args.threads)
    epoch_list = [30] if args.quick else [int(e) for e in args.recipe_epochs.split(",")]
    for name in args.recipe_meshes.split(","):
        g = build(name)
        loss = region_loss(g)
        prm = {"n_nodes": g.num_nodes, "fraction": FRACTION}
        methods = []
        for epochs in epoch_list:
            t0 = time.perf_counter()
            ising = IsingSubsampler(loss=loss, max_epochs=epochs, random_state=args.seed, **RECIPE).fit([g])
            record(name, "ISING+MAG", "fit_seconds", time.perf_counter() - t0, "s",
                   {**prm, **RECIPE, "max_epochs": epochs})
            methods.append(("ISING+MAG", {**RECIPE, "max_epochs": epochs}, ising))
        methods += [
            ("ISING", {"coupling": -1.0, "field": "constant"},
             ConstantFieldIsingSubsampler(FRACTION, coupling=-1.0, random_state=args.seed).fit([g])),
            ("RANDOM", {}, RandomSubsampler(FRACTION, random_state=args.seed).fit([g])),
            ("FPS", {}, FarthestPointSubsampler(FRACTION, random_state=args.seed).fit([g])),
            ("SPECTRAL", {"mode": "rank"}, SpectralSubsampler(FRACTION, mode="rank").fit([g])),
        ]
        for method, mp, sub in methods:
            t = time.perf_counter()
            masks = np.stack(list(sub.sample(g, args.n_eval)))
            dt = (time.perf_counter() - t) / args.n_eval
            x = torch.as_tensor(masks).float() * 2 - 1
            vals = loss(x, g)[:, 0].numpy()
            p = {**prm, **mp}
            record(name, method, "coverage_loss", vals, "", p)
            record(name, method, "kept_fraction", masks.mean(1), "", p)
            record(name, method, "sample_seconds", dt, "s", p)
        write(args)


# ----------------------------------------------------------------------------- output
def write(args):
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "generic" if not args.quick else "generic_quick"
    path = RESULTS / f"{stem}.json"
    recs = RECORDS
    if path.exists():  # a partial run replaces its own records and keeps the others
        def key(r):
            return r["dataset"], r["method"], r["metric"], r["params"].get("loss"), r["params"].get("max_epochs")

        new = {key(r) for r in RECORDS}
        recs = [r for r in json.loads(path.read_text()) if key(r) not in new] + RECORDS
    path.write_text(json.dumps(recs, indent=1))
    load = os.getloadavg()
    lines = [
        "# Generic IsingSubsampler at real sizes",
        "",
        "Commands: " + ", ".join(f"`{c}`" for c in sorted({r["command"] for r in recs})) + ". "
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {args.threads} thread(s); load average at the end {load[0]:.1f} (shared "
        "machine: absolute timings are depressed; the ratios compare costs measured in the same process).",
        "",
    ]
    steps = [r for r in recs if r["metric"].endswith("_seconds") and "loss" in r["params"]]
    if steps:
        lines += ["## One training step, split (seconds, means over the repeats; the two ratios are of medians)", "",
                  "| dataset | nodes | loss implementation | forward | sampling | loss | backward | step | one sweep | "
                  "field fwd+bwd | step / (sweep + fwd/bwd) | loss / (sweep + fwd/bwd) | epoch (fit) | peak RSS GiB | "
                  "peak above start, bytes/node |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        keys = sorted({(r["dataset"], r["params"]["loss"]) for r in steps},
                      key=lambda k: (next(r["params"]["n_nodes"] for r in steps if r["dataset"] == k[0]), k[1]))
        for ds, lk in keys:
            def get(metric):
                r = next((r for r in recs if r["dataset"] == ds and r["params"].get("loss") == lk
                          and r["metric"] == metric), None)
                return float("nan") if r is None else r["mean"]

            n = next(r["params"]["n_nodes"] for r in steps if r["dataset"] == ds)
            lines.append(
                f"| {ds} | {n:,} | {lk} | " + " | ".join(f"{get(m + '_seconds'):.3g}" for m in
                ("forward", "sampling", "loss", "backward", "step", "sweep", "field_fwd_bwd"))
                + f" | {get('step_over_sweep_plus_fwd_bwd'):.2f} | {get('loss_over_sweep_plus_fwd_bwd'):.2f}"
                f" | {get('epoch_seconds'):.3g} | {get('peak_rss'):.2f} | {get('peak_rss_above_start_per_node'):.0f} |")
        lines.append("")
    cov = [r for r in recs if r["metric"] == "coverage_loss"]
    if cov:
        lines += ["## The README recipe on PSB meshes (CoverageLoss, lower is better; 20 % kept)", "",
                  "| dataset | method | epochs | coverage loss | std | kept | seconds/sample |",
                  "|---|---|---|---|---|---|---|"]
        for r in cov:
            def other(metric):
                o = next((o for o in recs if o["dataset"] == r["dataset"] and o["method"] == r["method"]
                          and o["params"].get("max_epochs") == r["params"].get("max_epochs")
                          and o["metric"] == metric), None)
                return float("nan") if o is None else o["mean"]

            lines.append(f"| {r['dataset']} | {r['method']} | {r['params'].get('max_epochs', '')} | {r['mean']:.4f} | {r['std']:.4f} | "
                         f"{other('kept_fraction'):.1%} | {other('sample_seconds'):.4f} |")
        fits = [r for r in recs if r["metric"] == "fit_seconds"]
        lines += [""] + [f"Fit of ISING+MAG on {r['dataset']} ({r['params']['n_nodes']:,} v, "
                         f"{r['params']['max_epochs']} epochs): {r['mean']:.0f} s." for r in fits]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="scaling,recipe", help="scaling, recipe, or render (rewrite the .md only)")
    p.add_argument("--quick", action="store_true", help="no 1M-node graph; the recipe on 30 epochs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3, help="fit epochs of the scaling part (the first is not timed)")
    p.add_argument("--recipe-epochs", default="150,300", help="comma list: one ISING+MAG fit per value")
    p.add_argument("--recipe-meshes", default="psb_fourleg_385,psb_human_2,psb_bust_313,psb_chair_115")
    p.add_argument("--n-eval", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        child_main(args.child[0], args.child[1], args)
        return
    parts = set(args.parts.split(","))
    if "scaling" in parts:
        scaling(args)
    if "recipe" in parts:
        recipe(args)
    write(args)


if __name__ == "__main__":
    main()
