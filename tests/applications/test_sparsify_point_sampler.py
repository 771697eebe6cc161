"""POINT SAMPLER baseline, exact distance shortcut, best-epoch selection and clipping of MeshSparsifier."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skising.baselines import RandomSubsampler
from skising.datasets import load_bunny, load_psb
from skising.mesh._distance import _distance
from skising.sparsify import DevConvMeshField, InvariantMeshField, MeshSparsifier, PointSamplerSubsampler
from skising.mesh._coarsen import _coarsen
from skising.sparsify._sparsifier import _MeshBatch, _MeshItem, _vertex_distances, mesh_loss


@pytest.fixture(scope="module")
def bunny():
    g = load_bunny()
    return g.pos.numpy().astype(np.float64), g.data["faces"]


def test_vertex_distances_skip_is_exact(bunny):
    V, F = bunny
    it = _MeshItem(V, F)
    rng = np.random.default_rng(0)
    for p in (0.2, 0.5, 0.9):
        keep = rng.random(len(V)) < p
        Vc, Fc, _ = _coarsen(V, F, keep, it.edges)
        full = _distance(V, Vc, Fc)[0]
        np.testing.assert_allclose(_vertex_distances(V, keep, Vc, Fc), full, atol=1e-12)
    keep = np.ones(len(V), dtype=bool)
    Vc, Fc, _ = _coarsen(V, F, keep, it.edges)
    assert mesh_loss(it, keep) == 0.0


def test_devconv_field_translation_scale_invariant(bunny):
    V, F = bunny
    torch.manual_seed(0)
    model = DevConvMeshField(16)

    def h(V_):
        b = _MeshBatch([_MeshItem(V_, F)], "cpu")
        with torch.no_grad():
            return model(b.pos, b.z, b.edge_index, b.batch, b.num_graphs).numpy()

    h0 = h(V)
    assert h0.shape == (len(V),) and np.abs(h0).max() > 1e-4
    assert abs(h0.mean() - float(model.readout.bias.detach())) < 1e-4  # centred per graph
    np.testing.assert_allclose(h(V + np.array([3.0, -1.0, 2.0])), h0, atol=1e-4)
    np.testing.assert_allclose(h(2.5 * V), h0, atol=1e-4)


def test_independent_sampling_matches_sigmoid():
    est = PointSamplerSubsampler(random_state=0, beta=0.7)
    est._init_random(torch.device("cpu"))
    h = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5])
    x = est._sample_batch(None, h, None, 20000, est._torch_gen)
    assert set(np.unique(x.numpy())) <= {-1.0, 1.0}
    p = (x > 0).float().mean(0)
    np.testing.assert_allclose(p.numpy(), torch.sigmoid(2 * 0.7 * h).numpy(), atol=0.015)


def test_point_sampler_manners(bunny):
    est = PointSamplerSubsampler(max_epochs=1, n_samples=2, random_state=0, field_model=DevConvMeshField(8))
    assert clone(est).get_params()["selection"] == "gumbel"
    with pytest.raises(NotFittedError):
        est.transform(bunny)
    for bad, match in [(dict(target_fraction=1.5), "target_fraction"), (dict(selection="best"), "selection"),
                       (dict(n_samples=1), "n_samples"), (dict(max_grad_norm=-1.0), "max_grad_norm")]:
        with pytest.raises(ValueError, match=match):
            clone(est).set_params(**bad).fit([bunny])
    assert est.fit([bunny]) is est
    n = len(bunny[0])
    for sel in ("gumbel", "topk"):
        est.set_params(selection=sel)
        m = est.transform(bunny)
        assert m.dtype == bool and m.sum() == round(0.5 * n)
        masks = est.select(bunny, 3)
        assert masks.shape == (3, n) and (masks.sum(1) == round(0.5 * n)).all()
    est.set_params(selection="gumbel")
    masks = est.select(bunny, 2)
    assert (masks[0] != masks[1]).any()  # distinct draws
    np.testing.assert_array_equal(est.select(bunny, 2), masks)  # a function of the fitted state
    est.set_params(selection="sample")
    assert 0.3 < est.transform(bunny).mean() < 0.7
    est2 = pickle.loads(pickle.dumps(clone(est).fit([bunny])))
    np.testing.assert_allclose(est2.predict_field(bunny), est.predict_field(bunny), atol=1e-6)
    assert est.score([bunny]) < 0


def test_gumbel_noise_is_keyed_on_the_mesh(bunny):
    """Equal-size meshes get independent Gumbel noise; a mesh's mask does not depend on the list it sits in."""
    V, F = bunny
    est = PointSamplerSubsampler(max_epochs=0, random_state=0, field_model=DevConvMeshField(8)).fit([bunny])
    scaled = (2.0 * V, F)  # same size, same (scale-invariant) field, other content
    np.testing.assert_allclose(est.field(scaled), est.field(bunny), atol=1e-5)
    a, b = est.transform(bunny), est.transform(scaled)
    assert (a != b).any()
    masks = est.transform([scaled, bunny])
    np.testing.assert_array_equal(masks[0], b)
    np.testing.assert_array_equal(masks[1], a)


