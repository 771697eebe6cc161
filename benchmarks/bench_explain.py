"""Benchmark: IsingGraphExplainer vs PyG GNNExplainer / PGExplainer and simple rankings.

For each dataset a 3-layer GIN (GINE for Mutagenicity), hidden 64, mean pool,
is trained once (Adam 1e-3, batch 64; weights cached under ~/.cache/skising)
and every explainer explains the same held-out graphs of that classifier:

* IGExplainer (skising's IsingGraphExplainer, trained on the training split),
* GNNExplainer (PyG, per graph, PyG defaults: 100 epochs, lr 0.01, node mask "object"; node score = node
  mask) and, with ``--methods GNNExplainer-authors``, the authors' graph setting (edge mask + one shared
  feature mask, lr 0.1; node score = mean mask of the incident edges),
* PGExplainer (PyG, trained on the training split one graph per step, the
  authors' settings; node score = max over incident edges' masks),
* RANDOM, DEGREE rankings, and ISING (constant field h = 0).

Metrics (top-k node sets, ties broken at random): GEA (k = 5 nodes on
BA-2Motifs, 25 % of the nodes on Mutagenicity); fidelity on the induced
subgraph (nodes and their edges deleted) of one Ising sample (IGExplainer,
ISING) or of the top 40 % nodes (others): agreement of the predicted class
("fidelity"), 1 - |p - p_s| ("fidelity_prob"), Yuan et al.'s harmonic
fidelity ("harmonic_fidelity"); PyG's masking fid+/fid- ("pyg_fid_plus",
"pyg_fid_minus", computed like torch_geometric.explain.metric.fidelity with
hard node masks and edge mask = product of endpoints); kept fraction; time
per explained graph (training of amortised explainers not included; it is
reported as "train_seconds").

On Mutagenicity the explained graphs are the held-out mutagens with ground truth; one run scores them
against PGExplainer's NO2/NH2 ground truth (dataset ``mutagenicity``) and against the five toxicophores
of the paper's curated set (``mutagenicity_toxicophores``). The explainers never see the ground truth.

Every run merges its records into ``benchmarks/results/explain.json`` (tidy records: canonical method
names, the configuration in ``params``, per-seed values; a rerun of a seed replaces that seed's values) and
re-renders ``explain.md``, so seeds can run in separate processes.

Usage (the main rows of ``explain.md``)::

    python benchmarks/bench_explain.py --dataset ba2motifs --seeds 0 1 2 --sparsity 0.2 --epochs 100 \
        --max-test 100 --pg-epochs 10 --pg-max-train 300 \
        --methods IGExplainer GNNExplainer GNNExplainer-authors PGExplainer RANDOM DEGREE ISING
    python benchmarks/bench_explain.py --dataset mutagenicity --seeds 0 1 2 --sparsity 2 --loss-target hard \
        --epochs 30 --pg-epochs 10 --pg-max-train 1000 \
        --methods IGExplainer GNNExplainer GNNExplainer-authors PGExplainer RANDOM DEGREE ISING
    python benchmarks/bench_explain.py --dataset mutagenicity --seeds 0 1 2 3 4 --sparsity 2 --loss-target hard \
        --epochs 30 --n-samples 4 --methods IGExplainer
    python benchmarks/bench_explain.py --render-only
"""

from __future__ import annotations

import argparse
import json
import time
import numpy as np
import torch

from skising.datasets import load_ba2motifs, load_mutagenicity
from skising.explain import IsingGraphExplainer, induced_subgraph_proba, predict_proba, train_classifier
from skising.explain._classifier import model_kwargs_of
from skising.graph import as_graph
from skising.metrics import graph_explanation_accuracy, harmonic_fidelity, prediction_fidelity, topk_node_mask
from skising.sampling import sample_ising

from _records import RESULTS, fmt, merge, record, seeds_of

JSON = RESULTS / "explain.json"
UNITS = {"seconds_per_graph": "s", "train_seconds": "s", "final_loss": "nats", "mean_edge_mask": "mask value",
         "test_accuracy": "fraction"}


def _cat_batch(scores):
    return torch.cat([torch.as_tensor(s, dtype=torch.float64).reshape(-1) for s in scores]), torch.cat(
        [torch.full((len(s),), i) for i, s in enumerate(scores)])


