"""The command line: ``python -m skising COMMAND`` (``--help`` lists the commands).

``demo`` trains an IsingSubsampler on a bundled real mesh and compares its
task loss with every baseline at the same kept fraction; the other commands
do the same for one application each."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def _region_center(graph):
    from .subsampling import default_node_features

    p = default_node_features(graph)[:, :3]
    return p[int(torch.argmax(p[:, 1]))].tolist()  # top of the bunny's ears


def demo(epochs=150, fraction=0.2, seed=0, n_eval=16, out=sys.stdout):
    """Run the demo; returns a list of result rows (dicts)."""
    from . import (
        ConstantFieldIsingSubsampler,
        FarthestPointSubsampler,
        IsingSubsampler,
        RandomSubsampler,
        SpectralSubsampler,
    )
    from .datasets import load_bunny
    from .subsampling import CoverageLoss

    g = load_bunny()
    loss = CoverageLoss(region=(_region_center(g), 1.0), outside_weight=0.02)
    print(
        f"skising demo: keep {fraction:.0%} of the {g.num_nodes} vertices of the Stanford bunny (bundled, 502 v)\n"
        "task loss: importance-weighted distance from every vertex to its nearest kept vertex\n"
        "(weight 1 near the ears, 0.02 elsewhere); lower is better. "
        f"Mean over {n_eval} samples per method.\n",
        file=out,
    )

    def evaluate(masks):
        x = torch.as_tensor(np.stack(masks)).float() * 2 - 1
        vals = loss(x, g)[:, 0].numpy()
        return vals.mean(), vals.std(), float((x > 0).float().mean())

    rows = []
    t0 = time.perf_counter()
    ising = IsingSubsampler(
        loss=loss, coupling=-1.0, target_fraction=fraction, magnetization="sample", penalty=10.0,
        n_samples=4, n_sweeps=10, max_epochs=epochs, lr=5e-3, random_state=seed,
    ).fit([g])
    t_fit = time.perf_counter() - t0
    methods = [
        ("ISING+MAG (learned field)", ising),
        ("ISING (constant field)", ConstantFieldIsingSubsampler(fraction, coupling=-1.0, random_state=seed).fit([g])),
        ("RANDOM", RandomSubsampler(fraction, random_state=seed).fit([g])),
        ("FPS", FarthestPointSubsampler(fraction, random_state=seed).fit([g])),
        ("SPECTRAL", SpectralSubsampler(fraction, mode="rank").fit([g])),
    ]
    for name, sub in methods:
        t = time.perf_counter()
        masks = list(sub.sample(g, n_eval))
        dt = (time.perf_counter() - t) / n_eval
        m, s, kept = evaluate(masks)
        rows.append({"method": name, "loss": m, "std": s, "kept": kept, "seconds": dt})
    print(f"{'method':28s} {'loss':>8s} {'std':>7s} {'kept':>6s} {'s/sample':>9s}", file=out)
    for r in rows:
        print(f"{r['method']:28s} {r['loss']:8.4f} {r['std']:7.4f} {r['kept']:6.1%} {r['seconds']:9.4f}", file=out)
    print(f"\ntraining: {epochs} epochs in {t_fit:.1f} s", file=out)
    return rows


def _data_home_or_none():
    """The shared data folder when it exists, else None (subcommands then use bundled or generated data)."""
    from pathlib import Path

    from .datasets import get_data_home

    home = Path(get_data_home())
    return home if home.is_dir() else None


def explain(epochs=60, n_graphs=300, clf_epochs=30, seed=0, out=sys.stdout):
    """Explain a GIN classifier on BA-2Motifs; GEA of the Ising explainer and of random masks."""
    from .datasets import load_ba2motifs, make_ba2motifs
    from .explain import IsingGraphExplainer, train_classifier
    from .fields import GINClassifier
    from .metrics import graph_explanation_accuracy, topk_node_mask

    rng = np.random.default_rng(seed)
    if _data_home_or_none() is not None:
        graphs, source = load_ba2motifs(), "BA-2Motifs (shared data)"
    else:
        graphs, source = make_ba2motifs(1000, random_state=seed), "BA-2Motifs (generated: shared data not found)"
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model, info = train_classifier(graphs, model=GINClassifier(graphs[0].x.shape[1], norm=True), epochs=clf_epochs,
                                   random_state=seed, cache=False)
    t_clf = time.perf_counter() - t0
    train = [graphs[i] for i in rng.permutation(info["train_idx"])[:n_graphs]]
    test = [graphs[i] for i in info["test_idx"][:100]]
    print(f"skising explain: {source}; GIN classifier (test accuracy {info['test_acc']:.3f}, {t_clf:.0f} s); "
          f"explainer trained on {len(train)} graphs;\nGEA of the top 5 nodes against the motif on {len(test)} "
          "held-out graphs (higher is better)\n", file=out)
    t0 = time.perf_counter()
    ex = IsingGraphExplainer(model, max_epochs=epochs, random_state=seed).fit(train)
    t_fit = time.perf_counter() - t0
    batch = np.concatenate([np.full(g.num_nodes, i) for i, g in enumerate(test)])
    gt = np.concatenate([g.node_gt.numpy() for g in test])
    h = np.concatenate([s.numpy() for s in ex.node_scores(test, kind="field")])
    rows = [
        ("IGExplainer (learned field)", topk_node_mask(h, 5, batch, random_state=seed)),
        ("RANDOM", topk_node_mask(rng.random(h.size), 5, batch, random_state=seed)),
    ]
    print(f"{'method':30s} {'GEA':>6s}", file=out)
    result = []
    for name, mask in rows:
        gea = float(np.nanmean(graph_explanation_accuracy(mask, gt, batch)))
        result.append({"method": name, "gea": gea})
        print(f"{name:30s} {gea:6.3f}", file=out)
    print(f"\nexplainer: {epochs} epochs in {t_fit:.1f} s", file=out)
    return result


def segment(epochs=5, size=32, seed=0, out=sys.stdout):
    """IsingSegmenter vs the same U-Net trained plainly on Weizmann horses (needs the shared data)."""
    from .datasets import load_weizmann_horse
    from .metrics import dice_score
    from .segment import IsingSegmenter, UNetSegmenter

    try:
        tr = load_weizmann_horse(size=size, split="train", n_images=96)
        te = load_weizmann_horse(size=size, split="test")
        Xtr, ytr, Xte, yte = tr.images, tr.masks, te.images, te.masks
    except FileNotFoundError as exc:
        print(f"skising segment: {exc}", file=out)
        return None
    print(f"skising segment: Weizmann horses at {size} px, {len(Xtr)} training / {len(Xte)} test images, "
          f"{epochs} epochs each\n", file=out)
    result = []
    print(f"{'method':16s} {'Dice':>6s} {'fit s':>7s}", file=out)
    for name, est in (("IsingSegmenter", IsingSegmenter(max_epochs=epochs, random_state=seed)),
                      ("UNetSegmenter", UNetSegmenter(max_epochs=epochs, random_state=seed))):
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        dt = time.perf_counter() - t0
        d = float(dice_score(yte, est.predict(Xte)))
        result.append({"method": name, "dice": d, "seconds": dt})
        print(f"{name:16s} {d:6.3f} {dt:7.1f}", file=out)
    return result


def sai(epochs=3, grid=60, seed=0, out=sys.stdout):
    """SAIPreconditioner on a 2-D Poisson matrix it never saw: GMRES iterations and setup against the peers."""
    import pyamg
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator, gmres, spilu

    from .datasets import load_suitesparse_windows, make_banded_binary_matrices
    from .precondition import SAIPreconditioner, spai

    if _data_home_or_none() is not None:
        train, source = load_suitesparse_windows(30, max_per_matrix=10, random_state=seed), "SuiteSparse windows"
    else:
        train, source = make_banded_binary_matrices(200, random_state=seed), "generated banded matrices"
    A = pyamg.gallery.poisson((grid, grid), format="csr")
    b = np.random.default_rng(seed).standard_normal(A.shape[0])
    print(f"skising sai: SAIPreconditioner trained on {len(train)} {source} ({epochs} epochs), applied to "
          f"2-D Poisson n = {A.shape[0]};\nGMRES(50), rtol 1e-8, at most 2000 iterations (fewer is better)\n",
          file=out)
    t0 = time.perf_counter()
    est = SAIPreconditioner(max_epochs=epochs, random_state=seed).fit(train)
    t_fit = time.perf_counter() - t0

    def ilu():
        f = spilu(sp.csc_matrix(A), drop_tol=1e-4, fill_factor=10)
        return LinearOperator(A.shape, f.solve)

    def jacobi():
        return sp.diags(1.0 / A.diagonal())

    methods = [
        ("NONE", lambda: None),
        ("JACOBI", jacobi),
        ("SPAI(A)", lambda: spai(A, "A")),
        ("ISING+MAG (learned pattern)", lambda: est.transform(A)),
        ("ILU (scipy spilu)", ilu),
        ("AMG (pyamg)", lambda: pyamg.smoothed_aggregation_solver(A).aspreconditioner()),
    ]
    print(f"{'method':30s} {'iterations':>10s} {'setup s':>8s}", file=out)
    result = []
    for name, make in methods:
        t = time.perf_counter()
        M = make()
        setup = time.perf_counter() - t
        its = [0]

        def count(_):
            its[0] += 1

        _, info = gmres(A, b, M=M, rtol=1e-8, restart=50, maxiter=40, callback=count, callback_type="pr_norm")
        result.append({"method": name, "iterations": its[0], "converged": info == 0, "setup_seconds": setup})
        mark = "" if info == 0 else " (not converged)"
        print(f"{name:30s} {its[0]:10d} {setup:8.3f}{mark}", file=out)
    print(f"\ntraining: {t_fit:.1f} s", file=out)
    return result


def mesh(category="bust", n_train=8, n_test=4, seed=0, out=sys.stdout):
    """MeshSparsifier on PSB meshes (shared data; the bundled bunny otherwise): keep half the vertices."""
    from . import FarthestPointSubsampler, RandomSubsampler
    from .datasets import load_bunny, load_psb
    from .mesh import coarsen_mesh
    from .metrics import vertex_to_mesh_distance
    from .sparsify import MeshSparsifier

    if _data_home_or_none() is not None:
        meshes = load_psb(category)
        train, test, source = meshes[:n_train], meshes[-n_test:], f"PSB {category}"
    else:
        train = test = [load_bunny()]
        source = "the bundled bunny (shared data not found; trained and tested on the same mesh)"
    print(f"skising mesh: keep 50 % of the vertices of {source}: {len(train)} training / {len(test)} test "
          "meshes;\n10 x mean distance of the original vertices to the coarse surface / mean edge length "
          "(lower is better)\n", file=out)
    t0 = time.perf_counter()
    sp = MeshSparsifier(random_state=seed).fit(train)
    t_fit = time.perf_counter() - t0
    methods = [("ISING+MAG (QEM-order prior)", sp), ("RANDOM", RandomSubsampler(0.5, random_state=seed).fit()),
               ("FPS", FarthestPointSubsampler(0.5, random_state=seed).fit())]
    print(f"{'method':28s} {'distance':>9s} {'kept':>6s}", file=out)
    result = []
    for name, est in methods:
        dists, kept = [], []
        for m in test:
            keep = np.asarray(est.transform(m), dtype=bool)
            dists.append(vertex_to_mesh_distance(m, coarsen_mesh(m, keep)))
            kept.append(keep.mean())
        result.append({"method": name, "distance": float(np.mean(dists)), "kept": float(np.mean(kept))})
        print(f"{name:28s} {np.mean(dists):9.3f} {np.mean(kept):6.1%}", file=out)
    print(f"\ntraining: {t_fit:.1f} s; every method's kept vertices are coarsened the same way "
          "(quadric-ordered collapses)", file=out)
    return result


def _positive_int(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text}")
    return v


def _nonnegative_int(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative int, got {text}")
    return v


def _fraction(text):
    v = float(text)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a value in (0, 1), got {text}")
    return v


_DESCRIPTION = """skising: task-specific graph subsampling with a learned Ising model.

