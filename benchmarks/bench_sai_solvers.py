"""SAIPreconditioner as a solver user meets it: setup cost, CG with the FSAI form, leave-matrices-out GMRES.

Usage (each part writes benchmarks/results/sai_<part>.json and .md)::

    python benchmarks/bench_sai_solvers.py setup --big     # transform vs ILU / AMG setup, n = 118 .. 1M
    python benchmarks/bench_sai_solvers.py cg --epochs 0   # FSAI form, leave-matrices-out folds, CG
    python benchmarks/bench_sai_solvers.py gmres --epochs 0 --only-fold K  # SAI form, fold K = 0, 1, 2
    python benchmarks/bench_sai_solvers.py gmres --quick --epochs 4 --prior A --loss krylov --tag _eA4k \
        --only-fold K                                      # a training variant (learned, SPAI, TOP_M only)
    python benchmarks/bench_sai_solvers.py oracle          # patterns from the exact inverse vs SPAI(A)

Test matrices: the shared SuiteSparse matrices with 100 <= n <= 3000;
pattern-only matrices become shifted graph Laplacians ``L + 0.01 mean(deg) I``
(SPD); real matrices are used as stored. Folds: the matrices sorted by name,
dealt round-robin into ``--folds`` folds; the model of fold ``f`` is trained
on 30 x 30 and 60 x 60 diagonal windows of the matrices of the other folds
only, then tested on the whole matrices of fold ``f``. Right-hand side:
standard normal, seed 0; rtol 1e-8. Wall times on one thread, same process
for every method.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skising.datasets._matrices import list_suitesparse, load_suitesparse_matrix  # noqa: E402
from skising.precondition import SAIPreconditioner, spai  # noqa: E402
from skising.precondition._fsai import FSAIOperator, fsai, fsai_factor, fsai_features  # noqa: E402
from skising.precondition._lstsq import sai_lstsq  # noqa: E402
from skising.precondition._pattern import candidate_pattern, check_matrix, entry_features  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = "python " + " ".join(sys.argv)


def rec(dataset, method, metric, value, params=None, unit=None):
    return {"task": "sai", "dataset": dataset, "method": method, "params": params or {}, "metric": metric,
            "mean": None if value is None else float(value), "std": None, "n": 1, "unit": unit, "device": "cpu",
            "command": COMMAND}


def system(name):
    """A shared SuiteSparse matrix as a solvable system: pattern-only -> shifted graph Laplacian."""
    A = sp.csr_matrix(load_suitesparse_matrix(name), dtype=np.float64)
    A.sum_duplicates()
    if np.all(A.data == 1.0):
        W = A.copy()
        W.setdiag(0)
        W.eliminate_zeros()
        W = ((W + W.T) > 0).astype(np.float64)
        deg = np.asarray(W.sum(1)).ravel()
        A = sp.csr_matrix(sp.diags(deg + 0.01 * deg.mean()) - W)
    return A


def is_spd(A):
    if abs(A - A.T).max() > 1e-10 * abs(A).max() or (A.diagonal() <= 0).any():
        return False
    try:
        np.linalg.cholesky(A.toarray())
        return True
    except np.linalg.LinAlgError:
        return False


def test_matrices(spd_only):
    names = []
    for nm in sorted(list_suitesparse()):  # loop over files
        A = load_suitesparse_matrix(nm)
        if not (100 <= A.shape[0] <= 3000):
            continue
        try:
            A = check_matrix(system(nm))
        except ValueError:
            continue
        if spd_only and not is_spd(A):
            continue
        names.append(nm)
    return names


def windows(names, sizes=(30, 60), per_matrix=60, spd=False, seed=0, whole_max_n=0):
    """Diagonal windows (principal submatrices) of the systems, scaled to max |w| = 1.

    Matrices with ``n <= whole_max_n`` are also taken whole.
    """
    rng = np.random.default_rng(seed)
    out = []
    for nm in names:  # loop over matrices
        A = system(nm).tocsr()
        if A.shape[0] <= whole_max_n:
            out.append(check_matrix(A) / abs(A).max())
        for s in sizes:  # window sizes
            starts = np.arange(0, A.shape[0] - s + 1, s)
            if starts.size > per_matrix:
                starts = np.sort(rng.choice(starts, per_matrix, replace=False))
            for a in starts:  # loop over windows
                W = A[a : a + s, a : a + s]
                try:
                    W = check_matrix(W)
                except ValueError:
                    continue
                if spd and (W.diagonal() <= 0).any():
                    continue
                out.append(W / abs(W).max())
    return out


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, *_):
        self.n += 1


def solve(kind, A, b, M, maxiter):
    from scipy.sparse.linalg import cg, gmres

    cnt = Counter()
    t0 = time.perf_counter()
    if kind == "cg":
        x, info = cg(A, b, M=M, rtol=1e-8, maxiter=maxiter, callback=cnt)
    else:
        x, info = gmres(A, b, M=M, rtol=1e-8, restart=50, maxiter=maxiter // 50, callback=cnt,
                        callback_type="pr_norm")
    dt = time.perf_counter() - t0
    rel = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
    return cnt.n, dt, bool(rel <= 1e-7)


def timed(f, cpu=False):
    """``(f(), wall seconds)``, or ``(f(), wall, CPU seconds of this process)`` with ``cpu=True``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = f()
    if cpu:
        return out, time.perf_counter() - t0, time.process_time() - c0
    return out, time.perf_counter() - t0


