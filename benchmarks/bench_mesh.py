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

Two more suites (``--suite``), beyond the paper:

* ``coarsening``: every mesh simplified by pymeshlab (subset and optimal
  placement), meshoptimizer and fast-simplification to half of its vertices,
  and the subset simplifiers' vertex sets re-coarsened with
  ``skising.mesh.coarsen_mesh`` (``qem`` and ``nearest``); per-mesh timings.
  Writes ``results/mesh_coarsening.{json,md}``.
* ``learned``: ISING+MAG trained through ``--coarsening`` with exact budgets,
  against the same simplifiers and RANDOM/FPS, every vertex-keeping method at
  exactly MeshLab's vertex count of each mesh; per-mesh records, paired wins;
  ``--only-folds`` runs can be merged with ``--merge``.
* ``boundary``: the part-boundary task. ISING+MAG trained per fold with
  ``task="boundary"`` on the PSB ground-truth segmentations (and, with
  ``--with-geometry``, with ``task="geometry"``), against pymeshlab,
  meshoptimizer, FPS and RANDOM at MeshLab's vertex count: label transfer
  error, distance and part-boundary vertices kept, per mesh, paired.
  Writes ``results/<out>.{json,md}``; fold runs merge with ``--merge``.
* ``features``: ROC AUC of each vertex input of the field network for the
  part-boundary vertices (no training).
* ``open``: open meshes (the Stanford bunny scan, the armadillo and fandisk cut
  open): the greedy order with and without the planes through open boundary
  edges against MeshLab, at 50 % and 10 % of the vertices (no training).
* ``needs``: what keeping the part boundaries takes. Labels known: the
  ground-truth part-boundary vertices locked in the greedy order and in
  meshoptimizer (``vertex_lock``). Labels unknown: a supervised boundary
  probe (gradient boosting on multi-scale curvature inputs, trained per fold)
  whose top vertices are locked instead. No field is trained.

The simplifiers are benchmark-only dependencies
(``pip install pymeshlab meshoptimizer fast-simplification``).

Usage::

    python benchmarks/bench_mesh.py --epochs 4 --categories human chair
    python benchmarks/bench_mesh.py --suite coarsening --out mesh_coarsening
    python benchmarks/bench_mesh.py --suite learned --coarsening qem --only-folds 0 --out mesh_learned_fold0
    python benchmarks/bench_mesh.py --suite boundary --categories human --only-folds 0 \
        --features curvature qem_cost concavity --out mesh_boundary_human_f0
    python benchmarks/bench_mesh.py --suite features --out mesh_features
    python benchmarks/bench_mesh.py --suite open --out mesh_open
    python benchmarks/bench_mesh.py --suite needs --out mesh_needs
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
from skising.mesh._coarsen import _coarsen
from skising.mesh._distance import _distance, _normalize
from skising.mesh._qem import removal_rank
from skising.sparsify import EquivariantMeshField, InvariantMeshField, MeshSparsifier, PointSamplerSubsampler
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


def _json_records(recs):
    """The records as a JSON list, one record per line (per-mesh suites write thousands of them)."""
    return "[\n" + ",\n".join(json.dumps(r) for r in recs) + "\n]\n"


def evaluate(item, keep, coarsening="nearest"):
    """(table, eq21, seconds for coarsening) for one mask."""
    t0 = time.perf_counter()
    Vc, Fc, _ = _coarsen(item.V, item.F, keep, item.edges, coarsening)
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


def field_model(name, seed, features=("curvature",), prior=None):
    """The field network (with ``prior``: the correction, which also sees the prior's score column)."""
    torch.manual_seed(seed)
    d = len(features) + (1 if prior else 0)
    if name == "e3nn":
        return EquivariantMeshField(in_features=d)
    if name == "e3nn8":
        return EquivariantMeshField(channels=8, in_features=d)
    return InvariantMeshField(in_features=d)


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
            sp = MeshSparsifier(field_model=field_model(args.field, fold), prior=None, max_epochs=args.epochs, lr=args.lr,
                                n_samples=args.n_samples, n_sweeps=args.n_sweeps, penalty=args.penalty,
                                max_grad_norm=args.max_grad_norm, coarsening=args.coarsening,
                                exact_budget=False, random_state=fold)
            # best-epoch selection on every 4th training mesh (no data held out), see --val
            sp.fit(train, X_val=train[::4] if args.val == "train" else None)
            epoch_s += [h["seconds"] for h in sp.history_]
            log(f"[{cat}] fold {fold}: trained {args.epochs} epochs in {time.perf_counter() - t0:.1f}s, "
                f"loss {sp.history_[0]['loss']:.3f} -> {sp.history_[-1]['loss']:.3f}"
                + (f", best epoch {sp.best_epoch_} " + str([round(h['val_score'], 3) for h in sp.history_])
                   if hasattr(sp, "best_epoch_") else ""))
        if "POINT SAMPLER" in rows:
            t0 = time.perf_counter()
            ps = PointSamplerSubsampler(max_epochs=args.ps_epochs, lr=args.ps_lr, n_samples=args.n_samples,
                                        coarsening=args.coarsening, random_state=fold)
            ps.fit(train, X_val=train[::4] if args.val == "train" else None)
            ps_epoch_s += [h["seconds"] for h in ps.history_]
            log(f"[{cat}] fold {fold}: POINT SAMPLER trained {args.ps_epochs} epochs in "
                f"{time.perf_counter() - t0:.1f}s, loss {ps.history_[0]['loss']:.3f} -> {ps.history_[-1]['loss']:.3f}"
                + (f", best epoch {ps.best_epoch_} " + str([round(h['val_score'], 3) for h in ps.history_])
                   if hasattr(ps, "best_epoch_") else ""))
        methods = {
            "ISING+MAG": lambda it, r: sp.sample(it, 1)[0],
            "ISING": lambda it, r: ConstantFieldIsingSubsampler(target_fraction=0.5, field=0.0, coupling=-1.0, beta=1.0,
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
                        rows[m]["table_other_sign"][i] = evaluate(it, ~keep, args.coarsening)[0]
                    tab, e21, tc = evaluate(it, keep, args.coarsening)
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
        sp = MeshSparsifier(field_model=field_model(args.field, 0), prior=None, max_epochs=0, random_state=0).fit([it])
        sp.sample(it, 1)  # colouring and plans are cached per graph: time the steady state
        ps = PointSamplerSubsampler(max_epochs=0, random_state=0).fit([it])
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
                _coarsen(it.V, it.F, keep, it.edges, args.coarsening)
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
    (RESULTS / "mesh_timing.json").write_text(_json_records(recs))
    (RESULTS / "mesh_timing.md").write_text("\n".join(md))
    print("\n".join(md))


# --------------------------------------------------------------------------- QEM suites
PEERS = ["pymeshlab", "pymeshlab optimal", "meshoptimizer", "fast-simplification"]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _table(item, Vc, Fc):
    return _normalize(_distance(item.V, np.asarray(Vc, np.float64), np.asarray(Fc, np.int64))[0], "table", item.ell)


def _kept_from_subset(V, Vs):
    """Indices of the input vertices a simplifier kept (its output vertices are a bit-exact subset)."""
    index = {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(V))}  # loop over vertices: benchmark only
    keep = np.zeros(len(V), dtype=bool)
    keep[[index[np.ascontiguousarray(v, np.float64).tobytes()] for v in Vs]] = True
    return keep


def peer_meshes(item, k):
    """Each peer's coarse mesh at (about) ``k`` vertices: {name: (V, F, keep or None, seconds)}."""
    import fast_simplification
    import meshoptimizer
    import pymeshlab

    out = {}
    for name, optimal in [("pymeshlab", False), ("pymeshlab optimal", True)]:
        ms = pymeshlab.MeshSet()
        ms.add_mesh(pymeshlab.Mesh(item.V, item.F))
        _, t = _timed(lambda: ms.meshing_decimation_quadric_edge_collapse(
            targetfacenum=2 * k - 4, optimalplacement=optimal, preservenormal=False))
        Vm, Fm = ms.current_mesh().vertex_matrix(), ms.current_mesh().face_matrix()
        out[name] = (Vm, Fm, None if optimal else _kept_from_subset(item.V, Vm), t)
    dest = np.zeros(item.F.size, dtype=np.uint32)
    cnt, t = _timed(lambda: meshoptimizer.simplify(dest, item.F.astype(np.uint32).ravel(), item.V.astype(np.float32),
                                                   target_index_count=3 * (2 * k - 4), target_error=1.0))
    Fo = dest[:cnt].reshape(-1, 3).astype(np.int64)
    keep = np.zeros(len(item.V), dtype=bool)
    keep[Fo.ravel()] = True
    remap = np.cumsum(keep) - 1
    out["meshoptimizer"] = (item.V[keep], remap[Fo], keep, t)
    (Vq, Fq), t = _timed(lambda: fast_simplification.simplify(
        item.V.astype(np.float32), item.F.astype(np.int32), target_count=2 * k - 4))
    out["fast-simplification"] = (Vq, Fq, None, t)
    return out


def run_coarsening(args, command, log):
    """Coarsening check (#21 items 1 and 5): the peers' own faces vs our coarsenings of their kept sets."""
    dev = "cpu (2 shared cores, torch 1 thread)"
    recs = []
    for cat in args.categories:
        graphs = load_psb(cat)
        vals = {}
        for g in graphs:  # loop over meshes
            it = _MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"], g.data["name"])
            k = int(round(0.5 * it.num_nodes))
            peers = peer_meshes(it, k)
            row = {}
            for name, (Vp, Fp, keep, t) in peers.items():
                row[(name, "own")] = (_table(it, Vp, Fp), t, len(Vp) / it.num_nodes)
                if keep is not None:
                    for coarsening in ("qem", "nearest"):
                        (Vc, Fc, _), tc = _timed(lambda: _coarsen(it.V, it.F, keep, it.edges, coarsening))
                        row[(name, coarsening)] = (_table(it, Vc, Fc), tc, keep.mean())
            for key, v in row.items():
                vals.setdefault(key, []).append(v)
            log(f"[{cat}] {g.data['name']}: " + ", ".join(
                f"{a}/{b} {v[0]:.3f} ({v[1]:.2f}s)" for (a, b), v in row.items()))
        for (name, faces), v in vals.items():
            v = np.asarray(v)
            params = {"faces": faces, "vertices": name}
            if name.startswith("pymeshlab"):
                params.update(optimalplacement=name.endswith("optimal"), targetfacenum="2k-4")
            method = name.split(" ")[0]
            for metric, col, unit in [("vertex_to_mesh", 0, "10 x mean distance / mean edge length"),
                                      ("seconds", 1, "s per mesh (the decimation, or our coarsening of its vertices)"),
                                      ("kept_fraction", 2, "fraction of vertices")]:
                recs.append(dict(task="mesh", dataset=cat, method=method, params=params, metric=metric,
                                 mean=float(v[:, col].mean()), std=float(v[:, col].std(ddof=1)), n=len(v), unit=unit,
                                 device=dev, command=command))
        (RESULTS / f"{args.out}.json").write_text(_json_records(recs))
    md = render_coarsening(recs, command)
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)


