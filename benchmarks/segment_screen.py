"""Training diagnostics for IsingSegmenter (exploratory screen, one seed).

Trains like ``bench_segment.py`` (same estimator, same seed -> same model) and
prints, per epoch, statistics of the two RLOO training chains:

``differ``      fraction of pixels where the two samples differ (only these
                pixels' fields receive an RLOO gradient, eq. 15),
``both_wrong``  fraction of pixels both samples get wrong (no signal there),
``any_wrong``   misclassification rate of the samples (the eq. 19 loss),
``sign_wrong``  misclassification rate of sign(h) (the field without coupling),
``absh``        mean |h| (output scale of the field net), ``val`` validation Dice.

The last line (``RESULT``) gives the test Dice of the best-validation epoch.
The logs in ``benchmarks/results/segment_screen/`` were written by this script
with the arguments in their ``RESULT`` line (64 px, 10 epochs, seed 0, shared
2-core machine at load 8-25)::

    PYTHONPATH=. python benchmarks/segment_screen.py --epochs 10 --J 0.25 --tag J0.25
    PYTHONPATH=. python benchmarks/segment_screen.py --epochs 10 --unet --bs 8 --tag unetbs8
"""
import argparse, json, time, sys
import numpy as np, torch
from skising.datasets import load_weizmann_horse
from skising.metrics import dice_score
from skising.segment import IsingSegmenter, UNetSegmenter
from skising.sampling._grid import _grid_sample

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=64)
p.add_argument("--epochs", type=int, default=15)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--bs", type=int, default=32)
p.add_argument("--J", type=float, default=1.0)
p.add_argument("--beta", type=float, default=1.0)
p.add_argument("--sweeps", type=int, default=10)
p.add_argument("--K", type=int, default=2)
p.add_argument("--init", default="random")
p.add_argument("--update", default="metropolis")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--unet", action="store_true")
p.add_argument("--tag", default="")
p.add_argument("--verbose", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(1)
tr, va, te = (load_weizmann_horse(a.size, split=s) for s in ("train", "val", "test"))

class Diag(IsingSegmenter):
    def _sample_batch(self, batch, h, J, n_chains, n_sweeps=None, init="random"):
        hh = h.detach().reshape(batch.shape)
        if a.init == "field_sign":
            init = torch.where(hh > 0, 1.0, -1.0)[None].expand((n_chains,) + hh.shape)
        x = _grid_sample(hh, J, float(self.beta), n_chains, self.n_sweeps, self.update, init, self._torch_gen)
        y = batch.y[None]
        wrong = (x > 0) != y
        st = self._stats
        st["differ"] += float((x[0] != x[1]).float().mean())
        st["both_wrong"] += float(wrong.all(0).float().mean())
        st["any_wrong"] += float(wrong.float().mean())
        st["sign_wrong"] += float(((hh > 0) != batch.y).float().mean())
        st["absh"] += float(hh.abs().mean())
        st["absh_med"] += float(hh.abs().median())
        st["n"] += 1
        return x

if a.unet:
    est = UNetSegmenter(epochs=a.epochs, lr=a.lr, batch_size=a.bs, random_state=a.seed)
    t0 = time.time(); est.fit(tr.images, tr.masks, va.images, va.masks)
    for h in est.history_: print(h["epoch"], round(h["loss"], 4), round(h["val_score"], 4), round(h["seconds"], 1))
    print("RESULT", a.tag or "unet", "test dice", round(est.score(te.images, te.masks), 4), "best", est.best_epoch_, "time", round(time.time() - t0))
    sys.exit()

est = Diag(epochs=1, lr=a.lr, batch_size=a.bs, coupling=a.J, beta=a.beta, n_sweeps=a.sweeps, n_samples=a.K, update=a.update, random_state=a.seed)
# run epoch by epoch via the shared loop: emulate by fitting with epochs and hooking history
est.set_params(epochs=a.epochs)
keys = ["differ", "both_wrong", "any_wrong", "sign_wrong", "absh", "absh_med"]
est._stats = {k: 0.0 for k in keys}; est._stats["n"] = 0
orig_val = est._validation_score
rows = []
def val_hook(items, _est=est):
    s = IsingSegmenter._validation_score(_est, items)
    st = _est._stats
    rows.append({k: st[k] / max(st["n"], 1) for k in keys} | {"val": s})
    if a.verbose: print(len(rows) - 1, " ".join(f"{k}={rows[-1][k]:.3f}" for k in keys + ["val"]), flush=True)
    for k in keys: st[k] = 0.0
    st["n"] = 0
    return s
est._validation_score = val_hook
t0 = time.time()
est.fit(tr.images, tr.masks, va.images, va.masks)
del est._validation_score
res = {}
for pred in ("majority", "mean_field"):
    est.set_params(prediction=pred); res[pred] = round(est.score(te.images, te.masks), 4)
res["field_sign"] = round(float(dice_score(te.masks, est.decision_function(te.images) > 0)), 4)
print("RESULT", a.tag, vars(a), res, "best", est.best_epoch_, "time", round(time.time() - t0), "s/ep", round(np.mean([h["seconds"] for h in est.history_]), 1))
