"""
Coarse meshes that keep the part boundaries
===========================================

Quadric simplification keeps what matters for the *shape*. A user who
segments, labels or animates the coarse mesh needs something else: its edges
should follow the parts of the model, so that a segmentation drawn on the
coarse mesh carries back to the original.

A :class:`skising.sparsify.MeshSparsifier` with ``task="boundary"`` is trained
on a few PSB human meshes and their ground-truth part segmentations: its loss
is the distance of the original vertices to the coarse surface plus
``boundary_weight`` x the *label transfer error*
(:func:`skising.metrics.segmentation_transfer_error`: the area fraction whose
part label the coarse mesh loses). At test time it sees only the mesh. On a
held-out human we show the original with its parts, MeshLab's quadric edge
collapse to the same vertex count (``pymeshlab``, when installed), and the
learned coarse mesh (quadric-ordered coarsening of its kept vertices), each
coloured by the labels carried to it (:func:`skising.mesh.transfer_face_labels`),
with the transfer error and the Table 5 distance in the titles.

The learned field does not find the part boundaries from geometry alone, and
MeshLab carries the labels better (``benchmarks/results/mesh_boundary_prior.md``).
The last column is what to do when the labels *are* known at simplification
time: the default :class:`~skising.sparsify.MeshSparsifier` (untrained
quadric prior) on the mesh with its part-boundary vertices locked
(``data["locked"]`` = :func:`skising.mesh.part_boundary_vertices`), which
keeps every boundary (``benchmarks/results/mesh_needs.md``; the greedy order
alone does the same with :func:`skising.mesh.qem_removal_order`'s
``locked=``).

A few meshes and epochs keep this under a minute on a laptop CPU; the
cross-validated comparison is ``benchmarks/bench_mesh.py --suite boundary``
(``benchmarks/results/mesh_boundary.md``). It writes
``doc/figures/mesh_boundary.png``.
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

from skising.baselines import FarthestPointSubsampler  # noqa: E402
from skising.datasets import load_psb  # noqa: E402
from skising.mesh import coarsen_mesh, part_boundary_vertices, transfer_face_labels  # noqa: E402
from skising.metrics import part_boundary_recall, segmentation_transfer_error, vertex_to_mesh_distance  # noqa: E402
from skising.sparsify import MeshSparsifier  # noqa: E402

FEATURES = ("curvature", "qem_cost", "concavity")


def draw(ax, V, F, labels, title, centre=None, radius=None):
    """Faces coloured by part label (grey: no label), shaded by their normal; optionally zoomed on a box."""
    W = V  # PSB humans stand along z
    tri = W[F]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    light = np.array([0.4, -0.7, 0.6]) / np.linalg.norm([0.4, -0.7, 0.6])
    shade = 0.45 + 0.55 * np.abs(n @ light)
    cmap = plt.get_cmap("tab20")
    colors = np.where(labels[:, None] >= 0, cmap(np.maximum(labels, 0) % 20)[:, :3], 0.6)
    ax.add_collection3d(Poly3DCollection(tri, facecolors=colors * shade[:, None], edgecolors="none"))
    c = W.mean(0) if centre is None else centre
    r = (W.max(0) - W.min(0)).max() / 2 if radius is None else radius
    ax.set_xlim(c[0] - r, c[0] + r)
    ax.set_ylim(c[1] - r, c[1] + r)
    ax.set_zlim(c[2] - r, c[2] + r)
    ax.set_box_aspect((1, 1, 1), zoom=1.6)
    ax.view_init(elev=5, azim=-90)
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "doc" / "figures" / "mesh_boundary.png"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    train = load_psb("human", ids=[3, 4, 6, 7], segmentation=True)  # small humans (5.6k-5.7k vertices)
    test = load_psb("human", ids=[1], segmentation=True)[0]
    V, F, labels = test.pos.numpy().astype(np.float64), test.data["faces"], test.data["face_labels"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MeshSparsifier(task="boundary", features=FEATURES, prior=None, max_epochs=args.epochs,
                             random_state=0).fit(train)
    k = round(0.5 * len(V))
    coarse, kept = {}, {}
    try:
        import pymeshlab

        ms = pymeshlab.MeshSet()
        ms.add_mesh(pymeshlab.Mesh(V, F))
        ms.meshing_decimation_quadric_edge_collapse(targetfacenum=2 * k - 4, optimalplacement=False)
        coarse["MeshLab QEM"] = (ms.current_mesh().vertex_matrix(), ms.current_mesh().face_matrix())
        k = len(coarse["MeshLab QEM"][0])  # every row at MeshLab's vertex count
    except ImportError:
        fps = FarthestPointSubsampler(k / len(V), random_state=0).fit().transform(test)
        coarse["FPS"], kept["FPS"] = coarsen_mesh((V, F), fps), fps
    est.set_params(target_fraction=k / len(V))
    kept["ISING+MAG (boundary task)"] = est.transform(test)
    coarse["ISING+MAG (boundary task)"] = coarsen_mesh((V, F), kept["ISING+MAG (boundary task)"])
    lock = part_boundary_vertices((V, F), labels)  # labels known: the default sampler with the boundaries locked
    test.data["locked"] = lock
    name = "MeshSparsifier(), boundaries locked"
    kept[name] = MeshSparsifier(target_fraction=k / len(V), random_state=0).fit(train).transform(test)
    coarse[name] = coarsen_mesh((V, F), kept[name])

    # close-up: the shoulder, where the arm's part boundary runs (the boundary vertex farthest up and out)
    b = np.flatnonzero(lock)
    centre = V[b[np.argmax(V[b, 0] + V[b, 2])]]
    fig = plt.figure(figsize=(12, 8))
    ncol = 1 + len(coarse)
    ax = fig.add_subplot(2, ncol, 1, projection="3d")
    draw(ax, V, F, labels, f"original, ground-truth parts\n{len(V)} vertices")
    draw(fig.add_subplot(2, ncol, ncol + 1, projection="3d"), V, F, labels, "close-up", centre, 0.12)
    for j, (name, (Vc, Fc)) in enumerate(coarse.items()):
        err = segmentation_transfer_error((V, F), (Vc, Fc), labels)
        dist = vertex_to_mesh_distance((V, F), (Vc, Fc))
        line = f"{name}: {len(Vc)} vertices, transfer error {100 * err:.2f} %, distance {dist:.3f}"
        if name in kept:
            line += f", part-boundary vertices kept {part_boundary_recall((V, F), kept[name], labels):.2f}"
        print(line)
        carried = transfer_face_labels((V, F), (Vc, Fc), labels)
        draw(fig.add_subplot(2, ncol, 2 + j, projection="3d"), Vc, Fc, carried,
             f"{name}\nlabel transfer error {100 * err:.2f} %, distance {dist:.3f}")
        draw(fig.add_subplot(2, ncol, ncol + 2 + j, projection="3d"), Vc, Fc, carried, "close-up", centre, 0.12)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
