"""Sparse approximate inverses: Table 1 of the paper and a GMRES comparison.

Usage (each part writes benchmarks/results/sai_parts/<part>.json; ``merge``
collects them into benchmarks/results/sai.json and sai.md):

    python benchmarks/bench_sai.py table1 --setting 1 --epochs 30
    python benchmarks/bench_sai.py gmres --epochs 30
    python benchmarks/bench_sai.py merge

Table 1: mean (std) of ||AM - I||_F on the test split (60/20/20, seed 0) for
ISING+MAG (learned), ISING (constant field h = 0, which keeps 50% by the
x -> -x symmetry), RANDOM (each candidate with probability 1/2), ONLY A
(pattern of A) and GREEDY SPAI (Grote-Huckle, same per-column budget as 50%
of the candidates). The diagonal of M is always kept.
Setting 1: Dataset 1, candidates A + A^2. Setting 2: Dataset 1, all entries.
Setting 3: Dataset 2 (SuiteSparse windows), all entries.
"""

from __future__ import annotations

import os

# one BLAS thread: on a shared 2-core machine multi-threaded BLAS spin-waits made an
# unpreconditioned GMRES 100x slower (868 s instead of 9 s)
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time
from pathlib import Path

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skising.datasets._matrices import (  # noqa: E402
    load_suitesparse_matrix,
    load_suitesparse_windows,
    make_banded_binary_matrices,
    split_matrices,
)
from skising.precondition import SAIPreconditioner, greedy_spai_dense, spai  # noqa: E402
from skising.precondition._items import _Batch, _Item  # noqa: E402
from skising.precondition._field import ConstantField  # noqa: E402
from skising.precondition._pattern import entry_features  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PARTS = RESULTS / "sai_parts"
COMMAND = "python " + " ".join(sys.argv)


def rec(dataset, method, metric, values=None, mean=None, std=None, n=None, unit=None):
    if values is not None:
        v = np.asarray(values, dtype=float)
        mean, std, n = float(v.mean()), float(v.std()), int(v.size)
    return {
        "task": "sai", "dataset": dataset, "method": method, "metric": metric,
        "mean": mean, "std": std, "n": n, "unit": unit, "device": "cpu", "command": COMMAND,
    }


# display labels of the rows -> canonical method names (the configuration goes to ``params``)
_BASES = {"TOP |M*|": ("TOP_M", {}), "TOP |M*| 50%": ("TOP_M", {"fraction": 0.5}), "TOP |G*|": ("TOP_G", {}),
          "GREEDY SPAI": ("GREEDY_SPAI", {}), "ISING (beta=2)": ("ISING", {"beta": 2.0})}


def canonical(label):
    """``(method, params)`` of a row label such as ``"ISING+MAG [lstsq-cal] (best of 8) + REFINE4"``.

    The method is the canonical name (``ISING+MAG``, ``ISING``, ``RANDOM``,
    ``ONLY A``, ``TOP_M``, ``GREEDY_SPAI``, ``SPAI``, ``JACOBI``, ``ILU``,
    ``AMG``, ``NONE``); the variant (``[tag]``: the training configuration
    of :func:`table1`), the comparison (``"X - Y"``: paired differences), the
    parenthesised setting, the refinement rounds and the sampler sweeps go to
    ``params``, with the label itself under ``"label"`` (the table row).
    """
    import re

    params = {"label": label}
    s = label
    if " - " in s:  # paired difference "X - Y"
        s, other = s.split(" - ", 1)
        both = re.search(r" \(both \+ REFINE(\d+)\)$", other)
        if both:  # the refinement applies to both sides of the difference
            other = other[: both.start()] + f" + REFINE{both.group(1)}"
            params["refine_steps"] = int(both.group(1))
        params["minus"], mp = canonical(other)
        params["minus_params"] = {k: v for k, v in mp.items() if k != "label"}
    m = re.search(r" \+ REFINE(\d+)$", s)
    if m:
        params["refine_steps"] = int(m.group(1))
        s = s[: m.start()]
    m = re.search(r" T=(\d+)$", s)
    if m:
        params["n_sweeps"] = int(m.group(1))
        s = s[: m.start()]
    m = re.search(r" \(([^()]*)\)$", s)
    if m and s[: m.start()] not in _BASES:
        note = m.group(1)
        s = s[: m.start()]
        b = re.fullmatch(r"best of (\d+)", note)
        r = re.fullmatch(r"REFINE(\d+)", note)
        if b:
            params["transform_samples"] = int(b.group(1))
        elif r:
            params["refine_steps"] = int(r.group(1))
        elif note == "no refinement":
            params["refine_steps"] = 0
        else:
            params["setting"] = note
    m = re.search(r" \[([^\]]+)\]$", s)
    if m:
        params["variant"] = m.group(1)
        s = s[: m.start()]
    method, extra = _BASES.get(s, (s, {}))
    params.update(extra)
    return method, params


def canonical_record(r):
    """A record with its row label split into the canonical method and ``params``."""
    method, params = canonical(r["method"])
    return dict(r, method=method, params={**params, **r.get("params", {})})


def setting_data(setting, n_matrices, max_per_matrix):
    if setting in (1, 2):
        mats = make_banded_binary_matrices(n_matrices, random_state=0)
        info = {}
    else:
        mats, names = load_suitesparse_windows(max_per_matrix=max_per_matrix, return_names=True)
        u, c = np.unique(names, return_counts=True)
        info = {"n_windows": len(mats), "composition": dict(zip(u.tolist(), c.tolist()))}
    return split_matrices(mats, random_state=0), info


def residual_of_masks(items, keep_list):
    """||AM - I||_F of one given pattern per matrix (batched least squares)."""
    out = []
    for s in range(0, len(items), 64):
        b = _Batch(items[s : s + 64], "cpu", 1)
        keep = np.concatenate(keep_list[s : s + 64])[None]
        r, _ = b.residuals(keep, True)
        out.extend(r[0].tolist())
    return np.asarray(out)


def greedy_residuals(test, pattern):
    res, frac = [], []
    for s in range(0, len(test), 64):
        chunk = test[s : s + 64]
        n = chunk[0].shape[0]
        A = torch.as_tensor(np.stack([m.toarray() for m in chunk]))
        cand = torch.zeros_like(A, dtype=torch.bool)
        for i, m in enumerate(chunk):  # loop over matrices
            it = _Item(sp.csr_matrix(m), pattern, True, build_graph=False)
            cand[i, torch.as_tensor(it.rows), torch.as_tensor(it.cols)] = True
        budget = torch.round(0.5 * cand.sum(1)).long()
        mask, M, R = greedy_spai_dense(A, cand, budget)
        res.extend(torch.linalg.norm(R, dim=(1, 2)).tolist())
        frac.extend(((mask.sum((1, 2)) - n) / cand.sum((1, 2)).clamp_min(1)).tolist())
    return np.asarray(res), np.asarray(frac)