def _label(r):
    p = r.get("params") or {}
    name = r["method"] + (" optimal" if p.get("optimalplacement") else "")
    if p.get("prior"):
        name += (f" (prior={p['prior']}, scale {p['prior_scale']:g}, {p['epochs']} epochs"
                 + (f", lr {p['lr']:g}" if p["epochs"] and p["lr"] != 3e-2 else "") + ")")
    if p.get("faces") and p["faces"] != "own":
        name = f"{name} vertices, {p['faces']} coarsening"
    elif p.get("faces") == "own":
        name = f"{name} (own faces)"
    elif p.get("coarsening"):
        name = f"{name}, {p['coarsening']} coarsening"
    if p.get("lock"):
        name += f", {p['lock']} locked (labels known)"
    return name


def render_coarsening(recs, command):
    cats = [c for c in ["bust", "fourleg", "human", "chair"] if any(r["dataset"] == c for r in recs)]
    get = {(r["dataset"], _label(r), r["metric"]): r for r in recs}
    labels = list(dict.fromkeys(_label(r) for r in recs))
    out = ["# Coarsening a kept vertex set: our connectivity vs the simplifiers' own", "",
           f"Command: `{command}`", "",
           "Every mesh of each PSB category (n = 20) simplified to k = round(n_vertices / 2) vertices "
           "(`targetfacenum` / `target_count` = 2k - 4, the face count of a closed genus-0 mesh). pymeshlab "
           "(`optimalplacement=False`) and meshoptimizer keep a subset of the input vertices; for those subsets "
           "the rows 'qem coarsening' / 'nearest coarsening' rebuild the faces with "
           "`skising.mesh.coarsen_mesh(method=...)`. Metric: 10 x mean distance of the original vertices to the "
           "coarse surface / mean edge length (Table 5 normalisation), mean (std) over the 20 meshes.", "",
           "| vertices, faces | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for lab in labels:
        cells = [get.get((c, lab, "vertex_to_mesh")) for c in cats]
        out.append(f"| {lab} | " + " | ".join(f"{r['mean']:.3f} ({r['std']:.2g})" if r else "-" for r in cells) + " |")
    out += ["", "Ratio of our qem coarsening to the simplifier's own faces, same vertices (goal <= 1.2):", ""]
    for peer in ["pymeshlab", "meshoptimizer"]:
        cells = []
        for c in cats:
            a = get.get((c, f"{peer} vertices, qem coarsening", "vertex_to_mesh"))
            b = get.get((c, f"{peer} (own faces)", "vertex_to_mesh"))
            cells.append(f"{c} {a['mean'] / b['mean']:.2f}" if a and b else f"{c} -")
        out.append(f"- {peer}: " + ", ".join(cells))
    out += ["", "## Seconds per mesh (mean), and kept fraction", "",
            "| vertices, faces | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for lab in labels:
        cells = [(get.get((c, lab, "seconds")), get.get((c, lab, "kept_fraction"))) for c in cats]
        out.append(f"| {lab} | " + " | ".join(f"{a['mean']:.3f} s, {b['mean']:.4f}" if a else "-" for a, b in cells) + " |")
    out += ["", "Simplifier rows time the whole decimation; coarsening rows time `coarsen_mesh` alone "
            "(the compiled collapse loop; the first mesh of a process also loads it from the numba cache).", ""]
    return "\n".join(out)


def run_learned(args, command, log):
    """ISING+MAG through the qem coarsening vs the simplifiers, paired per mesh at the same budget (#21 items 2-3)."""
    from sklearn.model_selection import KFold

    dev = "cpu (2 shared cores, torch 1 thread)"
    recs = []
    for cat in args.categories:
        graphs = load_psb(cat)
        items = [_MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"], g.data["name"]) for g in graphs]
        for g, it in zip(graphs, items):
            it.graph = g
        per_mesh, extra = {}, {}
        kf = KFold(n_splits=args.folds, shuffle=True, random_state=0)
        for fold, (tr, te) in enumerate(kf.split(items)):
            if args.only_folds is not None and fold not in args.only_folds:
                continue
            train = [items[i] for i in tr]
            sp = MeshSparsifier(field_model=field_model(args.field, fold, args.features, args.prior),
                                max_epochs=args.epochs, lr=args.lr, n_samples=args.n_samples, n_sweeps=args.n_sweeps,
                                penalty=args.penalty, max_grad_norm=args.max_grad_norm, coarsening=args.coarsening,
                                features=tuple(args.features), prior=args.prior, prior_scale=args.prior_scale,
                                random_state=fold)
            (_, t_fit) = _timed(lambda: sp.fit(train, X_val=train[::4] if args.val == "train" else None))
            log(f"[{cat}] fold {fold}: trained {args.epochs} epochs in {t_fit:.0f}s, losses "
                + str([round(h["loss"], 3) for h in sp.history_]))
            for i in te:
                it = items[i]
                peers = peer_meshes(it, int(round(0.5 * it.num_nodes)))
                k = int(peers["pymeshlab"][2].sum())  # every vertex-keeping method keeps exactly MeshLab's count
                row = {}
                for name, (Vp, Fp, keep, t) in peers.items():
                    row[(name, "own")] = (_table(it, Vp, Fp), t, len(Vp) / it.num_nodes)
                keep_ml = peers["pymeshlab"][2]
                for name in ["pymeshlab", "meshoptimizer"]:
                    kp = peers[name][2]
                    (Vc, Fc, _), tc = _timed(lambda: _coarsen(it.V, it.F, kp, it.edges, args.coarsening))
                    row[(name, args.coarsening)] = (_table(it, Vc, Fc), tc, kp.mean())
                # the prior alone: the greedy simplification's k vertices (deterministic), our coarsening
                rank, t_rank = _timed(lambda: removal_rank(it.V, it.F, it.edges)[0])
                keep_qo = rank >= it.num_nodes - k
                (Vc, Fc, _), tc = _timed(lambda: _coarsen(it.V, it.F, keep_qo, it.edges, args.coarsening))
                row[("QEM_ORDER", args.coarsening)] = (_table(it, Vc, Fc), t_rank + tc, keep_qo.mean())
                extra[i] = {f"agreement_{name}": float((keep_qo & peers[name][2]).sum() / k)
                            for name in ["pymeshlab", "meshoptimizer"]}
                sp.set_params(target_fraction=k / it.num_nodes)
                sp.transform(it)  # warm: the colouring is cached per graph
                it._rank = None  # but time the prior's removal order (computed once per mesh) with the sample
                masks = {
                    "ISING+MAG": lambda r: sp.transform(it),
                    "RANDOM": lambda r: np.isin(np.arange(it.num_nodes), np.random.default_rng(r).permutation(
                        it.num_nodes)[:k]),
                    "FPS": lambda r: FarthestPointSubsampler(k / it.num_nodes, random_state=r).fit().transform(it.graph),
                }
                for m, fn in masks.items():
                    vals = []
                    for r in range(1 if m == "ISING+MAG" else args.n_eval):
                        keep, ts = _timed(lambda: np.asarray(fn(1000 * fold + r), dtype=bool))
                        (Vc, Fc, _), tc = _timed(lambda: _coarsen(it.V, it.F, keep, it.edges, args.coarsening))
                        vals.append((_table(it, Vc, Fc), ts + tc, keep.mean()))
                    row[(m, args.coarsening)] = tuple(np.mean(vals, axis=0))
                per_mesh[i] = row
                log(f"[{cat}] {graphs[i].data['name']} k={k}: " + ", ".join(
                    f"{a}/{b} {v[0]:.3f} ({v[1]:.2f}s, {v[2]:.4f})" for (a, b), v in row.items()))
        for i in sorted(per_mesh):  # one record per mesh, method and metric: runs of other folds merge
            for (name, faces), v in per_mesh[i].items():
                params = {"faces" if faces == "own" else "coarsening": faces}
                if name.startswith("pymeshlab"):
                    params.update(optimalplacement=name.endswith("optimal"))
                if name == "ISING+MAG":
                    params.update(epochs=args.epochs, lr=args.lr, field=args.field, exact_budget=True,
                                  features=list(args.features))
                    if args.prior:
                        params.update(prior=args.prior, prior_scale=args.prior_scale)
                if name == "QEM_ORDER":
                    params.update(vertices="qem_removal_order, top k")
                for metric, col, unit in LEARNED_METRICS:
                    recs.append(dict(task="mesh", dataset=graphs[i].data["name"], method=name.split(" ")[0],
                                     params=params, metric=metric, mean=float(v[col]), std=None, n=1, unit=unit,
                                     device=dev, command=command))
                if name == "QEM_ORDER":
                    for metric, x in extra[i].items():
                        recs.append(dict(task="mesh", dataset=graphs[i].data["name"], method=name, params=params,
                                         metric=metric, mean=x, std=None, n=1, unit=AGREEMENT_UNIT, device=dev,
                                         command=command))
        _write_learned(recs, args)


AGREEMENT_UNIT = "fraction of QEM_ORDER's kept vertices that the simplifier keeps too"
LEARNED_METRICS = [("vertex_to_mesh", 0, "10 x mean distance / mean edge length"),
                   ("seconds", 1, "s per mesh (decimation, or sample with exact budget + coarsen)"),
                   ("kept_fraction", 2, "fraction of vertices")]


def aggregate_learned(per_mesh):
    """Per-mesh records -> per-category mean (std) records plus paired ISING+MAG wins."""
    out = []
    cats = list(dict.fromkeys(r["dataset"].split("/")[0] for r in per_mesh))
    for cat in cats:
        rs = [r for r in per_mesh if r["dataset"].split("/")[0] == cat]
        meshes = sorted({r["dataset"] for r in rs})
        table = {(_label(r), r["metric"], r["dataset"]): r for r in rs}
        ising_label = next(_label(r) for r in rs if r["method"] == "ISING+MAG")
        for lab in dict.fromkeys(_label(r) for r in rs):
            proto = next(r for r in rs if _label(r) == lab)
            for metric, _, unit in LEARNED_METRICS:
                v = np.array([table[(lab, metric, m)]["mean"] for m in meshes])
                out.append(dict(proto, dataset=cat, metric=metric, mean=float(v.mean()),
                                std=float(v.std(ddof=1)) if len(v) > 1 else None, n=len(v), unit=unit,
                                command=" ; ".join(sorted({r["command"] for r in rs}))))
            for metric in dict.fromkeys(r["metric"] for r in rs if _label(r) == lab and r["metric"].startswith(
                    "agreement_")):
                v = np.array([table[(lab, metric, m)]["mean"] for m in meshes])
                out.append(dict(proto, dataset=cat, metric=metric, mean=float(v.mean()),
                                std=float(v.std(ddof=1)) if len(v) > 1 else None, n=len(v), unit=AGREEMENT_UNIT,
                                command=out[-1]["command"]))
            if lab != ising_label:
                a = np.array([table[(ising_label, "vertex_to_mesh", m)]["mean"] for m in meshes])
                b = np.array([table[(lab, "vertex_to_mesh", m)]["mean"] for m in meshes])
                out.append(dict(proto, dataset=cat, metric="ising_mag_wins", mean=float((a < b).sum()), std=None,
                                n=len(meshes), unit="meshes where ISING+MAG's distance is lower (paired)",
                                command=out[-1]["command"]))
                out.append(dict(proto, dataset=cat, metric="ising_mag_ratio", mean=float(a.mean() / b.mean()),
                                std=None, n=len(meshes), unit="mean ISING+MAG / mean of this row, same meshes",
                                command=out[-1]["command"]))
    return out


def _write_learned(per_mesh, args, command=None):
    recs = aggregate_learned(per_mesh)
    command = command or " ; ".join(dict.fromkeys(r["command"] for r in per_mesh))
    (RESULTS / f"{args.out}.json").write_text(_json_records(recs + per_mesh))
    md = render_learned(recs, command, args)
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)


def render_learned(recs, command, args):
    cats = [c for c in ["bust", "fourleg", "human", "chair"] if any(r["dataset"] == c for r in recs)]
    get = {(r["dataset"], _label(r), r["metric"]): r for r in recs}
    labels = list(dict.fromkeys(_label(r) for r in recs))
    n = {c: get[(c, labels[0], "vertex_to_mesh")]["n"] for c in cats}
    ising = next(r for r in recs if r["method"] == "ISING+MAG")["params"]
    out = ["# ISING+MAG through the qem coarsening vs the simplifiers people use", "",
           "Commands (5-fold split as in the Table 5 suite; each command runs the folds it names): "
           + " ; ".join(f"`{c}`" for c in command.split(" ; ")) + "; one table from their per-mesh records: "
           "`python benchmarks/bench_mesh.py --suite learned --merge <their JSON files> --out mesh_learned` "
           "(the merged JSON keeps the per-mesh records, so it merges again).", "",
           "ISING+MAG trained per fold on the metric of its own coarse mesh (coarsening as in the row) with exact "
           f"budgets; {ising['epochs']} epochs, lr {ising['lr']}, field {ising['field']}"
           + (f", prior={ising['prior']} (prior_scale {ising['prior_scale']:g}: h = scale x the centred rank of "
              "`qem_removal_order` + a learned correction that starts at 0)" if ising.get("prior") else "")
           + ". QEM_ORDER: the k vertices that `skising.mesh.qem_removal_order` removes last (our greedy quadric "
           "simplification, no Ising sample, no training). Test meshes of the folds run "
           f"(n per category: {', '.join(f'{c} {n[c]}' for c in cats)}); every row on the same meshes in the same "
           "process. Every vertex-keeping row keeps exactly MeshLab's vertex count of that mesh "
           "(kept fractions below). Metric: 10 x mean distance of the original vertices to the coarse surface / "
           "mean edge length, mean (std); 'ratio' = ISING+MAG's mean / the row's mean on the same meshes; "
           "'wins' = meshes where ISING+MAG is lower (paired).", "",
           "| method | " + " | ".join(f"{c} | ratio, wins" for c in cats) + " |", "|---|" + "---|---|" * len(cats)]
    for lab in labels:
        cells = []
        for c in cats:
            r = get.get((c, lab, "vertex_to_mesh"))
            w = get.get((c, lab, "ising_mag_wins"))
            q = get.get((c, lab, "ising_mag_ratio"))
            cells.append(f"{r['mean']:.3f} ({r['std']:.2g})" if r and r["std"] is not None else (f"{r['mean']:.3f}" if r else "-"))
            cells.append(f"{q['mean']:.2f}, {w['mean']:.0f}/{w['n']}" if w else "")
        out.append(f"| {lab} | " + " | ".join(cells) + " |")
    out += ["", "## Seconds per mesh (mean) and kept fraction", "",
            "| method | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for lab in labels:
        cells = [(get.get((c, lab, "seconds")), get.get((c, lab, "kept_fraction"))) for c in cats]
        out.append(f"| {lab} | " + " | ".join(f"{a['mean']:.3f} s, {b['mean']:.4f}" if a else "-" for a, b in cells) + " |")
    out += ["", "ISING+MAG and the baselines: sample (with exact budget) + coarsen; simplifiers: the whole decimation; "
            "QEM_ORDER: `qem_removal_order` + coarsen.", ""]
    agree = [lab for lab in labels if any((c, lab, "agreement_meshoptimizer") in get for c in cats)]
    if agree:
        out += ["## The greedy order's kept set against the simplifiers' (same k)", "",
                "Fraction of QEM_ORDER's kept vertices that the simplifier keeps too, mean (std):", "",
                "| simplifier | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
        for peer in ["pymeshlab", "meshoptimizer"]:
            cells = [get.get((c, agree[0], f"agreement_{peer}")) for c in cats]
            out.append(f"| {peer} | " + " | ".join(f"{r['mean']:.3f} ({r['std']:.2g})" if r else "-" for r in cells)
                       + " |")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- part-boundary task
BOUNDARY_METRICS = [("segmentation_transfer_error", 0, "% of the original area whose part label the coarse mesh loses"),
                    ("vertex_to_mesh", 1, "10 x mean distance / mean edge length"),
                    ("part_boundary_recall", 2, "fraction of the part-boundary vertices kept"),
                    ("kept_fraction", 3, "fraction of vertices")]


def _task_row(item, Vc, Fc, keep=None):
    """(transfer error %, table distance, boundary recall, kept fraction) of one coarse mesh of ``item``."""
    from skising.mesh._labels import part_boundary_mask
    from skising.sparsify._sparsifier import mesh_task_losses

    if keep is None:  # a simplifier that moves vertices: query every original vertex
        n = item.num_nodes
        d, face, _ = _distance(np.concatenate([item.V, item.centroid]), np.asarray(Vc, np.float64),
                               np.asarray(Fc, np.int64))
        from skising.mesh._labels import transfer_error

        geo, te, rec = _normalize(d[:n], "table", item.ell), transfer_error(face[n:], item.labels, item.area,
                                                                            len(Fc)), np.nan
        return 100 * te, geo, rec, len(Vc) / n
    geo, te = mesh_task_losses(item, keep, Vc, Fc)
    b = part_boundary_mask(item.F, item.labels, item.num_nodes)
    return 100 * te, geo, keep[b].mean(), keep.mean()


def _boundary_label(r):
    p = r.get("params") or {}
    if r["method"] == "ISING+MAG":
        return (f"ISING+MAG, task={p['task']}" + (f" (weight {p['boundary_weight']:g})" if p["task"] == "boundary" else "")
                + (f", prior={p['prior']} (scale {p['prior_scale']:g}), {p['epochs']} epochs" if p.get("prior") else ""))
    return _label(r)


def _labelled_items(cat):
    """The PSB meshes of ``cat`` as items carrying their ground-truth face labels (``item.graph``: the Graph)."""
    graphs = load_psb(cat, segmentation=True)
    items = [_MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"], g.data["name"]).set_labels(
        g.data["face_labels"]) for g in graphs]
    for g, it in zip(graphs, items):
        it.graph = g
    return items


def run_boundary(args, command, log):
    """ISING+MAG trained for part boundaries vs geometry-trained ISING+MAG and the simplifiers (#21 item 4)."""
    from sklearn.model_selection import KFold

    from skising.mesh._labels import part_boundary_mask

    dev = "cpu (2 shared cores, torch 1 thread)"
    recs = []
    for cat in args.categories:
        items = _labelled_items(cat)
        kf = KFold(n_splits=args.folds, shuffle=True, random_state=0)
        for fold, (tr, te) in enumerate(kf.split(items)):
            if args.only_folds is not None and fold not in args.only_folds:
                continue
            train = [items[i] for i in tr]
            models = {}
            for task in ["boundary"] + (["geometry"] if args.with_geometry else []):
                sp = MeshSparsifier(field_model=field_model(args.field, fold, args.features, args.prior),
                                    max_epochs=args.epochs, lr=args.lr, n_samples=args.n_samples,
                                    n_sweeps=args.n_sweeps, penalty=args.penalty, coarsening="qem", task=task,
                                    boundary_weight=args.boundary_weight, features=tuple(args.features),
                                    prior=args.prior, prior_scale=args.prior_scale, random_state=fold)
                (_, t_fit) = _timed(lambda: sp.fit(train))
                log(f"[{cat}] fold {fold}: task={task} trained {args.epochs} epochs in {t_fit:.0f}s, losses "
                    + str([round(h["loss"], 3) for h in sp.history_]))
                models[task] = sp
            for i in te:
                it = items[i]
                peers = peer_meshes(it, int(round(args.fraction * it.num_nodes)))
                k = int(peers["pymeshlab"][2].sum())  # every vertex-keeping method keeps exactly MeshLab's count
                row = {("pymeshlab", "own"): _task_row(it, *peers["pymeshlab"][:2]),
                       ("meshoptimizer", "own"): _task_row(it, *peers["meshoptimizer"][:2])}
                masks = {("pymeshlab", "qem"): lambda r: peers["pymeshlab"][2],
                         ("QEM_ORDER", "qem"): lambda r: removal_rank(it.V, it.F, it.edges)[0] >= it.num_nodes - k,
                         ("QEM_ORDER", "locked"): lambda r: removal_rank(  # labels known: part boundaries locked
                             it.V, it.F, it.edges, locked=part_boundary_mask(it.F, it.labels, it.num_nodes))[0]
                         >= it.num_nodes - k}
                for task, sp in models.items():
                    sp.set_params(target_fraction=k / it.num_nodes)
                    masks[("ISING+MAG", task)] = lambda r, sp=sp: sp.transform(it)
                masks[("RANDOM", "qem")] = lambda r: np.isin(np.arange(it.num_nodes), np.random.default_rng(r).permutation(
                    it.num_nodes)[:k])
                masks[("FPS", "qem")] = lambda r: FarthestPointSubsampler(k / it.num_nodes, random_state=r).fit().transform(
                    it.graph)
                for key, fn in masks.items():
                    vals = []
                    for r in range(args.n_eval if key[0] in ("RANDOM", "FPS") else 1):
                        keep = np.asarray(fn(1000 * fold + r), dtype=bool)
                        Vc, Fc, _ = _coarsen(it.V, it.F, keep, it.edges, "qem")
                        vals.append(_task_row(it, Vc, Fc, keep))
                    row[key] = tuple(np.mean(vals, axis=0))
                log(f"[{cat}] {it.label_source} k={k}: " + ", ".join(
                    f"{a}/{b} te {v[0]:.2f}% d {v[1]:.3f} rec {v[2]:.2f}" for (a, b), v in row.items()))
                for (name, how), v in row.items():
                    if name == "ISING+MAG":
                        params = dict(task=how, coarsening="qem", epochs=args.epochs, lr=args.lr, field=args.field,
                                      exact_budget=True, features=list(args.features), target_fraction=args.fraction)
                        if how == "boundary":
                            params["boundary_weight"] = args.boundary_weight
                        if args.prior:
                            params.update(prior=args.prior, prior_scale=args.prior_scale)
                    else:
                        params = {"faces": "own"} if how == "own" else {"coarsening": "qem"}
                        if how == "locked":
                            params["lock"] = "part boundaries"
                        if name == "pymeshlab":
                            params["optimalplacement"] = False
                    for metric, col, unit in BOUNDARY_METRICS:
                        recs.append(dict(task="mesh", dataset=it.label_source, method=name, params=params,
                                         metric=metric, mean=float(v[col]), std=None, n=1, unit=unit, device=dev,
                                         command=command))
        _write_boundary(recs, args)


def _write_boundary(per_mesh, args):
    """Per-mesh records -> per-category mean (std) + paired wins of the boundary-trained ISING+MAG; JSON and Markdown."""
    out = []
    for cat in dict.fromkeys(r["dataset"].split("/")[0] for r in per_mesh):
        rs = [r for r in per_mesh if r["dataset"].split("/")[0] == cat]
        table = {(_boundary_label(r), r["metric"], r["dataset"]): r for r in rs}
        meshes = sorted({r["dataset"] for r in rs})
        ref = next(_boundary_label(r) for r in rs if r["method"] == "ISING+MAG" and r["params"]["task"] == "boundary")
        cmd = " ; ".join(sorted({r["command"] for r in rs}))
        for lab in dict.fromkeys(_boundary_label(r) for r in rs):
            proto = next(r for r in rs if _boundary_label(r) == lab)
            for metric, _, unit in BOUNDARY_METRICS:
                v = np.array([table[(lab, metric, m)]["mean"] for m in meshes])
                out.append(dict(proto, dataset=cat, metric=metric, mean=float(np.mean(v)),
                                std=float(np.std(v, ddof=1)) if len(v) > 1 else None, n=len(v), unit=unit, command=cmd))
            if lab != ref:
                a = np.array([table[(ref, "segmentation_transfer_error", m)]["mean"] for m in meshes])
                b = np.array([table[(lab, "segmentation_transfer_error", m)]["mean"] for m in meshes])
                out.append(dict(proto, dataset=cat, metric="boundary_wins", mean=float((a < b).sum()), std=None,
                                n=len(meshes), unit="meshes where the boundary-trained ISING+MAG's transfer error is "
                                "lower (paired)", command=cmd))
    out += _features_vs_learned(per_mesh)
    (RESULTS / f"{args.out}.json").write_text(_json_records(out + per_mesh))
    md = render_boundary(out, " ; ".join(dict.fromkeys(r["command"] for r in per_mesh)))
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)


def run_features(args, command, log):
    """How well each vertex input of the field network tells part-boundary vertices apart (ROC AUC per mesh)."""
    from sklearn.metrics import roc_auc_score

    from skising.mesh._features import VERTEX_FEATURES, vertex_features
    from skising.mesh._labels import part_boundary_mask

    dev = "cpu (2 shared cores, torch 1 thread)"
    recs, lines = [], []
    for cat in args.categories:
        auc = []
        for g in load_psb(cat, segmentation=True):  # loop over meshes
            it = _MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"], g.data["name"])
            x = vertex_features(it.V / it.ell, it.F, it.edges, VERTEX_FEATURES)
            b = part_boundary_mask(it.F, g.data["face_labels"], it.num_nodes)
            auc.append([roc_auc_score(b, x[:, j]) for j in range(x.shape[1])])
        auc = np.asarray(auc)
        for j, name in enumerate(VERTEX_FEATURES):
            recs.append(dict(task="mesh", dataset=cat, method="INPUT", params={"feature": name}, metric="boundary_auc",
                             mean=float(auc[:, j].mean()), std=float(auc[:, j].std(ddof=1)), n=len(auc),
                             unit="ROC AUC of the feature for 'is a part-boundary vertex', per mesh", device=dev,
                             command=command))
        log(f"[{cat}] " + ", ".join(f"{n} {a:.3f}" for n, a in zip(VERTEX_FEATURES, auc.mean(0))))
    cats = list(args.categories)
    get = {(r["dataset"], r["params"]["feature"]): r for r in recs}
    lines = ["# Vertex inputs against the ground-truth part boundaries", "", f"Command: `{command}`", "",
             "ROC AUC of each rotation-invariant vertex input of `MeshSparsifier(features=...)` for 'the vertex is a "
             "part-boundary vertex' (incident faces of two PSB ground-truth labels), per mesh, mean (std) over the "
             "20 meshes of each category. 0.5 = no information; below 0.5 = informative with the other sign.", "",
             "| feature | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for name in VERTEX_FEATURES:
        lines.append(f"| `{name}` | " + " | ".join(f"{get[(c, name)]['mean']:.3f} ({get[(c, name)]['std']:.2g})"
                                                 for c in cats) + " |")
    (RESULTS / f"{args.out}.json").write_text(_json_records(recs))
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines + [""]))
    print("\n".join(lines))


# --------------------------------------------------------------------------- what the part-boundary task needs
def _meshopt_locked(item, k, lock):
    """meshoptimizer's ``simplifyWithAttributes`` with ``vertex_lock`` (no attributes), at ``k`` vertices.

    The Python binding leaves this function's ctypes signature unset (a float argument then fails to convert),
    so it is set here from meshoptimizer.h.
    """
    import ctypes

    import meshoptimizer.simplifier as ms

    P, size = ctypes.POINTER, ctypes.c_size_t
    fn = ms.lib.meshopt_simplifyWithAttributes
    fn.argtypes = [P(ctypes.c_uint), P(ctypes.c_uint), size, P(ctypes.c_float), size, size, P(ctypes.c_float), size,
                   P(ctypes.c_float), size, P(ctypes.c_ubyte), size, ctypes.c_float, ctypes.c_uint, P(ctypes.c_float)]
    fn.restype = size
    dest = np.zeros(item.F.size, dtype=np.uint32)
    n = item.num_nodes
    cnt, t = _timed(lambda: ms.simplify_with_attributes(
        dest, item.F.astype(np.uint32).ravel(), item.V.astype(np.float32), np.zeros((n, 1), np.float32),
        np.zeros(1, np.float32), vertex_lock=lock.astype(np.uint8), target_index_count=3 * (2 * k - 4),
        target_error=1.0))
    Fo = dest[:cnt].reshape(-1, 3).astype(np.int64)
    keep = np.zeros(n, dtype=bool)
    keep[Fo.ravel()] = True
    return item.V[keep], (np.cumsum(keep) - 1)[Fo], keep, t


PROBE_SCALES = (1, 4, 16, 64, 256)


def _probe_features(item):
    """Vertex inputs of the boundary probe (n, 16): the field's 3 inputs, the mean curvature diffused to 5 scales
    (value and difference to the previous scale) and the absolute principal-axis coordinates / their extent."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    from skising.mesh._features import VERTEX_FEATURES, _vertex_normals, vertex_features
    from skising.mesh._labels import face_areas
    from skising.mesh._laplacian import _cotangent_laplacian

    V, F = item.V / item.ell, item.F
    L = _cotangent_laplacian(V, F).tocsc()
    mass = np.bincount(F.ravel(), np.repeat(face_areas(V, F) / 3, 3), len(V))
    H = np.clip(np.einsum("ij,ij->i", L @ V, _vertex_normals(V, F)) / np.maximum(mass, 1e-12), -5, 5)
    cols, prev = [vertex_features(V, F, item.edges, VERTEX_FEATURES)], H
    for t in PROBE_SCALES:  # loop over 5 diffusion scales: (M + tL) u = M H
        u = splu((sp.diags(mass) + t * L).tocsc()).solve(mass * H)
        cols.append(np.stack([u, u - prev], 1))
        prev = u
    P = V - V.mean(0)
    C = np.abs(P @ np.linalg.eigh(P.T @ P)[1])
    cols.append(C / np.maximum(C.max(0), 1e-12))
    return np.concatenate(cols, 1)


def run_needs(args, command, log):
    """What keeping the part boundaries takes: the ground-truth boundary vertices locked (labels known) against a
    boundary classifier trained per fold (labels unknown), both inside the quadric order, with the simplifiers."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold

    from skising.mesh._labels import part_boundary_mask

    dev = "cpu (2 shared cores, 1 thread)"
    recs = []
    for cat in args.categories:
        items = _labelled_items(cat)
        X = [_probe_features(it) for it in items]
        y = [part_boundary_mask(it.F, it.labels, it.num_nodes) for it in items]
        for fold, (tr, te) in enumerate(KFold(n_splits=args.folds, shuffle=True, random_state=0).split(items)):
            clf = HistGradientBoostingClassifier(max_iter=200, random_state=fold).fit(
                np.concatenate([X[i] for i in tr]), np.concatenate([y[i] for i in tr]))
            sp = MeshSparsifier(random_state=fold).fit([items[i] for i in tr])  # the default: untrained prior
            frac = float(np.mean([y[i].mean() for i in tr]))
            for i in te:
                it, b, n = items[i], y[i], items[i].num_nodes
                peers = peer_meshes(it, int(round(args.fraction * n)))
                k = int(peers["pymeshlab"][2].sum())
                p = clf.predict_proba(X[i])[:, 1]
                rank = removal_rank(it.V, it.F, it.edges)[0]
                rows = {("pymeshlab", "none"): _task_row(it, *peers["pymeshlab"][:2]),
                        ("meshoptimizer", "none"): _task_row(it, *peers["meshoptimizer"][:2]),
                        ("meshoptimizer", "ground truth"): _task_row(it, *_meshopt_locked(it, k, b)[:2])}
                half = b & (np.random.default_rng(fold).random(n) < 0.5)
                for how, lock in [("none", np.zeros(n, bool)), ("ground truth", b), ("ground truth, random half", half),
                                  ("predicted 1x", np.isin(np.arange(n), np.argsort(-p)[:int(frac * n)])),
                                  ("predicted 3x", np.isin(np.arange(n), np.argsort(-p)[:int(3 * frac * n)]))]:
                    r = rank if how == "none" else removal_rank(it.V, it.F, it.edges, locked=lock)[0]
                    keep = r >= n - k
                    Vc, Fc, _ = _coarsen(it.V, it.F, keep, it.edges, "qem")
                    rows[("QEM_ORDER", how)] = _task_row(it, Vc, Fc, keep)
                sp.set_params(target_fraction=k / n)
                for how, lock in [("none", np.zeros(n, bool)), ("ground truth", b)]:
                    keep = sp.transform(it.set_locked(lock))
                    Vc, Fc, _ = _coarsen(it.V, it.F, keep, it.edges, "qem")
                    rows[("ISING+MAG", how)] = _task_row(it, Vc, Fc, keep)
                it.set_locked(np.zeros(n, bool))
                auc = roc_auc_score(b, p)
                log(f"[{cat}] {it.label_source} k={k} probe AUC {auc:.3f}: " + ", ".join(
                    f"{a}/{h} te {v[0]:.3f}% d {v[1]:.3f}" for (a, h), v in rows.items()))
                base = dict(task="mesh", dataset=it.label_source, std=None, n=1, device=dev, command=command)
                recs.append(dict(base, method="PROBE", params={"classifier": "HistGradientBoostingClassifier",
                                                               "scales": list(PROBE_SCALES)},
                                 metric="boundary_auc", mean=float(auc), unit="ROC AUC for 'is a part-boundary vertex'"))
                for (name, how), v in rows.items():
                    params = {"lock": how, "target_fraction": args.fraction}
                    params.update({"faces": "own"} if name not in ("QEM_ORDER", "ISING+MAG") else {"coarsening": "qem"})
                    if name == "ISING+MAG":
                        params.update(prior="qem", prior_scale=32.0, epochs=0, exact_budget=True)
                    for metric, col, unit in BOUNDARY_METRICS:
                        recs.append(dict(base, method=name, params=params, metric=metric, mean=float(v[col]), unit=unit))
        _write_needs(recs, args, command)


def _write_needs(per_mesh, args, command):
    out = []
    for cat in dict.fromkeys(r["dataset"].split("/")[0] for r in per_mesh):
        rs = [r for r in per_mesh if r["dataset"].split("/")[0] == cat]
        groups = {}
        for r in rs:  # per-mesh records grouped by method, params and metric
            groups.setdefault((r["method"], json.dumps(r["params"], sort_keys=True), r["metric"]), []).append(r)
        for group in groups.values():
            v = np.array([r["mean"] for r in group])
            out.append(dict(group[0], dataset=cat, mean=float(np.nanmean(v)),
                            std=float(np.nanstd(v, ddof=1)) if len(v) > 1 else None, n=len(v)))
        for metric in ("segmentation_transfer_error", "vertex_to_mesh"):  # paired: locked default vs MeshLab
            pair = {}
            for r in rs:
                if r["metric"] == metric and (r["method"], r["params"].get("lock")) in (
                        ("ISING+MAG", "ground truth"), ("pymeshlab", "none")):
                    pair.setdefault(r["dataset"], {})[r["method"]] = r["mean"]
            a = np.array([[d["ISING+MAG"], d["pymeshlab"]] for d in pair.values()])
            proto = next(r for r in rs if r["method"] == "ISING+MAG" and r["params"].get("lock") == "ground truth")
            out.append(dict(proto, dataset=cat, metric=f"wins_{metric}", mean=float((a[:, 0] < a[:, 1]).sum()),
                            std=None, n=len(a), unit=f"meshes where the locked default has the lower {metric} than "
                                                     "pymeshlab's own faces (paired)"))
    cats = list(dict.fromkeys(r["dataset"] for r in out))
    get = {(r["dataset"], r["method"], r["params"].get("lock"), r["metric"]): r for r in out}
    labels = {("pymeshlab", "none"): "pymeshlab (own faces)", ("meshoptimizer", "none"): "meshoptimizer (own faces)",
              ("meshoptimizer", "ground truth"): "meshoptimizer, ground-truth boundary vertices locked (labels known)",
              ("QEM_ORDER", "none"): "QEM_ORDER, qem coarsening",
              ("QEM_ORDER", "ground truth"): "QEM_ORDER, ground-truth boundary vertices locked (labels known)",
              ("QEM_ORDER", "ground truth, random half"): "QEM_ORDER, a random half of the ground-truth boundary "
                                                          "vertices locked (labels known)",
              ("QEM_ORDER", "predicted 1x"): "QEM_ORDER, probe's top vertices locked (as many as boundary vertices)",
              ("QEM_ORDER", "predicted 3x"): "QEM_ORDER, probe's top vertices locked (3x as many)",
              ("ISING+MAG", "none"): "ISING+MAG, `MeshSparsifier()` default (untrained quadric prior)",
              ("ISING+MAG", "ground truth"): "ISING+MAG, default, ground-truth boundary vertices locked "
                                             "(`data['locked']`, labels known)"}

    def cell(c, key, metric):
        r = get.get((c, *key, metric))
        return "-" if r is None or not np.isfinite(r["mean"]) else f"{r['mean']:.3f} ({r['std']:.2g})"

    lines = ["# What keeping the part boundaries takes", "", f"Command: `{command}`", "",
             "Every test mesh of the 5-fold split of the other suites, at MeshLab's vertex count "
             f"({100 * args.fraction:g} %). Labels known: "
             "the ground-truth part-boundary vertices (incident faces of two PSB labels) are locked (never removed), "
             "in our quadric order (`qem_removal_order(mesh, locked=part_boundary_vertices(mesh, labels))`, "
             "coarsened by `coarsen_mesh(method='qem')`), in the default `MeshSparsifier` (`data['locked']`) and in "
             "meshoptimizer (`vertex_lock`, own faces). Labels unknown: a boundary probe, "
             "scikit-learn's `HistGradientBoostingClassifier` trained per fold on the training meshes' boundary "
             "vertices from 16 vertex inputs (the field network's 3, the mean curvature diffused to "
             f"{len(PROBE_SCALES)} scales and its differences, absolute principal-axis coordinates), and its "
             "highest-scored vertices locked instead. The probe is a supervised classifier, a stronger learner of "
             "the boundaries from these inputs than a field trained through the sampler on the transfer error.", "",
             "## Probe ROC AUC for 'is a part-boundary vertex' (held-out meshes)", "",
             "| | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats),
             "| probe | " + " | ".join(cell(c, ("PROBE", None), "boundary_auc") for c in cats) + " |"]
    for title, metric in [("Segmentation transfer error (% of the area)", "segmentation_transfer_error"),
                          ("Geometry: vertex-to-mesh distance (10 x mean distance / mean edge length)",
                           "vertex_to_mesh"), ("Part-boundary vertices kept (fraction)", "part_boundary_recall")]:
        lines += ["", f"## {title}", "", "| method | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
        for key, lab in labels.items():
            lines.append(f"| {lab} | " + " | ".join(cell(c, key, metric) for c in cats) + " |")
        w = [get.get((c, "ISING+MAG", "ground truth", f"wins_{metric}")) for c in cats]
        if all(w):
            lines.append("| meshes where the locked default is below pymeshlab (paired) | "
                         + " | ".join(f"{r['mean']:.0f}/{r['n']}" for r in w) + " |")
    (RESULTS / f"{args.out}.json").write_text(_json_records(out))
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines + [""]))
    print("\n".join(lines))


