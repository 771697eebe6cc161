"""Table 5 reproduction: mesh sparsification on the PSB categories, 5-fold CV.

For every category (bust, fourleg, human, chair; 20 meshes each) the meshes
are split into 5 folds (sklearn ``KFold(shuffle=True, random_state=0)``); for
each fold a :class:`skising.sparsify.MeshSparsifier` (ISING+MAG) is trained
on the 16 training meshes and every method keeps half of the vertices of the
4 test meshes. Each test mesh appears in exactly one fold, so the reported
mean (std) is over the 20 meshes of the category (each value itself the
average of ``--n-eval`` samples for stochastic methods).

Metrics (see ``skising.metrics.vertex_to_mesh_distance``):

* ``vertex_to_mesh`` -- the Table 5 comparable normalisation, 10 x mean
  unsquared distance of the original vertices to the coarse surface / mean
  edge length of the original mesh;
* ``vertex_to_mesh_eq21`` -- eq. 21 as written, sum of squared distances
  (mesh units squared).

Methods: ISING+MAG (learned), ISING (zero field, J = -1), RANDOM, SPECTRAL
(normalised Laplacian polarity), FPS (random start), POINT SAMPLER (a DevConv
score network trained per fold on the same loss by the score-function
estimator on independent keep decisions; Gumbel-top-k selection of exactly
half of the vertices; ``skising.sparsify.PointSamplerSubsampler``), and beyond the paper
QUADRIC (fast_simplification quadric edge collapse to the same vertex count;
it moves vertices). Timings: training seconds per epoch, sampling seconds and
sampling+coarsening seconds per mesh.

Usage::

    python benchmarks/bench_mesh.py --epochs 4 --categories human chair
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from skising.baselines import ConstantFieldIsingSubsampler, FarthestPointSubsampler, RandomSubsampler, SpectralSubsampler
from skising.datasets import load_psb
from skising.metrics._mesh import _distance, _normalize
from skising.sparsify import EquivariantMeshField, InvariantMeshField, MeshSparsifier, PointSamplerSubsampler
from skising.sparsify._coarsen import _coarsen
from skising.sparsify._sparsifier import _MeshItem, _vertex_distances

RESULTS = Path(__file__).resolve().parent / "results"
PAPER = {  # Table 5 of the paper, mean over test meshes
    "ISING+MAG": dict(bust=0.221, fourleg=0.339, human=0.366, chair=0.369),
    "ISING": dict(bust=0.288, fourleg=0.411, human=0.409, chair=0.548),
    "RANDOM": dict(bust=0.343, fourleg=0.498, human=0.498, chair=0.592),
    "SPECTRAL": dict(bust=0.290, fourleg=0.415, human=0.412, chair=0.569),
    "POINT SAMPLER": dict(bust=0.298, fourleg=0.476, human=0.494, chair=0.576),
    "FPS": dict(bust=0.303, fourleg=0.395, human=0.417, chair=0.619),
}
METHODS = ["ISING+MAG", "ISING", "RANDOM", "SPECTRAL", "FPS", "POINT SAMPLER", "QUADRIC"]
PAPER_EPOCH_SECONDS = dict(bust=35.2, fourleg=9.3, human=11.8, chair=13.0)


def evaluate(item, keep):
    """(table, eq21, seconds for coarsening+distance) for one mask."""
    t0 = time.perf_counter()
    Vc, Fc, _ = _coarsen(item.V, item.F, keep, item.edges)
    t_coarsen = time.perf_counter() - t0
    d = _vertex_distances(item.V, keep, Vc, Fc)
    return _normalize(d, "table", item.ell), _normalize(d, "eq21", 1.0), t_coarsen


def quadric(item):
    import fast_simplification

    t0 = time.perf_counter()
    Vq, Fq = fast_simplification.simplify(item.V.astype(np.float32), item.F.astype(np.int32), target_reduction=0.5)
    t = time.perf_counter() - t0
    d = _distance(item.V, np.asarray(Vq, np.float64), np.asarray(Fq, np.int64))[0]
    return _normalize(d, "table", item.ell), _normalize(d, "eq21", 1.0), t, len(Vq) / len(item.V)


def field_model(name, seed):
    torch.manual_seed(seed)
    if name == "e3nn":
        return EquivariantMeshField()
    if name == "e3nn8":
        return EquivariantMeshField(channels=8)
    return InvariantMeshField()


def run_category(cat, args, log):
    from sklearn.model_selection import KFold

    graphs = load_psb(cat)
    items = [_MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"], g.data["name"]) for g in graphs]
    for g, it in zip(graphs, items):
        it.graph = g  # share the cached colouring with the baselines
    n_ver = np.array([it.num_nodes for it in items])
    rows = {m: {"table": np.zeros(len(items)), "eq21": np.zeros(len(items)), "frac": np.zeros(len(items)),
                "t_sample": np.zeros(len(items)), "t_total": np.zeros(len(items))}
            for m in METHODS if m in args.methods}
    if "SPECTRAL" in rows:
        rows["SPECTRAL"]["table_other_sign"] = np.zeros(len(items))
    epoch_s, ps_epoch_s = [], []
    kf = KFold(n_splits=args.folds, shuffle=True, random_state=0)
    tested = np.zeros(len(items), dtype=bool)
    for fold, (tr, te) in enumerate(kf.split(items)):
        if args.only_folds is not None and fold not in args.only_folds:
            continue
        tested[te] = True
        train = [items[i] for i in tr]
        if "ISING+MAG" in rows:
            t0 = time.perf_counter()
            sp = MeshSparsifier(field_model=field_model(args.field, fold), epochs=args.epochs, lr=args.lr,
                                n_samples=args.n_samples, n_sweeps=args.n_sweeps, penalty=args.penalty,
                                max_grad_norm=args.max_grad_norm, random_state=fold)
            # best-epoch selection on every 4th training mesh (no data held out), see --val
            sp.fit(train, val_meshes=train[::4] if args.val == "train" else None)
            epoch_s += [h["seconds"] for h in sp.history_]
            log(f"[{cat}] fold {fold}: trained {args.epochs} epochs in {time.perf_counter() - t0:.1f}s, "
                f"loss {sp.history_[0]['loss']:.3f} -> {sp.history_[-1]['loss']:.3f}"
                + (f", best epoch {sp.best_epoch_} " + str([round(h['val_score'], 3) for h in sp.history_])
                   if hasattr(sp, "best_epoch_") else ""))
        if "POINT SAMPLER" in rows:
            t0 = time.perf_counter()
            ps = PointSamplerSubsampler(epochs=args.ps_epochs, lr=args.ps_lr, n_samples=args.n_samples,
                                        random_state=fold)
            ps.fit(train, val_meshes=train[::4] if args.val == "train" else None)
            ps_epoch_s += [h["seconds"] for h in ps.history_]
            log(f"[{cat}] fold {fold}: POINT SAMPLER trained {args.ps_epochs} epochs in "
                f"{time.perf_counter() - t0:.1f}s, loss {ps.history_[0]['loss']:.3f} -> {ps.history_[-1]['loss']:.3f}"
                + (f", best epoch {ps.best_epoch_} " + str([round(h['val_score'], 3) for h in ps.history_])
                   if hasattr(ps, "best_epoch_") else ""))
        methods = {
            "ISING+MAG": lambda it, r: sp.sample(it, 1)[0],
            "ISING": lambda it, r: ConstantFieldIsingSubsampler(fraction=0.5, field=0.0, coupling=-1.0, beta=1.0,
                                                               random_state=r).fit().transform(it.graph),
            "RANDOM": lambda it, r: RandomSubsampler(0.5, random_state=r).fit().transform(it.graph),
            "SPECTRAL": lambda it, r: SpectralSubsampler(0.5, random_state=r).fit().transform(it.graph),
            "FPS": lambda it, r: FarthestPointSubsampler(0.5, random_state=r).fit().transform(it.graph),
            "POINT SAMPLER": None,  # n_eval Gumbel-top-k draws at once, below
        }
        for i in te:
            it = items[i]
            for m, fn in methods.items():
                if m not in rows:
                    continue
                n_eval = 1 if m == "SPECTRAL" else args.n_eval
                vals = []
                if m == "POINT SAMPLER":
                    t0 = time.perf_counter()
                    ps_masks = ps.select(it, n_eval)
                    ps_t = (time.perf_counter() - t0) / n_eval
                for r in range(n_eval):
                    t0 = time.perf_counter()
                    keep = ps_masks[r] if m == "POINT SAMPLER" else np.asarray(fn(it, 1000 * fold + r), dtype=bool)
                    ts = ps_t if m == "POINT SAMPLER" else time.perf_counter() - t0
                    if m == "SPECTRAL":  # the eigenvector's sign is arbitrary: score the other side too
                        rows[m]["table_other_sign"][i] = evaluate(it, ~keep)[0]
                    tab, e21, tc = evaluate(it, keep)
                    vals.append((tab, e21, keep.mean(), ts, ts + tc))
                v = np.mean(vals, axis=0)
                for k, x in zip(["table", "eq21", "frac", "t_sample", "t_total"], v):
                    rows[m][k][i] = x
            if "QUADRIC" in rows:
                tab, e21, tq, frac = quadric(it)
                for k, x in zip(["table", "eq21", "frac", "t_sample", "t_total"], [tab, e21, frac, tq, tq]):
                    rows["QUADRIC"][k][i] = x
        log(f"[{cat}] fold {fold}: " + ", ".join(f"{m} {rows[m]['table'][te].mean():.3f}" for m in rows))
    if not tested.all():  # --only-folds: report the tested meshes only
        rows = {m: {k: v[tested] for k, v in r.items()} for m, r in rows.items()}
        n_ver = n_ver[tested]
    return rows, epoch_s, ps_epoch_s, n_ver


def records_for(cat, rows, epoch_s, ps_epoch_s, n_ver, args, command):
    dev = "cpu (2 shared cores, torch 1 thread)"
    recs = []

    def rec(method, metric, vals, unit):
        vals = np.asarray(vals, dtype=float)
        recs.append(dict(task="mesh", dataset=cat, method=method, metric=metric, mean=float(vals.mean()),
                         std=float(vals.std(ddof=1)) if len(vals) > 1 else None, n=int(len(vals)), unit=unit,
                         device=dev, command=command))

    for m, r in rows.items():
        rec(m, "vertex_to_mesh", r["table"], "10 x mean distance / mean edge length (Table 5 normalisation)")
        rec(m, "vertex_to_mesh_eq21", r["eq21"], "sum of squared distances (eq. 21), mesh units^2")
        rec(m, "kept_fraction", r["frac"], "fraction of vertices")
        rec(m, "sample_seconds", r["t_sample"], "s per mesh")
        rec(m, "sample_coarsen_seconds", r["t_total"], "s per mesh")
    if "SPECTRAL" in rows:
        rec("SPECTRAL", "vertex_to_mesh_other_sign", rows["SPECTRAL"]["table_other_sign"],
            "Table 5 normalisation, keeping the other sign of the eigenvector")
    n_train = 20 * (args.folds - 1) // args.folds
    if epoch_s:
        rec("ISING+MAG", "epoch_seconds", epoch_s, f"s per epoch ({n_train} meshes)")
    if ps_epoch_s:
        rec("POINT SAMPLER", "epoch_seconds", ps_epoch_s, f"s per epoch ({n_train} meshes)")
    rec("ALL", "n_vertices", n_ver, "vertices per mesh")
    return recs


def render_md(recs, args, command):
    cats = [c for c in ["bust", "fourleg", "human", "chair"] if any(r["dataset"] == c for r in recs)]
    get = {(r["dataset"], r["method"], r["metric"]): r for r in recs}
    methods = [m for m in METHODS if any(r["method"] == m for r in recs)]

    def val(c, m, metric, fmt="{:.3f}", std=True):
        r = get.get((c, m, metric))
        if r is None:
            return "-"
        return fmt.format(r["mean"]) + (f" ({r['std']:.2g})" if std and r["std"] is not None else "")

    cmds = {c: sorted({r["command"] for r in recs if r["dataset"] == c}) for c in cats}
    out = ["# Mesh sparsification (Table 5), 5-fold CV on PSB", "",
           "Commands (settings are in the flags; defaults in `benchmarks/bench_mesh.py`):", ""]
    out += [f"- {c}: " + " ; ".join(f"`{x}`" for x in cmds[c]) for c in cats]
    out += ["", "Trained on the table metric; K samples per step, Metropolis sweeps and lr as in the command. "
            "Mean (std) over the test meshes (every mesh is tested once across the folds; n in the JSON). "
            "CPU, 2 cores shared with other jobs, torch 1 thread.", "",
            "## Vertex-to-mesh distance, Table 5 normalisation (10 x mean distance / mean edge length)", "",
            "| method | " + " | ".join(f"{c} (ours) | {c} (paper)" for c in cats) + " |",
            "|---|" + "---|---|" * len(cats)]
    for m in methods:
        cells = []
        for c in cats:
            cells.append(val(c, m, "vertex_to_mesh"))
            cells.append(f"{PAPER[m][c]:.3f}" if m in PAPER else "-")
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    partial = [f"{r['dataset']} {r['method']} (n = {r['n']})" for r in recs
               if r["metric"] == "vertex_to_mesh" and r["n"] is not None and r["n"] < 20]
    if partial:
        out += ["", "Cells over fewer than the 20 meshes of a category (only some folds run): " + ", ".join(partial) + "."]
    out += ["", "Ratio ISING+MAG / RANDOM (paper: bust 0.64, fourleg 0.68, human 0.73, chair 0.62):", ""]
    for c in cats:
        a, b = get.get((c, "ISING+MAG", "vertex_to_mesh")), get.get((c, "RANDOM", "vertex_to_mesh"))
        if a and b:
            out.append(f"- {c}: {a['mean'] / b['mean']:.2f}")
    if any((c, "SPECTRAL", "vertex_to_mesh_other_sign") in get for c in cats):
        out += ["", "SPECTRAL keeps one sign of the top eigenvector (fixed by the sign of its largest entry); "
                "the other sign scores: " + ", ".join(
                    f"{c} {val(c, 'SPECTRAL', 'vertex_to_mesh_other_sign', std=False)}" for c in cats
                    if (c, "SPECTRAL", "vertex_to_mesh_other_sign") in get) + "."]
    out += ["", "## Eq. 21 as written (sum of squared distances, mesh units^2), mean (std)", "",
            "| method | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for m in methods:
        out.append(f"| {m} | " + " | ".join(val(c, m, "vertex_to_mesh_eq21", "{:.4g}") for c in cats) + " |")
    out += ["", "## Kept fraction, mean (std)", "", "| method | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for m in methods:
        out.append(f"| {m} | " + " | ".join(val(c, m, "kept_fraction") for c in cats) + " |")
    out += ["", "## Timings (seconds)", "",
            "| | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    out.append("| mean vertices | " + " | ".join(val(c, "ALL", "n_vertices", "{:.0f}", False) for c in cats) + " |")
    for m in ["ISING+MAG", "POINT SAMPLER"]:
        out.append(f"| {m} epoch (ours) | " + " | ".join(val(c, m, "epoch_seconds", "{:.1f}", False) for c in cats) + " |")
    out.append("| ISING+MAG epoch (paper, GPU) | " + " | ".join(f"{PAPER_EPOCH_SECONDS[c]:.1f}" for c in cats) + " |")
    for m in methods:
        out.append(f"| {m} sample / +coarsen | " + " | ".join(
            val(c, m, "sample_seconds", std=False) + " / " + val(c, m, "sample_coarsen_seconds", std=False)
            for c in cats) + " |")
    out += ["", "QUADRIC's timing is the whole decimation.", ""]
    return "\n".join(out)


TIMING_MESHES = [("fourleg", 398), ("human", 9), ("chair", 101), ("bust", 301), ("human", 5), ("bust", 302)]


def run_timing(args, command):
    """Sampling and sampling+coarsening seconds against vertex count (Figures 17-18).

    One mesh per size step; best of 3 repeats; ISING+MAG and POINT SAMPLER use
    untrained networks of the benchmark's size (the cost does not depend on training).
    """
    recs, lines = [], ["| mesh | vertices | " + " | ".join(
        f"{m} sample / +coarsen" for m in METHODS) + " |",
        "|---|---|" + "---|" * len(METHODS)]
    dev = "cpu (2 shared cores, torch 1 thread)"
    for cat, i in TIMING_MESHES:
        g = load_psb(cat, ids=[i])[0]
        it = _MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"], g.data["name"])
        it.graph = g
        sp = MeshSparsifier(field_model=field_model(args.field, 0), epochs=0, random_state=0).fit([it])
        sp.sample(it, 1)  # colouring and plans are cached per graph: time the steady state
        ps = PointSamplerSubsampler(epochs=0, random_state=0).fit([it])
        fns = {
            "ISING+MAG": lambda: sp.sample(it, 1)[0],
            "ISING": lambda: ConstantFieldIsingSubsampler(0.5, field=0.0, coupling=-1.0, random_state=0).fit().transform(g),
            "RANDOM": lambda: RandomSubsampler(0.5, random_state=0).fit().transform(g),
            "SPECTRAL": lambda: SpectralSubsampler(0.5, random_state=0).fit().transform(g),
            "FPS": lambda: FarthestPointSubsampler(0.5, random_state=0).fit().transform(g),
            "POINT SAMPLER": lambda: ps.transform(it),
        }
        cells = []
        for m, fn in fns.items():
            ts, tt = [], []
            for _ in range(3):
                t0 = time.perf_counter()
                keep = np.asarray(fn(), dtype=bool)
                t1 = time.perf_counter()
                _coarsen(it.V, it.F, keep, it.edges)
                ts.append(t1 - t0)
                tt.append(time.perf_counter() - t0)
            cells.append((m, min(ts), min(tt)))
        tq = min(quadric(it)[2] for _ in range(3))
        cells.append(("QUADRIC", tq, tq))
        for m, a, b in cells:
            for metric, v in [("sample_seconds", a), ("sample_coarsen_seconds", b)]:
                recs.append(dict(task="mesh", dataset=f"{cat}/{i}", method=m, metric=metric, mean=float(v), std=None,
                                 n=int(it.num_nodes), unit="s per mesh (best of 3); n = vertices", device=dev,
                                 command=command))
        lines.append(f"| {cat}/{i} | {it.num_nodes} | " + " | ".join(f"{a:.3f} / {b:.3f}" for _, a, b in cells) + " |")
        print(lines[-1], flush=True)
    md = ["# Mesh sampling and coarsening time against vertex count", "", f"Command: `{command}`", "",
          "Seconds per mesh, best of 3, CPU (2 cores shared with other jobs, torch 1 thread). ISING+MAG and POINT SAMPLER include "
          f"their (untrained) networks (ISING+MAG: {args.field}; POINT SAMPLER: DevConv, 32 channels); QUADRIC is the whole fast_simplification decimation.", ""] + lines + [""]
    (RESULTS / "mesh_timing.json").write_text(json.dumps(recs, indent=1))
    (RESULTS / "mesh_timing.md").write_text("\n".join(md))
    print("\n".join(md))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--categories", nargs="+", default=["bust", "fourleg", "human", "chair"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--n-samples", type=int, default=4)
    p.add_argument("--n-sweeps", type=int, default=10)
    p.add_argument("--penalty", type=float, default=1.0)
    p.add_argument("--max-grad-norm", type=float, default=None, help="gradient clipping of ISING+MAG's field network")
    p.add_argument("--val", choices=["none", "train"], default="none",
                   help="best-epoch selection (ISING+MAG and POINT SAMPLER) on every 4th training mesh")
    p.add_argument("--ps-epochs", type=int, default=4, help="POINT SAMPLER epochs")
    p.add_argument("--ps-lr", type=float, default=1e-2, help="POINT SAMPLER learning rate")
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS, metavar="METHOD",
                   help="evaluate only these methods (quote names with spaces, e.g. 'POINT SAMPLER')")
    p.add_argument("--only-folds", type=int, nargs="+", default=None, help="run only these folds (quick checks)")
    p.add_argument("--n-eval", type=int, default=2)
    p.add_argument("--field", choices=["e3nn", "e3nn8", "invariant"], default="e3nn8")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="mesh")
    p.add_argument("--timing", action="store_true", help="only time sampling/coarsening against vertex count")
    p.add_argument("--merge", nargs="+", default=None,
                   help="only merge these result JSON files (e.g. categories run in separate processes) into --out; "
                        "a later file's record replaces an earlier one for the same dataset, method and metric")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import shlex

    command = "python benchmarks/bench_mesh.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{args.out}.json"
    recs = []
    if args.timing:
        run_timing(args, command)
        return
    if args.merge:
        merged = {}  # a later file's record replaces an earlier one with the same (dataset, method, metric)
        for f in args.merge:
            for r in json.loads(Path(f).read_text()):
                merged[(r["dataset"], r["method"], r["metric"])] = r
        recs = list(merged.values())
        commands = " ; ".join(dict.fromkeys(r["command"] for r in recs))
        path.write_text(json.dumps(recs, indent=1))
        (RESULTS / f"{args.out}.md").write_text(render_md(recs, args, commands))
        print(render_md(recs, args, commands))
        return

    def log(msg):
        print(msg, flush=True)

    for cat in args.categories:
        rows, epoch_s, ps_epoch_s, n_ver = run_category(cat, args, log)
        recs += records_for(cat, rows, epoch_s, ps_epoch_s, n_ver, args, command)
        path.write_text(json.dumps(recs, indent=1))  # partial results after each category
        (RESULTS / f"{args.out}.md").write_text(render_md(recs, args, command))
    print(render_md(recs, args, command))


if __name__ == "__main__":
    main()
