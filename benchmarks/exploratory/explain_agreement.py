"""Where IsingGraphExplainer's induced-subgraph agreement is lost on Mutagenicity.

Fits the explainer on ``--n-train`` graphs of the training split of the cached GINE classifier
(100 epochs; same split and subsampling as ``bench_explain.py``) and, on all held-out mutagens with
NO2/NH2 ground truth, prints top-25 % GEA of the field, the agreement of the first of ``--n-draws``
samples and the expected agreement (mean over the draws), split by the classifier's predicted class
and by its confidence on the whole graph.

Exploratory: prints only, writes no results file::

    python benchmarks/exploratory/explain_agreement.py --sparsity 2 --loss-target hard --epochs 30
"""
import argparse
import time

import numpy as np
import torch

from skising.datasets import load_mutagenicity
from skising.explain import IsingGraphExplainer, induced_subgraph_proba, predict_proba, train_classifier
from skising.metrics import graph_explanation_accuracy, topk_node_mask

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--sparsity", type=float, default=2.0)
ap.add_argument("--loss-target", choices=["soft", "hard"], default="hard")
ap.add_argument("--epochs", type=int, default=30)
ap.add_argument("--n-samples", type=int, default=2, help="RLOO samples per graph in training")
ap.add_argument("--n-train", type=int, default=None, help="subsample the training graphs (default: all)")
ap.add_argument("--n-draws", type=int, default=16, help="samples per explained graph")
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
torch.set_num_threads(1)
graphs = load_mutagenicity()
model, info = train_classifier(graphs, epochs=100, random_state=0, name="mutagenicity")
train = [graphs[i] for i in info["train_idx"]]
test = [graphs[i] for i in info["test_idx"]]
test = [d for d in test if int(d.y) == 0 and bool(d.node_gt.any())]
rng = np.random.default_rng(12345)
if a.n_train and len(train) > a.n_train:
    train = [train[i] for i in np.sort(rng.choice(len(train), a.n_train, replace=False))]
pf = predict_proba(model, test)
print("n test", len(test), "pred mutagen", float((pf.argmax(1) == 0).float().mean()), "mean p0", float(pf[:, 0].mean()))
t0 = time.time()
ex = IsingGraphExplainer(model, max_epochs=a.epochs, sparsity=a.sparsity, loss_target=a.loss_target,
                         n_samples=a.n_samples, random_state=a.seed).fit(train)
print("train s", time.time() - t0)
S = ex.sample(test, a.n_draws, random_state=a.seed)
agree = np.zeros((a.n_draws, len(test)))
for s in range(a.n_draws):
    pk = induced_subgraph_proba(model, test, [x[s] for x in S])
    agree[s] = (pk.argmax(1) == pf.argmax(1)).numpy()
h = [torch.as_tensor(x) for x in ex.field(test)]
gt = torch.cat([d.node_gt for d in test]).numpy()
batch = torch.cat([torch.full((d.num_nodes,), i) for i, d in enumerate(test)]).numpy()
g = graph_explanation_accuracy(topk_node_mask(torch.cat(h).double().numpy(), 0.25, batch, random_state=a.seed), gt, batch)
pa = agree.mean(0)
conf = pf.max(1).values.numpy()
print("GEA %.3f agree(first sample) %.3f expected agree %.3f frac %.3f" % (np.nanmean(g), agree[0].mean(), pa.mean(), np.mean([float(x.mean()) for x in S])))
pm = (pf.argmax(1) == 0).numpy()
print("expected agree | pred mutagen %.3f (n=%d) | pred non-mutagen %.3f (n=%d)" % (pa[pm].mean(), pm.sum(), pa[~pm].mean() if (~pm).any() else -1, (~pm).sum()))
for lo, hi in [(0.5, 0.7), (0.7, 0.9), (0.9, 0.99), (0.99, 1.01)]:
    sel = (conf >= lo) & (conf < hi)
    print(f"conf [{lo},{hi}) n={sel.sum()} expected agree {pa[sel].mean() if sel.any() else float('nan'):.3f} GEA {np.nanmean(g[sel]) if sel.any() else float('nan'):.3f}")
print("graphs with P(agree)<0.5:", int((pa < 0.5).sum()), "of", len(pa))