class Runner:
    """``add(method, setup_seconds, M, nnz, params)``: solve one system with ``M`` and record the figures."""

    def __init__(self, records, kind, name, A, b, maxiter, fold):
        self.records, self.kind, self.name, self.A, self.b = records, kind, name, A, b
        self.maxiter, self.fold = maxiter, fold

    def __call__(self, method, setup, M, nnz, params=None):
        it, dt, ok = solve(self.kind, self.A, self.b, M, self.maxiter)
        p = dict(params or {}, fold=self.fold, n=self.A.shape[0])
        for metric, v, u in ((f"{self.kind}_iterations", it, None), ("setup_seconds", setup, "s"),
                             ("solve_seconds", dt, "s"), ("total_seconds", setup + dt, "s"),
                             ("converged", float(ok), None), ("nnz", nnz, None)):
            self.records.append(rec(self.name, method, metric, v, p, u))
        label = method + (" (top)" if p.get("decode") == "top" else "")
        print(f"  {self.name:20s} {label:16s} it={it:6d} ok={ok} setup={setup:.3f} solve={dt:.3f} nnz={nnz}",
              flush=True)


# --------------------------------------------------------------------------- setup
def setup_part(args):
    import pyamg
    from scipy.sparse.linalg import spilu

    torch.set_num_threads(1)
    est = SAIPreconditioner(random_state=0).fit(windows(["bcsstk05", "can_144"], per_matrix=20))  # defaults
    mats = [(nm, check_matrix(system(nm))) for nm in test_matrices(False)]
    mats += [("poisson2d_200x200", pyamg.gallery.poisson((200, 200), format="csr")),
             ("poisson3d_34^3", pyamg.gallery.poisson((34, 34, 34), format="csr"))]
    if args.big:
        mats.append(("poisson2d_1000x1000", pyamg.gallery.poisson((1000, 1000), format="csr")))
    est.transform(pyamg.gallery.poisson((120, 120), format="csr"))  # compile the samplers
    records = []
    for nm, A in mats:  # loop over matrices
        A = sp.csr_matrix(A)
        n = A.shape[0]
        t = {}
        _, *t["ISING+MAG"] = timed(lambda: est.transform(A), cpu=True)
        rows = [("ISING+MAG", {"features": est.features, "max_candidates": est.max_candidates, "prior": est.prior,
                               "decode": est.decode, "max_epochs": est.max_epochs})]
        if n <= 200_000:
            _, *t["SPAI"] = timed(lambda: spai(A, "A"), cpu=True)
            rows.append(("SPAI", {"pattern": "A"}))
        try:
            _, *t["ILU"] = timed(lambda: spilu(sp.csc_matrix(A), drop_tol=1e-4, fill_factor=10), cpu=True)
            rows.append(("ILU", {"drop_tol": 1e-4, "fill_factor": 10}))
        except RuntimeError:
            pass
        try:
            _, *t["AMG"] = timed(lambda: pyamg.smoothed_aggregation_solver(A), cpu=True)
            rows.append(("AMG", {"solver": "smoothed_aggregation"}))
        except Exception:  # pyamg fails on some indefinite matrices
            pass
        for m, p in rows:
            p = dict(p, n=n, nnz=int(A.nnz))
            records.append(rec(nm, m, "setup_seconds", t[m][0], p, "s"))
            records.append(rec(nm, m, "setup_cpu_seconds", t[m][1], p, "s"))
        print(nm, n, " ".join(f"{m}={t[m][0]:.3f}/{t[m][1]:.3f}" for m, _ in rows), flush=True)
        if nm == "poisson2d_200x200":
            records += _stages(est, A, nm)
        write("setup", records, {"load_average": os.getloadavg()}, quiet=True)  # after every matrix