def _label(args):
    """Method label and file tag of a learned run: the paper's features keep the paper's name."""
    if args.features == "A" and not args.tag:
        return "ISING+MAG", ""
    tag = args.tag or args.features
    return f"ISING+MAG [{tag}]", f"_{tag}"


def threshold_masks(items, fraction=0.5):
    """Keep the largest |M*| (least squares on all candidates), globally scaled, of each matrix."""
    out = []
    for it in items:  # loop over matrices
        f = entry_features(it.A, it.rows, it.cols, "A2", "lstsq")[:, 3].numpy()
        k = int(round(fraction * it.m))
        keep = np.zeros(it.m, dtype=bool)
        keep[np.argsort(-f, kind="stable")[:k]] = True
        out.append(keep)
    return out


def table1(args):
    torch.set_num_threads(args.threads)
    setting = args.setting
    pattern = "A2" if setting == 1 else "full"
    (train, val, test), info = setting_data(setting, args.n_matrices, args.max_per_matrix)
    ds = f"setting{setting}"
    label, ftag = _label(args)
    print(f"{ds}: pattern={pattern} train/val/test = {len(train)}/{len(val)}/{len(test)} {info}", flush=True)
    records = []
    rng = np.random.default_rng(0)
    items = [_Item(sp.csr_matrix(m), pattern, True, build_graph=True) for m in test]
    if args.skip_baselines:
        tm = threshold_masks(items)
        r = residual_of_masks(items, tm)
        records += [rec(ds, "TOP |M*| 50%", "frobenius", r), rec(ds, "TOP |M*| 50%", "kept_fraction",
                                                                  [k.mean() for k in tm])]
        _print(records)
        return _table1_learned(args, ds, pattern, train, val, test, info, records, label, ftag)
    # ONLY A
    onlyA = [np.asarray(_lookup_pattern(it), dtype=bool) for it in items]
    r = residual_of_masks(items, onlyA)
    records += [rec(ds, "ONLY A", "frobenius", r),
                rec(ds, "ONLY A", "kept_fraction", [k.mean() if k.size else 0 for k in onlyA])]
    # RANDOM
    rnd = [rng.random(it.m) < 0.5 for it in items]
    r = residual_of_masks(items, rnd)
    records += [rec(ds, "RANDOM", "frobenius", r), rec(ds, "RANDOM", "kept_fraction", [k.mean() for k in rnd])]
    # ISING: constant field 0 (keeps 50% in expectation by symmetry)
    ising = SAIPreconditioner(pattern=pattern, field_model=ConstantField(0.0), max_epochs=0, random_state=0,
                              beta=args.beta).fit(train[:2])
    r, f = ising.evaluate(test)
    records += [rec(ds, "ISING", "frobenius", r), rec(ds, "ISING", "kept_fraction", f)]
    # GREEDY SPAI
    t0 = time.perf_counter()
    r, f = greedy_residuals(test, pattern)
    records += [rec(ds, "GREEDY SPAI", "frobenius", r), rec(ds, "GREEDY SPAI", "kept_fraction", f),
                rec(ds, "GREEDY SPAI", "setup_seconds", mean=(time.perf_counter() - t0) / len(test), unit="s/matrix")]
    _print(records)
    return _table1_learned(args, ds, pattern, train, val, test, info, records, label, ftag)


def _table1_learned(args, ds, pattern, train, val, test, info, records, label, ftag):
    est = SAIPreconditioner(pattern=pattern, max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            n_samples=args.k, n_sweeps=args.sweeps, beta=args.beta, random_state=0,
                            features=args.features, penalty=args.penalty, verbose=1,
                            refine_steps=args.train_refine, refine_train=bool(args.train_refine))
    t0 = time.perf_counter()
    est.fit(train, X_val=val)
    fit_s = time.perf_counter() - t0
    for h in est.history_:
        print(f"  epoch {h['epoch']:3d} loss {h['loss']:.4f} val {-h.get('val_score', np.nan):.4f} "
              f"pen {h['penalty']:.3f} {h['seconds']:.1f}s", flush=True)
    print(f"  field offset (kept-fraction calibration on validation): {est.field_offset_:.4f}", flush=True)
    ep_s = [h["seconds"] for h in est.history_]
    records += [rec(ds, label, "epoch_seconds", ep_s, unit="s"),
                rec(ds, label, "fit_seconds", mean=fit_s, n=len(ep_s), unit="s"),
                rec(ds, label, "best_epoch", mean=float(getattr(est, "best_epoch_", -1)), n=len(ep_s)),
                rec(ds, label, "field_offset", mean=float(est.field_offset_), n=1)]
    r, f = est.evaluate(test)
    records += [rec(ds, label, "frobenius", r), rec(ds, label, "kept_fraction", f)]
    r8, f8 = est.evaluate(test, n_samples=8)
    records += [rec(ds, f"{label} (best of 8)", "frobenius", r8), rec(ds, f"{label} (best of 8)", "kept_fraction", f8)]
    if args.train_refine:  # the trained rows above are refined; add the plain sample and other round counts
        for R in [0] + [r for r in args.refine_steps if r != args.train_refine]:
            est.set_params(refine_steps=R, refine_train=False)
            r, f = est.evaluate(test)
            lab = f"{label} (no refinement)" if R == 0 else f"{label} (REFINE{R})"
            records += [rec(ds, lab, "frobenius", r), rec(ds, lab, "kept_fraction", f)]
    if info:
        records.append(rec(ds, "DATA", "n_windows", mean=info["n_windows"], n=len(info["composition"])))
    _print(records)
    PARTS.mkdir(parents=True, exist_ok=True)
    (PARTS / f"table1_{ds}{ftag}.json").write_text(json.dumps({"records": records, "info": info}, indent=1))
    torch.save(est.field_model_.state_dict(), PARTS / f"model_{ds}{ftag}.pt")
    (PARTS / f"model_{ds}{ftag}.offset").write_text(repr(float(est.field_offset_)))


def _lookup_pattern(it):
    """Which candidates of an item are in the pattern of A."""
    from skising.precondition._pattern import _lookup

    return _lookup(it.A, it.rows, it.cols) != 0


def _print(records):
    by = {}
    for r in records:
        by.setdefault((r["dataset"], r["method"]), {})[r["metric"]] = r
    print(f"{'dataset':10s} {'method':24s} {'||AM-I||_F':>16s} {'kept %':>8s}")
    for (d, m), v in by.items():
        if "frobenius" not in v:
            continue
        f = v["frobenius"]
        k = v.get("kept_fraction", {}).get("mean")
        print(f"{d:10s} {m:24s} {f['mean']:8.3f} ({f['std']:.2f}) {100 * k if k is not None else float('nan'):8.1f}")
    sys.stdout.flush()


