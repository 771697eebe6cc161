"""Hostile meshes against the OFF reader and MeshSparsifier.

OFF files with wrong counts, non-triangular and degenerate faces,
unreferenced vertices, NaN coordinates, out-of-range indices, truncation
and garbage; in-memory meshes with the same defects plus coincident or
out-of-range coordinates. Every case either works (a valid mesh / mask /
coarse mesh) or raises ValueError/TypeError/FileNotFoundError naming the
argument or the file.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skising.datasets import read_off, write_off
from skising.sparsify import MeshSparsifier, coarsen_mesh

OK_ERRORS = (ValueError, TypeError, FileNotFoundError)
FEW = settings(max_examples=max(6, settings.default.max_examples // 5))

# an octahedron: 6 vertices, 8 triangles, closed
OCT_V = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
OCT_F = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])


def _named(exc, *names):
    msg = str(exc)
    return isinstance(exc, OK_ERRORS) and any(n in msg for n in names)


# ---------------------------------------------------------------- OFF files
@st.composite
def off_texts(draw):
    V, F = OCT_V.copy(), OCT_F.copy()
    nv, nf = len(V), len(F)
    op = draw(st.sampled_from(["none", "counts", "quad", "degenerate", "unreferenced", "nan", "index",
                               "truncate", "header", "garbage", "letters", "comments", "colors"]))
    vlines = [" ".join(f"{c:g}" for c in v) for v in V]
    flines = ["3 " + " ".join(str(i) for i in f) for f in F]
    head = "OFF"
    if op == "counts":
        nv += draw(st.sampled_from([-2, -1, 1, 3]))
        nf += draw(st.sampled_from([-1, 0, 1, 5]))
    elif op == "quad":
        flines[draw(st.integers(0, nf - 1))] = draw(st.sampled_from(["4 0 1 2 3", "2 0 1", "5 0 1 2 3 4", "0"]))
    elif op == "degenerate":
        flines[draw(st.integers(0, nf - 1))] = draw(st.sampled_from(["3 0 0 1", "3 2 2 2", "3 0 1 0"]))
    elif op == "unreferenced":
        vlines += ["7 7 7", "8 8 8"]
        nv += 2
    elif op == "nan":
        vlines[draw(st.integers(0, nv - 1))] = draw(st.sampled_from(["nan 0 0", "0 inf 0", "0 0 -inf"]))
    elif op == "index":
        flines[draw(st.integers(0, nf - 1))] = draw(st.sampled_from(["3 0 1 6", "3 -1 0 1", "3 0 1 99", "3 0 1 2.5"]))
    elif op == "header":
        head = draw(st.sampled_from(["", "off", "COFF", "OFF 6 8 0", "NOFF", "OFF\n6"]))
    elif op == "letters":
        vlines[0] = "a b c"
    elif op == "comments":
        vlines[0] += "  # a comment"
    elif op == "colors":
        flines = [ln + " 255 0 0" for ln in flines]
    text = f"{head}\n{nv} {nf} 12\n" + "\n".join(vlines + flines) + "\n"
    if head.startswith("OFF "):
        text = f"{head}\n" + "\n".join(vlines + flines) + "\n"
    if op == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    if op == "garbage":
        text = draw(st.text(max_size=60))
    return text


@given(off_texts())
def test_fuzz_read_off(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("off") / "m.off"
    path.write_text(text)
    try:
        V, F = read_off(path)
    except Exception as exc:  # noqa: BLE001
        assert isinstance(exc, OK_ERRORS) and str(path) in str(exc), repr(exc)
        return
    assert V.ndim == 2 and V.shape[1] == 3 and len(V) > 0 and np.isfinite(V).all()
    assert F.ndim == 2 and F.shape[1] == 3 and F.dtype == np.int64
    assert F.size == 0 or (F.min() >= 0 and F.max() < len(V))


def test_read_off_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.off"):
        read_off(tmp_path / "nope.off")
    with pytest.raises(FileNotFoundError, match="directory"):
        read_off(tmp_path)
    with pytest.raises(TypeError, match="path"):
        read_off(3)
    p = tmp_path / "bin.off"
    p.write_bytes(b"OFF\n\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match="bin.off"):
        read_off(p)


def test_write_read_round_trip(tmp_path):
    write_off(tmp_path / "o.off", OCT_V, OCT_F)
    V, F = read_off(tmp_path / "o.off")
    np.testing.assert_allclose(V, OCT_V)
    np.testing.assert_array_equal(F, OCT_F)


# ---------------------------------------------------------------- in-memory meshes
@st.composite
def meshes(draw):
    V, F = OCT_V.copy(), OCT_F.copy()
    op = draw(st.sampled_from(["none", "degenerate", "duplicate_face", "unreferenced", "nan", "oob", "neg",
                               "quad", "2d", "float_faces", "int_float_faces", "no_faces", "no_vertices",
                               "coincident", "huge", "tiny", "scale", "shape", "list", "path", "bad_type"]))
    if op == "degenerate":
        F = np.vstack([F, [[0, 0, 1]]])
    elif op == "duplicate_face":
        F = np.vstack([F, F[:2]])
    elif op == "unreferenced":
        V = np.vstack([V, [[5.0, 5, 5]]])
    elif op == "nan":
        V[draw(st.integers(0, 5)), draw(st.integers(0, 2))] = draw(st.sampled_from([np.nan, np.inf]))
    elif op == "oob":
        F = F.copy()
        F[0, 0] = 6
    elif op == "neg":
        F = F - 1
    elif op == "quad":
        F = np.array([[0, 2, 1, 3]])
    elif op == "2d":
        V = V[:, :2]
    elif op == "float_faces":
        F = F + 0.5
    elif op == "int_float_faces":
        F = F.astype(float)
    elif op == "no_faces":
        F = np.zeros((0, 3), int)
    elif op == "no_vertices":
        V = np.zeros((0, 3))
    elif op == "coincident":
        V = np.zeros_like(V)
    elif op == "huge":
        V = V * 1e306
    elif op == "tiny":
        V = V * 1e-320
    elif op == "scale":
        V = V * draw(st.sampled_from([1e-6, 1e6]))
    elif op == "shape":
        return (V.ravel(), F)
    elif op == "list":
        return [V.tolist(), F.tolist()]
    elif op == "path":
        return "/nonexistent/mesh.off"
    elif op == "bad_type":
        return draw(st.sampled_from([None, 3, "x", (V,), {"v": V}]))
    return (V, F)


@pytest.fixture(scope="module")
def fitted():
    return MeshSparsifier(max_epochs=1, n_sweeps=1, n_samples=2, random_state=0).fit([(OCT_V, OCT_F)])


@given(meshes(), st.sampled_from(["transform", "coarsen", "field"]))
def test_fuzz_mesh_sparsifier_inference(fitted, mesh, method):
    try:
        out = getattr(fitted, method)(mesh)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "mesh"), repr(exc)
        return
    V = np.asarray(mesh[0], dtype=float)
    if method == "transform":
        assert out.dtype == bool and out.shape == (len(V),)
    elif method == "field":
        assert out.shape == (len(V),) and np.isfinite(out).all()
    else:
        Vc, Fc = out
        assert np.isfinite(Vc).all() and (Fc.size == 0 or Fc.max() < len(Vc))


@FEW
@given(st.lists(meshes(), min_size=0, max_size=2))
def test_fuzz_mesh_sparsifier_fit(meshes_):
    est = MeshSparsifier(max_epochs=1, n_sweeps=1, n_samples=2, random_state=0)
    try:
        est.fit(meshes_)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "meshes"), repr(exc)
        return
    assert len(est.history_) == 1 and np.isfinite(est.history_[0]["loss"])


@given(meshes(), st.sampled_from(["ok", "short", "int", "none_kept", "all_kept", "nan", "2d"]))
def test_fuzz_coarsen_mesh(mesh, mask_kind):
    n = len(OCT_V)
    rng = np.random.default_rng(0)
    keep = {
        "ok": rng.random(n) < 0.5, "short": np.ones(n - 1, bool), "int": (rng.random(n) < 0.5).astype(int),
        "none_kept": np.zeros(n, bool), "all_kept": np.ones(n, bool), "nan": np.full(n, np.nan),
        "2d": np.ones((n, 2), bool),
    }[mask_kind]
    try:
        Vc, Fc = coarsen_mesh(mesh, keep)[:2]
    except Exception as exc:  # noqa: BLE001
        assert _named(exc, "mesh", "keep"), repr(exc)
        return
    assert np.isfinite(Vc).all() and Vc.ndim == 2 and Vc.shape[1] == 3
    assert Fc.size == 0 or (Fc.min() >= 0 and Fc.max() < len(Vc))


# ---------------------------------------------------------------- locked vertices in the greedy order
def _grid_sphere(m):
    """A closed, irregular-enough mesh: an m x m grid per cube face, projected to the unit sphere."""
    from skising.datasets import load_bunny

    if m == 0:
        g = load_bunny()
        return g.pos.numpy().astype(np.float64), np.asarray(g.data["faces"])
    import itertools

    pts, faces, index = [], [], {}
    t = np.linspace(-1, 1, m + 1)
    for axis, sign in itertools.product(range(3), (-1, 1)):  # loop over the 6 cube faces
        ids = np.empty((m + 1, m + 1), dtype=np.int64)
        for i, a in enumerate(t):
            for j, b in enumerate(t):
                p = np.insert(np.array([a, b]), axis, sign)
                key = tuple(np.round(p, 9))
                if key not in index:
                    index[key] = len(pts)
                    pts.append(p)
                ids[i, j] = index[key]
        for i in range(m):
            for j in range(m):
                a, b, c, d = ids[i, j], ids[i + 1, j], ids[i + 1, j + 1], ids[i, j + 1]
                faces += [[a, b, c], [a, c, d]] if sign > 0 else [[a, c, b], [a, d, c]]
    V = np.array(pts)
    return V / np.linalg.norm(V, axis=1, keepdims=True), np.array(faces)


@given(m=st.sampled_from([0, 3, 4]), p=st.floats(0.0, 0.6), seed=st.integers(0, 2**16), stop=st.integers(0, 60))
@FEW
def test_fuzz_locked_vertices_are_never_removed(m, p, seed, stop):
    from skising.mesh import mesh_edges
    from skising.mesh._qem import removal_rank

    V, F = _grid_sphere(m)
    n = len(V)
    locked = np.random.default_rng(seed).random(n) < p
    rank, left = removal_rank(V, F, mesh_edges(F), stop=stop, locked=locked)
    assert np.array_equal(np.sort(rank), np.arange(n))
    assert left >= max(int(locked.sum()), min(stop, n))
    assert (rank[locked] >= n - left).all()  # locked vertices are among the ones never removed
