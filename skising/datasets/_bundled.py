"""A tiny real sample shipped in the package so the demo runs anywhere."""

from __future__ import annotations

from ..mesh import mesh_graph, read_off
from ._home import bundled_path

__all__ = ["load_bunny"]


def load_bunny():
    """The 502-vertex decimated Stanford bunny (libigl tutorial ``bunny.off``).

    Source: Stanford 3D Scanning Repository (Turk & Levoy 1994), decimated
    version from libigl's tutorial data, via
    ``keeganl/linear-subspace-deformation@9f8032af:data/bunny.off``; free for
    research use, credit Stanford.

    Returns
    -------
    skising.graph.Graph
        Mesh graph with ``pos`` (502, 3) and ``data["faces"]`` (1000, 3).

    Examples
    --------
    >>> from skising.datasets import load_bunny
    >>> g = load_bunny()
    >>> g.num_nodes, tuple(g.pos.shape)
    (502, (502, 3))
    """
    V, F = read_off(bundled_path("bunny-502v.off"))
    return mesh_graph(V, F, "bunny-502v")
