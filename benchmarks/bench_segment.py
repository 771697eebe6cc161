"""Segmentation benchmark: IsingSegmenter vs UNetSegmenter on Weizmann horses.

Paper (Section 4.1, CUB-200-2011 birds, which we do not have): Dice 0.87
(Ising) vs 0.85 (U-Net). Here: Weizmann Horse at ``--size`` px (fixed
0.8/0.1/0.1 split of :func:`skising.datasets.load_weizmann_horse`), the same
epoch budget, learning rate and batch size for both methods, the epoch with
the best validation Dice kept, Dice on the 33 test images, mean (std) over
seeds.

Each (method, seed) run writes ``benchmarks/results/segment_runs/`` so that
runs can be spread over processes; ``--aggregate`` (run last, or implied when
one process does every run) writes ``benchmarks/results/segment.json`` (tidy
records, see CONVENTIONS.md) and ``segment.md``.

Usage::

    python benchmarks/bench_segment.py --size 64 --epochs 30 --seeds 0 1 2
    python benchmarks/bench_segment.py --size 64 --epochs 30 --seeds 0 --methods IsingSegmenter --no-aggregate
    python benchmarks/bench_segment.py --aggregate-only
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skising.datasets import load_weizmann_horse
from skising.metrics import dice_score
from skising.segment import IsingSegmenter, UNetSegmenter

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = RESULTS / "segment_runs"
METHODS = {"IsingSegmenter": IsingSegmenter, "UNetSegmenter": UNetSegmenter}


def device_label(device):
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), shared machine)"


def chain_diagnostics(est, te):
    """Why RLOO learns slowly: with K = 2 samples a pixel's field only gets a
    gradient where the two samples differ (eq. 15), so pixels that both
    samples get wrong carry no signal."""
    x = est.sample(te.images, n_samples=2)
    wrong = x != te.masks[None]
    h = est.decision_function(te.images)
    return {"chains_differ": float((x[0] != x[1]).mean()), "both_wrong": float(wrong.all(0).mean()),
            "sample_error": float(wrong.mean()), "mean_abs_field": float(np.abs(h).mean())}


def save_panels(est, method, te, n_show=4):
    """Store what Figure 2 shows for the first test images (rendered by --render-figure)."""
    idx = np.arange(n_show)
    out = {"image": te.images[idx], "mask": te.masks[idx], "output": est.decision_function(te.images[idx])}
    if method.startswith("IsingSegmenter"):
        out["prediction"] = est.predict(te.images[idx])
    RUNS.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(RUNS / f"panels_{method}.npz", **out)


def render_figure(ising, unet, path):
    """Figure 2: image, ground truth, U-Net logits, Ising field, Ising prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = np.load(RUNS / f"panels_{ising}.npz"), np.load(RUNS / f"panels_{unet}.npz")
    cols = ["image", "ground truth", "U-Net logits", "Ising field h", "Ising prediction"]
    n = len(a["image"])
    fig, axes = plt.subplots(n, len(cols), figsize=(1.6 * len(cols), 1.6 * n), squeeze=False)
    for r in range(n):
        panels = [a["image"][r], a["mask"][r], b["output"][r], a["output"][r], a["prediction"][r]]
        for c, (ax, p) in enumerate(zip(axes[r], panels)):
            if c in (2, 3):
                lim = float(np.abs(p).max()) or 1.0
                ax.imshow(p, cmap="coolwarm", vmin=-lim, vmax=lim)
            else:
                ax.imshow(p, cmap=None if c == 0 else "gray")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(cols[c], fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def run_one(method, seed, args, data):
    tr, va, te = data
    kw = dict(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, device=args.device, random_state=seed)
    if method == "IsingSegmenter":
        kw.update(n_sweeps=args.n_sweeps, n_samples=args.n_samples, n_predict_samples=args.n_predict_samples,
                  coupling=args.coupling, beta=args.beta, credit=args.credit, credit_radius=args.credit_radius)
    est = METHODS[method](**kw)
    t0 = time.perf_counter()
    est.fit(tr.images, tr.masks, va.images, va.masks)
    fit_s = time.perf_counter() - t0
    rec = {
        "method": method + (f"({args.tag})" if args.tag else ""), "seed": seed, "size": args.size, "epochs": args.epochs, "lr": args.lr,
        "batch_size": args.batch_size, "fit_seconds": fit_s,
        "epoch_seconds": float(np.mean([h["seconds"] for h in est.history_])),
        "best_epoch": int(est.best_epoch_), "history": est.history_,
        "dice": {},
    }
    if method == "IsingSegmenter":
        for pred in ("majority", "sample", "mean_field"):
            est.set_params(prediction=pred)
            rec["dice"][pred] = float(est.score(te.images, te.masks))
        est.set_params(prediction="majority")
        # the sign of the field alone (no coupling): how much the Ising prior adds
        rec["dice"]["field_sign"] = float(dice_score(te.masks, est.decision_function(te.images) > 0))
        rec.update(n_sweeps=args.n_sweeps, n_samples=args.n_samples, n_predict_samples=args.n_predict_samples,
                   coupling=args.coupling, beta=args.beta, credit=args.credit, credit_radius=args.credit_radius)
        rec["diagnostics"] = chain_diagnostics(est, te)
    else:
        rec["dice"]["threshold"] = float(est.score(te.images, te.masks))
    rec["device"] = device_label(args.device)
    if args.save_panels and seed == args.seeds[0]:
        save_panels(est, rec["method"], te)
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / f"{rec['method']}_seed{seed}_{args.size}px_{args.epochs}ep.json").write_text(json.dumps(rec, indent=1))
    print(f"{rec['method']:15s} seed {seed}: dice {rec['dice']}  best epoch {rec['best_epoch']}  "
          f"{rec['epoch_seconds']:.1f} s/epoch  fit {fit_s:.0f} s", flush=True)
    return rec


