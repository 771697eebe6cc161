"""Graph colourings for the per-colour parallel Ising updates (Alg. 1).

Nodes of one colour share no edge, so all of them can be updated at once
without changing the stationary distribution. Three families:

* ``"jp"`` (default for arbitrary graphs): a vectorised Jones-Plassmann
  colouring with largest-degree-first priorities (ties by node index, or at
  random for a nonzero ``seed``). Every
  round, the uncoloured nodes whose priority beats all their uncoloured
  neighbours take the smallest colour not used by a coloured neighbour.
  Rounds only touch the edges of still-uncoloured nodes, so the work is
  linear in the graph size; no Python loop over nodes or edges.
* networkx strategies (``"largest_first"``, ``"smallest_last"``, ...):
  :func:`greedy_color` delegates to :func:`networkx.greedy_color`, giving its
  exact result; useful as the paper authors' approach and as a reference.
* ``"grid"``: closed form for image grids (cached by
  :func:`skising.graph.grid_graph`).

A colouring is computed once per :class:`~skising.graph.Graph` and cached on
it, so training over many epochs colours every graph exactly once.
"""

from __future__ import annotations

import numpy as np
import torch

from ..graph import as_graph
from ..graph._cache import cached_graph
from . import _coloring_kernels, _kernels

__all__ = ["color_graph", "greedy_color", "is_valid_coloring"]

_NX_STRATEGIES = {
    "largest_first",
    "smallest_last",
    "random_sequential",
    "independent_set",
    "connected_sequential_bfs",
    "connected_sequential_dfs",
    "saturation_largest_first",
}


def _jones_plassmann(n, rowptr, col, seed=0, backend="auto"):
    """Jones-Plassmann-LF colouring of a symmetric CSR graph.

    Jones-Plassmann with fixed priorities gives exactly the sequential greedy
    colouring in decreasing priority order (when a node is picked, its
    coloured neighbours are exactly its higher-priority neighbours), so the
    compiled path (``backend="numba"``, O(n + m), one pass) and the vectorised
    torch rounds (``backend="torch"``) return the same colours.
    """
    rowptr = torch.as_tensor(rowptr, dtype=torch.long).cpu()
    col = torch.as_tensor(col, dtype=torch.long).cpu()
    deg = rowptr[1:] - rowptr[:-1]
    # unique priorities: degree first; ties by node index for seed 0 (deterministic, and the
    # compiled greedy pass then walks each degree class in memory order: 2-3x faster on
    # big graphs), at random for other seeds
    if int(seed) == 0:
        r = torch.arange(n - 1, -1, -1)
    else:
        r = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    if backend == "numba" or (backend == "auto" and _kernels.HAVE_NUMBA):
        order = _coloring_kernels.lf_order_numba(deg.numpy(), r.numpy())
        return _coloring_kernels.greedy_in_order_numba(order, rowptr.numpy(), col.numpy())
    prio = deg * n + r
    rows = torch.repeat_interleave(torch.arange(n), deg)
    cols = col
    colors = torch.full((n,), -1, dtype=torch.long)
    ncolors = 0
    # isolated nodes: colour 0 straight away
    colors[deg == 0] = 0
    if (deg == 0).any():
        ncolors = 1
    while True:
        # keep only edges whose source is still uncoloured
        live = colors[rows] < 0
        rows, cols = rows[live], cols[live]
        if rows.numel() == 0:
            break
        cu = colors[cols]
        unc_nb = cu < 0
        # highest priority among uncoloured neighbours
        nbmax = torch.full((n,), -1, dtype=torch.long)
        nbmax.scatter_reduce_(0, rows[unc_nb], prio[cols[unc_nb]], reduce="amax")
        sel_nodes = torch.unique(rows)
        sel_nodes = sel_nodes[prio[sel_nodes] > nbmax[sel_nodes]]
        # smallest colour not used by an already coloured neighbour
        is_sel = torch.zeros(n, dtype=torch.bool)
        is_sel[sel_nodes] = True
        slot = torch.full((n,), -1, dtype=torch.long)
        slot[sel_nodes] = torch.arange(sel_nodes.numel())
        e = is_sel[rows] & ~unc_nb
        used = torch.zeros((sel_nodes.numel(), ncolors + 1), dtype=torch.uint8)
        used[slot[rows[e]], cu[e]] = 1
        new = torch.argmin(used, dim=1)  # first unused colour
        colors[sel_nodes] = new
        if new.numel():
            ncolors = max(ncolors, int(new.max()) + 1)
    # nodes whose edges all vanished before they were picked cannot exist
    # (a node is removed only once coloured), but guard anyway
    rest = colors < 0
    if rest.any():  # pragma: no cover
        colors[rest] = 0
    return colors.numpy()


