"""Small-scale ablations of IsingGraphExplainer settings (doc/explain.md, "What moves GEA").

Fits the explainer on a subset of the training split of the cached classifier
(same split and subsampling as bench_explain.py) and prints, per seed, top-k GEA
ranked by the field h and by the sample average (32 samples), per class, the
induced-subgraph agreement and kept fraction of one sample. Logs of the runs
quoted in the docs are in benchmarks/results/explain_raw/ablation/.

    python benchmarks/bench_explain_ablation.py --epochs 100 --norm 1 --seeds 0 1 2
"""
import argparse, json, time, sys
import numpy as np, torch
torch.set_num_threads(1)
from skising.datasets import load_ba2motifs, load_mutagenicity
from skising.explain import IsingGraphExplainer, induced_subgraph_proba, predict_proba, train_classifier
from skising.fields import GINField
from skising.metrics import graph_explanation_accuracy, topk_node_mask

ap = argparse.ArgumentParser()
ap.add_argument("--dataset", default="ba2motifs")
ap.add_argument("--clf-epochs", type=int, default=100)
ap.add_argument("--ntrain", type=int, default=300)
ap.add_argument("--ntest", type=int, default=100)
ap.add_argument("--epochs", type=int, default=30)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--coupling", type=float, default=1.0)
ap.add_argument("--beta", type=float, default=1.0)
ap.add_argument("--K", type=int, default=2)
ap.add_argument("--sweeps", type=int, default=10)
ap.add_argument("--frac", type=float, default=None)
ap.add_argument("--penalty", type=float, default=1.0)
ap.add_argument("--target", default="soft")
ap.add_argument("--bs", type=int, default=64)
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
ap.add_argument("--hidden", type=int, default=64)
ap.add_argument("--tag", default="")
ap.add_argument("--norm", type=int, default=0, help="1: GINField(norm=True), the default field model since this ablation; 0: plain GIN field (the old default)")
ap.add_argument("--sparsity", type=float, default=0.0)
a = ap.parse_args()
if a.dataset == "ba2motifs":
    graphs, k = load_ba2motifs(), 5
else:
    graphs, k = load_mutagenicity(), 0.25
model, info = train_classifier(graphs, epochs=a.clf_epochs, random_state=0, name=a.dataset)
print("clf acc", info["train_acc"], info["test_acc"], info["cached"], flush=True)
train = [graphs[i] for i in info["train_idx"]]
test = [graphs[i] for i in info["test_idx"]]
if a.dataset == "mutagenicity":
    test = [d for d in test if int(d.y) == 0 and bool(d.node_gt.any())]
rng = np.random.default_rng(12345)
if len(train) > a.ntrain:
    train = [train[i] for i in np.sort(rng.choice(len(train), a.ntrain, replace=False))]
if len(test) > a.ntest:
    test = [test[i] for i in np.sort(rng.choice(len(test), a.ntest, replace=False))]
y = np.array([int(d.y) for d in test])
gt = torch.cat([d.node_gt for d in test]).numpy()
batch = torch.cat([torch.full((d.num_nodes,), i) for i, d in enumerate(test)]).numpy()
def gea(scores, seed):
    flat = torch.cat([torch.as_tensor(s, dtype=torch.float64) for s in scores]).numpy()
    top = topk_node_mask(flat, k, batch, random_state=seed)
    return graph_explanation_accuracy(top, gt, batch)
out = []
for seed in a.seeds:
    t0 = time.time()
    edge_dim = graphs[0].edge_attr.shape[1] if getattr(graphs[0], "edge_attr", None) is not None else None
    torch.manual_seed(seed)
    field = GINField(graphs[0].x.shape[1], a.hidden, 3, edge_dim, norm=bool(a.norm))
    ex = IsingGraphExplainer(model, epochs=a.epochs, n_samples=a.K, lr=a.lr, coupling=a.coupling, beta=a.beta,
                             n_sweeps=a.sweeps, target_fraction=a.frac, penalty=a.penalty, loss_target=a.target, sparsity=a.sparsity,
                             batch_size=a.bs, random_state=seed,
                             field_model=field).fit(train)
    tt = time.time() - t0
    h = ex.field(test)
    sm = ex.node_scores(test, "sample_mean", n_samples=32, random_state=seed)
    one = ex.transform(test)
    pf = predict_proba(model, test); pk = induced_subgraph_proba(model, test, one)
    agree = float((pf.argmax(1) == pk.argmax(1)).float().mean())
    frac = float(np.mean([float(m.float().mean()) for m in one]))
    gh, gs = gea(h, seed), gea(sm, seed)
    r = dict(seed=seed, gea_h=float(np.nanmean(gh)), gea_sm=float(np.nanmean(gs)),
             gea_h_c0=float(np.nanmean(gh[y == 0])), gea_h_c1=float(np.nanmean(gh[y == 1])) if (y==1).any() else None,
             agree=agree, frac=frac, loss_first=ex.history_[0]["loss"], loss_last=ex.history_[-1]["loss"], train_s=tt)
    out.append(r)
    print(json.dumps(r), flush=True)
print("SUMMARY", a.tag, vars(a), "gea_h %.3f±%.3f gea_sm %.3f agree %.3f frac %.3f" % (
    np.mean([r["gea_h"] for r in out]), np.std([r["gea_h"] for r in out]), np.mean([r["gea_sm"] for r in out]),
    np.mean([r["agree"] for r in out]), np.mean([r["frac"] for r in out])), flush=True)