def bench_sampler(args, repeats=5):
    """Updates per second: conv grid path vs the generic CSR sampler on the same batch."""
    from skising.graph import batch_graphs, grid_graph
    from skising.sampling._grid import _grid_sample, grid_kernel
    from skising.sampling._sampler import _sample

    B, K, S, n = args.batch_size, args.n_samples, args.n_sweeps, args.size
    dev = torch.device(args.device)
    gen = torch.Generator(device=dev).manual_seed(0)
    h = torch.randn(B, n, n, generator=gen, device=dev)
    g = batch_graphs([grid_graph(n, n, 8)] * B).to(dev)
    J = torch.ones(g.num_edges, device=dev)
    kern = grid_kernel(1.0, device=dev)
    runs = {
        "grid_conv2d": lambda: _grid_sample(h, kern, 1.0, K, S, "metropolis", "random", gen),
        "graph_csr": lambda: _sample(g, h.reshape(-1), J, 1.0, K, S, "metropolis", "random", gen),
    }
    out = {}
    for name, f in runs.items():
        f()  # warm-up (plans, colouring cache)
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            rates.append(B * K * S * n * n / (time.perf_counter() - t0))
        out[name] = rates
        print(f"{name:12s} {np.mean(rates) / 1e6:.2f} M spin updates/s ({B} images x {K} chains x {S} sweeps, {n}x{n})")
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS.parent / "segment_sampler.json").write_text(json.dumps(
        {"rates": out, "setting": f"{B} images x {K} chains x {S} sweeps, {n}x{n}", "device": device_label(args.device)}))