def greedy_color(graph, strategy="largest_first"):
    """Greedy colouring with networkx semantics.

    Returns ``networkx.greedy_color(G, strategy)`` as an array indexed by node.

    Parameters
    ----------
    graph : any input accepted by :func:`skising.graph.as_graph`
    strategy : str
        A networkx strategy name (``"largest_first"``, ``"smallest_last"``,
        ``"independent_set"``, ``"saturation_largest_first"``, ...).

    Returns
    -------
    numpy.ndarray of shape (n_nodes,)

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.sampling import greedy_color
    >>> greedy_color(nx.cycle_graph(4)).tolist()
    [0, 1, 0, 1]
    """
    import networkx as nx

    if strategy not in _NX_STRATEGIES:
        raise ValueError(f"strategy: expected one of {sorted(_NX_STRATEGIES)}, got {strategy!r}")
    g = as_graph(graph)
    d = nx.greedy_color(g.to_networkx(), strategy=strategy)
    out = np.empty(g.num_nodes, dtype=np.int64)
    out[np.fromiter(d.keys(), dtype=np.int64)] = np.fromiter(d.values(), dtype=np.int64)
    return out


def color_graph(graph, method="auto", seed=0):
    """Proper colouring of ``graph`` (no edge joins two nodes of one colour).

    Parameters
    ----------
    graph : any input accepted by :func:`skising.graph.as_graph`
    method : {"auto", "jp", "grid"} or a networkx strategy name
        ``"auto"`` uses the closed form of a grid built by
        :func:`skising.graph.grid_graph` and the vectorised Jones-Plassmann
        colouring otherwise.
    seed : int
        Tie-break of ``"jp"`` among equal degrees: 0 (default) prefers the
        lower node index, other values break ties at random (the result is
        deterministic for a seed).

    Returns
    -------
    numpy.ndarray of shape (n_nodes,), int64, colours ``0 .. n_colors - 1``.

    Notes
    -----
    The result is cached on a :class:`skising.graph.Graph` (per method), so
    colouring the same graph object again is free.

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.sampling import color_graph, is_valid_coloring
    >>> G = nx.petersen_graph()
    >>> c = color_graph(G)
    >>> bool(is_valid_coloring(G, c)), int(c.max()) + 1 <= 4
    (True, True)
    """
    g = cached_graph(graph)
    key = method if method != "jp" or seed == 0 else f"jp:{seed}"
    if key in g._colors:
        return g._colors[key]
    if method == "auto":
        if "grid" in g._colors:
            colors = g._colors["grid"]
        else:
            colors = color_graph(g, "jp", seed)
    elif method == "jp":
        colors = _jones_plassmann(g.num_nodes, g.rowptr, g.col, seed)
    elif method == "grid":
        raise ValueError("method: 'grid' needs a graph built by skising.graph.grid_graph")
    elif method in _NX_STRATEGIES:
        colors = greedy_color(g, method)
    else:
        raise ValueError(f"method: expected 'auto', 'jp', 'grid' or one of {sorted(_NX_STRATEGIES)}, got {method!r}")
    g._colors[key] = colors
    return colors


def is_valid_coloring(graph, colors):
    """True when no edge joins two nodes of the same colour.

    Parameters
    ----------
    graph : Graph or any input of :func:`~skising.graph.as_graph`
        The graph.
    colors : array-like of shape (n_nodes,)
        Colour of every node.

    Returns
    -------
    bool
        Whether the endpoints of every edge have different colours.

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.sampling import is_valid_coloring
    >>> is_valid_coloring(nx.path_graph(3), [0, 1, 0]), is_valid_coloring(nx.path_graph(3), [0, 0, 1])
    (True, False)
    """
    g = as_graph(graph)
    c = np.asarray(colors)
    if c.shape != (g.num_nodes,):
        raise ValueError(f"colors: expected shape ({g.num_nodes},), got {c.shape}")
    e = g.edges.cpu().numpy()
    return bool(np.all(c[e[0]] != c[e[1]]))
