"""Princeton Mesh Segmentation Benchmark meshes (the paper's Table 5 categories)."""

from __future__ import annotations

from ..mesh import mesh_graph, read_off
from ._home import data_path

__all__ = ["load_psb", "PSB_CATEGORIES"]

#: category -> benchmark mesh ids (the benchmark's own numbering)
PSB_CATEGORIES = {
    "human": range(1, 21),
    "chair": range(101, 121),
    "bust": range(301, 321),
    "fourleg": range(381, 401),
}


def load_psb(category, ids=None, data_home=None):
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

    Returns
    -------
    list of skising.graph.Graph
        Each with ``pos`` (n, 3), ``data["faces"]`` (f, 3) and
        ``data["name"]`` (``"<category>/<id>"``), in id order.

    Examples
    --------
    >>> from skising.datasets import load_psb
    >>> meshes = load_psb("chair", ids=[101])  # doctest: +SKIP
    >>> meshes[0].num_nodes  # doctest: +SKIP
    8499
    """
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
    out = []
    for i in ids:  # loop over meshes (files), not vertices
        V, F = read_off(data_path("psb", category, f"{i}.off", data_home=data_home))
        out.append(mesh_graph(V, F, f"{category}/{i}"))
    return out