def _stages(est, A, name):
    """CPU seconds of the steps of ``transform`` (best of 3): candidates, features, field, decoding, values."""
    from skising.precondition._pattern import _lstsq_features

    A = check_matrix(A)
    cap = est.max_candidates
    out = {}

    def best(key, f):
        v = []
        for _ in range(3):  # repeats
            res, _, c = timed(f, cpu=True)
            v.append(c)
        out[key] = min(v)
        return res

    best("transform", lambda: est.transform(A))
    r, c = best("candidates", lambda: candidate_pattern(A, "A2", True, cap))
    best("features", lambda: entry_features(A, r, c, "A2", est.features, cap))
    best("features: |M*| and greedy score", lambda: _lstsq_features(A, r, c))
    item = est._item(A, build_graph=False)
    best("field", lambda: est._fields(item))
    keep = best("field + decoding", lambda: est._top_item(item) if est.decode == "top"
                else est._sample_item(item, 1, est._fresh_generator()))
    best("values (least squares)", lambda: est._solve_item(item, keep))
    print("  stages (CPU s):", {k: round(v, 3) for k, v in out.items()}, flush=True)
    return [rec(name, "ISING+MAG", "step_cpu_seconds", v, {"step": k, "n": A.shape[0], "candidates": int(r.size)}, "s")
            for k, v in out.items()]


# --------------------------------------------------------------------------- folds
def folds_of(names, k):
    return [names[i::k] for i in range(k)]


def equal_nnz_top(score, budget):
    keep = np.zeros(score.size, dtype=bool)
    keep[np.argsort(-score, kind="stable")[: max(0, int(budget))]] = True
    return keep


def cg_part(args):
    import pyamg

    torch.set_num_threads(1)
    names = test_matrices(True)
    print("SPD test matrices:", len(names), names, flush=True)
    folds = folds_of(names, args.folds)
    records = []
    extra = [("poisson2d_200x200", pyamg.gallery.poisson((200, 200), format="csr")),
             ("poisson3d_34^3", pyamg.gallery.poisson((34, 34, 34), format="csr"))]
    for f, test in enumerate(folds):  # folds
        train_names = [nm for nm in names if nm not in test]
        W = windows(train_names, spd=True)
        W = [w for w in W if is_spd(w)]
        est, t_fit = timed(lambda: SAIPreconditioner(form="fsai", max_epochs=args.epochs, random_state=0,
                                                     **_estimator_options(args)).fit(W))
        print(f"fold {f}: trained on {len(W)} SPD windows of {len(train_names)} matrices in {t_fit:.0f} s", flush=True)
        systems = [(nm, check_matrix(system(nm))) for nm in test] + (extra if f == 0 else [])
        for nm, A in systems:  # loop over test matrices
            A = sp.csr_matrix(A)
            n = A.shape[0]
            b = np.random.default_rng(0).standard_normal(n)
            add = Runner(records, "cg", nm, A, b, 20 * n, f)
            add("NONE", 0.0, None, 0)
            d = A.diagonal()
            Mj, t = timed(lambda: sp.diags(1.0 / d).tocsr())
            add("JACOBI", t, Mj, n)
            Ms, t = timed(lambda: fsai(A, "A"))
            nnz_s = Ms.G_.nnz
            add("FSAI", t, Ms, nnz_s, {"pattern": "A"})
            # learned at the nnz of static FSAI(A): kept fraction of the lower A2 candidates
            it_rows, it_cols = candidate_pattern(A, "A2", True, est.max_candidates)
            low = it_rows > it_cols
            m_low = int(low.sum())
            frac = float(np.clip((nnz_s - n) / max(m_low, 1), 0.01, 0.99))
            conf = {"form": "fsai", "features": est.features, "prior": est.prior, "epochs": args.epochs,
                    "fraction": frac}
            decode0 = est.decode
            est.set_params(decode="sample")
            Ml, t = timed(lambda: est.transform(A, fraction=frac, solver="cg"))
            add("ISING+MAG", t, Ml, est.G_.nnz, dict(conf, decode="sample"))
            est.set_params(decode="top")
            Mk, t = timed(lambda: est.transform(A, fraction=frac, solver="cg"))
            add("ISING+MAG", t, Mk, est.G_.nnz, dict(conf, decode="top"))
            est.set_params(decode=decode0)
            # TOP |G*| at the learned nnz (the learned model's main input feature, no learning)
            def top():
                r, c = it_rows[low], it_cols[low]
                g = fsai_features(A, r, c)[1]
                keep = equal_nnz_top(g, est.G_.nnz - n)
                return FSAIOperator(fsai_factor(A, r[keep], c[keep])[0])
            Mt, t = timed(top)
            add("TOP_G", t, Mt, Mt.G_.nnz, {"form": "fsai", "pattern": "A2"})
            try:
                ml, t = timed(lambda: pyamg.smoothed_aggregation_solver(A))
                add("AMG", t, ml.aspreconditioner(cycle="V"), None, {"solver": "smoothed_aggregation"})
            except Exception:  # pyamg fails on a few matrices
                pass
            try:
                import ilupp

                Mi, t = timed(lambda: ilupp.IChol0Preconditioner(sp.csr_matrix(A)))
                add("IC", t, Mi, None, {"tool": "ilupp.IChol0"})
            except Exception:  # ilupp not installed or breakdown
                pass
    write("cg" + args.tag, records, {"folds": folds, "epochs": args.epochs, "load_average": os.getloadavg()})


