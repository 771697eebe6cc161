"""
Learned sparse-approximate-inverse patterns (Figure 5 of the paper)
===================================================================

For two test matrices of Dataset 1 (Setting 1, candidates = pattern of
A + A^2) this shows A, its inverse, the field h learned by
:class:`skising.precondition.SAIPreconditioner` on the candidate entries, and
the sampled pattern of M (the diagonal is always kept), with
``||AM - I||_F`` of the learned pattern, a random 50% pattern and greedy SPAI.

Uses the model saved by ``benchmarks/bench_sai.py table1 --setting 1`` when
present, otherwise trains a small one (a few minutes on 2 CPU cores).

    python examples/plot_sai_patterns.py  # writes examples/sai_patterns.png
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from skising.datasets import make_banded_binary_matrices, split_matrices  # noqa: E402
from skising.metrics import sai_residual  # noqa: E402
from skising.precondition import SAIPreconditioner, greedy_spai, spai  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
saved = ROOT / "benchmarks" / "results" / "sai_parts" / "model_setting1.pt"

mats = make_banded_binary_matrices(1600, random_state=0)
train, val, test = split_matrices(mats, random_state=0)
if saved.exists():
    est = SAIPreconditioner(max_epochs=0, random_state=0).fit(train[:2])
    est.field_model_.load_state_dict(torch.load(saved))
    how = "model from bench_sai.py"
else:
    est = SAIPreconditioner(max_epochs=5, random_state=0).fit(train[:320], X_val=val[:64])
    how = "5 epochs on 320 matrices"

rng = np.random.default_rng(0)
fig, axes = plt.subplots(2, 4, figsize=(14, 7))
for row, A in zip(axes, test[:2]):
    A = sp.csr_matrix(A)
    n = A.shape[0]
    est.transform(A)
    M = est.M_
    rows, cols, h = est.field(A)
    H = np.full((n, n), np.nan)
    H[rows, cols] = h
    # random 50% of the same candidates, diagonal kept
    keep = rng.random(rows.size) < 0.5
    P = sp.csr_matrix((np.ones(keep.sum() + n), (np.r_[rows[keep], np.arange(n)], np.r_[cols[keep], np.arange(n)])),
                      shape=(n, n))
    r_rand = sai_residual(A, spai(A, pattern=P))
    r_greedy = sai_residual(A, greedy_spai(A, pattern="A2", fraction=0.5))
    row[0].imshow(A.toarray(), cmap="Greys")
    row[0].set_title("A")
    inv = np.linalg.inv(A.toarray())
    row[1].imshow(np.abs(inv), cmap="viridis")
    row[1].set_title("|A^-1|")
    im = row[2].imshow(H, cmap="coolwarm")
    row[2].set_title("field h on candidates")
    fig.colorbar(im, ax=row[2], fraction=0.046)
    row[3].imshow(M.toarray() != 0, cmap="Greys")
    row[3].set_title(f"learned pattern: {est.residual_:.2f}\nrandom {r_rand:.2f}, greedy {r_greedy:.2f}")
    for ax in row:
        ax.set_xticks([])
        ax.set_yticks([])
    print(f"||AM-I||_F learned {est.residual_:.3f} (kept {100 * est.kept_fraction_:.1f}%), "
          f"random {r_rand:.3f}, greedy SPAI {r_greedy:.3f}")
fig.suptitle(f"SAIPreconditioner, Setting 1 ({how})")
fig.tight_layout()
out = ROOT / "examples" / "sai_patterns.png"
fig.savefig(out, dpi=110)
print("wrote", out)
