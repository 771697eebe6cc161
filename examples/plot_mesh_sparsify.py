"""
Mesh sparsification with a learned Ising field (paper Figures 4 and 16)
=======================================================================

A :class:`skising.sparsify.MeshSparsifier` is trained on a few PSB bust
meshes to keep exactly half of the vertices such that the coarse mesh (the
removed vertices collapsed onto kept neighbours in order of quadric error,
:func:`skising.mesh.coarsen_mesh`) stays close to the original surface. On a
held-out bust we show

* top row: the learned field ``h``, the kept vertices of one sample, and the
  original mesh;
* bottom row: the coarse meshes of RANDOM, of ISING+MAG with the paper's
  learned field (``prior=None``), and of the default ``MeshSparsifier()``
  (the Ising model in the field of a greedy quadric simplification's vertex
  order, untrained; see ``doc/mesh.md``), all through the quadric-ordered
  coarsening, and MeshLab's quadric edge collapse to the same vertex count
  (``pymeshlab``, when installed; else ISING, zero field and ``J = -1``),
  with their Table 5 distance (10 x mean vertex-to-surface distance / mean
  edge length).

Run ``python examples/plot_mesh_sparsify.py`` (about a minute or two on a
laptop CPU); it writes ``doc/figures/mesh_sparsify.png``.
"""

import argparse
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from skising.baselines import ConstantFieldIsingSubsampler  # noqa: E402
from skising.datasets import load_psb  # noqa: E402
from skising.metrics import vertex_to_mesh_distance  # noqa: E402
from skising.mesh import coarsen_mesh  # noqa: E402
from skising.sparsify import MeshSparsifier  # noqa: E402


def view(V):
    """Rotate the PSB bust so that it faces the camera (its long axis is y)."""
    return V[:, [0, 2, 1]] * np.array([1, -1, 1])


def draw(ax, V, F, values=None, cmap="coolwarm", title=""):
    V = view(V)
    tri = V[F]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    shade = 0.35 + 0.65 * np.clip(n @ np.array([0.3, -0.8, 0.5]) / np.linalg.norm([0.3, -0.8, 0.5]), 0, 1)
    if values is None:
        colors = np.c_[shade, shade, shade] * np.array([0.85, 0.85, 0.9])
    else:
        v = values[F].mean(1)
        lim = np.percentile(np.abs(values), 98) + 1e-12
        colors = plt.get_cmap(cmap)(np.clip((v / lim + 1) / 2, 0, 1))[:, :3] * (0.5 + 0.5 * shade[:, None])
    pc = Poly3DCollection(tri, facecolors=colors, edgecolors="none")
    ax.add_collection3d(pc)
    c, r = V.mean(0), (V.max(0) - V.min(0)).max() / 2
    ax.set_xlim(c[0] - r, c[0] + r)
    ax.set_ylim(c[1] - r, c[1] + r)
    ax.set_zlim(c[2] - r, c[2] + r)
    ax.view_init(elev=10, azim=-90)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "doc" / "figures" / "mesh_sparsify.png"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    train = load_psb("bust", ids=[309, 310, 303, 305])
    test = load_psb("bust", ids=[301])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MeshSparsifier(prior=None, max_epochs=args.epochs, random_state=0).fit(train)  # the learned field alone
    V, F = test.pos.numpy().astype(np.float64), test.data["faces"]
    h = est.field(test)
    k = int(est.transform(test).sum())
    default = MeshSparsifier(random_state=0).fit(train)  # the QEM-order prior, nothing trained
    coarse = {
        "RANDOM": coarsen_mesh((V, F), np.random.default_rng(0).permutation(len(V)) < k),
        "ISING+MAG (learned field)": est.coarsen(test),
        "default MeshSparsifier()": default.coarsen(test),
    }
    try:
        import pymeshlab

        ms = pymeshlab.MeshSet()
        ms.add_mesh(pymeshlab.Mesh(V, F))
        ms.meshing_decimation_quadric_edge_collapse(targetfacenum=2 * k - 4, optimalplacement=False)
        coarse["MeshLab QEM"] = (ms.current_mesh().vertex_matrix(), ms.current_mesh().face_matrix())
    except ImportError:
        ising = ConstantFieldIsingSubsampler(0.5, field=0.0, coupling=-1.0, random_state=0).fit().transform(test)
        coarse["ISING"] = coarsen_mesh((V, F), ising)
    fig = plt.figure(figsize=(13, 7.5))
    ax = fig.add_subplot(2, 4, 1, projection="3d")
    draw(ax, V, F, values=h - h.mean(), title="learned field h - mean(h) (red: kept more often)")
    ax = fig.add_subplot(2, 4, 2, projection="3d")
    draw(ax, V, F, title="kept vertices (ISING+MAG sample)")
    kept = est.transform(test)
    W = view(V)
    fn = np.cross(W[F[:, 1]] - W[F[:, 0]], W[F[:, 2]] - W[F[:, 0]])
    vn = np.zeros_like(W)
    np.add.at(vn, F.ravel(), np.repeat(fn, 3, axis=0))
    front = kept & (vn[:, 1] < 0)  # kept and facing the camera (which looks along +y)
    ax.scatter(W[front, 0], W[front, 1] - 0.01, W[front, 2], s=0.5, c="crimson", depthshade=False)
    ax = fig.add_subplot(2, 4, 3, projection="3d")
    draw(ax, V, F, title=f"original ({len(V)} vertices)")
    for j, (name, (Vc, Fc)) in enumerate(coarse.items()):
        d = vertex_to_mesh_distance((V, F), (Vc, Fc))
        ax = fig.add_subplot(2, 4, 5 + j, projection="3d")
        draw(ax, Vc, Fc, title=f"{name}\n{len(Vc)} vertices, distance {d:.3f}")
        print(f"{name}: kept {len(Vc) / len(V):.4f}, table distance {d:.4f}, eq.21 "
              f"{vertex_to_mesh_distance((V, F), (Vc, Fc), 'eq21'):.4g}")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
