"""Segmentation benchmark: IsingSegmenter vs UNetSegmenter on Weizmann horses.

Paper (Section 4.1, CUB-200-2011 birds, which we do not have): Dice 0.87
(Ising) vs 0.85 (U-Net). Here: Weizmann Horse at ``--size`` px (fixed
0.8/0.1/0.1 split of :func:`skising.datasets.load_weizmann_horse`), the same
epoch budget, learning rate and batch size for both methods, the epoch with
the best validation Dice kept, Dice on the 33 test images, mean (std) over
seeds.

Every (method, seed) run merges its records into ``benchmarks/results/segment.json``
(tidy records with ``params`` and ``per_seed``, see ``benchmarks/README.md``; a
rerun of a seed replaces that seed's values) and re-renders ``segment.md``, so
seeds can run in separate processes.

Usage (the headline rows of ``segment.md``)::

    python benchmarks/bench_segment.py --size 64 --epochs 30 --batch-size 8 --coupling 0.25 --credit local \
        --n-samples 4 --seeds 0 1 2
    python benchmarks/bench_segment.py --size 64 --epochs 30 --batch-size 8 --methods UNetSegmenter --seeds 0 1 2
    python benchmarks/bench_segment.py --sampler-only      # grid conv2d path vs the CSR sampler
    python benchmarks/bench_segment.py --render-only       # segment.md from segment.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from skising.datasets import load_weizmann_horse
from skising.metrics import dice_score
from skising.segment import IsingSegmenter, UNetSegmenter

from _records import RESULTS, fmt, merge, record, seeds_of

JSON = RESULTS / "segment.json"
# Figure 2 panels are an intermediate of --render-figure, not a result: kept outside the tree
PANELS = Path(os.environ.get("SKISING_CACHE", Path.home() / ".cache" / "skising")) / "bench_segment_panels"
DATASET = "weizmann_horse"
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
    PANELS.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(PANELS / f"panels_{method}.npz", **out)


def render_figure(path, ising="IsingSegmenter", unet="UNetSegmenter"):
    """Figure 2: image, ground truth, U-Net logits, Ising field, Ising prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = np.load(PANELS / f"panels_{ising}.npz"), np.load(PANELS / f"panels_{unet}.npz")
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


def run_params(method, args):
    """The configuration of one run, as stored in the records' ``params``."""
    p = {"size": args.size, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size}
    if method == "IsingSegmenter":
        p.update(coupling=args.coupling, beta=args.beta, n_samples=args.n_samples, n_sweeps=args.n_sweeps,
                 credit=args.credit, credit_radius=args.credit_radius, n_predict_samples=args.n_predict_samples)
    return p


def command_for(rec):
    """The command that reproduces a record (all its seeds)."""
    p = rec["params"]
    if rec["metric"] == "updates_per_second":
        return (f"python benchmarks/bench_segment.py --sampler-only --size {p['size']} --batch-size {p['images']} "
                f"--n-samples {p['chains']} --n-sweeps {p['sweeps']}")
    opts = [f"--size {p['size']}", f"--epochs {p['epochs']}", f"--lr {p['lr']:g}", f"--batch-size {p['batch_size']}"]
    if rec["method"] == "IsingSegmenter":
        opts += [f"--coupling {p['coupling']:g}", f"--n-samples {p['n_samples']}", f"--n-sweeps {p['n_sweeps']}"]
        if p["beta"] != 1.0:
            opts.append(f"--beta {p['beta']:g}")
        if p["credit"] != "image":
            opts.append(f"--credit {p['credit']} --credit-radius {p['credit_radius']}")
        if p["n_predict_samples"] != 16:
            opts.append(f"--n-predict-samples {p['n_predict_samples']}")
    seeds = " ".join(str(s) for s in seeds_of(rec))
    return f"python benchmarks/bench_segment.py {' '.join(opts)} --methods {rec['method']} --seeds {seeds}"


def run_records(run, method, params, device):
    """Records of one fitted run (``run``: the per-seed values) for :func:`_records.merge`."""
    seed = run["seed"]
    out = []

    def add(metric, value, unit, extra=None):
        out.append(record("segment", DATASET, method, {**params, **(extra or {})}, metric, {seed: value}, unit,
                          device, ""))

    for prediction, value in run["dice"].items():
        add("dice", value, None, {"prediction": prediction})
    add("epoch_seconds", run["epoch_seconds"], "s")
    add("best_epoch", run["best_epoch"], "epoch")
    for metric, value in run.get("diagnostics", {}).items():
        add(metric, value, None)
    return out


