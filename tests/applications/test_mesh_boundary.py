"""Part-boundary task of MeshSparsifier: label transfer metric, PSB segmentation loader, task option, features."""

import numpy as np
import pytest
import torch

from skising.datasets import load_bunny, load_psb, load_psb_segmentation
from skising.mesh import coarsen_mesh
from skising.mesh._features import vertex_features
from skising.mesh._labels import part_boundary_mask
from skising.metrics import part_boundary_recall, segmentation_transfer_error
from skising.sparsify import EquivariantMeshField, MeshSparsifier
from skising.sparsify._sparsifier import _MeshItem, mesh_loss


def _bunny_labels(g):
    """Two parts of the bunny, split by a plane: a boundary curve across the surface."""
    F = g.data["faces"]
    cen = g.pos.numpy()[F].mean(1)
    return (cen[:, 1] > np.median(cen[:, 1])).astype(np.int64)


@pytest.fixture(scope="module")
def bunny():
    g = load_bunny()
    return g, _bunny_labels(g)


def test_keeping_the_part_boundary_beats_dropping_it(bunny):
    g, lab = bunny
    V, F = g.pos.numpy().astype(np.float64), g.data["faces"]
    b = part_boundary_mask(F, lab, len(V))
    assert 0 < b.sum() < 0.3 * len(V)
    base = np.random.default_rng(0).random(len(V)) < 0.5
    with_b, without_b = base | b, base & ~b
    err_with = segmentation_transfer_error((V, F), coarsen_mesh((V, F), with_b), lab)
    err_without = segmentation_transfer_error((V, F), coarsen_mesh((V, F), without_b), lab)
    assert err_with < err_without
    assert err_with < 0.01 < err_without
    assert part_boundary_recall((V, F), with_b, lab) == 1.0 and part_boundary_recall((V, F), without_b, lab) == 0.0
    assert segmentation_transfer_error((V, F), (V, F), lab) == 0.0  # the mesh itself carries its labels
    it = _MeshItem(V, F).set_labels(lab)  # the training loss ranks the two masks the same way
    assert mesh_loss(it, with_b, task="boundary", boundary_weight=30.0) < mesh_loss(
        it, without_b, task="boundary", boundary_weight=30.0)


def test_transfer_error_on_a_hand_checked_case():
    """A square in two parts along y = 0.5; a coarse square with only the diagonal cannot follow the line."""
    x, y = np.meshgrid([0.0, 0.5, 1.0], [0.0, 0.5, 1.0])
    V = np.c_[x.ravel(), y.ravel(), np.zeros(9)]
    F = np.array([[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4], [3, 4, 7], [3, 7, 6], [4, 5, 8], [4, 8, 7]])
    lab = (V[F].mean(1)[:, 1] > 0.5).astype(int)
    assert segmentation_transfer_error((V, F), (V, F), lab) == 0.0
    keep = np.zeros(9, bool)
    keep[[0, 2, 6, 8]] = True
    err = segmentation_transfer_error((V, F), coarsen_mesh((V, F), keep), lab)
    assert 0.0 < err <= 0.5


def test_label_errors_name_the_argument(bunny, tmp_path):
    g, lab = bunny
    with pytest.raises(ValueError, match="face_labels"):
        segmentation_transfer_error(g, g, lab[:-1])
    with pytest.raises(TypeError, match="face_labels"):
        segmentation_transfer_error(g, g, lab + 0.5)
    with pytest.raises(ValueError, match="y"):
        MeshSparsifier(task="boundary", max_epochs=1).fit([g])  # no labels anywhere
    with pytest.raises(ValueError, match=r"y\[0\]"):
        MeshSparsifier(task="boundary", max_epochs=1).fit([g], [lab[:10]])
    with pytest.raises(ValueError, match="y"):
        MeshSparsifier(task="boundary", max_epochs=1).fit([g], [lab, lab])
    with pytest.raises(ValueError, match="no part labels"):
        mesh_loss(_MeshItem(g.pos.numpy().astype(float), g.data["faces"]), np.ones(g.num_nodes, bool),
                  task="boundary", boundary_weight=1.0)
    for param, value in [("task", "parts"), ("features", ("curvature", "colour")), ("features", ()),
                         ("boundary_weight", -1.0)]:
        with pytest.raises(ValueError, match=param):
            MeshSparsifier(max_epochs=1, **dict({"task": "boundary"}, **{param: value})).fit([g], [lab])