def extra(args):
    """Equal-budget variants with the saved Table 1 models.

    ISING+MAG @50%: the learned field shifted (naive mean field) to keep 50%.
    ISING+MAG@25% + GREEDY: an Ising sample at 25% of the candidates, then
    greedy SPAI fills every column up to the same budget as GREEDY SPAI.
    """
    torch.set_num_threads(args.threads)
    setting = args.setting
    ds = f"setting{setting}"
    pattern = "A2" if setting == 1 else "full"
    (train, val, test), _ = setting_data(setting, args.n_matrices, args.max_per_matrix)
    label, ftag = _label(args)
    est = SAIPreconditioner(pattern=pattern, max_epochs=0, random_state=0, features=args.features).fit(train[:2])
    est.field_model_.load_state_dict(torch.load(PARTS / f"model_{ds}{ftag}.pt"))
    off = PARTS / f"model_{ds}{ftag}.offset"
    est.field_offset_ = float(off.read_text()) if off.exists() else 0.0
    records = []
    fr_list = (("@50%", 0.5), ("@25%", 0.25)) if not ftag else (("@25%", 0.25),)
    for f_label, f in ((f"{label} {x}", y) for x, y in fr_list):
        res, kept, masks = [], [], []
        for A in test:  # loop over matrices
            est.transform(A, fraction=f)
            res.append(est.residual_)
            kept.append(est.kept_fraction_)
            masks.append(est.M_.toarray() != 0)
        records += [rec(ds, f_label, "frobenius", res), rec(ds, f_label, "kept_fraction", kept)]
        if f == 0.25:
            out, fr = [], []
            for s in range(0, len(test), 64):
                chunk = test[s : s + 64]
                n = chunk[0].shape[0]
                A = torch.as_tensor(np.stack([m.toarray() for m in chunk]))
                cand = torch.zeros_like(A, dtype=torch.bool)
                for i, m in enumerate(chunk):
                    it = _Item(sp.csr_matrix(m), pattern, True, build_graph=False)
                    cand[i, torch.as_tensor(it.rows), torch.as_tensor(it.cols)] = True
                budget = torch.round(0.5 * cand.sum(1)).long()
                init = torch.as_tensor(np.stack(masks[s : s + 64])) & cand
                mask, M, R = greedy_spai_dense(A, cand, budget, init=init)
                out.extend(torch.linalg.norm(R, dim=(1, 2)).tolist())
                fr.extend(((mask.sum((1, 2)) - n) / cand.sum((1, 2)).clamp_min(1)).tolist())
            lab = "ISING+MAG@25% + GREEDY" if not ftag else f"{label}@25% + GREEDY"
            records += [rec(ds, lab, "frobenius", out), rec(ds, lab, "kept_fraction", fr)]
    _print(records)
    (PARTS / f"extra_{ds}{ftag}.json").write_text(json.dumps({"records": records}, indent=1))


# ---------------------------------------------------------------------------
# Table 1, every row in one run
# ---------------------------------------------------------------------------
def exact_half_budget(cand, fraction=0.5):
    """Per-column budgets (B, n) summing to round(fraction * candidates) in every matrix."""
    c = cand.sum(1)  # (B, k)
    base = torch.floor(fraction * c).long()
    total = torch.floor(fraction * c.sum(1) + 0.5).long()  # (B,)
    need = (total - base.sum(1))[:, None]
    room = (base < c).long()
    extra = (torch.cumsum(room, 1) <= need) & (room > 0)
    return base + extra.long()


def greedy_keeps(items, fraction=0.5):
    """Greedy SPAI at exactly round(fraction * m) added entries per matrix -> keeps, residuals."""
    keeps, res = [], []
    for s in range(0, len(items), 64):
        chunk = items[s : s + 64]
        n = chunk[0].n
        A = torch.as_tensor(np.stack([it.A.toarray() for it in chunk]))
        cand = torch.zeros_like(A, dtype=torch.bool)
        for i, it in enumerate(chunk):  # loop over matrices
            cand[i, torch.as_tensor(it.rows), torch.as_tensor(it.cols)] = True
        mask, M, R = greedy_spai_dense(A, cand, exact_half_budget(cand, fraction))
        res.extend(torch.linalg.norm(R, dim=(1, 2)).tolist())
        for i, it in enumerate(chunk):
            keeps.append(mask[i, torch.as_tensor(it.rows), torch.as_tensor(it.cols)].numpy())
    return keeps, np.asarray(res)


def load_learned(setting, tag, features="lstsq"):
    ds = f"setting{setting}"
    pattern = "A2" if setting == 1 else "full"
    mats = make_banded_binary_matrices(4, random_state=0)
    est = SAIPreconditioner(pattern=pattern, max_epochs=0, random_state=0, features=features).fit(mats[:2])
    est.field_model_.load_state_dict(torch.load(PARTS / f"model_{ds}_{tag}.pt"))
    est.field_offset_ = float((PARTS / f"model_{ds}_{tag}.offset").read_text())
    return est


def rows(args):
    """All Table 1 rows of one setting in one run, with and without pattern refinement.

    The learned model is the one saved by ``table1 --features lstsq --tag TAG``.
    Every start (learned sample, constant-field Ising, random, top |M*|,
    greedy SPAI) is refined by the same ``swap_refine_dense(steps=R)``, which
    keeps the number of entries of every matrix.
    """
    from skising.precondition._refine import refine_patterns

    torch.set_num_threads(args.threads)
    setting = args.setting
    ds = f"setting{setting}"
    pattern = "A2" if setting == 1 else "full"
    (train, val, test), info = setting_data(setting, args.n_matrices, args.max_per_matrix)
    print(f"{ds}: pattern={pattern} test={len(test)} refine_steps={args.refine_steps}", flush=True)
    items = [_Item(sp.csr_matrix(m), pattern, True, build_graph=True) for m in test]
    steps = list(args.refine_steps)
    records = []
    T = {}

    def add(method, res, frac, seconds=None):
        records.extend([rec(ds, method, "frobenius", res), rec(ds, method, "kept_fraction", frac)])
        if seconds is not None:
            records.append(rec(ds, method, "setup_seconds", mean=seconds / len(items), unit="s/matrix"))
        _print(records[-3:] if seconds is not None else records[-2:])

    def add_refined(method, keeps):
        for R in steps:
            t0 = time.perf_counter()
            kk, rr = refine_patterns(items, [k[None] for k in keeps], R, args.refine_pairs)
            add(f"{method} + REFINE{R}", np.concatenate(rr), [k[0].mean() for k in kk], time.perf_counter() - t0)

    onlyA = [np.asarray(_lookup_pattern(it), dtype=bool) for it in items]
    add("ONLY A", residual_of_masks(items, onlyA), [k.mean() if k.size else 0 for k in onlyA])
    rng = np.random.default_rng(0)
    rnd = [rng.random(it.m) < 0.5 for it in items]
    add("RANDOM", residual_of_masks(items, rnd), [k.mean() for k in rnd])
    add_refined("RANDOM", rnd)
    # ISING: constant field 0 keeps 50% in expectation (x -> -x symmetry)
    ising = SAIPreconditioner(pattern=pattern, field_model=ConstantField(0.0), max_epochs=0, random_state=0).fit(
        train[:2])
    add("ISING", *ising.evaluate(test))
    for R in steps:
        ising.set_params(refine_steps=R, refine_pairs=args.refine_pairs)
        t0 = time.perf_counter()
        r, f = ising.evaluate(test)  # same samples (fresh generator), then refined
        add(f"ISING + REFINE{R}", r, f, time.perf_counter() - t0)
    t0 = time.perf_counter()
    tm = threshold_masks(items)
    add("TOP |M*| 50%", residual_of_masks(items, tm), [k.mean() for k in tm], time.perf_counter() - t0)
    add_refined("TOP |M*| 50%", tm)
    t0 = time.perf_counter()
    gk, gr = greedy_keeps(items)
    add("GREEDY SPAI", gr, [k.mean() for k in gk], time.perf_counter() - t0)
    add_refined("GREEDY SPAI", gk)
    est = load_learned(setting, args.tag)
    label = f"ISING+MAG [{args.tag}]"
    t0 = time.perf_counter()
    add(label, *est.evaluate(test), time.perf_counter() - t0)
    add(f"{label} (best of 8)", *est.evaluate(test, n_samples=8))
    for R in steps:
        est.set_params(refine_steps=R, refine_pairs=args.refine_pairs)
        t0 = time.perf_counter()
        add(f"{label} + REFINE{R}", *est.evaluate(test), time.perf_counter() - t0)
    _print(records)
    PARTS.mkdir(parents=True, exist_ok=True)
    (PARTS / f"rows_{ds}.json").write_text(json.dumps({"records": records, "info": info, "refine_steps": steps,
                                                       "load_average": os.getloadavg()}, indent=1))


