"""MeshSparsifier: field invariance, estimator manners, end-to-end on real PSB meshes."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skising.baselines import RandomSubsampler
from skising.datasets import load_bunny, load_psb
from skising.sparsify import EquivariantMeshField, InvariantMeshField, MeshSparsifier
from skising.sparsify import _fields
from skising.sparsify._sparsifier import _MeshBatch, _MeshItem, mesh_loss


@pytest.fixture(scope="module")
def bunny_mesh():
    g = load_bunny()
    return g.pos.numpy().astype(np.float64), g.data["faces"]


def _field(model, V, F):
    it = _MeshItem(V, F)
    b = _MeshBatch([it], "cpu")
    with torch.no_grad():
        return model(b.pos, b.z, b.edge_index, b.batch, b.num_graphs).numpy()


@pytest.mark.parametrize("cls", ["equivariant", "invariant"])
def test_field_invariant_to_rotation_translation_scale(bunny_mesh, cls):
    if cls == "equivariant":
        pytest.importorskip("e3nn")
        torch.manual_seed(0)
        model = EquivariantMeshField()
    else:
        torch.manual_seed(0)
        model = InvariantMeshField()
    V, F = bunny_mesh
    h = _field(model, V, F)
    assert np.abs(h).max() > 1e-4  # not trivially zero
    for seed in range(3):
        R = Rotation.random(random_state=seed).as_matrix()
        if seed == 2:
            R = R @ np.diag([1.0, 1.0, -1.0])  # a reflection too (E(3))
        t = np.random.default_rng(seed).normal(size=3) * 5
        np.testing.assert_allclose(_field(model, V @ R.T + t, F), h, atol=2e-4 * max(1.0, np.abs(h).max()))
    np.testing.assert_allclose(_field(model, 3.0 * V, F), h, atol=2e-4 * max(1.0, np.abs(h).max()))


def test_field_output_is_centred_per_graph(bunny_mesh):
    """The read-out sees graph-mean-centred features: a graph-constant shift is the bias only."""
    V, F = bunny_mesh
    torch.manual_seed(0)
    model = InvariantMeshField()
    h = _field(model, V, F)
    assert abs(h.mean() - float(model.readout.bias.detach())) < 1e-4


def test_default_field_falls_back_with_warning(monkeypatch):
    monkeypatch.setattr(_fields, "has_e3nn", lambda: False)
    with pytest.warns(UserWarning, match="mesh"):
        m = _fields.default_mesh_field()
    assert isinstance(m, InvariantMeshField)


def test_estimator_manners(bunny_mesh):
    est = MeshSparsifier(max_epochs=1, n_sweeps=4, n_samples=2, random_state=0, field_model=InvariantMeshField)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.transform(bunny_mesh)
    for bad, match in [(dict(loss="rms"), "loss"), (dict(n_samples=1), "n_samples"), (dict(beta=-1.0), "beta"),
                       (dict(target_fraction=1.5), "target_fraction")]:
        with pytest.raises(ValueError, match=match):
            clone(est).set_params(**bad).fit([bunny_mesh])
    with pytest.raises(TypeError, match="meshes"):
        clone(est).fit(bunny_mesh[0])
    with pytest.raises(TypeError, match="field_model"):
        clone(est).set_params(field_model="gnn").fit([bunny_mesh])
    assert est.fit([bunny_mesh]) is est
    m1 = est.transform(bunny_mesh)
    assert m1.dtype == bool and m1.shape == (len(bunny_mesh[0]),)
    # same seed, same output
    est2 = clone(est).fit([bunny_mesh])
    np.testing.assert_array_equal(est2.predict_field(bunny_mesh), est.predict_field(bunny_mesh))
    np.testing.assert_array_equal(est2.transform(bunny_mesh), m1)
    # pickle round trip keeps the learned field
    est3 = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(est3.predict_field(bunny_mesh), est.predict_field(bunny_mesh))
    Vc, Fc = est.coarsen(bunny_mesh)
    assert Fc.max() < len(Vc)
    assert est.score([bunny_mesh]) < 0


def test_sparsifier_beats_random_on_real_meshes():
    try:
        graphs = load_psb("fourleg", ids=[398, 386]) + load_psb("human", ids=[9])
    except FileNotFoundError:
        pytest.skip("PSB data not available (set SKISING_DATA)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MeshSparsifier(max_epochs=3, lr=3e-3, n_samples=4, random_state=0).fit(graphs)
    items = [_MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"]) for g in graphs]
    learned, random = [], []
    for g, it in zip(graphs, items):
        masks = est.sample(it, 3)
        assert 0.4 < masks.mean() < 0.6  # magnetisation penalty keeps about half
        learned.append(np.mean([mesh_loss(it, m) for m in masks]))
        rnd = RandomSubsampler(0.5, random_state=0).fit().sample(g, 3)
        random.append(np.mean([mesh_loss(it, m) for m in rnd]))
    assert np.mean(learned) < 0.9 * np.mean(random), (learned, random)
    assert all(a < b for a, b in zip(learned, random))


def test_exact_budget_flips_only_the_surplus():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from skising.sparsify._sparsifier import exact_budget

    V, F = load_bunny().pos.numpy(), load_bunny().data["faces"]
    ei = _MeshItem(V.astype(np.float64), F).edge_index.numpy()

    @settings(max_examples=30, deadline=None)
    @given(st.integers(0, 2**31 - 1), st.floats(0.05, 0.95), st.integers(1, 501))
    def check(seed, p, k):
        rng = np.random.default_rng(seed)
        keep = rng.random(len(V)) < p
        h = rng.normal(size=len(V))
        out = exact_budget(keep, h, ei, -1.0, k)
        assert out.sum() == k
        # only one direction of flips, and no more than needed
        assert (out & ~keep).sum() == max(0, k - keep.sum()) and (keep & ~out).sum() == max(0, keep.sum() - k)

    check()


def test_exact_budget_drops_the_weakest_kept_vertex():
    from skising.sparsify._sparsifier import exact_budget

    # a path 0-1-2-3 with J = 0: local field = h; three kept, budget two -> the lowest-h kept vertex goes
    ei = np.array([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    out = exact_budget(np.array([True, True, False, True]), np.array([0.5, -1.0, 3.0, 0.2]), ei, 0.0, 2)
    np.testing.assert_array_equal(out, [True, False, False, True])
    # antiferromagnetic J = -1: a kept neighbour lowers the field, a removed one raises it;
    # fields 0.5 - 1 (vertex 0), 3 + 0 (vertex 1), 0.2 + 1 (vertex 3): vertex 0 goes
    out = exact_budget(np.array([True, True, False, True]), np.array([0.5, 3.0, 0.0, 0.2]), ei, -1.0, 2)
    np.testing.assert_array_equal(out, [False, True, False, True])


def test_transform_exact_budget_list_and_single(bunny_mesh):
    """Exactly round(f n) kept per mesh; a list gives a list, and a mesh's mask does not depend on its place."""
    g = load_bunny()
    est = MeshSparsifier(max_epochs=1, n_sweeps=4, n_samples=2, random_state=0, field_model=InvariantMeshField,
                         target_fraction=0.3).fit([bunny_mesh])
    V2 = bunny_mesh[0] * np.array([1.0, 2.0, 1.0])  # a second, different mesh
    single = [est.transform(bunny_mesh), est.transform((V2, bunny_mesh[1]))]
    listed = est.transform([(V2, bunny_mesh[1]), bunny_mesh])
    assert isinstance(listed, list) and len(listed) == 2
    np.testing.assert_array_equal(listed[1], single[0])
    np.testing.assert_array_equal(listed[0], single[1])
    assert int(est.transform(g).sum()) == round(0.3 * 502)
    raw = est.sample(bunny_mesh, 4)
    assert raw.shape == (4, 502)  # sample stays the raw Ising sample
    loose = clone(est).set_params(exact_budget=False).fit([bunny_mesh])
    np.testing.assert_array_equal(loose.transform(bunny_mesh), loose.sample(bunny_mesh, 1)[0])
    for bad, err, match in [(dict(coarsening="quadric"), ValueError, "coarsening"),
                            (dict(exact_budget="yes"), TypeError, "exact_budget")]:
        with pytest.raises(err, match=match):
            clone(est).set_params(**bad).fit([bunny_mesh])


def test_nearest_coarsening_is_the_papers_loss(bunny_mesh):
    from skising.mesh import coarsen_mesh
    from skising.metrics import vertex_to_mesh_distance

    it = _MeshItem(*bunny_mesh)
    keep = np.random.default_rng(0).random(502) < 0.5
    for method in ("nearest", "qem"):
        ref = vertex_to_mesh_distance(bunny_mesh, coarsen_mesh(bunny_mesh, keep, method=method))
        assert mesh_loss(it, keep, "table", method) == pytest.approx(ref, rel=1e-9)


def test_a_vertices_faces_list_is_one_mesh(bunny_mesh):
    from skising.sparsify._sparsifier import is_mesh_list

    V, F = bunny_mesh
    assert not is_mesh_list([V.tolist(), F.tolist()]) and not is_mesh_list((V, F))
    assert is_mesh_list([(V, F), (V, F)]) and is_mesh_list([load_bunny(), load_bunny()]) and is_mesh_list([(V, F)])
    assert is_mesh_list(["a.off", "b.off"])