def test_psb_segmentation_loader_errors(tmp_path):
    with pytest.raises(ValueError, match="category"):
        load_psb_segmentation("dog")
    d = tmp_path / "psb" / "chair"
    (d / "gt").mkdir(parents=True)
    (d / "101.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    with pytest.raises(FileNotFoundError, match="101.seg"):
        load_psb_segmentation("chair", ids=[101], data_home=tmp_path)
    (d / "gt" / "101.seg").write_text("0\n1\n")
    with pytest.raises(ValueError, match="2 segment ids for a mesh with 1 faces"):
        load_psb("chair", ids=[101], data_home=tmp_path, segmentation=True)
    (d / "gt" / "101.seg").write_text("3\n")
    g = load_psb("chair", ids=[101], data_home=tmp_path, segmentation=True)[0]
    assert g.data["face_labels"].tolist() == [3] and load_psb_segmentation("chair", [101], tmp_path)[0].tolist() == [3]


def test_boundary_task_trains_and_transforms_without_labels(bunny):
    g, lab = bunny
    labelled = load_bunny()
    labelled.data["face_labels"] = lab
    kw = dict(task="boundary", features=("curvature", "qem_cost", "concavity"), max_epochs=1, n_sweeps=2,
              random_state=0)
    a = MeshSparsifier(**kw).fit([g], [lab])
    b = MeshSparsifier(**kw).fit([labelled])  # labels from data["face_labels"]
    np.testing.assert_array_equal(a.transform(load_bunny()), b.transform(load_bunny()))
    assert int(a.transform(load_bunny()).sum()) == round(0.5 * g.num_nodes)
    assert a.field_model_.correction.in_features == 4  # 3 features + the prior's score (prior="qem")
    s = a.score([g], [lab])
    geo = MeshSparsifier(**dict(kw, task="geometry")).fit([g])
    assert np.isfinite(s) and s < 0 and np.isfinite(geo.score([g]))


def test_vertex_features_are_rotation_invariant_and_see_creases():
    g = load_bunny()
    V, F = g.pos.numpy().astype(np.float64), g.data["faces"]
    from skising.mesh import mesh_edges

    e = mesh_edges(F)
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    Q *= np.sign(np.linalg.det(Q))  # a rotation (a reflection turns the faces inside out)
    names = ("curvature", "qem_cost", "concavity")
    np.testing.assert_allclose(vertex_features(V, F, e, names), vertex_features(V @ Q.T, F, e, names), atol=1e-8)
    # a flat square fan: no curvature, no collapse cost, no concavity at the centre
    P = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0]])
    Ff = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    np.testing.assert_allclose(vertex_features(P, Ff, mesh_edges(Ff), names)[4], 0.0, atol=1e-12)
    P[4, 2] = -0.5  # pushed in (faces point +z): concave
    assert vertex_features(P, Ff, mesh_edges(Ff), ("concavity",))[4, 0] > 0
    P[4, 2] = 0.5
    assert vertex_features(P, Ff, mesh_edges(Ff), ("concavity",))[4, 0] < 0


def test_multi_input_equivariant_field_matches_e3nn():
    torch.manual_seed(0)
    pos, z = torch.randn(12, 3), torch.rand(12, 3)
    ei = torch.randint(0, 12, (2, 40))
    net = EquivariantMeshField(channels=4, in_features=3)
    h = net(pos, z, ei)
    net.use_e3nn_tp = True
    torch.testing.assert_close(net(pos, z, ei), h, atol=1e-5, rtol=1e-5)
    net.use_e3nn_tp = False
    Q, _ = torch.linalg.qr(torch.randn(3, 3))
    torch.testing.assert_close(net(pos @ Q.T, z, ei), h, atol=1e-5, rtol=1e-5)