def _open_meshes():
    """Open meshes: the Stanford bunny scan as shipped (holes at the base), and two closed meshes cut open by
    removing the faces whose centroids lie in the lowest 20 % (armadillo, along y) / 30 % (fandisk, along z)."""
    import pymeshlab

    from skising.datasets._home import data_path

    out = []
    for name, fname, axis, pct in (("stanford-bunny", "stanford-bunny.obj", None, 0),
                                   ("armadillo-cut", "armadillo.off", 1, 20), ("fandisk-cut", "fandisk.obj", 2, 30)):
        ms = pymeshlab.MeshSet()
        ms.load_new_mesh(str(data_path("meshes", fname)))
        ms.meshing_remove_unreferenced_vertices()
        ms.meshing_remove_duplicate_vertices()
        V = ms.current_mesh().vertex_matrix().astype(np.float64)
        F = ms.current_mesh().face_matrix().astype(np.int64)
        if axis is not None:
            c = V[F].mean(1)
            F = F[c[:, axis] > np.percentile(c[:, axis], pct)]
            used = np.unique(F)
            remap = np.full(len(V), -1, dtype=np.int64)
            remap[used] = np.arange(len(used))
            V, F = V[used], remap[F]
        out.append((name, V, F))
    return out


def run_open(args, command, log):
    """Open meshes: the greedy order with and without the boundary-edge planes, against MeshLab, same budget."""
    import pymeshlab

    from skising.mesh import coarsen_mesh

    dev = "cpu (2 shared cores)"
    recs = []
    for name, V, F in _open_meshes():  # loop over meshes
        it = _MeshItem(V, F, name)
        e = np.sort(np.r_[F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]], axis=1)
        u, cnt = np.unique(e, axis=0, return_counts=True)
        boundary = np.unique(u[cnt == 1])
        for frac in (0.5, 0.1):
            ms = pymeshlab.MeshSet()
            ms.add_mesh(pymeshlab.Mesh(V, F))
            ms.meshing_decimation_quadric_edge_collapse(targetperc=frac, optimalplacement=False)
            k = ms.current_mesh().vertex_number()
            rows = [("pymeshlab", {"faces": "own", "optimalplacement": False},
                     (ms.current_mesh().vertex_matrix(), ms.current_mesh().face_matrix()))]
            for bw in (1.0, 0.0):
                rank = removal_rank(V, F, it.edges, boundary_weight=bw)[0]
                rows.append(("QEM_ORDER", {"coarsening": "qem", "boundary_weight": bw},
                             coarsen_mesh((V, F), rank >= len(V) - k)))
            for method, params, (Vc, Fc) in rows:
                d = _distance(V, np.asarray(Vc, dtype=np.float64), np.asarray(Fc, dtype=np.int64))[0]
                p = dict(params, target_fraction=frac, n_kept=int(len(Vc)))
                for metric, val, unit in (("vertex_to_mesh", _normalize(d, "table", it.ell),
                                           "10 x mean distance / mean edge length"),
                                          ("boundary_distance", float(d[boundary].mean() / it.ell),
                                           "mean distance of the open-boundary vertices / mean edge length")):
                    recs.append(dict(task="mesh", dataset=name, method=method, params=p, metric=metric,
                                     mean=float(val), std=None, n=1, unit=unit, device=dev, command=command))
        log(f"[{name}] {len(V)} vertices, {len(boundary)} on open boundaries")
    lines = ["# Open meshes: the quadric order with and without boundary planes", "", f"Command: `{command}`", "",
             "The greedy removal order (`skising.mesh.qem_removal_order`; `boundary_weight` 1: the planes through "
             "open boundary edges, the default; 0: none) keeps MeshLab's vertex count, coarsened by "
             "`coarsen_mesh(method=\"qem\")` (which has the boundary planes), against MeshLab's quadric edge "
             "collapse (own faces, `optimalplacement=False`). `stanford-bunny`: the scan with its holes; "
             "`armadillo-cut` / `fandisk-cut`: the closed meshes with the faces of the lowest 20 % / 30 % removed. "
             "Distance: 10 x mean vertex-to-surface distance / mean edge length; boundary: mean distance of the "
             "original open-boundary vertices to the coarse surface / mean edge length.", "",
             "| mesh | kept | MeshLab | order, boundary planes | order, no boundary planes |", "|---|---|---|---|---|"]
    get = {(r["dataset"], r["method"], r["params"].get("boundary_weight"), r["params"]["target_fraction"],
            r["metric"]): r["mean"] for r in recs}
    for name in dict.fromkeys(r["dataset"] for r in recs):
        for frac in (0.5, 0.1):
            cells = []
            for key in (("pymeshlab", None), ("QEM_ORDER", 1.0), ("QEM_ORDER", 0.0)):
                cells.append(f"{get[(name, *key, frac, 'vertex_to_mesh')]:.4f} "
                             f"(boundary {get[(name, *key, frac, 'boundary_distance')]:.4f})")
            lines.append(f"| {name} | {frac:.0%} | " + " | ".join(cells) + " |")
    (RESULTS / f"{args.out}.json").write_text(_json_records(recs))
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines + [""]))
    print("\n".join(lines))


