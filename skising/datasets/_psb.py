"""Princeton Mesh Segmentation Benchmark meshes (the paper's Table 5 categories)."""

from __future__ import annotations

from ..mesh import mesh_graph, read_off
from ._home import data_path

__all__ = ["load_psb", "load_psb_segmentation", "PSB_CATEGORIES"]

#: category -> benchmark mesh ids (the benchmark's own numbering)
PSB_CATEGORIES = {
    "human": range(1, 21),
    "chair": range(101, 121),
    "bust": range(301, 321),
    "fourleg": range(381, 401),
}


def _check_ids(category, ids):
    if category not in PSB_CATEGORIES:
        raise ValueError(f"category: expected one of {sorted(PSB_CATEGORIES)}, got {category!r}")
    allowed = PSB_CATEGORIES[category]
    try:
        ids = list(allowed) if ids is None else [int(i) for i in ids]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"ids: expected an iterable of int mesh ids, got {ids!r}") from exc
    bad = [i for i in ids if i not in allowed]
    if bad:
        raise ValueError(f"ids: {bad} are not {category} meshes (valid ids {allowed.start}-{allowed.stop - 1})")
    return ids


def _read_seg(path, n_faces):
    """One 0-based segment id per line -> int64 (n_faces,); errors name the file."""
    import numpy as np

    text = path.read_text().split()
    try:
        lab = np.array(text, dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"{path}: expected one integer segment id per line") from exc
    if lab.shape != (n_faces,):
        raise ValueError(f"{path}: {lab.size} segment ids for a mesh with {n_faces} faces")
    if lab.size and lab.min() < 0:
        raise ValueError(f"{path}: negative segment id {int(lab.min())}")
    return lab


def load_psb_segmentation(category, ids=None, data_home=None):
    """The ground-truth part segmentation of PSB meshes: one label per face.

    Parameters
    ----------
    category : {"bust", "fourleg", "human", "chair"}
    ids : iterable of int, optional
        A subset of the category's benchmark ids (default: all 20).
    data_home : str or Path, optional
        Data folder (see :func:`load_psb`); labels are read from
        ``<data_home>/psb/<category>/gt/<id>.seg`` (one 0-based segment id per
        face, in the face order of ``<id>.off``).

    Returns
    -------
    list of ndarray (n_faces,), int64, in id order.

    Raises
    ------
    FileNotFoundError
        A ``.seg`` file (or its mesh) is missing; the message names the path.
    ValueError
        A ``.seg`` file does not have one integer per face of its mesh.

    Examples
    --------
    >>> from skising.datasets import load_psb_segmentation
    >>> labels = load_psb_segmentation("chair", ids=[101])  # doctest: +SKIP
    >>> labels[0].shape  # doctest: +SKIP
    (16998,)
    """
    out = []
    for i in _check_ids(category, ids):  # loop over files
        _, F = read_off(data_path("psb", category, f"{i}.off", data_home=data_home))
        out.append(_read_seg(data_path("psb", category, "gt", f"{i}.seg", data_home=data_home), len(F)))
    return out


def load_psb(category, ids=None, data_home=None, segmentation=False):
    """Load the PSB meshes of one category as mesh graphs.

    Parameters
    ----------
    category : {"bust", "fourleg", "human", "chair"}
        The four categories of the paper's Table 5 (20 meshes each).
    ids : iterable of int, optional
        A subset of the category's benchmark ids (default: all 20).
    data_home : str or Path, optional
        Data folder (default: ``$SKISING_DATA`` or ``../shared/data``);
        meshes are read from ``<data_home>/psb/<category>/<id>.off``.
    segmentation : bool, default=False
        Also read the ground-truth part segmentation
        (``<data_home>/psb/<category>/gt/<id>.seg``, see
        :func:`load_psb_segmentation`) into ``data["face_labels"]``.

    Returns
    -------
    list of skising.graph.Graph
        Each with ``pos`` (n, 3), ``data["faces"]`` (f, 3) and
        ``data["name"]`` (``"<category>/<id>"``), in id order; with
        ``segmentation=True`` also ``data["face_labels"]`` (f,).

    Examples
    --------
    >>> from skising.datasets import load_psb
    >>> meshes = load_psb("chair", ids=[101])  # doctest: +SKIP
    >>> meshes[0].num_nodes  # doctest: +SKIP
    8499
    """
    ids = _check_ids(category, ids)
    if not isinstance(segmentation, bool):
        raise TypeError(f"segmentation: expected a bool, got {segmentation!r}")
    out = []
    for i in ids:  # loop over meshes (files), not vertices
        V, F = read_off(data_path("psb", category, f"{i}.off", data_home=data_home))
        g = mesh_graph(V, F, f"{category}/{i}")
        if segmentation:
            g.data["face_labels"] = _read_seg(data_path("psb", category, "gt", f"{i}.seg", data_home=data_home), len(F))
        out.append(g)
    return out