def run_one(method, seed, args, data):
    tr, va, te = data
    kw = dict(max_epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, device=args.device, random_state=seed)
    if method == "IsingSegmenter":
        kw.update(n_sweeps=args.n_sweeps, n_samples=args.n_samples, n_predict_samples=args.n_predict_samples,
                  coupling=args.coupling, beta=args.beta, credit=args.credit, credit_radius=args.credit_radius)
    est = METHODS[method](**kw)
    t0 = time.perf_counter()
    est.fit(tr.images, tr.masks, va.images, va.masks)
    fit_s = time.perf_counter() - t0
    run = {"seed": seed, "epoch_seconds": float(np.mean([h["seconds"] for h in est.history_])),
           "best_epoch": int(est.best_epoch_), "dice": {}}
    if method == "IsingSegmenter":
        for pred in ("majority", "sample", "mean_field"):
            est.set_params(prediction=pred)
            run["dice"][pred] = float(est.score(te.images, te.masks))
        est.set_params(prediction="majority")
        # the sign of the field alone (no coupling): how much the Ising prior adds
        run["dice"]["field_sign"] = float(dice_score(te.masks, est.decision_function(te.images) > 0))
        run["diagnostics"] = chain_diagnostics(est, te)
    else:
        run["dice"]["threshold"] = float(est.score(te.images, te.masks))
    params = run_params(method, args)
    if args.save_panels and seed == args.seeds[0]:
        save_panels(est, method, te)
    merge(JSON, run_records(run, method, params, device_label(args.device)), command_for)
    print(f"{method:15s} seed {seed}: dice {run['dice']}  best epoch {run['best_epoch']}  "
          f"{run['epoch_seconds']:.1f} s/epoch  fit {fit_s:.0f} s", flush=True)
    return run


def bench_sampler(args, repeats=5):
    """Updates per second: conv grid path vs the generic CSR sampler on the same batch (public entry points)."""
    from skising.graph import batch_graphs, grid_graph
    from skising.sampling import sample_ising, sample_ising_grid

    B, K, S, n = args.batch_size, args.n_samples, args.n_sweeps, args.size
    dev = torch.device(args.device)
    h = torch.randn(B, n, n, generator=torch.Generator().manual_seed(0)).to(dev)
    g = batch_graphs([grid_graph(n, n, 8)] * B).to(dev)
    runs = {
        "grid_conv2d": lambda: sample_ising_grid(h, 1.0, 1.0, K, S, random_state=0, device=dev),
        "graph_csr": lambda: sample_ising(g, h.reshape(-1), 1.0, 1.0, K, S, random_state=0, device=dev),
    }
    records = []
    for name, f in runs.items():
        f()  # warm-up (plans, colouring cache)
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            rates.append(B * K * S * n * n / (time.perf_counter() - t0))
        # repeats of one timing, not seeds: stored under per_seed keys 0..repeats-1
        params = {"path": name, "size": n, "images": B, "chains": K, "sweeps": S}
        records.append(record("segment", DATASET, "ISING", params, "updates_per_second", dict(enumerate(rates)),
                              "1/s", device_label(args.device), ""))
        print(f"{name:12s} {np.mean(rates) / 1e6:.2f} M spin updates/s ({B} images x {K} chains x {S} sweeps, {n}x{n})")
    merge(JSON, records, command_for)


def _config(p):
    """Short label of a configuration (everything but the prediction rule)."""
    keys = [("size", "{} px"), ("epochs", "{} ep"), ("batch_size", "batch {}"), ("lr", "lr {:g}"),
            ("coupling", "J {:g}"), ("beta", "beta {:g}"), ("n_samples", "K {}"), ("n_sweeps", "{} sweeps")]
    parts = [fmt_.format(p[k]) for k, fmt_ in keys if k in p and not (k == "beta" and p[k] == 1.0)]
    if p.get("credit", "image") != "image":
        parts.append(f"credit {p['credit']} r={p['credit_radius']}")
    return ", ".join(parts)