def _split(flat, lengths):
    return list(torch.split(torch.as_tensor(flat), lengths))


@torch.no_grad()
def pyg_fidelity(model, graphs, masks):
    """PyG's model-explanation fid+/fid- with hard node masks (features x mask, edge messages x mask)."""
    from torch_geometric.data import Batch
    from torch_geometric.explain.algorithm.utils import clear_masks, set_masks

    b = Batch.from_data_list(graphs)
    m = torch.cat([torch.as_tensor(x).float() for x in masks])[:, None]
    kw = model_kwargs_of(b)
    y = model(b.x, b.edge_index, batch=b.batch, **kw).argmax(1)
    out = []
    for mm in (m, 1 - m):
        em = (mm[b.edge_index[0], 0] * mm[b.edge_index[1], 0])
        set_masks(model, em, b.edge_index, apply_sigmoid=False)
        yy = model(b.x * mm, b.edge_index, batch=b.batch, **kw).argmax(1)
        clear_masks(model)
        out.append(yy)
    fid_plus = 1 - (out[1] == y).float().mean().item()
    fid_minus = 1 - (out[0] == y).float().mean().item()
    return fid_plus, fid_minus


def evaluate(model, graphs, scores, fid_masks, k, seed, node_gt=None):
    """All metrics of one method on one seed (``node_gt``: ground-truth node masks, default ``d.node_gt``)."""
    flat, batch = _cat_batch(scores)
    top = topk_node_mask(flat.numpy(), k, batch.numpy(), random_state=seed)
    gt = torch.cat(node_gt if node_gt is not None else [d.node_gt for d in graphs]).numpy()
    gea = graph_explanation_accuracy(top, gt, batch.numpy())
    keep = [torch.as_tensor(m).bool() for m in fid_masks]
    pf = predict_proba(model, graphs)
    pk = induced_subgraph_proba(model, graphs, keep)
    pr = induced_subgraph_proba(model, graphs, [~m for m in keep])
    frac = np.array([float(m.float().mean()) for m in keep])
    fid = prediction_fidelity(pf, pk)
    hf = harmonic_fidelity(pf, pk, pr, frac)
    fp, fm = pyg_fidelity(model, graphs, keep)
    return {"gea": float(np.nanmean(gea)), "fidelity": float(fid["agreement"].mean()),
            "fidelity_prob": float(fid["prob"].mean()), "harmonic_fidelity": float(hf["harmonic"].mean()),
            "pyg_fid_plus": fp, "pyg_fid_minus": fm, "kept_fraction": float(frac.mean())}


def evaluate_gea(graphs, scores, k, seed, node_gt=None):
    flat, batch = _cat_batch(scores)
    top = topk_node_mask(flat.numpy(), k, batch.numpy(), random_state=seed)
    gt = torch.cat(node_gt if node_gt is not None else [d.node_gt for d in graphs]).numpy()
    return float(np.nanmean(graph_explanation_accuracy(top, gt, batch.numpy())))


def top_fraction_masks(scores, frac, seed):
    flat, batch = _cat_batch(scores)
    m = topk_node_mask(flat.numpy(), frac, batch.numpy(), random_state=seed)
    return _split(torch.as_tensor(m), [len(s) for s in scores])


def run_ig(model, train, test, seed, args):
    t0 = time.perf_counter()
    ex = IsingGraphExplainer(model, max_epochs=args.epochs, n_samples=args.n_samples, batch_size=64,
                             sparsity=args.sparsity, coupling=args.coupling, lr=args.lr,
                             loss_target=args.loss_target, random_state=seed).fit(train)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = [torch.as_tensor(x) for x in ex.field(test)]  # numpy per graph -> tensors for the shared scoring
    one = [torch.as_tensor(m) for m in ex.transform(test)]
    t = (time.perf_counter() - t0) / len(test)
    # the other ranking: fraction of 32 Ising samples keeping each node
    sm = ex.node_scores(test, "sample_mean", n_samples=32, random_state=seed)
    return h, one, t, t_train, {"final_loss": ex.history_[-1]["loss"], "sample_mean_scores": sm}


