"""Why PyG's GNNExplainer scores at or below RANDOM on Mutagenicity (doc/explain.md, "Baseline fairness").

Two diagnostics on held-out mutagens with NO2/NH2 ground truth (same split and
subsampling as ``bench_explain.py``), for the cached GINE classifier trained for
``--clf-epochs`` epochs (100 is the benchmark's classifier):

``variants``
    GNNExplainer (PyG) with several mask types / learning rates / explanation
    types; top-25 % GEA of the learned node mask ("node") and of node scores
    derived from the edge mask (max / sum / mean over each node's incident
    edges), and the mean node-mask value on ground-truth vs other atoms.
    A variant is ``node_mask_type:edge_mask_type:epochs:lr:explanation_type``
    (``none`` for no mask).
``probe``
    p(mutagen) when the ground-truth atoms are masked the way PyG's explainers
    and fidelity mask (features x 0 and messages x 0, nodes still pooled) vs
    deleted (induced subgraph), for the whole held-out set at once.

Exploratory: prints only, writes no results file::

    python benchmarks/exploratory/explain_baselines.py variants --clf-epochs 100 --n-test 40 \
        --variants object:object:100:0.01:model none:object:100:0.1:model common_attributes:object:100:0.1:model
    python benchmarks/exploratory/explain_baselines.py probe --clf-epochs 100
"""
import argparse
import json
import time

import numpy as np
import torch

from skising.datasets import load_mutagenicity
from skising.explain import induced_subgraph_proba, train_classifier
from skising.explain._classifier import model_kwargs_of
from skising.metrics import graph_explanation_accuracy, topk_node_mask


def held_out(clf_epochs, n_test):
    graphs = load_mutagenicity()
    model, info = train_classifier(graphs, epochs=clf_epochs, random_state=0, name="mutagenicity")
    print(f"GINE classifier, {clf_epochs} epochs: test accuracy {info['test_acc']:.3f} (cached: {info['cached']})")
    test = [graphs[i] for i in info["test_idx"]]
    test = [d for d in test if int(d.y) == 0 and bool(d.node_gt.any())]
    rng = np.random.default_rng(12345)
    if n_test and len(test) > n_test:
        test = [test[i] for i in np.sort(rng.choice(len(test), n_test, replace=False))]
    return model, test


def variants(model, test, specs, seed=0):
    from torch_geometric.explain import Explainer, GNNExplainer

    gt = torch.cat([d.node_gt for d in test]).numpy()
    batch = torch.cat([torch.full((d.num_nodes,), i) for i, d in enumerate(test)]).numpy()

    def gea(scores):
        flat = torch.cat([torch.as_tensor(s, dtype=torch.float64).reshape(-1) for s in scores]).numpy()
        return float(np.nanmean(graph_explanation_accuracy(topk_node_mask(flat, 0.25, batch, random_state=seed),
                                                           gt, batch)))

    def edge2node(d, em, red):
        return torch.zeros(d.num_nodes).scatter_reduce(0, d.edge_index[0], em.float(), reduce=red,
                                                       include_self=False)

    mc = dict(mode="multiclass_classification", task_level="graph", return_type="raw")
    g = torch.Generator().manual_seed(seed)
    print("RANDOM", json.dumps({"node": gea([torch.rand(d.num_nodes, generator=g) for d in test])}), flush=True)
    for v in specs:
        nm, emt, ep, lr, et = v.split(":")
        torch.manual_seed(seed)
        ex = Explainer(model, algorithm=GNNExplainer(epochs=int(ep), lr=float(lr)), explanation_type=et,
                       node_mask_type=None if nm == "none" else nm, edge_mask_type=None if emt == "none" else emt,
                       model_config=mc)
        out = {"node": [], "e_max": [], "e_sum": [], "e_mean": []}
        t0 = time.perf_counter()
        for d in test:
            b = torch.zeros(d.num_nodes, dtype=torch.long)
            kw = dict(target=d.y.view(-1)) if et == "phenomenon" else {}
            e = ex(d.x, d.edge_index, batch=b, **kw, **model_kwargs_of(d))
            if e.get("node_mask") is not None and e.node_mask.shape[0] == d.num_nodes:
                out["node"].append(e.node_mask.detach().sum(1))
            if e.get("edge_mask") is not None:
                em = e.edge_mask.detach()
                for red, key in (("amax", "e_max"), ("sum", "e_sum"), ("mean", "e_mean")):
                    out[key].append(edge2node(d, em, red))
        res = {key: gea(val) for key, val in out.items() if val}
        if out["node"]:
            flat = torch.cat(out["node"]).numpy()
            res["node_mask_on_gt"] = float(flat[gt].mean())
            res["node_mask_elsewhere"] = float(flat[~gt].mean())
        print(v, f"{(time.perf_counter() - t0) / len(test):.2f} s/graph", json.dumps(res), flush=True)


@torch.no_grad()
def probe(model, test):
    from torch_geometric.data import Batch
    from torch_geometric.explain.algorithm.utils import clear_masks, set_masks

    b = Batch.from_data_list(test)
    gt = b.node_gt

    def p_mutagen(node_w=None, edge_w=None):
        if edge_w is not None:
            set_masks(model, edge_w, b.edge_index, apply_sigmoid=False)
        x = b.x if node_w is None else b.x * node_w[:, None]
        p = torch.softmax(model(x, b.edge_index, batch=b.batch, edge_attr=b.edge_attr), -1)[:, 0]
        clear_masks(model)
        return float(p.mean())

    def ew(w):
        return w[b.edge_index[0]] * w[b.edge_index[1]]

    keep_gt, drop_gt = gt.float(), (~gt).float()
    half = torch.where(gt, 0.5, 1.0)
    print(f"{len(test)} mutagens; mean p(mutagen):")
    print(f"  whole graph                                   {p_mutagen():.3f}")
    print(f"  PyG masking (x*m, messages*m), GT atoms out   {p_mutagen(drop_gt, ew(drop_gt)):.3f}")
    print(f"  PyG masking, only GT atoms in                 {p_mutagen(keep_gt, ew(keep_gt)):.3f}")
    print(f"  PyG masking, GT atoms at 0.5                  {p_mutagen(half, ew(half)):.3f}")
    pd = induced_subgraph_proba(model, test, [~d.node_gt for d in test])[:, 0]
    pk = induced_subgraph_proba(model, test, [d.node_gt for d in test])[:, 0]
    print(f"  deletion (induced subgraph), GT atoms out     {float(pd.mean()):.3f}")
    print(f"  deletion (induced subgraph), only GT atoms in {float(pk.mean()):.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["variants", "probe"])
    ap.add_argument("--clf-epochs", type=int, default=100)
    ap.add_argument("--n-test", type=int, default=40)
    ap.add_argument("--variants", nargs="+", default=["object:object:100:0.01:model"])
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, test = held_out(a.clf_epochs, a.n_test if a.what == "variants" else None)
    if a.what == "variants":
        variants(model, test, a.variants)
    else:
        probe(model, test)


if __name__ == "__main__":
    main()