def gmres_part(args):
    import pyamg
    from scipy.sparse.linalg import LinearOperator, aslinearoperator, spilu

    torch.set_num_threads(1)
    names = test_matrices(False)
    print("test matrices:", len(names), names, flush=True)
    folds = folds_of(names, args.folds)
    records = []
    for f, test in enumerate(folds):  # folds
        if args.only_fold is not None and f != args.only_fold:
            continue
        train_names = [nm for nm in names if nm not in test]
        sizes = tuple(int(v) for v in args.sizes.split(","))
        W = windows(train_names, sizes=sizes, per_matrix=args.per_matrix, whole_max_n=args.whole_max_n)
        est, t_fit = timed(lambda: SAIPreconditioner(max_epochs=args.epochs, features=args.features,
                                                     random_state=0, **_estimator_options(args)).fit(W))
        print(f"fold {f}: trained on {len(W)} windows of {len(train_names)} matrices in {t_fit:.0f} s; "
              f"loss by epoch {[round(h['loss'], 4) for h in est.history_]}", flush=True)
        for nm in test:  # loop over test matrices
            A = check_matrix(system(nm))
            n = A.shape[0]
            b = np.random.default_rng(0).standard_normal(n)
            add = Runner(records, "gmres", nm, A, b, 50 * 20, f)
            if not args.quick:
                add("NONE", 0.0, None, 0)
            d = A.diagonal()
            if (d != 0).all() and not args.quick:
                Mj, t = timed(lambda: sp.diags(1.0 / d).tocsr())
                add("JACOBI", t, Mj, n)
            Ms, t = timed(lambda: spai(A, "A"))
            add("SPAI", t, aslinearoperator(Ms), Ms.nnz, {"pattern": "A"})
            rows, cols = candidate_pattern(A, "A2", True, est.max_candidates)
            m = rows.size
            frac = float(np.clip((Ms.nnz - n) / max(m, 1), 0.01, 0.99))
            conf = {"features": est.features, "prior": est.prior, "loss": est.loss, "epochs": args.epochs}
            decode0 = est.decode
            if not args.quick:
                est.set_params(decode="sample")
                Ml, t = timed(lambda: est.transform(A, fraction=frac))
                add("ISING+MAG", t, Ml, est.M_.nnz, dict(conf, fraction=frac, decode="sample"))
            est.set_params(decode="top")
            Mk, t = timed(lambda: est.transform(A, fraction=frac))
            nnz_l = est.M_.nnz
            add("ISING+MAG", t, Mk, nnz_l, dict(conf, fraction=frac, decode="top"))
            est.set_params(decode=decode0)

            def top():
                x = entry_features(A, rows, cols, "A2", "lstsq", est.max_candidates)[:, 3].numpy()
                keep = equal_nnz_top(x, nnz_l - n)
                return _sai_on(A, rows[keep], cols[keep])
            Mt, t = timed(top)
            add("TOP_M", t, aslinearoperator(Mt), Mt.nnz, {"pattern": "A2"})
            if args.quick:
                continue
            if n <= args.greedy_max_n:  # greedy_spai works on dense columns: O(n^2) memory, slow above ~1000
                from skising.precondition import greedy_spai

                Mg, t = timed(lambda: greedy_spai(A, "A2", fraction=float(np.clip((nnz_l - n) / max(m, 1), 0, 1))))
                add("GREEDY_SPAI", t, aslinearoperator(Mg), Mg.nnz, {"pattern": "A2"})
            try:
                ilu, t = timed(lambda: spilu(sp.csc_matrix(A), drop_tol=1e-4, fill_factor=10))
                add("ILU", t, LinearOperator(A.shape, ilu.solve), ilu.L.nnz + ilu.U.nnz,
                    {"drop_tol": 1e-4, "fill_factor": 10})
            except RuntimeError:
                pass
            try:
                ml, t = timed(lambda: pyamg.smoothed_aggregation_solver(A))
                add("AMG", t, ml.aspreconditioner(cycle="V"), None, {"solver": "smoothed_aggregation"})
            except Exception:  # pyamg fails on some indefinite matrices
                pass
    tag = f"_{args.features}" if args.features != "lstsq" else ""
    tag += args.tag
    tag += f"_fold{args.only_fold}" if args.only_fold is not None else ""
    write("gmres" + tag, records, {"folds": folds, "epochs": args.epochs, "features": args.features,
                                   "load_average": os.getloadavg()})