def render():
    """``segment.md`` from ``segment.json``."""
    recs = json.loads(JSON.read_text())
    configs = {}  # (method, config label) -> {metric or dice/prediction: record}
    for r in recs:
        if r["metric"] == "updates_per_second":
            continue
        p = dict(r["params"])
        pred = p.pop("prediction", None)
        slot = configs.setdefault((r["method"], _config(p)), {})
        slot[f"dice/{pred}" if r["metric"] == "dice" else r["metric"]] = r
    lines = ["# Segmentation: Weizmann horses (test split, 33 images)", "",
             "Test Dice of the best-validation epoch, mean ± std over seeds (n seeds); `per seed` lists them in "
             "seed order. IsingSegmenter predictions: majority of `n_predict_samples` samples, one sample, the "
             "mean-field fixed point, and the sign of the field alone. Paper (CUB-200-2011 birds, not available "
             "here): Dice 0.87 (Ising) vs 0.85 (U-Net).", "",
             "| method | configuration | majority / threshold | one sample | mean field | sign of h | n | per seed |",
             "|---|---|---|---|---|---|---|---|"]
    for (method, cfg), slot in configs.items():
        main = slot.get("dice/majority") or slot.get("dice/threshold")
        if main is None:
            continue
        per = ", ".join(f"{v:.3f}" for v in main["per_seed"].values())
        cells = [fmt(main), fmt(slot.get("dice/sample")), fmt(slot.get("dice/mean_field")),
                 fmt(slot.get("dice/field_sign"))]
        lines.append(f"| {method} | {cfg} | " + " | ".join(cells) + f" | {main['n']} | {per} |")
    diag = ["epoch_seconds", "best_epoch", "chains_differ", "both_wrong", "sample_error", "mean_abs_field"]
    lines += ["", "## Training", "",
              "`chains_differ`: fraction of test pixels where two samples differ (only those get an RLOO gradient); "
              "`both_wrong`: fraction both samples misclassify; `sample_error`: misclassification of one sample; "
              "`mean_abs_field`: mean |h|. Epoch times are wall-clock with one torch thread per run on the device "
              "of the records, other jobs sharing the machine: compare them loosely.", "",
              "| method | configuration | " + " | ".join(diag) + " |", "|---|---|" + "---|" * len(diag)]
    for (method, cfg), slot in configs.items():
        lines.append(f"| {method} | {cfg} | " + " | ".join(fmt(slot.get(m)) for m in diag) + " |")
    samp = [r for r in recs if r["metric"] == "updates_per_second"]
    if samp:
        p = samp[0]["params"]
        lines += ["", "## Grid sampler throughput", "",
                  f"Spin updates per second, {p['images']} images x {p['chains']} chains x {p['sweeps']} sweeps, "
                  f"{p['size']} x {p['size']}, mean ± std over {samp[0]['n']} repeats "
                  f"(`{command_for(samp[0])}`).", "", "| path | updates/s | device |", "|---|---|---|"]
        lines += [f"| {r['params']['path']} | {fmt(r)} | {r['device']} |" for r in samp]
    devices = sorted({r["device"] for r in recs})
    lines += ["", f"Device: {'; '.join(devices)}. Each record's `command` in `segment.json` reproduces it.", ""]
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
    p.add_argument("--save-panels", action="store_true", help="store Figure 2 panels of the first seed's model")
    p.add_argument("--render-figure", metavar="PNG",
                   help="render Figure 2 from the panels stored by the last --save-panels runs and exit")
    p.add_argument("--n-samples", type=int, default=2)
    p.add_argument("--credit", default="image", choices=["image", "local"],
                   help="RLOO credit: the image's loss (paper, eq. 15) or the pixel's window (extension)")
    p.add_argument("--credit-radius", type=int, default=0)
    p.add_argument("--n-predict-samples", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--render-only", action="store_true", help="only render segment.md from segment.json")
    p.add_argument("--sampler-only", action="store_true", help="only time the grid sampler vs the CSR sampler")
    args = p.parse_args(argv)
    if args.render_figure:
        render_figure(args.render_figure)
        return
    if args.render_only:
        render()
        return
    torch.set_num_threads(args.threads)
    if args.sampler_only:
        bench_sampler(args)
        render()
        return
    data = tuple(load_weizmann_horse(args.size, split=s) for s in ("train", "val", "test"))
    for seed in args.seeds:
        for method in args.methods:
            run_one(method, seed, args, data)
    render()


if __name__ == "__main__":
    main()