def run_constant_ising(test, seed):
    t0 = time.perf_counter()
    scores, one = [], []
    for i, d in enumerate(test):
        g = as_graph(d.edge_index, num_nodes=d.num_nodes)
        x = sample_ising(g, torch.zeros(d.num_nodes), coupling=1.0, beta=1.0, n_chains=33, n_sweeps=10,
                         random_state=seed * 100003 + i)
        scores.append((x[1:] > 0).float().mean(0))
        one.append(x[0] > 0)
    return scores, one, (time.perf_counter() - t0) / len(test)


GNNX_SETTINGS = {
    # PyG defaults (100 epochs, lr 0.01, coefficients as PyG's) with a learned per-node mask; node score =
    # that mask.
    "pyg": dict(epochs=100, lr=0.01, node_mask_type="object", node_score="node_mask"),
    # the authors' graph-classification setting (gnn-model-explainer: adjacency/edge mask plus one feature
    # mask shared by all nodes, lr 0.1, 100 epochs, the same loss coefficients as PyG's defaults); nodes are
    # scored by the mean mask of their incident edges (the explanation is a set of edges).
    "authors": dict(epochs=100, lr=0.1, node_mask_type="common_attributes", node_score="edge_mean"),
}


def edge_to_node_scores(edge_index, edge_mask, num_nodes, reduce):
    """Node score from an edge mask: ``reduce`` ("amax" / "mean") over each node's incident edges."""
    out = torch.zeros(num_nodes)
    return out.scatter_reduce(0, edge_index[0], edge_mask.float(), reduce=reduce, include_self=False)


def run_gnnexplainer(model, test, seed, setting="pyg"):
    from torch_geometric.explain import Explainer, GNNExplainer

    cfg = GNNX_SETTINGS[setting]
    torch.manual_seed(seed)
    explainer = Explainer(model, algorithm=GNNExplainer(epochs=cfg["epochs"], lr=cfg["lr"]), explanation_type="model",
                          node_mask_type=cfg["node_mask_type"], edge_mask_type="object",
                          model_config=dict(mode="multiclass_classification", task_level="graph", return_type="raw"))
    t0 = time.perf_counter()
    scores, means = [], []
    for d in test:
        e = explainer(d.x, d.edge_index, batch=torch.zeros(d.num_nodes, dtype=torch.long), **model_kwargs_of(d))
        em = e.edge_mask.detach()
        means.append(float(em.mean()))
        if cfg["node_score"] == "node_mask":
            scores.append(e.node_mask.detach().view(-1))
        else:
            scores.append(edge_to_node_scores(d.edge_index, em, d.num_nodes, "mean"))
    return scores, (time.perf_counter() - t0) / len(test), {"edge_mask_means": np.array(means)}


PG_SETTINGS = {  # authors' settings (PAPER_NOTES.md)
    "ba2motifs": dict(lr=0.005, edge_size=3e-4, edge_ent=0.3, temp=[5.0, 1.0], bias=0.01),
    "mutagenicity": dict(lr=3e-4, edge_size=5e-3, edge_ent=1.0, temp=[5.0, 5.0], bias=0.01),
}


def run_pgexplainer(model, train, test, seed, dataset, epochs):
    from torch_geometric.explain import Explainer, PGExplainer

    torch.manual_seed(seed)
    cfg = dict(PG_SETTINGS[dataset])
    lr = cfg.pop("lr")
    saved = dict(PGExplainer.coeffs)
    try:
        alg = PGExplainer(epochs=epochs, lr=lr)
    finally:
        PGExplainer.coeffs = saved  # the class-level dict is mutated by __init__
    alg.coeffs = dict(saved)
    alg.coeffs.update(cfg)  # an own copy per instance
    explainer = Explainer(model, algorithm=alg, explanation_type="phenomenon", edge_mask_type="object",
                          model_config=dict(mode="multiclass_classification", task_level="graph", return_type="raw"))
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for i in rng.permutation(len(train)):  # one graph per step (size penalty not B times too strong)
            d = train[i]
            b = torch.zeros(d.num_nodes, dtype=torch.long)
            with torch.no_grad():
                tgt = model(d.x, d.edge_index, batch=b, **model_kwargs_of(d)).argmax(1)
            alg.train(epoch, model, d.x, d.edge_index, target=tgt, batch=b, **model_kwargs_of(d))
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores, means = [], []
    for d in test:
        b = torch.zeros(d.num_nodes, dtype=torch.long)
        with torch.no_grad():
            tgt = model(d.x, d.edge_index, batch=b, **model_kwargs_of(d)).argmax(1)
        e = explainer(d.x, d.edge_index, target=tgt, batch=b, **model_kwargs_of(d))
        em = e.edge_mask.detach()
        means.append(float(em.mean()))
        s = torch.zeros(d.num_nodes).scatter_reduce(0, d.edge_index[0], em, reduce="amax", include_self=True)
        scores.append(s)
    t = (time.perf_counter() - t0) / len(test)
    return scores, t, t_train, {"edge_mask_means": np.array(means)}


def parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["ba2motifs", "mutagenicity"], default="ba2motifs")
    ap.add_argument("--ground-truths", nargs="+", choices=["pgexplainer", "toxicophores"],
                    default=["pgexplainer", "toxicophores"],
                    help="Mutagenicity ground truths scored (dataset 'mutagenicity': PGExplainer's NO2/NH2 edges; "
                         "'mutagenicity_toxicophores': the five toxicophores of the paper's curated set)")
    ap.add_argument("--loss-target", choices=["soft", "hard"], default="soft", help="IGExplainer loss_target")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=300, help="IGExplainer epochs")
    ap.add_argument("--n-samples", type=int, default=2)
    ap.add_argument("--sparsity", type=float, default=0.0, help="IGExplainer sparsity weight (0: paper's loss)")
    ap.add_argument("--coupling", type=float, default=1.0, help="IGExplainer coupling J")
    ap.add_argument("--lr", type=float, default=1e-3, help="IGExplainer learning rate")
    ap.add_argument("--clf-epochs", type=int, default=100)
    ap.add_argument("--pg-epochs", type=int, default=20)
    ap.add_argument("--max-train", type=int, default=None, help="subsample the explainers' training graphs")
    ap.add_argument("--pg-max-train", type=int, default=300, help="PGExplainer trains on the first N of them")
    ap.add_argument("--max-test", type=int, default=None, help="subsample the explained graphs")
    ap.add_argument("--methods", nargs="+", default=["IGExplainer", "GNNExplainer", "PGExplainer", "RANDOM", "DEGREE",
                                                     "ISING"],
                    choices=["IGExplainer", "GNNExplainer", "GNNExplainer-authors", "PGExplainer", "RANDOM", "DEGREE",
                             "ISING"],
                    help="'GNNExplainer-authors': GNNExplainer in the authors' graph setting (see GNNX_SETTINGS)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--render-only", action="store_true", help="only render explain.md from explain.json")
    return ap


def method_params(choice, args):
    """Canonical method name and ``params`` of a ``--methods`` choice under ``args``."""
    common = {"clf_epochs": args.clf_epochs, "max_test": args.max_test}
    if choice == "IGExplainer":
        return choice, {"epochs": args.epochs, "n_samples": args.n_samples, "sparsity": args.sparsity,
                        "loss_target": args.loss_target, "coupling": args.coupling, "lr": args.lr,
                        "max_train": args.max_train, **common}
    if choice in ("GNNExplainer", "GNNExplainer-authors"):
        return "GNNExplainer", {"setting": "authors" if choice.endswith("authors") else "pyg", **common}
    if choice == "PGExplainer":
        return choice, {"epochs": args.pg_epochs, "max_train": args.pg_max_train, **common}
    return choice, dict(common)


def command_for(rec):
    """The command that reproduces a record (all its seeds)."""
    p = rec["params"]
    dataset = "ba2motifs" if rec["dataset"] == "ba2motifs" else "mutagenicity"
    opts = [f"--dataset {dataset}", "--seeds " + " ".join(str(s) for s in seeds_of(rec))]
    if rec["method"] == "GINClassifier":
        return f"python benchmarks/bench_explain.py {' '.join(opts[:1])} --clf-epochs {p['epochs']} --methods RANDOM"
    method = rec["method"]
    if method == "IGExplainer":
        opts += [f"--epochs {p['epochs']}", f"--n-samples {p['n_samples']}", f"--sparsity {p['sparsity']:g}",
                 f"--loss-target {p['loss_target']}", f"--coupling {p['coupling']:g}", f"--lr {p['lr']:g}"]
        if p["max_train"] is not None:
            opts.append(f"--max-train {p['max_train']}")
    elif method == "PGExplainer":
        opts += [f"--pg-epochs {p['epochs']}", f"--pg-max-train {p['max_train']}"]
    elif method == "GNNExplainer" and p["setting"] == "authors":
        method = "GNNExplainer-authors"
    if p["clf_epochs"] != 100:
        opts.append(f"--clf-epochs {p['clf_epochs']}")
    if p["max_test"] is not None:
        opts.append(f"--max-test {p['max_test']}")
    return f"python benchmarks/bench_explain.py {' '.join(opts)} --methods {method}"


