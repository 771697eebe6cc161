"""Application estimators for the common estimator-check suite (tests/test_common.py).

Each entry: (factory of a cheap instance, fit-args factory, transform/predict input
factory, (parameter, bad value) that fit must reject naming the parameter).
"""

import numpy as np

from skising.datasets import load_bunny, make_ba2motifs, make_banded_binary_matrices
from skising.explain import IsingGraphExplainer
from skising.fields import GINClassifier
from skising.precondition import SAIPreconditioner
from skising.segment import IsingSegmenter, UNetSegmenter
from skising.sparsify import MeshSparsifier, PointSamplerSubsampler


def _images():
    rng = np.random.default_rng(0)
    X = rng.random((4, 16, 16, 3))
    return X, X[..., 0] > 0.5


def _labelled_bunny():
    """The bunny with a two-part segmentation (a plane cut) in data["face_labels"]."""
    g = load_bunny()
    cen = g.pos.numpy()[g.data["faces"]].mean(1)
    g.data["face_labels"] = (cen[:, 1] > np.median(cen[:, 1])).astype(np.int64)
    return g


def _classifier():
    import torch

    torch.manual_seed(0)
    return GINClassifier(10)


_CLF = _classifier()

EXTRA_ESTIMATORS = {
    "SAIPreconditioner": (
        lambda: SAIPreconditioner(max_epochs=1, batch_size=4, random_state=0),
        lambda: (make_banded_binary_matrices(4, random_state=0),),
        lambda: make_banded_binary_matrices(5, random_state=1)[4],
        ("coupling", float("nan")),
    ),
    "IsingGraphExplainer": (
        lambda: IsingGraphExplainer(_CLF, max_epochs=1, random_state=0),
        lambda: (make_ba2motifs(8, random_state=0),),
        lambda: make_ba2motifs(3, random_state=1),
        ("beta", -1.0),
    ),
    "IsingSegmenter": (
        lambda: IsingSegmenter(max_epochs=1, batch_size=4, random_state=0),
        _images,
        lambda: _images()[0],
        ("beta", -1.0),
    ),
    "UNetSegmenter": (
        lambda: UNetSegmenter(max_epochs=1, batch_size=4, random_state=0),
        _images,
        lambda: _images()[0],
        ("lr", -1.0),
    ),
    "MeshSparsifier": (
        lambda: MeshSparsifier(max_epochs=1, random_state=0),
        lambda: ([load_bunny()],),
        load_bunny,
        ("beta", -1.0),
    ),
    "MeshSparsifier_boundary": (  # the part-boundary task with the extra vertex features
        lambda: MeshSparsifier(task="boundary", features=("curvature", "qem_cost", "concavity"), max_epochs=1,
                               random_state=0),
        lambda: ([_labelled_bunny()],),
        load_bunny,
        ("boundary_weight", -1.0),
    ),
    "PointSamplerSubsampler": (
        lambda: PointSamplerSubsampler(max_epochs=1, random_state=0),
        lambda: ([load_bunny()],),
        lambda: [load_bunny()],
        ("target_fraction", 1.5),
    ),
}