def aggregate(command):
    runs = [json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))]
    if not runs:
        raise SystemExit(f"no runs in {RUNS}")
    records, rows = [], []
    groups = {}
    for r in runs:
        groups.setdefault((r["method"], r["size"], r["epochs"]), []).append(r)
    for (method, size, epochs), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        if method.startswith("IsingSegmenter"):
            variants = [("majority", method), ("sample", method + "[sample]"),
                        ("mean_field", method + "[mean_field]"), ("field_sign", method + "[field_sign]")]
        else:
            variants = [("threshold", method)]
        dev = rs[0]["device"]
        note = f"{size}px, {epochs} epochs, lr {rs[0]['lr']}, batch {rs[0]['batch_size']}"
        if "n_sweeps" in rs[0]:
            note += f", J {rs[0].get('coupling', 1.0)}, K {rs[0]['n_samples']}, {rs[0]['n_sweeps']} sweeps"
            if rs[0].get("beta", 1.0) != 1.0:
                note += f", beta {rs[0]['beta']}"
            if rs[0].get("credit", "image") != "image":
                note += f", credit {rs[0]['credit']} r={rs[0]['credit_radius']}"
        for key, name in variants:
            vals = [r["dice"][key] for r in rs]
            rec = {"task": "segment", "dataset": "weizmann_horse", "method": name, "metric": "dice",
                   "mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
                   "n": len(vals), "unit": None, "device": dev, "command": command, "setting": note,
                   "per_seed": vals}
            records.append(rec)
            rows.append((name, "dice", rec, note))
        es = [r["epoch_seconds"] for r in rs]
        rec = {"task": "segment", "dataset": "weizmann_horse", "method": method, "metric": "epoch_seconds",
               "mean": float(np.mean(es)), "std": float(np.std(es, ddof=1)) if len(es) > 1 else None, "n": len(es),
               "unit": "s", "device": dev, "command": command, "setting": note, "per_seed": es}
        records.append(rec)
        rows.append((method, "epoch_seconds", rec, note))
        if all("diagnostics" in r for r in rs):  # test-set chain statistics (see chain_diagnostics)
            for key in rs[0]["diagnostics"]:
                vals = [r["diagnostics"][key] for r in rs]
                rec = {"task": "segment", "dataset": "weizmann_horse", "method": method, "metric": key,
                       "mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
                       "n": len(vals), "unit": None, "device": dev, "command": command, "setting": note,
                       "per_seed": vals}
                records.append(rec)
                rows.append((method, key, rec, note))
        be = [r["best_epoch"] for r in rs]
        records.append({"task": "segment", "dataset": "weizmann_horse", "method": method, "metric": "best_epoch",
                        "mean": float(np.mean(be)), "std": None, "n": len(be), "unit": "epoch", "device": dev,
                        "command": command, "setting": note, "per_seed": be})
    RESULTS.mkdir(exist_ok=True)
    samp = RESULTS / "segment_sampler.json"
    if samp.exists():
        sd = json.loads(samp.read_text())
        for name, rates in sd["rates"].items():
            rec = {"task": "segment", "dataset": "weizmann_horse", "method": name, "metric": "updates_per_second",
                   "mean": float(np.mean(rates)), "std": float(np.std(rates, ddof=1)), "n": len(rates), "unit": "1/s",
                   "device": sd["device"], "command": "python benchmarks/bench_segment.py --sampler-only",
                   "setting": sd["setting"], "per_seed": None}
            records.append(rec)
            rows.append((name, "updates_per_second", rec, sd["setting"]))
    (RESULTS / "segment.json").write_text(json.dumps(records, indent=1))
    lines = [
        "# Segmentation: Weizmann horses (test split, 33 images)",
        "",
        "Paper (CUB-200-2011 birds): Dice 0.87 (Ising) vs 0.85 (U-Net). Mean (std) over seeds; best-validation epoch.",
        "",
        "| method | metric | mean | std | n | per seed | setting |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, metric, rec, note in rows:
        std = "" if rec["std"] is None else f"{rec['std']:.3f}"
        per = "" if rec["per_seed"] is None else ", ".join(f"{v:.3f}" for v in rec["per_seed"])
        if metric == "updates_per_second":
            std = f"{rec['std']:.3g}"
            lines.append(f"| {name} | {metric} | {rec['mean']:.3g} | {std} | {rec['n']} | {per} | {note} |")
        else:
            lines.append(f"| {name} | {metric} | {rec['mean']:.3f} | {std} | {rec['n']} | {per} | {note} |")
    lines += ["", "`chains_differ`: fraction of test pixels where two samples differ (only those get an RLOO "
              "gradient); `both_wrong`: fraction both samples misclassify; `sample_error`: misclassification "
              "of one sample; `mean_abs_field`: mean |h|.",
              "", f"Device: {records[0]['device']}. Wall-clock times come from a shared 2-core machine running "
              "other jobs (load average 6-25 during the training runs, about 1 for the sampler timing): "
              "compare them loosely.", "", f"Command: `{command}`", ""]
    (RESULTS / "segment.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n-sweeps", type=int, default=10)
    p.add_argument("--coupling", type=float, default=1.0, help="J of the 8 neighbours (paper: 1)")
    p.add_argument("--beta", type=float, default=1.0, help="inverse temperature (paper: 1)")
    p.add_argument("--tag", default="", help="label appended to the method name for variants")
    p.add_argument("--save-panels", action="store_true", help="store Figure 2 panels of the first seed's model")
    p.add_argument("--render-figure", nargs=3, metavar=("ISING_METHOD", "UNET_METHOD", "PNG"),
                   help="render Figure 2 from stored panels and exit")
    p.add_argument("--n-samples", type=int, default=2)
    p.add_argument("--credit", default="image", choices=["image", "local"],
                   help="RLOO credit: the image's loss (paper, eq. 15) or the pixel's window (extension)")
    p.add_argument("--credit-radius", type=int, default=0)
    p.add_argument("--n-predict-samples", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-aggregate", action="store_true")
    p.add_argument("--aggregate-only", action="store_true")
    p.add_argument("--sampler-only", action="store_true", help="only time the grid sampler vs the CSR sampler")
    p.add_argument("--command", default=None, help="command line to record (default: this one)")
    args = p.parse_args(argv)
    command = args.command or "python benchmarks/bench_segment.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.render_figure:
        render_figure(*args.render_figure)
        return
    if args.aggregate_only:
        aggregate(command)
        return
    torch.set_num_threads(args.threads)
    if args.sampler_only:
        bench_sampler(args)
        return
    data = tuple(load_weizmann_horse(args.size, split=s) for s in ("train", "val", "test"))
    for seed in args.seeds:
        for method in args.methods:
            run_one(method, seed, args, data)
    if not args.no_aggregate:
        aggregate(command)


if __name__ == "__main__":
    main()