def _features_vs_learned(per_mesh):
    """The geometry-trained ISING+MAG of this suite (its --features) against the curvature-only ISING+MAG of
    results/mesh_learned.json on the same test meshes (same split, seeds and budget; another process)."""
    src = RESULTS / "mesh_learned.json"
    if not src.exists():
        return []
    base = {r["dataset"]: r["mean"] for r in json.loads(src.read_text())
            if r["method"] == "ISING+MAG" and "/" in r["dataset"] and r["metric"] == "vertex_to_mesh"}
    ours = {r["dataset"]: r for r in per_mesh if r["method"] == "ISING+MAG" and r["params"]["task"] == "geometry"
            and not r["params"].get("prior") and r["metric"] == "vertex_to_mesh" and r["dataset"] in base}
    out = []
    for cat in dict.fromkeys(m.split("/")[0] for m in ours):
        meshes = sorted(m for m in ours if m.startswith(cat + "/"))
        a = np.array([ours[m]["mean"] for m in meshes])
        b = np.array([base[m] for m in meshes])
        proto = ours[meshes[0]]
        out.append(dict(proto, dataset=cat, metric="features_ratio", mean=float(a.mean() / b.mean()), std=None,
                        n=len(meshes), unit="mean distance with these features / curvature-only ISING+MAG of "
                        "results/mesh_learned.json, same meshes", command=proto["command"]))
        out.append(dict(proto, dataset=cat, metric="features_wins", mean=float((a < b).sum()), std=None,
                        n=len(meshes), unit="meshes where these features give the lower distance (paired)",
                        command=proto["command"]))
        out.append(dict(proto, dataset=cat, metric="curvature_only_vertex_to_mesh", mean=float(b.mean()),
                        std=float(b.std(ddof=1)) if len(b) > 1 else None, n=len(meshes),
                        unit="10 x mean distance / mean edge length, results/mesh_learned.json", command=proto["command"]))
    return out