def test_val_meshes_select_best_epoch_and_clipping(bunny):
    est = MeshSparsifier(field_model=InvariantMeshField, max_epochs=3, n_samples=2, n_sweeps=2, lr=1e-2,
                         max_grad_norm=0.5, random_state=0)
    est.fit([bunny], X_val=[bunny])
    scores = [h["val_score"] for h in est.history_]
    assert len(scores) == 3 and est.best_epoch_ == int(np.argmax(scores))
    # the kept parameters are those of the best epoch: its score is reproduced
    assert est._validation_score(est._prepare([bunny])) == pytest.approx(max(scores))
    with pytest.raises(TypeError, match="X_val"):
        clone(est).fit([bunny], X_val=bunny[0])
    with pytest.warns(FutureWarning, match="X_val"):  # the former name still works
        clone(est).set_params(max_epochs=1).fit([bunny], val_meshes=[bunny])


def test_clipping_bounds_the_step(bunny):
    """Clipping the gradient to a tiny norm makes Adam's steps eps-dominated: the parameters barely move."""
    kw = dict(field_model=InvariantMeshField, n_samples=2, n_sweeps=2, lr=1e-2, random_state=0)
    init = MeshSparsifier(**kw, max_epochs=0).fit([bunny]).field_model_.state_dict()

    def moved(est):
        sd = est.fit([bunny, bunny]).field_model_.state_dict()
        return sum(float((sd[k] - init[k]).abs().sum()) for k in init)

    tiny = moved(MeshSparsifier(**kw, max_epochs=1, max_grad_norm=1e-12))
    free = moved(MeshSparsifier(**kw, max_epochs=1))
    assert free > 0 and tiny < 0.01 * free


def test_point_sampler_beats_random_on_real_meshes():
    try:
        graphs = load_psb("fourleg", ids=[398, 386]) + load_psb("human", ids=[9])
    except FileNotFoundError:
        pytest.skip("PSB data not available (set SKISING_DATA)")
    items = [_MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"]) for g in graphs]
    random = np.mean([np.mean([mesh_loss(it, m) for m in RandomSubsampler(0.5, random_state=0).fit().sample(g, 3)])
                      for g, it in zip(graphs, items)])
    ratios = []
    for seed in (0, 1):  # the estimator's defaults (10 epochs); two seeds, since one short fit is noisy
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = PointSamplerSubsampler(random_state=seed).fit(graphs)
        ratios.append(np.mean([np.mean([mesh_loss(it, m) for m in est.select(it, 3)]) for it in items]) / random)
    assert max(ratios) < 1.0 and np.mean(ratios) < 0.95, ratios
