"""The greedy quadric removal order and MeshSparsifier(prior="qem")."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skising.datasets import load_bunny
from skising.mesh import coarsen_mesh, mesh_edges, qem_removal_order
from skising.mesh._qem import removal_rank
from skising.sparsify import InvariantMeshField, MeshPriorField, MeshSparsifier
from skising.sparsify._sparsifier import _MeshBatch, _MeshItem


@pytest.fixture(scope="module")
def bunny():
    g = load_bunny()
    V, F = g.pos.numpy().astype(np.float64), np.asarray(g.data["faces"], dtype=np.int64)
    return V, F, qem_removal_order((V, F))


def test_removal_order_is_nested_greedy_kept_sets(bunny):
    V, F, rank = bunny
    n = len(V)
    assert np.array_equal(np.sort(rank), np.arange(n))
    edges = mesh_edges(F)
    for k in (400, 251, 60, 10):  # the run stopped at k keeps exactly the k highest ranks of the full run
        r_k, left = removal_rank(V, F, edges, stop=k)
        assert left == k
        assert np.array_equal(r_k >= n - k, rank >= n - k)


def test_removal_order_kept_set_is_a_valid_coarse_mesh(bunny):
    V, F, rank = bunny
    keep = rank >= len(V) - len(V) // 4
    Vc, Fc = coarsen_mesh((V, F), keep)
    assert len(Vc) == keep.sum() and len(Fc) > 0
    # a closed surface: every coarse edge is shared by exactly two coarse faces
    e = np.sort(np.concatenate([Fc[:, [0, 1]], Fc[:, [1, 2]], Fc[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert (counts == 2).all()


def test_removal_order_invariant_to_rigid_motion_and_scale(bunny):
    V, F, rank = bunny
    R = Rotation.random(random_state=1).as_matrix()
    moved = qem_removal_order((2.5 * V @ R.T + np.array([3.0, -1.0, 7.0]), F))
    n = len(V)
    for k in (n // 2, n // 4):
        assert ((moved >= n - k) == (rank >= n - k)).mean() >= 0.99


def test_untrained_prior_keeps_the_greedy_set_exactly(bunny):
    V, F, rank = bunny
    n = len(V)
    greedy = rank >= n - round(0.5 * n)
    # a prior far above the coupling (|J| x degree): the sample is the greedy kept set
    sp = MeshSparsifier(prior="qem", prior_scale=1e4, max_epochs=0, random_state=0).fit([(V, F)])
    assert np.array_equal(sp.transform((V, F)), greedy)
    # the default scale: the antiferromagnetic coupling reorders a band around the budget's threshold only
    sp = MeshSparsifier(prior="qem", max_epochs=0, random_state=0).fit([(V, F)])
    keep = sp.transform((V, F))
    assert keep.sum() == greedy.sum()
    assert (keep == greedy).mean() > 0.85
    assert keep[rank >= n - n // 4].all() and not keep[rank < n // 4].any()


def test_prior_field_starts_at_the_scaled_score(bunny):
    V, F, rank = bunny
    it = _MeshItem(V, F)
    k = 100
    b = _MeshBatch([it], "cpu", prior_k=[k])
    s = b.z[:, -1].numpy()
    assert (s > 0).sum() == k and np.array_equal(s > 0, rank >= len(V) - k)
    torch.manual_seed(0)
    net = MeshPriorField(InvariantMeshField(in_features=2), scale=3.0)
    with torch.no_grad():
        h = net(b.pos, b.z, b.edge_index, b.batch, b.num_graphs).numpy()
    np.testing.assert_array_equal(h, (torch.tensor(3.0) * b.z[:, -1]).numpy())
    # with gradients (training) the correction network runs; its zero read-out adds exactly nothing
    np.testing.assert_array_equal(net(b.pos, b.z, b.edge_index, b.batch, b.num_graphs).detach().numpy(), h)

    class NoReadout(torch.nn.Module):  # a correction without a `readout`: a zero-initialised gain instead
        def forward(self, pos, z, edge_index, batch=None, num_graphs=1):
            return z[:, 0] + 1.0

    net = MeshPriorField(NoReadout(), scale=3.0)
    with torch.no_grad():
        np.testing.assert_array_equal(net(b.pos, b.z, b.edge_index).numpy(), h)


def test_prior_parameters_validated_and_cloned(bunny):
    V, F, _ = bunny
    with pytest.raises(InvalidParameterError, match="'prior'"):
        MeshSparsifier(prior="greedy").fit([(V, F)])
    with pytest.raises(InvalidParameterError, match="'prior_scale'"):
        MeshSparsifier(prior="qem", prior_scale=0.0).fit([(V, F)])
    sp = MeshSparsifier(prior="qem", prior_scale=5.0)
    p = clone(sp).get_params()
    assert p["prior"] == "qem" and p["prior_scale"] == 5.0
    assert MeshSparsifier().get_params()["prior"] == "qem"


def test_prior_training_is_deterministic_and_moves_off_the_prior(bunny):
    V, F, _ = bunny

    def fit():
        torch.manual_seed(0)  # the same correction network (the estimator deep-copies an instance)
        return MeshSparsifier(prior="qem", field_model=InvariantMeshField(hidden=8, in_features=2), max_epochs=2,
                              n_samples=2, n_sweeps=2, random_state=3).fit([(V, F)])

    a, b = fit(), fit()
    np.testing.assert_array_equal(a.transform((V, F)), b.transform((V, F)))
    np.testing.assert_array_equal(a.field((V, F)), b.field((V, F)))
    assert isinstance(a.field_model_, MeshPriorField)
    assert a.field_model_.correction.readout.weight.abs().sum() > 0  # training reached the correction


def test_removal_loop_compiled_matches_python(bunny):
    """The compiled removal loop and its pure-Python source (the fallback without numba) agree exactly."""
    from skising.mesh._qem import HAVE_NUMBA, _removal_loop

    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    V, F, _ = bunny
    e = mesh_edges(F)
    locked = np.zeros(len(V), dtype=bool)
    locked[::7] = True
    args = (V / 0.01, F, e[0], e[1], 0.0, 100, 1e-10, 16, 1.0, locked)
    for a, b in zip(_removal_loop(*args), _removal_loop.py_func(*args)):
        np.testing.assert_array_equal(a, b)


def test_set_target_fraction_after_fit_changes_the_budget(bunny):
    V, F, rank = bunny
    sp = MeshSparsifier(prior="qem", prior_scale=1e4, max_epochs=0, random_state=0).fit([(V, F)])
    sp.set_params(target_fraction=0.3)
    keep = sp.transform((V, F))
    k = round(0.3 * len(V))
    assert keep.sum() == k and np.array_equal(keep, rank >= len(V) - k)  # the prior is centred at the new budget


def test_prior_accepts_a_correction_without_the_score_column(bunny):
    V, F, rank = bunny
    sp = MeshSparsifier(prior="qem", field_model=InvariantMeshField, max_epochs=1, n_samples=2,
                        n_sweeps=2, random_state=0).fit([(V, F)])  # in_features=1: the curvature column only
    assert sp.field_model_.correction.in_features == 1
    assert sp.transform((V, F)).sum() == round(0.5 * len(V))


def test_flat_collapses_go_by_the_worst_face_quality_they_leave():
    """A zero-error collapse costs ``tol / min(q, 0.3)``, ``q`` the worst quality among the collapsed vertex's
    faces moved onto the target and the target's other faces; checked against a direct computation on every
    collapse of the centre of a flat, irregular grid."""
    from skising.mesh._qem import _flat_cost, _quality, _vertex_face_lists

    rng = np.random.default_rng(0)
    m = 5
    x, y = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    V = np.c_[x.ravel(), y.ravel(), np.zeros(m * m)].astype(np.float64)
    V[:, :2] += rng.uniform(-0.3, 0.3, size=(m * m, 2))
    idx = np.arange(m * m).reshape(m, m)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    F = np.r_[np.c_[a, b, c], np.c_[a, c, d]].astype(np.int64)
    head, tail, nxt = _vertex_face_lists(F, len(V))
    alive, buf = np.ones(len(F), dtype=bool), np.empty(len(F), dtype=np.int64)
    u = idx[2, 2]
    ring = np.unique(F[(F == u).any(1)])
    for w in ring[ring != u]:
        moved = [[w if v == u else v for v in f] for f in F if u in f and w not in f]
        kept = [list(f) for f in F if w in f and u not in f]
        q = min(_quality.py_func(V, *f) for f in moved + kept)
        cost = _flat_cost(u, w, V, 1e-10, F, head, tail, nxt, alive, buf)
        assert cost == pytest.approx(1e-10 / min(q, 0.3), rel=1e-12)


def test_open_boundaries_keep_their_shape():
    """Boundary edges add planes perpendicular to their face to the quadrics (MeshLab's boundary quadrics), so
    the order does not eat into an open boundary: the bunny with its bottom 30 % of faces cut off, thinned to
    half, keeps its boundary vertices within 0.1 mean edge lengths of the coarse surface on average (without
    boundary planes 0.63)."""
    from skising.mesh._distance import _distance

    g = load_bunny()
    V, F = g.pos.numpy().astype(np.float64), np.asarray(g.data["faces"], dtype=np.int64)
    c = V[F].mean(1)
    F = F[c[:, 1] > np.percentile(c[:, 1], 30)]
    used = np.unique(F)
    remap = np.full(len(V), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    V, F = V[used], remap[F]
    e = np.sort(np.r_[F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]], axis=1)
    u, count = np.unique(e, axis=0, return_counts=True)
    boundary = np.unique(u[count == 1])
    assert len(boundary) > 10
    edges = mesh_edges(F)
    ell = np.linalg.norm(V[edges[0]] - V[edges[1]], axis=1).mean()
    rank = qem_removal_order((V, F))
    Vc, Fc = coarsen_mesh((V, F), rank >= len(V) - len(V) // 2)
    assert _distance(V[boundary], Vc, Fc)[0].mean() / ell < 0.1