def oracle_part(args):
    """How far below SPAI(A) can a pattern chosen by magnitude go at the same nnz? Oracle patterns from the exact
    inverse: per column the largest |A^-1| entries (as many as SPAI(A)'s column has), and the largest |A^-1|
    among the estimator's candidates (A + capped A^2), each fitted by the same least squares. Nothing is trained:
    the magnitude heuristic with the inverse known exactly."""
    from scipy.sparse.linalg import aslinearoperator

    names = test_matrices(False)
    records = []
    max_candidates = SAIPreconditioner().max_candidates
    for nm in names:  # loop over test matrices
        A = check_matrix(system(nm))
        n = A.shape[0]
        b = np.random.default_rng(0).standard_normal(n)
        add = Runner(records, "gmres", nm, A, b, 50 * 20, -1)
        Ms, t = timed(lambda: spai(A, "A"))
        add("SPAI", t, aslinearoperator(Ms), Ms.nnz, {"pattern": "A"})
        try:
            mag, t_inv = timed(lambda: np.abs(np.linalg.inv(A.toarray())))
        except np.linalg.LinAlgError:
            continue
        counts = np.diff(Ms.tocsc().indptr)

        def per_column():
            m2 = mag.copy()
            m2[np.arange(n), np.arange(n)] = np.inf  # the diagonal always in
            top = np.argsort(-m2, axis=0, kind="stable")[: counts.max()]
            sel = np.arange(top.shape[0])[:, None] < counts[None, :]
            cols = np.broadcast_to(np.arange(n), top.shape)
            return _sai_on(A, top[sel], cols[sel])  # _sai_on adds the (already present) diagonal once more
        M1, t = timed(per_column)
        add("ORACLE_INV", t + t_inv, aslinearoperator(M1), M1.nnz, {"pattern": "column"})
        rows, cols = candidate_pattern(A, "A2", True, max_candidates)
        M2, t = timed(lambda: _sai_on(A, *[x[equal_nnz_top(mag[rows, cols], Ms.nnz - n)] for x in (rows, cols)]))
        add("ORACLE_INV", t + t_inv, aslinearoperator(M2), M2.nnz, {"pattern": "A2", "max_candidates": max_candidates})
    write("oracle", records, {"load_average": os.getloadavg()})


def _estimator_options(args):
    """Estimator parameters given on the command line (the others stay at their defaults)."""
    out = {}
    if args.prior is not None:
        out["prior"] = None if args.prior == "none" else args.prior
    if args.loss is not None:
        out["loss"] = args.loss
    return out


def _sai_on(A, r, c):
    n = A.shape[0]
    d = np.arange(n)
    r, c = np.concatenate([r, d]), np.concatenate([c, d])
    o = np.lexsort((r, c))
    vals, _ = sai_lstsq(A, r[o], c[o])
    return sp.csc_matrix((vals, (r[o], c[o])), shape=A.shape).tocsr()


def write(part, records, meta, quiet=False):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"sai_{part}.json").write_text(json.dumps({"records": records, **meta}, indent=1))
    if not quiet:
        render(None)
        print(f"wrote sai_{part}.json ({len(records)} records)")


# --------------------------------------------------------------------------- render
def _load(part):
    path = RESULTS / f"sai_{part}.json"
    return json.loads(path.read_text()) if path.exists() else None


_OLD_NAMES = {"TOP |M*|": "TOP_M", "TOP |G*|": "TOP_G", "GREEDY SPAI": "GREEDY_SPAI"}


def _label(r):
    p = r["params"]
    if r["method"] == "ORACLE_INV":
        return f"ORACLE_INV ({p['pattern']})"
    return _OLD_NAMES.get(r["method"], r["method"]) + (" (top)" if p.get("decode") == "top" else "")


def _table(records, metric_it, ref, order):
    """Per method over the test matrices: geomean ratios to ``ref`` and failure counts."""
    by = {}
    for r in records:  # records -> (dataset, label) -> metric -> value
        by.setdefault((r["dataset"], _label(r)), {})[r["metric"]] = r["mean"]
    datasets = sorted({d for d, _ in by})
    L = [f"| method | {metric_it.split('_')[0]} iterations / {ref} (geomean) | not converged | "
         f"not converged where {ref} converged | nnz / {ref} nnz (median) | total time / {ref} (geomean) "
         f"| setup s (median) | matrices |", "|---|---|---|---|---|---|---|---|"]
    for m in order:
        it, tt, nz, fail, worse, setup = [], [], [], 0, 0, []
        for d in datasets:  # loop over test matrices
            a, b = by.get((d, m)), by.get((d, ref))
            if a is None or b is None:
                continue
            it.append(max(a[metric_it], 1) / max(b[metric_it], 1))
            tt.append(max(a["total_seconds"], 1e-4) / max(b["total_seconds"], 1e-4))
            if a.get("nnz") and b.get("nnz"):
                nz.append(a["nnz"] / b["nnz"])
            fail += a["converged"] < 1
            worse += a["converged"] < 1 and b["converged"] >= 1
            setup.append(a["setup_seconds"])
        if not it:
            continue
        g = lambda v: float(np.exp(np.mean(np.log(v))))  # noqa: E731
        nzs = f"{np.median(nz):.2f}" if nz else "-"
        L.append(f"| {m.replace('|', chr(92) + '|')} | {g(it):.2f} | {fail} | {worse} | {nzs} | {g(tt):.2f} | {np.median(setup):.3f} | {len(it)} |")
    return L