def render_boundary(recs, command):
    cats = [c for c in ["bust", "fourleg", "human", "chair"] if any(r["dataset"] == c for r in recs)]
    get = {(r["dataset"], _boundary_label(r), r["metric"]): r for r in recs}
    labels = list(dict.fromkeys(_boundary_label(r) for r in recs))
    n = {c: next(r["n"] for r in recs if r["dataset"] == c) for c in cats}

    def cell(c, lab, metric, fmt):
        r = get.get((c, lab, metric))
        if r is None or not np.isfinite(r["mean"]):
            return "-"
        return fmt.format(r["mean"]) + (f" ({r['std']:.2g})" if r["std"] is not None and np.isfinite(r["std"]) else "")

    out = ["# Part boundaries: a coarse mesh that keeps the segmentation", "",
           "Commands: " + " ; ".join(f"`{c}`" for c in command.split(" ; ")) + "; fold runs merge with "
           "`python benchmarks/bench_mesh.py --suite boundary --merge <their JSON files> --out mesh_boundary`.", "",
           "5-fold CV split as in the other suites (n test meshes per category: "
           + ", ".join(f"{c} {n[c]}" for c in cats) + "). ISING+MAG is trained per fold on the training meshes' "
           "ground-truth PSB segmentations (`task='boundary'`: distance + weight x transfer error) or on geometry "
           "alone (`task='geometry'`); at test time it sees only the mesh. Every vertex-keeping row keeps exactly "
           "MeshLab's vertex count of each mesh and is coarsened by `coarsen_mesh(method='qem')` (QEM_ORDER: the k "
           "vertices `qem_removal_order` removes last, untrained); simplifier rows "
           "with own faces are the simplifiers' outputs. Mean (std) over the test meshes; 'wins' = meshes where "
           "the boundary-trained ISING+MAG has the lower transfer error (paired).", "",
           "## Segmentation transfer error (% of the original area whose part label the coarse mesh loses)", "",
           "| method | " + " | ".join(f"{c} | wins" for c in cats) + " |", "|---|" + "---|---|" * len(cats)]
    for lab in labels:
        cells = []
        for c in cats:
            w = get.get((c, lab, "boundary_wins"))
            cells += [cell(c, lab, "segmentation_transfer_error", "{:.3f}"), f"{w['mean']:.0f}/{w['n']}" if w else ""]
        out.append(f"| {lab} | " + " | ".join(cells) + " |")
    for title, metric, fmt in [("Geometry: vertex-to-mesh distance (10 x mean distance / mean edge length)",
                                "vertex_to_mesh", "{:.3f}"),
                               ("Part-boundary vertices kept (fraction)", "part_boundary_recall", "{:.3f}"),
                               ("Kept fraction", "kept_fraction", "{:.4f}")]:
        out += ["", f"## {title}", "", "| method | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
        for lab in labels:
            out.append(f"| {lab} | " + " | ".join(cell(c, lab, metric, fmt) for c in cats) + " |")
    fr = {r["dataset"]: r for r in recs if r["metric"] == "features_ratio"}
    if fr:
        feats = "+".join(next(iter(fr.values()))["params"]["features"])
        out += ["", f"## Vertex features ({feats}) for the geometric task", "",
                "ISING+MAG, task=geometry above (these features) against the curvature-only ISING+MAG of "
                "`results/mesh_learned.md` on the same test meshes (same split, seeds, budget and recipe; another "
                "process):", "", "| | " + " | ".join(c for c in cats if c in fr) + " |",
                "|---|" + "---|" * len(fr)]
        for metric, label, fmt in [("curvature_only_vertex_to_mesh", "curvature only (mesh_learned)", "{:.3f}"),
                                   ("features_ratio", "ratio, these features / curvature only", "{:.3f}"),
                                   ("features_wins", "meshes where these features are better", "{:.0f}")]:
            row = [get.get((c, _boundary_label(fr[c]), metric)) for c in cats if c in fr]
            out.append(f"| {label} | " + " | ".join(fmt.format(r["mean"]) + (f"/{r['n']}" if "wins" in metric else "")
                                                     for r in row) + " |")
    out += ["", "The transfer error: every original face goes to the coarse face nearest to its centroid, every coarse "
            "face takes the area-majority label of its faces, and the error is the area whose label differs "
            "(`skising.metrics.segmentation_transfer_error`).", ""]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--categories", nargs="+", default=["bust", "fourleg", "human", "chair"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--lr", type=float, default=3e-2)
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
    p.add_argument("--features", nargs="+", default=["curvature"], choices=["curvature", "qem_cost", "concavity"],
                   help="vertex inputs of ISING+MAG's field network (learned and boundary suites)")
    p.add_argument("--prior", choices=["qem"], default=None,
                   help="learned and boundary suites: MeshSparsifier(prior=...) for ISING+MAG")
    p.add_argument("--prior-scale", type=float, default=32.0, help="MeshSparsifier(prior_scale=...)")
    p.add_argument("--fraction", type=float, default=0.5, help="boundary and needs suites: fraction of the vertices kept")
    p.add_argument("--boundary-weight", type=float, default=30.0,
                   help="boundary suite: weight of the transfer error (a fraction) in ISING+MAG's task loss")
    p.add_argument("--with-geometry", action=argparse.BooleanOptionalAction, default=True,
                   help="boundary suite: also train and evaluate the geometry-only ISING+MAG")
    p.add_argument("--suite", choices=["table5", "coarsening", "learned", "boundary", "features", "open", "needs"],
                   default="table5",
                   help="table5: the paper's table; coarsening: the simplifiers' own faces vs our coarsenings of "
                        "their vertices (no training); learned: ISING+MAG through --coarsening vs the simplifiers")
    p.add_argument("--coarsening", choices=["nearest", "qem"], default="nearest",
                   help="coarsening of ISING+MAG's training loss and of every evaluation (table5 and learned suites)")
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

    def log(msg):
        print(msg, flush=True)

    standalone = {"coarsening": run_coarsening, "features": run_features, "open": run_open, "needs": run_needs}
    if args.suite in standalone:  # suites that write their own records
        standalone[args.suite](args, command, log)
        return
    suites = {"boundary": (run_boundary, _write_boundary, _boundary_label),
              "learned": (run_learned, _write_learned, _label)}
    if args.suite in suites:
        run, write, label = suites[args.suite]
        if args.merge:  # per-mesh records of runs over other folds: one table
            per_mesh = {}
            for f in args.merge:
                for r in json.loads(Path(f).read_text()):
                    if "/" in r["dataset"]:
                        per_mesh[(r["dataset"], label(r), r["metric"])] = r
            write(list(per_mesh.values()), args)
        else:
            run(args, command, log)
        return
    if args.merge:
        merged = {}  # a later file's record replaces an earlier one with the same (dataset, method, metric)
        for f in args.merge:
            for r in json.loads(Path(f).read_text()):
                merged[(r["dataset"], r["method"], r["metric"])] = r
        recs = list(merged.values())
        commands = " ; ".join(dict.fromkeys(r["command"] for r in recs))
        path.write_text(_json_records(recs))
        (RESULTS / f"{args.out}.md").write_text(render_md(recs, args, commands))
        print(render_md(recs, args, commands))
        return

    for cat in args.categories:
        rows, epoch_s, ps_epoch_s, n_ver = run_category(cat, args, log)
        recs += records_for(cat, rows, epoch_s, ps_epoch_s, n_ver, args, command)
        path.write_text(_json_records(recs))  # partial results after each category
        (RESULTS / f"{args.out}.md").write_text(render_md(recs, args, command))
    print(render_md(recs, args, command))


if __name__ == "__main__":
    main()
