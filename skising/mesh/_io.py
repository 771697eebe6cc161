"""Triangle-mesh input/output (OFF), vectorised, with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_off", "write_off", "mesh_edges"]


def read_off(path):
    """Read an OFF triangle mesh.

    Parameters
    ----------
    path : str or Path
        The ``.off`` file (triangles only).

    Returns
    -------
    vertices : ndarray (n, 3) float64
    faces : ndarray (f, 3) int64

    Raises
    ------
    FileNotFoundError, ValueError (naming the file) on malformed content:
    bad header, wrong counts, non-triangle faces, NaN coordinates,
    out-of-range indices.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from skising.mesh import read_off
    >>> V, F = read_off(files("skising.datasets") / "data" / "bunny-502v.off")
    >>> V.shape, F.shape
    ((502, 3), (1000, 3))
    """
    if not isinstance(path, (str, bytes)) and not hasattr(path, "__fspath__"):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a mesh file" if path.is_dir() else "no such mesh file"
        raise FileNotFoundError(f"{path}: {what}")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a text OFF file ({exc.reason} at byte {exc.start})") from exc
    tokens_lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in tokens_lines if ln]
    if not lines:
        raise ValueError(f"{path}: empty file")
    head = lines[0]
    if head.startswith("OFF"):
        rest = head[3:].split()
        body = lines[1:]
        if not rest:
            if not body:
                raise ValueError(f"{path}: missing vertex/face counts after the OFF header")
            rest, body = body[0].split(), body[1:]
    else:
        raise ValueError(f"{path}: not an OFF file (first line {head[:20]!r})")
    try:
        nv, nf = int(rest[0]), int(rest[1])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{path}: bad counts line {' '.join(rest)!r}") from exc
    if nv <= 0 or nf < 0:
        raise ValueError(f"{path}: invalid counts {nv} vertices, {nf} faces")
    if len(body) < nv + nf:
        raise ValueError(f"{path}: header announces {nv} vertices and {nf} faces, file has {len(body)} data lines")
    V = _fast_block(body[:nv], 3, float)
    if V is None:
        try:
            V = np.array([ln.split()[:3] for ln in body[:nv]], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"{path}: malformed vertex line") from exc
    if V.shape != (nv, 3):
        raise ValueError(f"{path}: every vertex needs 3 coordinates")
    if not np.isfinite(V).all():
        raise ValueError(f"{path}: NaN or infinite vertex coordinates")
    FF = _fast_block(body[nv : nv + nf], 4, int)
    if FF is not None and (FF[:, 0] == 3).all():
        F = np.ascontiguousarray(FF[:, 1:])
        if F.size and (F.min() < 0 or F.max() >= nv):
            raise ValueError(f"{path}: face index out of range [0, {nv})")
        return V, F
    rows = [ln.split() for ln in body[nv : nv + nf]]
    try:
        counts = np.array([int(r[0]) for r in rows], dtype=np.int64) if rows else np.zeros(0, np.int64)
    except ValueError as exc:
        raise ValueError(f"{path}: malformed face line (the first number must be the vertex count)") from exc
    if (counts != 3).any():
        k = int(np.flatnonzero(counts != 3)[0])
        raise ValueError(f"{path}: face {k} has {counts[k]} vertices; only triangle meshes are supported")
    try:
        F = np.array([r[1:4] for r in rows], dtype=np.int64).reshape(-1, 3)
    except ValueError as exc:
        raise ValueError(f"{path}: malformed face line") from exc
    if F.size and (F.min() < 0 or F.max() >= nv):
        raise ValueError(f"{path}: face index out of range [0, {nv})")
    return V, F


def _fast_block(lines, width, kind):
    """Parse ``lines`` of exactly ``width`` numbers each in one numpy call, or None."""
    if not lines:
        return np.zeros((0, width), dtype=np.float64 if kind is float else np.int64)
    try:
        arr = np.array(" ".join(lines).split(), dtype=np.float64)
    except ValueError:
        return None
    if arr.size != width * len(lines):
        return None
    arr = arr.reshape(len(lines), width)
    if kind is int:
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            return None
        arr = arr.astype(np.int64)
    return arr


def write_off(path, vertices, faces):
    """Write a triangle mesh as OFF.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; overwritten if it exists.
    vertices : array-like of shape (n_vertices, 3)
        Vertex coordinates (written as float64, 9 significant digits).
    faces : array-like of shape (n_faces, 3)
        Triangle vertex indices in ``[0, n_vertices)``; may be empty.

    Raises
    ------
    ValueError
        If ``vertices`` or ``faces`` has the wrong shape, or a face index is
        out of range.

    Examples
    --------
    >>> import os, tempfile
    >>> from skising.mesh import read_off, write_off
    >>> path = os.path.join(tempfile.mkdtemp(), "tri.off")
    >>> write_off(path, [[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    >>> V, F = read_off(path)
    >>> V.shape, F.tolist()
    ((3, 3), [[0, 1, 2]])
    """
    V = np.asarray(vertices, dtype=np.float64)
    F = np.asarray(faces, dtype=np.int64)
    if V.ndim != 2 or V.shape[1] != 3:
        raise ValueError(f"vertices: expected shape (n_vertices, 3), got {V.shape}")
    if F.size == 0:
        F = F.reshape(0, 3)
    if F.ndim != 2 or F.shape[1] != 3:
        raise ValueError(f"faces: expected shape (n_faces, 3) (triangles), got {F.shape}")
    if F.size and (F.min() < 0 or F.max() >= len(V)):
        raise ValueError(f"faces: indices must lie in [0, {len(V)})")
    with open(path, "w") as f:
        f.write(f"OFF\n{len(V)} {len(F)} 0\n")
        np.savetxt(f, V, fmt="%.9g")
        np.savetxt(f, np.hstack([np.full((len(F), 1), 3), F]), fmt="%d")


def mesh_edges(faces):
    """Unique undirected edges (2, m) of a triangle mesh, i < j.

    Parameters
    ----------
    faces : array-like of shape (n_faces, 3)
        Triangle vertex indices (non-negative integers); may be empty.

    Returns
    -------
    numpy.ndarray of shape (2, m), int64
        Every mesh edge once, as ``(i, j)`` with ``i < j``, sorted by ``i``
        then ``j``.

    Raises
    ------
    ValueError
        If ``faces`` is not of shape ``(n_faces, 3)``.

    Examples
    --------
    >>> from skising.mesh import mesh_edges
    >>> mesh_edges([[0, 1, 2], [0, 2, 3]]).tolist()
    [[0, 0, 0, 1, 2], [1, 2, 3, 2, 3]]
    """
    F = np.asarray(faces, dtype=np.int64)
    if F.size == 0:
        F = F.reshape(0, 3)
    if F.ndim != 2 or F.shape[1] != 3:
        raise ValueError(f"faces: expected shape (n_faces, 3) (triangles), got {F.shape}")
    e = np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]])
    e = np.sort(e, axis=1)
    if len(e) == 0:
        return e.T.reshape(2, 0)
    n = int(e.max()) + 1
    if n < 3_000_000_000:  # scalar keys: much faster than unique(axis=0)
        keys = np.unique(e[:, 0] * n + e[:, 1])
        return np.stack([keys // n, keys % n])
    e = np.unique(e, axis=0)  # pragma: no cover
    return e.T