def main(argv=None):
    args = parser().parse_args(argv)
    if args.render_only:
        render()
        return
    torch.set_num_threads(args.threads)

    if args.dataset == "ba2motifs":
        graphs, k = load_ba2motifs(), 5
    else:
        graphs, k = load_mutagenicity(), 0.25
    model, info = train_classifier(graphs, epochs=args.clf_epochs, random_state=0, name=args.dataset)
    print(f"classifier: train acc {info['train_acc']:.3f}, test acc {info['test_acc']:.3f} "
          f"({'cached' if info['cached'] else '%.0f s' % info['seconds']})", flush=True)
    train = [graphs[i] for i in info["train_idx"]]
    test_idx = list(info["test_idx"])
    # evaluation sets: dataset name -> (graphs carrying that ground truth as node_gt, their positions in `test`)
    if args.dataset == "mutagenicity":
        # explain held-out mutagens with ground truth (as PGExplainer and successors). The explainers never see
        # the ground truth, so one run explains the union of the mutagens with NO2/NH2 ground truth
        # (PGExplainer's edge_gt) and those with one of the five toxicophores, and scores each set apart.
        gts = {"mutagenicity": graphs}
        if "toxicophores" in args.ground_truths:
            gts["mutagenicity_toxicophores"] = load_mutagenicity(ground_truth="toxicophores")
        if "pgexplainer" not in args.ground_truths:
            del gts["mutagenicity"]
        has = {name: {i for i in test_idx if int(g[i].y) == 0 and bool(g[i].node_gt.any())} for name, g in gts.items()}
        for name, g in gts.items():
            print(f"{name}: {len(has[name])} held-out mutagens with ground truth "
                  f"({sum(int(d.y) == 0 and bool(d.node_gt.any()) for d in g)} in the whole dataset)", flush=True)
        test_idx = sorted(set().union(*has.values()))
    else:
        gts = {"ba2motifs": graphs}
        has = {"ba2motifs": set(test_idx)}
    rng = np.random.default_rng(12345)
    if args.max_train and len(train) > args.max_train:
        train = [train[i] for i in np.sort(rng.choice(len(train), args.max_train, replace=False))]
    if args.max_test and len(test_idx) > args.max_test:
        test_idx = [test_idx[i] for i in np.sort(rng.choice(len(test_idx), args.max_test, replace=False))]
    test = [graphs[i] for i in test_idx]
    # per evaluation set: (classifier inputs, ground-truth node masks, positions in `test`)
    subsets = {name: ([graphs[i] for i in test_idx if i in has[name]],
                      [gts[name][i].node_gt for i in test_idx if i in has[name]],
                      [j for j, i in enumerate(test_idx) if i in has[name]]) for name in gts}
    print(f"explaining {len(test)} test graphs; explainers train on {len(train)} graphs", flush=True)

    records = [record("explain", ds_name, "GINClassifier", {"epochs": args.clf_epochs}, "test_accuracy",
                      {0: info["test_acc"]}, "fraction", "cpu", "") for ds_name in subsets]
    for seed in args.seeds:
        for choice in args.methods:
            extra = {}
            t_train = None
            if choice == "IGExplainer":
                scores, one, t, t_train, extra = run_ig(model, train, test, seed, args)
                fid_masks = one
            elif choice == "ISING":
                scores, fid_masks, t = run_constant_ising(test, seed)
            elif choice in ("GNNExplainer", "GNNExplainer-authors"):
                scores, t, extra = run_gnnexplainer(model, test, seed,
                                                    "authors" if choice.endswith("authors") else "pyg")
                fid_masks = top_fraction_masks(scores, 0.4, seed)
            elif choice == "PGExplainer":
                scores, t, t_train, extra = run_pgexplainer(model, train[: args.pg_max_train], test, seed,
                                                            args.dataset, args.pg_epochs)
                fid_masks = top_fraction_masks(scores, 0.4, seed)
            elif choice == "RANDOM":
                g = torch.Generator().manual_seed(seed)
                t0 = time.perf_counter()
                scores = [torch.rand(d.num_nodes, generator=g) for d in test]
                t = (time.perf_counter() - t0) / len(test)
                fid_masks = top_fraction_masks(scores, 0.4, seed)
            else:  # DEGREE
                t0 = time.perf_counter()
                scores = [torch.bincount(d.edge_index[0], minlength=d.num_nodes).float() for d in test]
                t = (time.perf_counter() - t0) / len(test)
                fid_masks = top_fraction_masks(scores, 0.4, seed)
            sm = extra.pop("sample_mean_scores", None)
            method, params = method_params(choice, args)
            for ds_name, (sub, sub_gt, pos) in subsets.items():
                pick = lambda v: [v[j] for j in pos]  # noqa: E731
                res = evaluate(model, sub, pick(scores), pick(fid_masks), k, seed, sub_gt)
                if sm is not None:
                    res["gea_sample_mean"] = evaluate_gea(sub, pick(sm), k, seed, sub_gt)
                res["seconds_per_graph"] = t
                if t_train is not None:
                    res["train_seconds"] = t_train
                if extra.get("edge_mask_means") is not None:  # collapse: a graph's mean edge mask ~0 or ~1
                    m = np.asarray(extra["edge_mask_means"])[pos]
                    res["mean_edge_mask"] = float(m.mean())
                    res["collapsed_fraction"] = float(np.mean((m < 1e-6) | (m > 1 - 1e-6)))
                res.update({a: b for a, b in extra.items() if a != "edge_mask_means"})
                records += [record("explain", ds_name, method, params, metric, {seed: v},
                                   UNITS.get(metric, "fraction"), "cpu", "") for metric, v in res.items()]
                print(f"seed {seed} {ds_name} ({len(sub)} graphs) {method} {params} "
                      + " ".join(f"{a}={b:.4g}" for a, b in res.items()), flush=True)
        merge(JSON, records, command_for)  # after every seed: a stopped run keeps its finished seeds
        records = []
    render()