Each subcommand trains one estimator on bundled or shared data and prints its
task metric next to the baselines. Shared data is looked up in $SKISING_DATA,
then ../shared/data beside the repository, then ~/skising_data."""


def main(argv=None):
    from . import __version__

    parser = argparse.ArgumentParser(prog="python -m skising", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"skising {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=_positive_int, default=1,
                        help="torch intra-op threads (default 1: the problems are small)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", parents=[common], help="IsingSubsampler on the bundled Stanford bunny vs every baseline",
                       description="Train an IsingSubsampler on the bundled 502-vertex bunny and compare its "
                                   "coverage loss with every baseline at the same kept fraction (about 10 s).")
    d.add_argument("--epochs", type=_nonnegative_int, default=150, help="training epochs (default 150)")
    d.add_argument("--fraction", type=_fraction, default=0.2, help="fraction of vertices to keep (default 0.2)")
    d.add_argument("--seed", type=_nonnegative_int, default=0, help="random_state of every method (default 0)")

    e = sub.add_parser("explain", parents=[common], help="IsingGraphExplainer on BA-2Motifs: GEA vs random masks",
                       description="Train a GIN classifier and an IsingGraphExplainer on BA-2Motifs (shared data, "
                                   "or generated when absent) and report the GEA of the top-5 nodes on held-out "
                                   "graphs (about a minute).")
    e.add_argument("--epochs", type=_nonnegative_int, default=60, help="explainer epochs (default 60)")
    e.add_argument("--n-graphs", type=_positive_int, default=300, help="explainer training graphs (default 300)")
    e.add_argument("--clf-epochs", type=_positive_int, default=30, help="classifier epochs (default 30)")
    e.add_argument("--seed", type=_nonnegative_int, default=0, help="random_state (default 0)")

    s = sub.add_parser("segment", parents=[common], help="IsingSegmenter vs the plain U-Net on Weizmann horses (shared data)",
                       description="Train IsingSegmenter and the same U-Net trained plainly on Weizmann horse "
                                   "images (needs the shared data) and report test Dice.")
    s.add_argument("--epochs", type=_positive_int, default=5, help="epochs for each model (default 5)")
    s.add_argument("--size", type=_positive_int, default=32, help="image side in pixels (default 32)")
    s.add_argument("--seed", type=_nonnegative_int, default=0, help="random_state (default 0)")

    m = sub.add_parser("mesh", parents=[common], help="MeshSparsifier on PSB meshes (shared data) vs RANDOM and FPS",
                       description="Train a MeshSparsifier to keep half the vertices of PSB meshes (the bundled bunny "
                                   "without the shared data) and compare the coarse meshes' surface distance with "
                                   "RANDOM and FPS at the same budget.")
    m.add_argument("--category", default="bust", choices=["bust", "fourleg", "human", "chair"],
                   help="PSB category (default bust)")
    m.add_argument("--n-train", type=_positive_int, default=8, help="training meshes (default 8)")
    m.add_argument("--n-test", type=_positive_int, default=4, help="held-out test meshes (default 4)")
    m.add_argument("--seed", type=_nonnegative_int, default=0, help="random_state (default 0)")

    a = sub.add_parser("sai", parents=[common], help="SAIPreconditioner vs SPAI(A), Jacobi, ILU and AMG on 2-D Poisson",
                       description="Train a SAIPreconditioner (SuiteSparse windows from the shared data, or generated "
                                   "matrices) and compare GMRES iterations and setup time on a 2-D Poisson matrix "
                                   "with no preconditioner, Jacobi, static SPAI(A), ILU and AMG.")
    a.add_argument("--epochs", type=_positive_int, default=3, help="training epochs (default 3)")
    a.add_argument("--grid", type=_positive_int, default=60, help="Poisson grid side: n = grid^2 (default 60)")
    a.add_argument("--seed", type=_nonnegative_int, default=0, help="random_state (default 0)")

    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    torch.set_num_threads(args.threads)
    if args.command == "demo":
        demo(args.epochs, args.fraction, args.seed)
    elif args.command == "explain":
        explain(args.epochs, args.n_graphs, args.clf_epochs, args.seed)
    elif args.command == "mesh":
        mesh(args.category, args.n_train, args.n_test, args.seed)
    elif args.command == "sai":
        sai(args.epochs, args.grid, args.seed)
    elif args.command == "segment":
        return 0 if segment(args.epochs, args.size, args.seed) is not None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