def sweeps(args):
    """Inference-time sweeps T of a saved learned model, offset recalibrated on validation for each T."""
    torch.set_num_threads(args.threads)
    setting = args.setting
    ds = f"setting{setting}"
    (train, val, test), _ = setting_data(setting, args.n_matrices, args.max_per_matrix)
    est = load_learned(setting, args.tag)
    label = f"ISING+MAG [{args.tag}]"
    val_items = [est._item(sp.csr_matrix(m)) for m in val][:256]
    records = []
    for T in args.sweep_list:
        est.set_params(n_sweeps=T)
        t0 = time.perf_counter()
        est.field_offset_ = est._calibrate_offset(val_items, 0.5)
        r, f = est.evaluate(test)
        m = f"{label} T={T}"
        records += [rec(ds, m, "frobenius", r), rec(ds, m, "kept_fraction", f),
                    rec(ds, m, "field_offset", mean=float(est.field_offset_), n=1)]
        print(f"T={T} offset {est.field_offset_:.3f} ({time.perf_counter() - t0:.0f}s)", flush=True)
        _print(records)
    (PARTS / f"sweeps_{ds}.json").write_text(json.dumps({"records": records, "load_average": os.getloadavg()},
                                                        indent=1))


def paired(args):
    """Per-matrix comparison of the learned start and the TOP |M*| start, plain and refined (same test split)."""
    from skising.precondition._refine import refine_patterns

    torch.set_num_threads(args.threads)
    setting = args.setting
    ds = f"setting{setting}"
    pattern = "A2" if setting == 1 else "full"
    (_, _, test), _ = setting_data(setting, args.n_matrices, args.max_per_matrix)
    items = [_Item(sp.csr_matrix(m), pattern, True, build_graph=True) for m in test]
    est = load_learned(setting, args.tag)
    tm = threshold_masks(items)
    records = []
    for R in [0] + list(args.refine_steps):
        est.set_params(refine_steps=R, refine_pairs=args.refine_pairs)
        r_l, _ = est.evaluate(test)
        if R:
            r_t = np.concatenate(refine_patterns(items, [k[None] for k in tm], R, args.refine_pairs)[1])
        else:
            r_t = residual_of_masks(items, tm)
        d = r_l - r_t
        m = f"ISING+MAG [{args.tag}] - TOP |M*| 50%" + (f" (both + REFINE{R})" if R else "")
        records += [rec(ds, m, "frobenius_difference", d),
                    rec(ds, m, "fraction_learned_lower", mean=float((d < -1e-9).mean()), n=int(d.size)),
                    rec(ds, m, "fraction_tied", mean=float((np.abs(d) <= 1e-9).mean()), n=int(d.size))]
        print(f"{ds} R={R}: mean diff {d.mean():+.4f} (std {d.std():.3f}), median {np.median(d):+.4f}, "
              f"learned lower on {(d < -1e-9).mean():.1%}, tied {(np.abs(d) <= 1e-9).mean():.1%}", flush=True)
    (PARTS / f"paired_{ds}.json").write_text(json.dumps({"records": records}, indent=1))


def ising_beta2(args):
    """ISING row at beta = 2: the paper's printed Algorithm 1 at beta = 1 samples exp(-2 beta E)."""
    torch.set_num_threads(args.threads)
    recs = []
    for setting in (1, 2, 3):
        pattern = "A2" if setting == 1 else "full"
        (train, val, test), _ = setting_data(setting, args.n_matrices, args.max_per_matrix)
        est = SAIPreconditioner(pattern=pattern, field_model=ConstantField(0.0), max_epochs=0, random_state=0,
                                beta=2.0).fit(train[:2])
        r, f = est.evaluate(test)
        ds = f"setting{setting}"
        recs += [rec(ds, "ISING (beta=2)", "frobenius", r), rec(ds, "ISING (beta=2)", "kept_fraction", f)]
        _print(recs)
    (PARTS / "ising_beta2.json").write_text(json.dumps({"records": recs}, indent=1))


_TIMING_SNIPPET = """
import sys, time, json, torch, pyamg
torch.set_num_threads({threads})
from skising.datasets._matrices import make_banded_binary_matrices
from skising.precondition import SAIPreconditioner
est = SAIPreconditioner(pattern="A2", max_epochs=0, random_state=0).fit(make_banded_binary_matrices(4, random_state=0))
out = {{}}
for k in {sides}:
    A = pyamg.gallery.poisson((k, k), format="csr")
    est.transform(A)  # warm-up (numba cache load, allocator)
    ts = []
    for _ in range({repeats}):
        c, w = time.process_time(), time.perf_counter()
        est.transform(A)
        ts.append((time.process_time() - c, time.perf_counter() - w))
    out[k * k] = sorted(ts)[len(ts) // 2]
print(json.dumps(out))
"""