def test_locked_part_boundaries_survive_the_quadric_order(bunny):
    """Labels known: locking the part-boundary vertices in the greedy order keeps the segmentation in the coarse
    mesh, where the plain order loses some of it; no locked vertex is removed, and nothing locked = the plain order."""
    from skising.mesh import part_boundary_vertices, qem_removal_order

    g, lab = bunny
    V, F = g.pos.numpy().astype(np.float64), g.data["faces"]
    n = len(V)
    b = part_boundary_vertices((V, F), lab)
    np.testing.assert_array_equal(b, part_boundary_mask(F, lab, n))
    plain = qem_removal_order((V, F))
    np.testing.assert_array_equal(qem_removal_order((V, F), locked=np.zeros(n, bool)), plain)
    for frac in (0.5, 0.2):
        k = int(frac * n)
        rank = qem_removal_order((V, F), locked=b)
        assert np.array_equal(np.sort(rank), np.arange(n)) and (rank[b] >= n - k).all()
        keep, keep_plain = rank >= n - k, plain >= n - k
        err = segmentation_transfer_error((V, F), coarsen_mesh((V, F), keep), lab)
        err_plain = segmentation_transfer_error((V, F), coarsen_mesh((V, F), keep_plain), lab)
        assert err < 0.5 * err_plain and err < 1e-3


def test_locked_and_boundary_inputs_are_checked(bunny):
    from skising.mesh import part_boundary_vertices, qem_removal_order

    g, lab = bunny
    V, F = g.pos.numpy().astype(np.float64), g.data["faces"]
    with pytest.raises(ValueError, match="locked"):
        qem_removal_order((V, F), locked=np.zeros(len(V) - 1, bool))
    with pytest.raises(ValueError, match="locked"):
        qem_removal_order((V, F), locked=np.full(len(V), 2))
    np.testing.assert_array_equal(qem_removal_order((V, F), locked=torch.zeros(len(V), dtype=torch.bool)),
                                  qem_removal_order((V, F)))
    with pytest.raises(ValueError, match="face_labels"):
        part_boundary_vertices((V, F), lab[:-1])


def _locked_bunny():
    g = load_bunny()
    lab = _bunny_labels(g)
    from skising.mesh import part_boundary_vertices

    g.data["locked"] = part_boundary_vertices(g, lab)
    return g, lab


def test_mesh_sparsifier_keeps_locked_vertices():
    """data['locked'] vertices are in every mask, at the exact budget, whatever the batch; locking the part
    boundaries carries the segmentation to the coarse mesh (labels known at simplification time)."""
    from skising.sparsify._sparsifier import LOCKED_FIELD

    g, lab = _locked_bunny()
    b = g.data["locked"]
    V, F = g.pos.numpy().astype(np.float64), g.data["faces"]
    plain = load_bunny()
    sp = MeshSparsifier(random_state=0).fit([plain])
    keep, keep_plain = sp.transform(g), sp.transform(plain)
    k = round(0.5 * len(V))
    assert keep.sum() == keep_plain.sum() == k and keep[b].all() and not keep_plain[b].all()
    err = segmentation_transfer_error((V, F), coarsen_mesh((V, F), keep), lab)
    assert err < 1e-3 < segmentation_transfer_error((V, F), coarsen_mesh((V, F), keep_plain), lab)
    np.testing.assert_array_equal(sp.transform([plain, g])[1], keep)  # same mask in a batch
    assert (sp.field(g)[b] == LOCKED_FIELD).all()
    assert sp.sample(g, n_samples=3)[:, b].all()
    loose = MeshSparsifier(exact_budget=False, random_state=0).fit([plain])
    assert loose.transform(g)[b].all()


def test_mesh_sparsifier_trains_with_locked_vertices():
    g, _ = _locked_bunny()
    sp = MeshSparsifier(prior=None, max_epochs=1, n_samples=2, n_sweeps=2, random_state=0).fit([g])
    assert np.isfinite(sp.history_[0]["loss"]) and sp.transform(g)[g.data["locked"]].all()


def test_locked_vertices_are_checked():
    g, _ = _locked_bunny()
    with pytest.raises(ValueError, match=r"X\[0\].data\['locked'\].*target_fraction"):
        MeshSparsifier(target_fraction=0.05, random_state=0).fit([load_bunny()]).transform([g])
    g.data["locked"] = g.data["locked"][:-1]
    with pytest.raises(ValueError, match=r"data\['locked'\]"):
        MeshSparsifier(random_state=0).fit([g])
