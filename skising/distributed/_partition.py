"""Graph partitions for the partitioned sampler, and how many ranks a sampling job needs."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["partition_graph", "suggest_ranks", "partition_hint"]

_METHODS = ("auto", "metis", "contiguous")


def _have_pymetis():
    try:
        import pymetis  # noqa: F401
    except ImportError:
        return False
    return True


def partition_graph(graph, n_parts, method="auto"):
    """Assign every node to one of ``n_parts`` parts with few cut edges.

    Parameters
    ----------
    graph : graph input (see :func:`skising.graph.as_graph`)
    n_parts : int >= 1
    method : {"auto", "metis", "contiguous"}
        ``"metis"``: METIS k-way partition through ``pymetis``
        (``pip install skising[distributed]``), balanced parts with a small
        edge cut; ``"contiguous"``: node ``i`` goes to part
        ``floor(i * n_parts / n_nodes)``, good when node order follows
        geometry (lattices, meshes in scan order), no dependency;
        ``"auto"``: METIS when ``pymetis`` is installed, else contiguous.

    Returns
    -------
    numpy.ndarray of shape (n_nodes,), dtype int64, values in ``[0, n_parts)``

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.distributed import partition_graph
    >>> partition_graph(nx.path_graph(6), 2, method="contiguous").tolist()
    [0, 0, 0, 1, 1, 1]
    """
    from .._validation import check_graph, check_int

    g = check_graph(graph)
    n_parts = check_int(n_parts, "n_parts", low=1)
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    if method == "metis" and not _have_pymetis():
        raise ImportError("method: 'metis' needs pymetis (pip install skising[distributed] or pip install pymetis)")
    n = g.num_nodes
    if n_parts == 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    if method == "contiguous" or (method == "auto" and not _have_pymetis()) or n_parts >= n:
        return np.arange(n, dtype=np.int64) * n_parts // n
    import pymetis

    rowptr = g.rowptr.cpu().numpy().astype(np.int64)
    col = g.col.cpu().numpy().astype(np.int64)
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2
        _, parts = pymetis.part_graph(n_parts, pymetis.CSRAdjacency(rowptr, col))
    else:  # pragma: no cover - older pymetis
        _, parts = pymetis.part_graph(n_parts, xadj=rowptr, adjncy=col)
    return np.asarray(parts, dtype=np.int64)


def _state_bytes(n_nodes, n_chains, itemsize, per_chain_field=False):
    # the estimate of sample_ising's memory guard: spins, a per-chain field, one block of random numbers
    return (3 + int(per_chain_field)) * int(n_nodes) * int(n_chains) * int(itemsize)


def _graph_bytes(n_nodes, n_edges):
    # replicated on every rank by the partitioned sampler: the colour-permuted CSR plan
    # (rowptr, perm, position, colours: 8 bytes each per node; column int32 + edge id int64 per
    # stored entry, two per undirected edge) and the couplings (float32 per edge)
    return 32 * int(n_nodes) + 2 * 12 * int(n_edges) + 4 * int(n_edges)


def suggest_ranks(n_nodes, n_chains, n_edges=0, itemsize=4, available=None, per_chain_field=False, fraction=0.8):
    """How many ranks :func:`sample_ising_partitioned` needs so that each rank's share fits.

    A rank holds the replicated graph plan (O(nodes + edges)) and its share of
    the chain state (O(nodes x chains / ranks), plus a halo that METIS keeps
    small); this returns the smallest ``N`` with
    ``graph + state / N <= fraction * available``.

    Parameters
    ----------
    n_nodes, n_chains : int
    n_edges : int, default 0
        Undirected edges (the graph plan's share).
    itemsize : int, default 4
        Bytes per spin of the sampling dtype (float32: 4).
    available : int, optional
        Bytes available per rank; default: this machine's available memory.
    per_chain_field : bool, default False
        Whether the field has one row per chain.
    fraction : float, default 0.8
        Share of ``available`` to plan for, as in ``sample_ising``'s guard.

    Returns
    -------
    int or None
        ``None`` when even the replicated graph plan does not fit one rank.

    Examples
    --------
    >>> from skising.distributed import suggest_ranks
    >>> suggest_ranks(10**9, 32, n_edges=3 * 10**9, available=256 * 2**30)
    4
    >>> suggest_ranks(10**9, 32, n_edges=3 * 10**9, available=64 * 2**30) is None  # the plan alone
    True
    >>> suggest_ranks(10**8, 64, n_edges=3 * 10**8, available=64 * 2**30)
    2
    """
    if available is None:
        from .._validation import available_memory

        available = available_memory(None)
    budget = float(fraction) * float(available)
    graph = _graph_bytes(n_nodes, n_edges)
    if graph >= budget:
        return None
    return max(1, math.ceil(_state_bytes(n_nodes, n_chains, itemsize, per_chain_field) / (budget - graph)))


def partition_hint(n_nodes, n_chains, n_edges=0, itemsize=4, device=None):
    """One sentence for a memory error: the partitioned sampler and how many ranks it needs.

    Empty for a non-CPU ``device`` (the partitioned sampler runs on CPU ranks).

    Examples
    --------
    >>> from skising.distributed import partition_hint
    >>> partition_hint(10**8, 64, n_edges=3 * 10**8, device="cpu")[:60]
    'or split the graph over ranks with skising.distributed.sampl'
    """
    import torch

    from .._validation import available_memory

    if device is not None and torch.device(device).type != "cpu":
        return ""
    avail = available_memory(device)
    n = None if avail is None else suggest_ranks(n_nodes, n_chains, n_edges, itemsize, available=avail)
    if n is None:
        return ("or split the graph over ranks with skising.distributed.sample_ising_partitioned "
                "(the replicated graph plan alone does not fit here)" if avail is not None else "")
    return (f"or split the graph over ranks with skising.distributed.sample_ising_partitioned: about {n} rank(s) "
            f"of this size (torchrun --nproc_per_node={n})")