def _transform_times(root, threads, sides, repeats):
    """Median (CPU s, wall s) of SAIPreconditioner.transform on 2D Poisson, code from ``root``."""
    import subprocess

    code = _TIMING_SNIPPET.format(threads=threads, sides=list(sides), repeats=repeats)
    env = dict(os.environ, PYTHONPATH=str(root))
    # cwd=root: "python -c" puts the working directory first on sys.path
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(root), capture_output=True, text=True,
                         check=True)
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def timing(args):
    """SAIPreconditioner.transform on 2D Poisson (pattern A + A^2): breakdown, and before/after.

    CPU seconds (``time.process_time``) next to wall seconds: the machine is
    shared, so wall time depends on the load while CPU time mostly does not.
    ``--baseline-commit`` times the same call with the package of that commit
    (``git archive``) in a subprocess.
    """
    import subprocess
    import tempfile

    import pyamg

    from skising.sampling._rook import rook_num_edges, sample_rook

    torch.set_num_threads(args.threads)
    mats = make_banded_binary_matrices(4, random_state=0)
    est = SAIPreconditioner(pattern="A2", max_epochs=0, random_state=0).fit(mats)
    records = []
    sides = (200, 316)
    for k in sides:
        A = pyamg.gallery.poisson((k, k), format="csr")
        name = f"poisson2d_{k}x{k}"
        est.transform(A)  # warm-up
        T = {}

        def clock(key, fn):
            c, w = time.process_time(), time.perf_counter()
            out = fn()
            T[key] = (time.process_time() - c, time.perf_counter() - w)
            return out

        item = clock("candidates + features", lambda: est._item(check_matrix_(A), build_graph=False))
        h = clock("GCNII field (chunked inference)", lambda: est._fields(item))
        gen = torch.Generator().manual_seed(0)
        keep = clock("sampler (row/column sums, 3 sweeps)",
                     lambda: (sample_rook(item.rows, item.cols, h, -0.4, 1.0, 1, 3, "metropolis", gen) > 0).numpy())
        clock("least squares (eq. 28)", lambda: est._solve_item(item, keep))
        clock("transform total", lambda: est.transform(A))
        clock("SPAI(A) static, for reference", lambda: spai(A, "A"))
        for key, (c, w) in T.items():
            records.append(rec(name, "ISING+MAG", "setup_seconds", mean=w, n=1, unit=f"s ({key}, wall)"))
            records.append(rec(name, "ISING+MAG", "setup_cpu_seconds", mean=c, n=1, unit=f"s ({key}, cpu)"))
            print(f"{name} {key:38s} cpu {c:7.2f} s  wall {w:7.2f} s", flush=True)
        print(f"{name}: entries {item.m}, entry-graph edges (not built) {rook_num_edges(item.rows, item.cols)}")
    if args.baseline_commit:
        with tempfile.TemporaryDirectory() as tmp:
            arch = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_commit, "skising"],
                                  capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=arch, check=True)
            before = _transform_times(tmp, args.threads, sides, 3)
        after = _transform_times(ROOT, args.threads, sides, 3)
        for n, label in ((before, f"before ({args.baseline_commit[:7]})"), (after, "after")):
            for nn, (c, w) in n.items():
                name = f"poisson2d_{int(round(nn ** 0.5))}x{int(round(nn ** 0.5))}"
                records.append(rec(name, f"ISING+MAG {label}", "setup_seconds", mean=w, n=3, unit="s (transform, wall)"))
                records.append(rec(name, f"ISING+MAG {label}", "setup_cpu_seconds", mean=c, n=3,
                                   unit="s (transform, cpu)"))
                print(f"{name} transform {label:20s} cpu {c:7.2f} s  wall {w:7.2f} s", flush=True)
    PARTS.mkdir(parents=True, exist_ok=True)
    (PARTS / "timing.json").write_text(json.dumps({"records": records, "threads": args.threads,
                                                   "load_average": os.getloadavg()}, indent=1))


def check_matrix_(A):
    from skising.precondition import check_matrix

    return check_matrix(A)


# ---------------------------------------------------------------------------
# GMRES on real systems
# ---------------------------------------------------------------------------
def convection_diffusion(n_side, wind=(20.0, 10.0)):
    """Upwind 2D convection-diffusion -Lap u + w . grad u on the unit square (Dirichlet)."""
    h = 1.0 / (n_side + 1)
    e = np.ones(n_side)
    D2 = sp.diags([-e[:-1], 2 * e, -e[:-1]], [-1, 0, 1]) / h**2
    D1 = sp.diags([-e[:-1], e], [-1, 0]) / h  # backward difference (upwind for w > 0)
    I = sp.eye(n_side)
    L = sp.kron(I, D2) + sp.kron(D2, I)
    C = wind[0] * sp.kron(I, D1) + wind[1] * sp.kron(D1, I)
    return sp.csr_matrix(L + C)


class _Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, _):
        self.n += 1


def run_gmres(A, M, b, maxiter):
    from scipy.sparse.linalg import gmres

    cnt = _Counter()
    t0 = time.perf_counter()
    x, info = gmres(A, b, M=M, rtol=1e-8, restart=50, maxiter=maxiter, callback=cnt, callback_type="pr_norm")
    dt = time.perf_counter() - t0
    rel = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
    return cnt.n, dt, info, rel


