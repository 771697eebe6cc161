"""Mesh IO, cotangent Laplacian, curvature, coarsening and vertex-to-mesh distance."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skising.datasets import load_bunny, load_psb, read_off, write_off
from skising.metrics import point_mesh_distance, vertex_to_mesh_distance
from skising.mesh._distance import _point_mesh_distance
from skising.sparsify import coarsen_mesh, cotangent_laplacian, curvature_features


@pytest.fixture(scope="module")
def bunny():
    g = load_bunny()
    return g.pos.numpy().astype(np.float64), g.data["faces"]


@pytest.fixture(scope="module")
def psb_small():
    try:
        gs = load_psb("fourleg", ids=[398]) + load_psb("human", ids=[9])
    except FileNotFoundError:
        pytest.skip("PSB data not available (set SKISING_DATA)")
    return [(g.pos.numpy().astype(np.float64), g.data["faces"]) for g in gs]


# ----------------------------------------------------------------- IO
def _write(tmp_path, text, name="m.off"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_off_roundtrip(tmp_path, bunny):
    V, F = bunny
    p = tmp_path / "b.off"
    write_off(p, V, F)
    V2, F2 = read_off(p)
    np.testing.assert_allclose(V2, V, rtol=1e-7)
    np.testing.assert_array_equal(F2, F)


def test_off_extra_columns_use_slow_path(tmp_path):
    p = _write(tmp_path, "OFF\n3 1 0\n0 0 0 1\n1 0 0 1\n0 1 0 1\n3 0 1 2 255 0 0\n")
    V, F = read_off(p)
    assert V.shape == (3, 3) and F.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize(
    "text, match",
    [
        ("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "announces 4 vertices"),
        ("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n4 0 1 2 3\n", "only triangle"),
        ("OFF\n3 1 0\n0 0 nan\n1 0 0\n0 1 0\n3 0 1 2\n", "NaN"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", "out of range"),
        ("PLY\n3 1 0\n", "not an OFF"),
    ],
)
def test_off_errors_name_the_file(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as e:
        read_off(p)
    assert "m.off" in str(e.value)


def test_off_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.off"):
        read_off(tmp_path / "nope.off")


def test_load_psb_errors():
    with pytest.raises(ValueError, match="category"):
        load_psb("cup")
    with pytest.raises(ValueError, match="ids"):
        load_psb("bust", ids=[1])


# ----------------------------------------------------------------- Laplacian
def _cot_laplacian_reference(V, F):
    """Slow per-face loop: w_ij += cot(angle opposite ij) / 2."""
    n = len(V)
    W = np.zeros((n, n))
    for f in F:
        for k in range(3):
            i, j, o = f[(k + 1) % 3], f[(k + 2) % 3], f[k]
            a, b = V[i] - V[o], V[j] - V[o]
            cot = a @ b / np.linalg.norm(np.cross(a, b))
            W[i, j] += cot / 2
            W[j, i] += cot / 2
    return np.diag(W.sum(1)) - W


def test_cotangent_laplacian_properties_and_reference(bunny):
    V, F = bunny
    L = cotangent_laplacian(V, F)
    assert abs(L - L.T).max() < 1e-12
    np.testing.assert_allclose(np.asarray(L.sum(1)).ravel(), 0, atol=1e-10)
    sub = np.unique(F[:60])
    Vs = V[sub]
    remap = -np.ones(len(V), int)
    remap[sub] = np.arange(len(sub))
    Fs = remap[F[:60]]
    np.testing.assert_allclose(cotangent_laplacian(Vs, Fs).toarray(), _cot_laplacian_reference(Vs, Fs), atol=1e-10)


def test_cotangent_laplacian_matches_libigl(psb_small):
    igl = pytest.importorskip("igl")
    V, F = psb_small[0]
    diff = cotangent_laplacian(V, F) + igl.cotmatrix(V, F)
    assert abs(diff).max() < 1e-9


def test_cotangent_laplacian_matches_robust_laplacian_on_delaunay_grid():
    rl = pytest.importorskip("robust_laplacian")
    x, y = np.meshgrid(np.arange(6.0), np.arange(5.0))
    V = np.c_[x.ravel(), y.ravel(), np.zeros(x.size)]
    idx = np.arange(30).reshape(5, 6)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    F = np.r_[np.c_[a, b, d], np.c_[a, d, c]]
    L_rl, _ = rl.mesh_laplacian(V, F)
    np.testing.assert_allclose(cotangent_laplacian(V, F).toarray(), L_rl.toarray(), atol=1e-8)


def test_curvature_invariance_and_scaling(bunny):
    V, F = bunny
    z = curvature_features(V, F)
    R = Rotation.random(random_state=0).as_matrix()
    np.testing.assert_allclose(curvature_features(V @ R.T + 3.0, F), z, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(curvature_features(2.0 * V, F), 4.0 * z, rtol=1e-6, atol=1e-12)
    # interior vertices of a flat grid have zero curvature
    x, y = np.meshgrid(np.arange(4.0), np.arange(4.0))
    Vg = np.c_[x.ravel(), y.ravel(), np.zeros(16)]
    idx = np.arange(16).reshape(4, 4)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    zg = curvature_features(Vg, np.r_[np.c_[a, b, d], np.c_[a, d, c]])
    np.testing.assert_allclose(zg[[5, 6, 9, 10]], 0, atol=1e-20)


# ----------------------------------------------------------------- coarsening
def _check_valid(Vc, Fc, n_kept):
    assert Vc.shape == (n_kept, 3)
    assert Fc.min() >= 0 and Fc.max() < n_kept
    assert ((Fc[:, 0] != Fc[:, 1]) & (Fc[:, 1] != Fc[:, 2]) & (Fc[:, 0] != Fc[:, 2])).all()
    s = np.sort(Fc, 1)
    assert len(np.unique(s, axis=0)) == len(Fc)


def test_coarsen_real_meshes_valid(psb_small, bunny):
    rng = np.random.default_rng(0)
    for V, F in psb_small + [bunny]:
        keep = rng.random(len(V)) < 0.5
        Vc, Fc, m = coarsen_mesh((V, F), keep, return_mapping=True)
        _check_valid(Vc, Fc, keep.sum())
        np.testing.assert_array_equal(Vc, V[keep])  # positions fixed
        np.testing.assert_array_equal(m[keep], np.arange(keep.sum()))
        assert (m >= 0).all()  # closed connected meshes: every vertex lands somewhere
        # nearly all faces survive as a closed-ish surface: about 2 faces per kept vertex
        assert 1.5 * keep.sum() < len(Fc) < 2.5 * keep.sum()


def test_coarsen_keep_all_is_identity(bunny):
    V, F = bunny
    Vc, Fc = coarsen_mesh((V, F), np.ones(len(V), bool))
    np.testing.assert_array_equal(Vc, V)
    np.testing.assert_array_equal(Fc, F)


def test_coarsen_collapses_onto_nearest_kept_neighbour_and_orphans(bunny):
    V, F = bunny
    from skising.datasets import mesh_edges

    e = mesh_edges(F)
    keep = np.ones(len(V), bool)
    # remove vertex 0 and its whole 1-ring: vertex 0 has no kept neighbour
    ring = np.unique(np.r_[e[1][e[0] == 0], e[0][e[1] == 0]])
    keep[0] = False
    keep[ring] = False
    Vc, Fc, m = coarsen_mesh((V, F), keep, return_mapping=True, method="nearest")
    _check_valid(Vc, Fc, keep.sum())
    kept_idx = np.flatnonzero(keep)
    # the orphan goes to a kept vertex two edges away, the ring to a kept neighbour
    t0 = kept_idx[m[0]]
    assert keep[t0]
    for r in ring:
        nb = np.r_[e[1][e[0] == r], e[0][e[1] == r]]
        kn = nb[keep[nb]]
        best = kn[np.argmin(np.linalg.norm(V[kn] - V[r], axis=1))]
        assert kept_idx[m[r]] == best


def test_coarsen_accepts_spins_and_rejects_bad(bunny):
    V, F = bunny
    spins = np.where(np.arange(len(V)) % 2 == 0, 1, -1)
    Vc, _ = coarsen_mesh((V, F), spins)
    assert len(Vc) == (spins > 0).sum()
    with pytest.raises(ValueError, match="keep"):
        coarsen_mesh((V, F), np.zeros(len(V), bool))
    with pytest.raises(ValueError, match="keep"):
        coarsen_mesh((V, F), np.ones(3, bool))
    with pytest.raises(ValueError, match="mesh"):
        coarsen_mesh((V, F + len(V)), np.ones(len(V), bool))


# ----------------------------------------------------------------- distance
def _brute_point_triangle(p, a, b, c):
    """Plane projection if inside the triangle, else the nearest of the 3 edges."""
    n = np.cross(b - a, c - a)
    n = n / np.linalg.norm(n)
    q = p - (p - a) @ n * n
    T = np.c_[b - a, c - a]
    uv = np.linalg.lstsq(T, q - a, rcond=None)[0]
    if uv.min() >= 0 and uv.sum() <= 1:
        return abs((p - a) @ n)
    best = np.inf
    for s, t in [(a, b), (b, c), (c, a)]:
        d = t - s
        x = np.clip((p - s) @ d / (d @ d), 0, 1)
        best = min(best, np.linalg.norm(p - (s + x * d)))
    return best


@pytest.mark.parametrize("seed", [0, 1])
def test_distance_equals_brute_force(bunny, seed):
    rng = np.random.default_rng(seed)
    V, F = bunny
    keep = rng.random(len(V)) < 0.2
    Vc, Fc = coarsen_mesh((V, F), keep)
    P = V[rng.choice(len(V), 15, replace=False)] + rng.normal(scale=0.01, size=(15, 3))
    ref = np.array([min(_brute_point_triangle(p, *Vc[f]) for f in Fc) for p in P])
    d_np, fid, cp = _point_mesh_distance(P, Vc, Fc)
    np.testing.assert_allclose(d_np, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(cp - P, axis=1), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(point_mesh_distance(P, Vc, Fc), ref, rtol=1e-9, atol=1e-12)


def test_distance_numpy_matches_igl_on_real_mesh(psb_small):
    pytest.importorskip("igl")
    V, F = psb_small[1]
    keep = np.random.default_rng(0).random(len(V)) < 0.5
    Vc, Fc = coarsen_mesh((V, F), keep)
    np.testing.assert_allclose(point_mesh_distance(V, Vc, Fc, backend="numpy"),
                               point_mesh_distance(V, Vc, Fc, backend="igl"), atol=1e-12)


def test_distance_simple_cases():
    V = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    F = np.array([[0, 1, 2]])
    P = np.array([[0.25, 0.25, 2.0], [-1, -1, 0], [2, 0, 0], [1, 1, 0], [0.5, -3, 4]])
    exp = [2.0, np.sqrt(2), 1.0, np.sqrt(0.5), 5.0]
    np.testing.assert_allclose(point_mesh_distance(P, V, F, backend="numpy"), exp)
    # a degenerate (collinear) triangle still gives the segment distance
    Vd = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    np.testing.assert_allclose(_point_mesh_distance(np.array([[1.0, 1, 0]]), Vd, F)[0], [1.0])
    with pytest.raises(ValueError, match="points"):
        point_mesh_distance(np.zeros((2, 2)), V, F)
    with pytest.raises(ValueError, match="backend"):
        point_mesh_distance(P, V, F, backend="cgal")


def test_vertex_to_mesh_zero_when_all_kept_and_normalisations(bunny):
    V, F = bunny
    assert vertex_to_mesh_distance((V, F), (V, F)) == 0.0
    keep = np.random.default_rng(0).random(len(V)) < 0.5
    coarse = coarsen_mesh((V, F), keep)
    d = point_mesh_distance(V, *coarse)
    from skising.sparsify import mean_edge_length

    assert vertex_to_mesh_distance((V, F), coarse, "eq21") == pytest.approx((d**2).sum())
    assert vertex_to_mesh_distance((V, F), coarse, "mean") == pytest.approx(d.mean())
    assert vertex_to_mesh_distance((V, F), coarse) == pytest.approx(10 * d.mean() / mean_edge_length(V, F))
    # scale-free table metric, eq. 21 scales with length^2
    coarse2 = (2 * coarse[0], coarse[1])
    assert vertex_to_mesh_distance((2 * V, F), coarse2) == pytest.approx(vertex_to_mesh_distance((V, F), coarse))
    assert vertex_to_mesh_distance((2 * V, F), coarse2, "eq21") == pytest.approx(4 * (d**2).sum())
    with pytest.raises(ValueError, match="normalization"):
        vertex_to_mesh_distance((V, F), coarse, "rms")


def test_distance_falls_back_to_numpy_without_libigl(bunny, monkeypatch):
    import skising.mesh._distance as mm

    V, F = bunny
    keep = np.random.default_rng(1).random(len(V)) < 0.5
    coarse = coarsen_mesh((V, F), keep)
    ref = vertex_to_mesh_distance((V, F), coarse, "mean")
    monkeypatch.setattr(mm, "_igl_distance", lambda P, V, F: None)
    assert vertex_to_mesh_distance((V, F), coarse, "mean") == pytest.approx(ref, rel=1e-9)
    with pytest.raises(ImportError, match="mesh"):
        point_mesh_distance(V, *coarse, backend="igl")


# ----------------------------------------------------------------- quadric coarsening
def _edge_use(F):
    e = np.sort(np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]]), 1)
    return np.unique(e, axis=0, return_counts=True)[1]


@pytest.mark.parametrize("p", [0.5, 0.2, 0.05])
def test_qem_coarsening_keeps_a_closed_surface_closed(bunny, p):
    """The bunny is closed and genus 0: link-checked collapses keep it so (F = 2 V - 4, every edge in 2 faces)."""
    V, F = bunny
    assert (_edge_use(F) == 2).all() and len(F) == 2 * len(V) - 4
    keep = np.random.default_rng(int(100 * p)).random(len(V)) < p
    Vc, Fc, m = coarsen_mesh((V, F), keep, return_mapping=True)
    _check_valid(Vc, Fc, keep.sum())
    assert (_edge_use(Fc) == 2).all()
    assert len(Fc) == 2 * keep.sum() - 4
    np.testing.assert_array_equal(m[keep], np.arange(keep.sum()))
    assert (m >= 0).all()


def test_qem_coarsening_flat_region_is_exact_and_unflipped():
    """On a plane every collapse has zero quadric error: the coarse surface is the same plane, no face turned over."""
    g = np.stack(np.meshgrid(np.arange(12.0), np.arange(12.0), indexing="ij"), -1).reshape(-1, 2)
    V = np.c_[g + 0.2 * np.random.default_rng(0).random(g.shape), np.zeros(len(g))]
    idx = np.arange(144).reshape(12, 12)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    F = np.r_[np.c_[a, b, c], np.c_[a, c, d]]
    border = np.zeros((12, 12), bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    keep = border.ravel() | (np.random.default_rng(1).random(144) < 0.3)
    Vc, Fc = coarsen_mesh((V, F), keep)
    assert vertex_to_mesh_distance((V, F), (Vc, Fc), "mean") < 1e-12
    n = np.cross(Vc[Fc[:, 1]] - Vc[Fc[:, 0]], Vc[Fc[:, 2]] - Vc[Fc[:, 0]])
    assert (n[:, 2] > 0).all()  # same orientation as the input faces
    assert np.isclose(0.5 * n[:, 2].sum(), 0.5 * np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])[:, 2].sum())


def test_qem_coarsening_beats_nearest_on_real_meshes(psb_small, bunny):
    """Same kept vertices, quadric-ordered connectivity: lower vertex-to-mesh distance than the paper's rule."""
    rng = np.random.default_rng(0)
    for V, F in psb_small + [bunny]:
        keep = rng.random(len(V)) < 0.5
        q = vertex_to_mesh_distance((V, F), coarsen_mesh((V, F), keep))
        n = vertex_to_mesh_distance((V, F), coarsen_mesh((V, F), keep, method="nearest"))
        assert q < 0.95 * n, (q, n)


def test_qem_collapse_loop_compiled_matches_python(bunny):
    """The compiled loop and its pure-Python source (the fallback without numba) agree exactly."""
    from skising.mesh import mesh_edges
    from skising.mesh._qem import HAVE_NUMBA, _collapse_loop

    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    V, F = bunny
    keep = np.random.default_rng(3).random(len(V)) < 0.3
    e = mesh_edges(F)
    for a, b in zip(_collapse_loop(V, F, keep, e[0], e[1], 0.0), _collapse_loop.py_func(V, F, keep, e[0], e[1], 0.0)):
        np.testing.assert_array_equal(a, b)


def test_coarsen_method_is_validated(bunny):
    with pytest.raises(ValueError, match="method"):
        coarsen_mesh(bunny, np.ones(len(bunny[0]), bool), method="quadric")