def _per_matrix(records, datasets, metric_it, order):
    by = {}
    for r in records:  # records -> (dataset, label) -> metric -> value
        by.setdefault((r["dataset"], _label(r)), {})[r["metric"]] = r["mean"]
    L = ["| system | method | iterations | setup s | solve s | total s | nnz |", "|---|---|---|---|---|---|---|"]
    for d in datasets:
        for m in order:
            a = by.get((d, m))
            if a is None:
                continue
            ok = "" if a["converged"] >= 1 else " (not converged)"
            nnz = "-" if not a.get("nnz") else f"{int(a['nnz'])}"
            L.append(f"| {d} | {m.replace('|', chr(92) + '|')} | {int(a[metric_it])}{ok} | {a['setup_seconds']:.3f} | {a['solve_seconds']:.3f} | "
                     f"{a['total_seconds']:.3f} | {nnz} |")
    return L


def _conf(recs, skip=("n", "nnz", "fold", "fraction", "decode", "epochs")):
    p = next((r["params"] for r in recs if r["method"] == "ISING+MAG" and "features" in r["params"]), {})
    return ", ".join(f"`{k}={v!r}`" for k, v in p.items() if k not in skip)


def render(args):
    out = ["# Sparse approximate inverses as solver preconditioners (task `sai`)", "",
           "Regenerate: `python benchmarks/bench_sai_solvers.py setup --big`, `... cg --epochs 0`, "
           "`... gmres --epochs 0 --only-fold K` (K = 0, 1, 2), then `... render`; the training variants with the "
           "command in their row. One thread per process on a 2-core machine shared with "
           "other jobs: wall times are inflated by the load (see the CPU-second columns and the load averages).", ""]
    st = _load("setup")
    if st:
        recs = st["records"]
        tab = {}
        for r in recs:  # records -> dataset -> method -> (wall, cpu)
            tab.setdefault(r["dataset"], {"n": r["params"]["n"]}).setdefault(r["method"], {})[r["metric"]] = r["mean"]
        meths = ["ISING+MAG", "SPAI", "ILU", "AMG"]
        small = {d: v for d, v in tab.items() if v["n"] <= 3000}
        out += ["## Setup time (`setup`)", "",
                f"`transform` of the default estimator ({_conf(recs, ('n', 'nnz'))}) "
                f"next to static SPAI(A), ILU (`scipy spilu`, drop_tol 1e-4) and AMG (`pyamg` smoothed aggregation "
                f"setup), seconds wall / CPU. Load average at the end: {st['load_average'][0]:.1f}.", "",
                "| system | n | " + " | ".join(meths) + " |", "|---|---|" + "---|" * len(meths)]
        def cell(v, m):
            x = v.get(m)
            return "-" if not x else f"{x['setup_seconds']:.3f} / {x['setup_cpu_seconds']:.3f}"
        worst = max(small, key=lambda d: small[d]["ISING+MAG"]["setup_cpu_seconds"])
        out.append(f"| max over {len(small)} shared matrices n <= 3000 (CPU) | {small[worst]['n']} ({worst}) | "
                   + " | ".join(f"{max(v[m]['setup_seconds'] for v in small.values() if m in v):.3f} / "
                                f"{max(v[m]['setup_cpu_seconds'] for v in small.values() if m in v):.3f}"
                                for m in meths) + " |")
        out.append("| median over the same | | " + " | ".join(
            f"{np.median([v[m]['setup_seconds'] for v in small.values() if m in v]):.3f} / "
            f"{np.median([v[m]['setup_cpu_seconds'] for v in small.values() if m in v]):.3f}" for m in meths) + " |")
        for d, v in tab.items():
            if v["n"] > 3000:
                out.append(f"| {d} | {v['n']} | " + " | ".join(cell(v, m) for m in meths) + " |")
        out.append("")
        steps = [r for r in recs if r["metric"] == "step_cpu_seconds"]
        if steps:
            out += [f"Steps of `transform` on {steps[0]['dataset']} ({steps[0]['params']['candidates']} candidates), "
                    "CPU seconds, best of 3:", "", "| step | CPU s |", "|---|---|"]
            out += [f"| {r['params']['step'].replace('|', chr(92) + '|')} | {r['mean']:.3f} |" for r in steps] + [""]
    cgr = _load("cg")
    if cgr:
        order = ["NONE", "JACOBI", "FSAI", "ISING+MAG", "ISING+MAG (top)", "TOP_G", "IC", "AMG"]
        recs = [r for r in cgr["records"] if not r["dataset"].startswith("poisson")]
        out += ["## CG with the symmetric form (`cg`)", "",
                f"`form=\"fsai\"` (M = G^T G), leave-matrices-out: {len(cgr['folds'])} folds of the "
                f"{sum(map(len, cgr['folds']))} SPD shared matrices (100 <= n <= 3000; pattern-only ones as shifted "
                f"graph Laplacians); each fold's model is fitted ({cgr['epochs']} epochs, otherwise defaults: "
                f"{_conf([r for r in cgr['records'] if r['method'] == 'ISING+MAG'])}) on 30x30 and 60x60 "
                "windows of the other folds' matrices. `FSAI`: static FSAI on the lower pattern of A; "
                "`ISING+MAG`: the estimator's pattern at the nnz of FSAI(A) (`(top)`: `decode=\"top\"`, else sampled); "
                "`TOP_G`: the largest |G*| (FSAI on all candidates) at the learned nnz. "
                "CG rtol 1e-8, maxiter 20 n.", ""]
        out += _table(recs, "cg_iterations", "FSAI", order) + [""]
        for f in sorted(RESULTS.glob("sai_cg_*.json")):  # training variants (`cg --tag _<name>`)
            v = json.loads(f.read_text())
            vr = [r for r in v["records"] if not r["dataset"].startswith("poisson")]
            cmd = vr[0]["command"].replace("python benchmarks/", "")
            out += [f"Variant `{f.stem[len('sai_cg_'):]}` (`{cmd}`):", ""]
            out += _table(vr, "cg_iterations", "FSAI", ["FSAI", "ISING+MAG (top)", "TOP_G"]) + [""]
        out += ["2-D and 3-D Poisson (fold 0's model):", ""]
        out += _per_matrix(cgr["records"], ["poisson2d_200x200", "poisson3d_34^3"], "cg_iterations", order) + [""]
    for part in ("gmres", "gmres_A"):
        gr = _load(part)
        if not gr:  # one file per fold (`--only-fold`)
            parts = [_load(f"{part}_fold{i}") for i in range(10)]
            parts = [q for q in parts if q]
            if not parts:
                continue
            gr = dict(parts[0], records=[r for q in parts for r in q["records"]])
            gr["folds"] = [gr["folds"][i] for i in sorted({r["params"]["fold"] for r in gr["records"]})]
        order = ["NONE", "JACOBI", "SPAI", "ISING+MAG", "ISING+MAG (top)", "TOP_M", "GREEDY_SPAI", "ILU", "AMG"]
        out += [f"## GMRES, leave-matrices-out (`{part}`, features=\"{gr['features']}\")", "",
                f"{len(gr['folds'])} folds of the {sum(map(len, gr['folds']))} shared matrices with 100 <= n <= 3000 "
                f"(pattern-only ones as shifted graph Laplacians); each fold's model fitted ({gr['epochs']} epochs, "
                f"otherwise defaults: {_conf([r for r in gr['records'] if r['method'] == 'ISING+MAG'])}) on 30x30 "
                "and 60x60 windows of the other folds' matrices. `ISING+MAG` (`(top)`: `decode=\"top\"`, else "
                "sampled), `TOP_M` (the largest |M*|) and `GREEDY_SPAI` at the nnz of static SPAI(A). GMRES(50), "
                "rtol 1e-8, at most 1000 iterations (a failure counts as 1000).", ""]
        out += _table(gr["records"], "gmres_iterations", "SPAI", order) + [""]
    orc = _load("oracle")
    if orc:
        out += ["## Oracle patterns at the nnz of SPAI(A) (`oracle`)", "",
                "No model: patterns from the exact inverse, fitted by the same least squares as SPAI(A). "
                "`ORACLE_INV (column)`: in every column the largest |A^-1| entries, as many as SPAI(A)'s column "
                "has (diagonal always in); `ORACLE_INV (A2)`: the largest |A^-1| among the estimator's candidates "
                "(A + A^2, capped), at SPAI(A)'s nnz. This is the classical ideal-pattern heuristic (keep the "
                "largest entries of the inverse) with the inverse known exactly; on these matrices it loses to A's "
                "own pattern, so a score that learns to approximate |A^-1| (as TOP_M and the estimator's "
                "`lstsq` feature do) has no room to beat SPAI(A) at equal nnz. GMRES(50), "
                "rtol 1e-8, at most 1000 iterations; all shared matrices with 100 <= n <= 3000, no folds (nothing "
                "is trained). Setup includes the dense inverse.", ""]
        out += _table(orc["records"], "gmres_iterations", "SPAI", ["SPAI", "ORACLE_INV (column)", "ORACLE_INV (A2)"])
        out += [""]
    out += _ablation()
    (RESULTS / "sai_solvers.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


def _ablation():
    """Training variants of the learned pattern (``gmres --quick --tag _<name>`` files), per fold."""
    import re

    files = sorted(RESULTS.glob("sai_gmres_*_fold*.json"))
    runs = {}
    for f in files:  # result files -> tag -> fold -> records
        m = re.fullmatch(r"sai_gmres_(.+)_fold(\d+)", f.stem)
        if m and m.group(1) != "A":
            runs.setdefault(m.group(1), {})[int(m.group(2))] = json.loads(f.read_text())["records"]
    if not runs:
        return []
    L = ["## Training variants of the learned pattern (`gmres --quick --tag _<name>`)", "",
         "Same folds, right-hand sides and GMRES settings as above; learned pattern with `decode=\"top\"` at "
         "the nnz of SPAI(A); `TOP_M` at the learned nnz. `prior=\"A\"` with 0 epochs is the prior alone "
         "(the pattern of A, ranked by |M*|). Windows: 30x30 and 60x60 unless the command says `--sizes`; "
         "`--whole-max-n 400` adds the whole training matrices up to n = 400. Iteration ratios are geomeans "
         "over the fold's matrices; 'fails' counts matrices where SPAI(A) converged and the learned pattern did not.", "",
         "| variant | prior | loss | epochs | fold | learned / SPAI | learned / TOP_M | fails | matrices | command |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    g = lambda v: float(np.exp(np.mean(np.log(v))))  # noqa: E731
    for tag, folds in runs.items():
        for f, recs in sorted(folds.items()):
            by = {}
            for r in recs:  # records -> (dataset, label) -> metric -> value
                by.setdefault((r["dataset"], _label(r)), {})[r["metric"]] = r["mean"]
            ds = sorted({d for d, _ in by if (d, "ISING+MAG (top)") in by and (d, "SPAI") in by})
            it = lambda a, d: max(by[(d, a)]["gmres_iterations"], 1)  # noqa: E731
            ls = g([it("ISING+MAG (top)", d) / it("SPAI", d) for d in ds])
            lt = g([it("ISING+MAG (top)", d) / it("TOP_M", d) for d in ds if (d, "TOP_M") in by])
            fails = sum(by[(d, "ISING+MAG (top)")]["converged"] < 1 <= by[(d, "SPAI")]["converged"] for d in ds)
            p = next(r for r in recs if r["method"] == "ISING+MAG")["params"]
            cmd = next(r for r in recs if r["method"] == "ISING+MAG")["command"].replace("python benchmarks/", "")
            L.append(f"| {tag} | {p.get('prior')} | {p.get('loss')} | {p.get('epochs')} | {f} | {ls:.3f} | "
                     f"{lt:.3f} | {fails} | {len(ds)} | `{cmd}` |")
    return L + [""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["setup", "cg", "gmres", "oracle", "render"])
    ap.add_argument("--epochs", type=int, default=0, help="training epochs of the learned model per fold")
    ap.add_argument("--folds", type=int, default=3, help="leave-matrices-out folds")
    ap.add_argument("--only-fold", type=int, default=None, help="run one fold (gmres)")
    ap.add_argument("--per-matrix", type=int, default=30, help="windows per matrix and size for training")
    ap.add_argument("--features", choices=["lstsq", "A"], default="lstsq")
    ap.add_argument("--prior", choices=["auto", "top", "A", "none"], default=None,
                    help="SAIPreconditioner(prior=...); default: the estimator's")
    ap.add_argument("--loss", choices=["frobenius", "krylov"], default=None,
                    help="SAIPreconditioner(loss=...); default: the estimator's")
    ap.add_argument("--sizes", default="30,60", help="gmres: training window sizes")
    ap.add_argument("--whole-max-n", type=int, default=0, help="gmres: also train on whole matrices up to this n")
    ap.add_argument("--quick", action="store_true", help="gmres: only SPAI, TOP |M*| and the learned top pattern")
    ap.add_argument("--tag", default="", help="suffix of the result file (experiments)")
    ap.add_argument("--big", action="store_true", help="add the n = 1M Poisson row to `setup`")
    ap.add_argument("--greedy-max-n", type=int, default=1000, help="largest matrix given the greedy SPAI peer")
    args = ap.parse_args()
    {"setup": setup_part, "cg": cg_part, "gmres": gmres_part, "oracle": oracle_part, "render": render}[args.part](args)


if __name__ == "__main__":
    main()