def gmres_part(args):
    import pyamg
    from scipy.sparse.linalg import LinearOperator, aslinearoperator, spilu

    torch.set_num_threads(args.threads)
    # train the learned model on Dataset 1 (Setting 1 pattern) or reuse table1's
    mats = make_banded_binary_matrices(args.n_matrices, random_state=0)
    train, val, _ = split_matrices(mats, random_state=0)
    est = SAIPreconditioner(pattern="A2", max_epochs=0, random_state=0).fit(train[:2])
    saved = PARTS / "model_setting1.pt"
    learned = "ISING+MAG"
    if args.tag:  # a features="lstsq" model from `table1 --tag TAG` with its calibrated offset
        est = load_learned(1, args.tag)
        trained = f"loaded model_setting1_{args.tag}.pt (Table 1 Setting 1), offset {est.field_offset_:.4f}"
        learned = f"ISING+MAG [{args.tag}]"
    elif saved.exists():
        est.field_model_.load_state_dict(torch.load(saved))
        trained = "loaded from Table 1 Setting 1"
    else:
        est.set_params(max_epochs=args.epochs).fit(train, X_val=val)
        trained = f"trained {args.epochs} epochs"
    print("learned model:", trained, flush=True)
    const = SAIPreconditioner(pattern="A2", field_model=ConstantField(0.0), max_epochs=0, random_state=0).fit(train[:2])
    systems = [("poisson2d_200x200", pyamg.gallery.poisson((200, 200), format="csr")),
               ("convdiff2d_100x100", convection_diffusion(100))]
    for name in args.suitesparse:
        systems.append((name, load_suitesparse_matrix(name)))
    records = []
    rng = np.random.default_rng(0)
    c0 = [time.process_time()]
    for side in (10, 120):  # explicit entry graph and the row/column-sum sampler
        warm = pyamg.gallery.poisson((side, side), format="csr")
        est.transform(warm)  # compile / load the samplers before timing
        const.transform(warm)
    for name, A in systems:
        A = sp.csr_matrix(A)
        n = A.shape[0]
        b = A @ np.ones(n)
        maxiter = args.maxiter
        rows = []

        def add(method, setup, M, nnz=None):
            cpu = time.process_time() - c0[0]
            it, dt, info, rel = run_gmres(A, M, b, maxiter)
            rows.append((method, it, setup, dt, nnz, info, rel))
            for metric, val, unit in (("gmres_iterations", it, None), ("setup_seconds", setup, "s"),
                                      ("setup_cpu_seconds", cpu, "s"),
                                      ("solve_seconds", dt, "s"), ("nnz", nnz, None), ("rel_residual", rel, None)):
                if val is not None:
                    records.append(rec(name, method, metric, mean=float(val), n=1, unit=unit))
            print(f"{name:22s} {method:26s} it={it:6d} setup={setup:7.3f}s solve={dt:7.3f}s nnz={nnz} info={info} "
                  f"rel={rel:.1e}", flush=True)

        c0[0] = time.process_time()
        add("NONE", 0.0, None)
        t0 = time.perf_counter()
        c0[0] = time.process_time()
        d = A.diagonal()
        dinv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1.0), 1.0)
        Mj = aslinearoperator(sp.diags(dinv))
        add("JACOBI", time.perf_counter() - t0, Mj, n)
        t0 = time.perf_counter()
        c0[0] = time.process_time()
        Ms = spai(A, "A")
        add("SPAI", time.perf_counter() - t0, aslinearoperator(Ms), Ms.nnz)
        # learned at nnz(SPAI(A)) and at half of the A + A^2 candidates
        it_ = _Item(SAIPreconditioner()._matrices([A])[0], "A2", True, build_graph=False)
        m_c = it_.m
        f_same = float(np.clip((Ms.nnz - n) / max(m_c, 1), 0.02, 0.98))
        for label, f in ((f"{learned} (nnz SPAI)", f_same), (f"{learned} (A2/2)", None)):
            t0 = time.perf_counter()
            c0[0] = time.process_time()
            Mop = est.transform(A, fraction=f)
            add(label, time.perf_counter() - t0, Mop, est.M_.nnz)
        # random and constant-field Ising at the nnz of the learned A2/2 pattern
        f_l = est.kept_fraction_
        t0 = time.perf_counter()
        c0[0] = time.process_time()
        keep = rng.random(m_c) < f_l
        Mr = _solve_keep(A, it_, keep)
        add("RANDOM (A2 nnz learned)", time.perf_counter() - t0, aslinearoperator(Mr), Mr.nnz)
        t0 = time.perf_counter()
        c0[0] = time.process_time()
        Mc = const.transform(A, fraction=float(np.clip(f_l, 0.02, 0.98)))
        add("ISING (A2 nnz learned)", time.perf_counter() - t0, Mc, const.M_.nnz)
        try:
            t0 = time.perf_counter()
            c0[0] = time.process_time()
            ilu = spilu(sp.csc_matrix(A), drop_tol=1e-4, fill_factor=10)
            Mi = LinearOperator(A.shape, ilu.solve)
            add("ILU", time.perf_counter() - t0, Mi, ilu.L.nnz + ilu.U.nnz)
        except RuntimeError as exc:
            print(f"{name}: spilu failed ({exc})")
        t0 = time.perf_counter()
        c0[0] = time.process_time()
        try:
            ml = pyamg.smoothed_aggregation_solver(A)
            Ma = ml.aspreconditioner(cycle="V")
            add("AMG", time.perf_counter() - t0, Ma, None)
        except Exception as exc:  # pyamg can fail on indefinite/nonsymmetric systems
            print(f"{name}: pyamg failed ({exc})")
    PARTS.mkdir(parents=True, exist_ok=True)
    out = "gmres_all.json" if args.tag else "gmres.json"
    (PARTS / out).write_text(json.dumps({"records": records, "model": trained, "restart": 50,
                                         "max_restarts": args.maxiter, "load_average": os.getloadavg()}, indent=1))


def gmres_learned(args):
    """Rerun only the learned rows (and SPAI(A) for a same-load setup reference) with the current code.

    Both saved Setting 1 models: the paper's features (``model_setting1.pt``)
    and ``features="lstsq"`` (``model_setting1_lstsq.pt`` with its calibrated
    offset). Setup is reported as wall and CPU seconds.
    """
    torch.set_num_threads(args.threads)
    mats = make_banded_binary_matrices(8, random_state=0)
    models = []
    for label, tag, feats in (("ISING+MAG", "", "A"), ("ISING+MAG [lstsq]", "_lstsq", "lstsq")):
        path = PARTS / f"model_setting1{tag}.pt"
        if not path.exists():
            continue
        est = SAIPreconditioner(pattern="A2", max_epochs=0, random_state=0, features=feats).fit(mats[:2])
        est.field_model_.load_state_dict(torch.load(path))
        off = PARTS / f"model_setting1{tag}.offset"
        est.field_offset_ = float(off.read_text()) if off.exists() else 0.0
        models.append((label, est))
    import pyamg

    systems = [("poisson2d_200x200", pyamg.gallery.poisson((200, 200), format="csr")),
               ("convdiff2d_100x100", convection_diffusion(100))]
    systems += [(name, load_suitesparse_matrix(name)) for name in args.suitesparse]
    records = []
    for name, A in systems:
        A = sp.csr_matrix(A)
        n = A.shape[0]
        b = A @ np.ones(n)

        def add(method, setup, cpu, M, nnz):
            it, dt, info, rel = run_gmres(A, M, b, args.maxiter)
            for metric, val, unit in (("gmres_iterations", it, None), ("setup_seconds", setup, "s"),
                                      ("setup_cpu_seconds", cpu, "s"), ("solve_seconds", dt, "s"),
                                      ("nnz", nnz, None), ("rel_residual", rel, None)):
                records.append(rec(name, method, metric, mean=float(val), n=1, unit=unit))
            print(f"{name:22s} {method:34s} it={it:6d} setup={setup:7.3f}s (cpu {cpu:6.3f}s) solve={dt:7.3f}s "
                  f"nnz={nnz} info={info} rel={rel:.1e}", flush=True)

        c0, t0 = time.process_time(), time.perf_counter()
        Ms = spai(A, "A")
        add("SPAI", time.perf_counter() - t0, time.process_time() - c0, aslinearoperator_(Ms), Ms.nnz)
        m_c = _Item(SAIPreconditioner()._matrices([A])[0], "A2", True, build_graph=False).m
        f_same = float(np.clip((Ms.nnz - n) / max(m_c, 1), 0.02, 0.98))
        for label, est in models:
            for sub, f in (("(nnz SPAI)", f_same), ("(A2/2)", None)):
                c0, t0 = time.process_time(), time.perf_counter()
                Mop = est.transform(A, fraction=f)
                add(f"{label} {sub}", time.perf_counter() - t0, time.process_time() - c0, Mop, est.M_.nnz)
    PARTS.mkdir(parents=True, exist_ok=True)
    (PARTS / "gmres_rerun.json").write_text(json.dumps({"records": records, "load_average": os.getloadavg()},
                                                       indent=1))


def aslinearoperator_(M):
    from scipy.sparse.linalg import aslinearoperator

    return aslinearoperator(M)


def _solve_keep(A, item, keep):
    from skising.precondition._lstsq import sai_lstsq

    n = A.shape[0]
    r = np.concatenate([item.rows[keep], np.arange(n)])
    c = np.concatenate([item.cols[keep], np.arange(n)])
    o = np.lexsort((r, c))
    vals, _ = sai_lstsq(sp.csr_matrix(A), r[o], c[o])
    return sp.csc_matrix((vals, (r[o], c[o])), shape=(n, n)).tocsr()