METRICS = ["gea", "gea_sample_mean", "fidelity", "fidelity_prob", "harmonic_fidelity", "pyg_fid_plus",
           "pyg_fid_minus", "kept_fraction", "seconds_per_graph", "train_seconds"]
DIAGNOSTICS = ["mean_edge_mask", "collapsed_fraction", "final_loss"]
COMMON = ("clf_epochs", "max_test")


def label(method, params):
    """Row label: the method and the parameters that tell its configurations apart."""
    shown = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
             if k not in COMMON and v is not None]
    return method + (f" ({', '.join(shown)})" if shown else "")


def render():
    """``explain.md`` from ``explain.json``: one table per dataset, configurations x metrics."""
    recs = json.loads(JSON.read_text())
    lines = ["# Explainer benchmark (`benchmarks/bench_explain.py`)", "",
             "Mean ± std over seeds (std blank: one seed). Times are wall-clock on a shared CPU, one torch thread: "
             "indicative only. Each record's `command` in `explain.json` reproduces it.", ""]
    for ds in sorted({r["dataset"] for r in recs}):
        rs = [r for r in recs if r["dataset"] == ds]
        lines += [f"## {ds}", ""]
        for r in rs:
            if r["metric"] == "test_accuracy":
                lines += [f"{r['method']} ({r['params']['epochs']} epochs) test accuracy: {r['mean']:.3f}.", ""]
        rows = {}
        for r in rs:
            if r["metric"] != "test_accuracy":
                rows.setdefault((r["method"], json.dumps(r["params"])), {})[r["metric"]] = r
        common = {json.dumps({k: json.loads(p)[k] for k in COMMON}) for _, p in rows}
        lines += ["| method | seeds | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
        for (method, p), by in rows.items():
            lines.append(f"| {label(method, json.loads(p))} | {by['gea']['n']} | "
                         + " | ".join(fmt(by.get(m)) for m in METRICS) + " |")
        extra = [(label(m, json.loads(p)), by[d]) for (m, p), by in rows.items() for d in DIAGNOSTICS if d in by]
        if extra:
            lines += [""] + [f"- {name} {r['metric']}: {fmt(r)}" for name, r in extra]
        lines += ["", "Common settings: " + "; ".join(sorted(common)), ""]
    (RESULTS / "explain.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