PAPER = {"ISING+MAG": (3.28, 2.06, 1.15), "ISING": (3.86, 3.69, 3.78), "RANDOM": (4.04, 3.86, 3.86),
         "ONLY A": (4.12, 4.12, 2.00)}


def _cell(recs, d, m, metric="frobenius"):
    f = [r for r in recs if r["dataset"] == d and r["method"] == m and r["metric"] == metric]
    return f[0] if f else None


def merge(args):
    """Render sai.json / sai.md from the current parts.

    Table 1 from ``rows_setting*.json`` (every row of a setting in one run)
    and training figures from ``table1_setting*_<tag>.json``; GMRES from
    ``gmres_all.json`` (one run, one restart cap for every row); transform
    timing from ``timing.json`` when present (the current setup times are
    ``bench_sai_solvers.py setup``, ``results/sai_solvers.md``).
    """
    tag = args.tag or "lstsq-cal"
    parts = {p.stem: json.loads(p.read_text()) for p in sorted(PARTS.glob("*.json"))}
    use = [k for k in parts if k.startswith(("rows_", "sweeps_", "paired_", f"table1_setting2_{tag}"))
           or k.endswith(f"_{tag}") or k in ("gmres_all", "timing")]
    # training parts: only their learned rows (their TOP |M*| row repeats the rows_ part's)
    records = [r for k in use for r in parts[k]["records"]
               if not k.startswith("table1_") or r["method"].startswith("ISING+MAG")]
    (RESULTS / "sai.json").write_text(json.dumps([canonical_record(r) for r in records], indent=1))
    notes = {k: {kk: vv for kk, vv in parts[k].items() if kk != "records"} for k in use}
    L = ["# Sparse approximate inverses (task `sai`)", "",
         "Machine: 2-core CPU shared with other jobs (load averages in the notes), torch 1 thread "
         "per process. Regenerate: `python benchmarks/bench_sai.py merge`.", ""]
    t1 = [r for k in use if k.startswith("rows_") for r in parts[k]["records"]]
    dsets = sorted({r["dataset"] for r in t1})
    if t1:
        learned = f"ISING+MAG [{tag}]"
        steps = sorted({int(m.rsplit("REFINE", 1)[1]) for m in {r["method"] for r in t1} if "REFINE" in m})
        order = []
        for base in (learned, "ISING", "RANDOM", "TOP |M*| 50%", "GREEDY SPAI"):
            order.append(base)
            if base == learned:
                order.append(f"{learned} (best of 8)")
            order += [f"{base} + REFINE{s}" for s in steps]
        order.append("ONLY A")
        L += ["## Table 1: ||AM - I||_F on the test split, mean (std), kept % of the candidates", "",
              "One run per setting (`rows`): all rows below come from the same process and the same test "
              "split (60/20/20, seed 0). Setting 1: Dataset 1, candidates A + A^2; Setting 2: Dataset 1, all "
              "entries; Setting 3: SuiteSparse windows, all entries. The diagonal of M is always kept.", "",
              "| method | " + " | ".join(dsets) + " | paper |", "|---|" + "---|" * (len(dsets) + 1)]
        for m in order:
            cells = []
            for d in dsets:
                f, k = _cell(t1, d, m), _cell(t1, d, m, "kept_fraction")
                cells.append(f"{f['mean']:.2f} ({f['std']:.2f}), {100 * k['mean']:.1f}%" if f else "-")
            pk = "ISING+MAG" if m == learned else m
            paper = " / ".join(f"{v:.2f}" for v in PAPER[pk]) if pk in PAPER else ""
            L.append(f"| {m.replace('|', chr(92) + '|')} | " + " | ".join(cells) + f" | {paper} |")
        L += ["", f"- `{learned}`: the GCNII field model with `features=\"lstsq\"` (|A|, |A^2|, |M*| scaled per "
              "column and globally, greedy-SPAI score; M* = least squares on all candidates), best epoch chosen on "
              "the validation split at the calibrated kept fraction, then `field_offset_` calibrated to keep 50% "
              "on the validation split; one sample per matrix unless 'best of 8'.",
              "- `+ REFINE<s>`: `swap_refine_dense(steps=s, pairs=4)` started from that row's pattern: "
              "per-column swaps and between-column transfers that keep the number of entries of M, accepted only "
              "when the residual drops (the same local search for every start).",
              "- `ISING`: constant field h = 0 (50% by the x -> -x symmetry). `RANDOM`: each candidate with "
              "probability 1/2. `TOP |M*| 50%`: the 50% largest |M*| of each matrix (the learned model's main input "
              "feature, no learning). `GREEDY SPAI`: Grote-Huckle from the diagonal, per-column budgets summing to "
              "exactly 50% of each matrix's candidates.", ""]
        sec = [r for r in t1 if r["metric"] == "setup_seconds"]
        if sec:
            L += ["Wall seconds per test matrix, batched, on the shared machine (load average 10-14 during these "
                  "runs). ISING and ISING+MAG rows: field, sampling and least squares (and the refinement); "
                  "`RANDOM/TOP/GREEDY + REFINE` rows: the refinement alone; GREEDY SPAI and TOP |M*|: the whole "
                  "pattern search:", "",
                  "| method | " + " | ".join(dsets) + " |", "|---|" + "---|" * len(dsets)]
            for m in [m for m in order if any(r["method"] == m for r in sec)]:
                cells = []
                for d in dsets:
                    c = _cell(sec, d, m, "setup_seconds")
                    cells.append(f"{c['mean']:.3f}" if c else "-")
                L.append(f"| {m.replace('|', chr(92) + '|')} | " + " | ".join(cells) + " |")
            L.append("")
        L += ["Training of the learned rows (`table1 --features lstsq --tag " + tag + " --skip-baselines`):", ""]
        for d in dsets:
            part = parts.get(f"table1_{d}_{tag}")
            if not part:
                continue
            rr = part["records"]
            e = [r for r in rr if r["metric"] == "epoch_seconds"][0]
            be = [r for r in rr if r["metric"] == "best_epoch"][0]
            fo = [r for r in rr if r["metric"] == "field_offset"][0]
            L.append(f"- {d}: {e['n']} epochs, {e['mean']:.1f} s/epoch (std {e['std']:.1f}), best validation epoch "
                     f"{int(be['mean'])}, calibrated field offset {fo['mean']:.3f}")
        L.append("")
    pr = [r for k in use if k.startswith("paired_") for r in parts[k]["records"]]
    if pr:
        L += ["Paired, per test matrix: learned start minus TOP |M*| start (`paired`); negative = learned "
              "better:", "", "| setting | comparison | mean difference (std) | learned lower | tied |",
              "|---|---|---|---|---|"]
        for d, m in dict.fromkeys((r["dataset"], r["method"]) for r in pr):
            f, lo, ti = (_cell(pr, d, m, x) for x in ("frobenius_difference", "fraction_learned_lower",
                                                      "fraction_tied"))
            L.append(f"| {d} | {m.replace('|', chr(92) + '|')} | {f['mean']:+.4f} ({f['std']:.3f}) | "
                     f"{100 * lo['mean']:.0f}% | {100 * ti['mean']:.0f}% |")
        L.append("")
    ab = [k for k in use if k.startswith(f"table1_setting2_{tag}")]
    if len(ab) > 1:
        L += ["Setting 2 training variants (each from its own `table1` run; test split, calibrated to 50%):", "",
              "| variant | \\|\\|AM - I\\|\\|_F | kept % | best of 8 | epochs | s/epoch | best epoch |",
              "|---|---|---|---|---|---|---|"]
        for k in ab:
            rr = parts[k]["records"]
            lab = "ISING+MAG [" + k[len("table1_setting2_"):] + "]"
            f = [r for r in rr if r["method"] == lab and r["metric"] == "frobenius"]
            if not f:
                continue
            kf = [r for r in rr if r["method"] == lab and r["metric"] == "kept_fraction"][0]
            b8 = [r for r in rr if r["method"] == lab + " (best of 8)" and r["metric"] == "frobenius"][0]
            e = [r for r in rr if r["method"] == lab and r["metric"] == "epoch_seconds"][0]
            be = [r for r in rr if r["method"] == lab and r["metric"] == "best_epoch"][0]
            L.append(f"| {lab} | {f[0]['mean']:.3f} ({f[0]['std']:.2f}) | {100 * kf['mean']:.1f}% | "
                     f"{b8['mean']:.3f} | {e['n']} | {e['mean']:.1f} | {int(be['mean'])} |")
            for m in dict.fromkeys(r["method"] for r in rr if r["method"].startswith(lab + " (")
                                   and "best of" not in r["method"]):
                f2, k2 = _cell(rr, "setting2", m), _cell(rr, "setting2", m, "kept_fraction")
                L.append(f"| {m} | {f2['mean']:.3f} ({f2['std']:.2f}) | {100 * k2['mean']:.1f}% | | | | |")
        L += ["", "`[lstsq-cal-k4]`: K = 4 RLOO samples. `[lstsq-cal-rt4]`: `refine_train=True, refine_steps=4` (the "
              "RLOO loss is the residual after 4 refinement rounds); its main row and best-of-8 are refined "
              "4 rounds, the sample alone is '(no refinement)'.", ""]
    sw = [r for k in use if k.startswith("sweeps_") for r in parts[k]["records"]]
    if sw:
        L += ["Sampler sweeps T at inference (same learned model, field offset recalibrated on the validation "
              "split for each T; `sweeps`):", "", "| setting | method | \\|\\|AM - I\\|\\|_F | kept % | offset |",
              "|---|---|---|---|---|"]
        for d, m in dict.fromkeys((r["dataset"], r["method"]) for r in sw):
            f, k, o = (_cell(sw, d, m, x) for x in ("frobenius", "kept_fraction", "field_offset"))
            L.append(f"| {d} | {m} | {f['mean']:.3f} ({f['std']:.2f}) | {100 * k['mean']:.1f}% | {o['mean']:.3f} |")
        L.append("")
    g = parts.get("gmres_all")
    if g:
        gm = g["records"]
        L += [f"## GMRES({g.get('restart', 50)}), rtol 1e-8, at most {g.get('max_restarts')} restarts "
              f"({50 * int(g.get('max_restarts') or 0)} iterations = not converged)", "",
              f"One run, every row with the same restart cap; learned model: {g.get('model')}; load average at the "
              f"end {g.get('load_average')}. Setup wall and CPU seconds; solve wall seconds. GMRES stops on the "
              "preconditioned residual: where the true relative residual is far above 1e-8 (bp_200 for every SAI, "
              "qh882 for AMG) the iteration count is not a convergence.", "",
              "| system | method | iterations | setup s | setup CPU s | solve s | nnz(M) | true rel. residual |",
              "|---|---|---|---|---|---|---|---|"]
        seen = []
        for r in gm:
            if (r["dataset"], r["method"]) not in seen:
                seen.append((r["dataset"], r["method"]))
        for d, m in seen:
            v = {r["metric"]: r["mean"] for r in gm if r["dataset"] == d and r["method"] == m}
            nnz = v.get("nnz")
            L.append(f"| {d} | {m} | {int(v['gmres_iterations'])} | {v.get('setup_seconds', 0):.3f} | "
                     f"{v.get('setup_cpu_seconds', float('nan')):.3f} | {v.get('solve_seconds', 0):.3f} | "
                     f"{int(nnz) if nnz is not None else '-'} | {v.get('rel_residual', float('nan')):.1e} |")
        L.append("")
    tm = parts.get("timing")
    if tm:
        L += ["## transform() on 2D Poisson, pattern A + A^2, 1 torch thread", "",
              f"CPU and wall seconds; load average {tm.get('load_average')}.", "",
              "| system | method | step | CPU s | wall s |", "|---|---|---|---|---|"]
        rowsd = {}
        for r in tm["records"]:
            step = r["unit"][3:-1].rsplit(", ", 1)[0]
            kind = "cpu" if r["metric"] == "setup_cpu_seconds" else "wall"
            rowsd.setdefault((r["dataset"], r["method"], step), {})[kind] = r["mean"]
        for (d, m, st), v in rowsd.items():
            L.append(f"| {d} | {m} | {st} | {v.get('cpu', float('nan')):.2f} | {v.get('wall', float('nan')):.2f} |")
        L.append("")
    L += ["Notes: " + json.dumps(notes)]
    (RESULTS / "sai.md").write_text("\n".join(L) + "\n")
    print("\n".join(L))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["table1", "rows", "sweeps", "paired", "gmres", "gmres_learned", "merge", "extra", "ising_beta2",
                                     "timing"])
    ap.add_argument("--setting", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--n-matrices", type=int, default=1600)
    ap.add_argument("--max-per-matrix", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--sweeps", type=int, default=3)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--features", choices=["A", "lstsq"], default="A")
    ap.add_argument("--tag", default="")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--baseline-commit", default="")
    ap.add_argument("--penalty", type=float, default=1.0)
    ap.add_argument("--refine-steps", type=int, nargs="+", default=[4, 20])
    ap.add_argument("--refine-pairs", type=int, default=4)
    ap.add_argument("--train-refine", type=int, default=0,
                    help="refine every training sample this many rounds (refine_train=True)")
    ap.add_argument("--sweep-list", type=int, nargs="+", default=[3, 10, 30])
    ap.add_argument("--maxiter", type=int, default=40)
    ap.add_argument("--suitesparse", nargs="*",
                    default=["sherman1", "orsirr_1", "bcsstk09", "1138_bus", "bp_200", "qh882"])
    args = ap.parse_args()
    {"table1": table1, "rows": rows, "sweeps": sweeps, "paired": paired, "gmres": gmres_part, "gmres_learned": gmres_learned, "merge": merge, "extra": extra, "ising_beta2": ising_beta2, "timing": timing}[args.part](args)


if __name__ == "__main__":
    main()
