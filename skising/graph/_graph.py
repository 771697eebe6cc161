"""The one internal graph form every skising estimator and kernel works on.

A :class:`Graph` is an undirected, loop-free graph with optional per-edge
weights, stored twice:

* ``edges`` -- the canonical undirected edge list, shape ``(2, m)``, ``i < j``,
  lexicographically sorted, each edge once (the form the energy of eq. 1 sums
  over);
* a symmetric CSR (``rowptr``, ``col``) with ``eid`` mapping every stored
  directed entry back to its undirected edge, so per-edge couplings ``J_e``
  (for instance learnable ones) scatter into the CSR without a Python loop.

Several graphs form a batch as their disjoint union with a PyG-style
``batch`` vector and ``ptr`` offsets, so many small graphs are sampled in one
call.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import torch

from . import _csr

__all__ = ["Graph", "as_graph", "batch_graphs"]


class Graph:
    """Undirected graph in skising's internal form.

    Build one with :func:`as_graph` (which validates its input); the
    constructor itself trusts its arguments.

    Parameters
    ----------
    num_nodes : int
    edges : torch.LongTensor of shape (2, m)
        Undirected edges, ``edges[0] < edges[1]``, sorted, unique.
    weight : torch.Tensor of shape (m,)
        Edge weights (all ones for an unweighted graph).
    x, pos : torch.Tensor or None
        Optional node features ``(n, F)`` and positions ``(n, d)``.
    batch : torch.LongTensor of shape (n,) or None
        Graph id of every node for a disjoint union of graphs.
    data : dict
        Free-form extra per-graph data (e.g. mesh faces), carried along.

    Attributes
    ----------
    rowptr, col, eid : torch.LongTensor
        Symmetric CSR of the adjacency; ``eid[k]`` is the undirected edge of
        CSR entry ``k``.
    num_graphs, ptr : int, torch.LongTensor
        Number of graphs in the union and node offsets (``ptr[g]`` is the
        first node of graph ``g``).

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.graph import as_graph
    >>> g = as_graph(nx.cycle_graph(4))
    >>> g.edges.tolist(), g.degree.tolist()
    ([[0, 0, 1, 2], [1, 3, 2, 3]], [2, 2, 2, 2])
    >>> g.to_scipy().toarray().astype(int).tolist()[0]
    [0, 1, 0, 1]
    """

    def __init__(self, num_nodes, edges, weight, x=None, pos=None, batch=None, data=None, _csr=None):
        self.num_nodes = int(num_nodes)
        self.edges = edges
        self.weight = weight
        self.x = x
        self.pos = pos
        self.data = dict(data or {})
        if batch is None:
            self.batch = None
            self.num_graphs = 1
            self.ptr = torch.tensor([0, self.num_nodes], dtype=torch.long)
        else:
            self.batch = batch
            counts = torch.bincount(batch)
            self.num_graphs = int(counts.numel())
            self.ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
        if _csr is None:
            self._build_csr()
        else:  # the sorted symmetric CSR, already built by the conversion (``(rowptr, col, eid)``)
            self.rowptr, self.col, self.eid = _csr
            self._row_cache = None
        # caches: colourings by method, sampler plans by (method, device)
        self._colors = {}
        self._plans = {}

    # ------------------------------------------------------------------ basics
    def _build_csr(self):
        n = self.num_nodes
        u, v = self.edges[0], self.edges[1]
        m = u.numel()
        rows = torch.cat([u, v])
        cols = torch.cat([v, u])
        eid = torch.cat([torch.arange(m), torch.arange(m)])
        order = torch.argsort(rows * max(n, 1) + cols)
        self.col = cols[order]
        self.eid = eid[order]
        row_sorted = rows[order]
        counts = torch.bincount(row_sorted, minlength=n)
        self.rowptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
        self._row_cache = row_sorted

    @property
    def _row(self):
        """Row of every CSR entry (built on first use)."""
        if self._row_cache is None:
            self._row_cache = torch.repeat_interleave(torch.arange(self.num_nodes, device=self.rowptr.device),
                                                      self.rowptr[1:] - self.rowptr[:-1])
        return self._row_cache

    @_row.setter
    def _row(self, value):
        self._row_cache = value

    @property
    def num_edges(self):
        """Number of undirected edges ``m``."""
        return int(self.edges.shape[1])

    @property
    def degree(self):
        """Number of neighbours of every node, ``(n,)`` long tensor."""
        return self.rowptr[1:] - self.rowptr[:-1]

    @property
    def batch_vector(self):
        """``batch`` or, for a single graph, all zeros."""
        if self.batch is None:
            return torch.zeros(self.num_nodes, dtype=torch.long, device=self.edges.device)
        return self.batch

    @property
    def device(self):
        return self.edges.device

    def to(self, device):
        """Copy of the graph with every tensor on ``device`` (caches kept)."""
        device = torch.device(device)
        if device == self.device:
            return self
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        g = Graph.__new__(Graph)
        g.num_nodes, g.num_graphs = self.num_nodes, self.num_graphs
        g.edges, g.weight, g.x, g.pos = mv(self.edges), mv(self.weight), mv(self.x), mv(self.pos)
        g.batch, g.ptr = mv(self.batch), mv(self.ptr)
        g.rowptr, g.col, g.eid, g._row_cache = mv(self.rowptr), mv(self.col), mv(self.eid), mv(self._row_cache)
        g.data = dict(self.data)
        g._colors = self._colors  # colourings are numpy, device independent
        g._plans = self._plans  # keyed by device
        return g

    def to_scipy(self, weighted=True):
        """Symmetric adjacency as ``scipy.sparse.csr_matrix``."""
        val = self.weight[self.eid] if weighted else torch.ones_like(self.col, dtype=torch.float64)
        return sp.csr_matrix(
            (val.detach().cpu().numpy(), self.col.cpu().numpy(), self.rowptr.cpu().numpy()),
            shape=(self.num_nodes, self.num_nodes),
        )

    def to_networkx(self):
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        e = self.edges.cpu().numpy()
        w = self.weight.detach().cpu().numpy()
        g.add_weighted_edges_from(zip(e[0].tolist(), e[1].tolist(), w.tolist()))
        return g

    def subgraph_slices(self):
        """List of ``(start, stop)`` node ranges of the graphs in the union."""
        p = self.ptr.tolist()
        return list(zip(p[:-1], p[1:]))

    def __repr__(self):
        extra = f", num_graphs={self.num_graphs}" if self.batch is not None else ""
        return f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}{extra})"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_plans"] = {}
        return state

    def __setstate__(self, state):
        if "_row" in state:  # pickled before the row index became lazy
            state["_row_cache"] = state.pop("_row")
        state.setdefault("_row_cache", None)
        self.__dict__.update(state)


# ---------------------------------------------------------------------------
# conversion + validation
# ---------------------------------------------------------------------------
def _is_pyg(obj):
    try:
        from torch_geometric.data import Data, HeteroData
    except ImportError:  # pragma: no cover - torch_geometric is a core dependency
        return False
    if isinstance(obj, HeteroData):
        raise TypeError("graph: HeteroData is not supported; pass a homogeneous torch_geometric.data.Data")
    return isinstance(obj, Data)


def _as_float_tensor(values, name, length=None):
    if isinstance(values, torch.Tensor):
        t = values.detach().cpu()
    else:
        try:
            t = torch.as_tensor(np.asarray(values))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected an array of numbers, got {type(values).__name__}") from exc
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise TypeError(f"{name}: expected real numbers, got dtype {t.dtype}")
    t = t.to(torch.float64)
    if t.dim() == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.dim() != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {tuple(t.shape)}")
    if length is not None and t.numel() != length:
        raise ValueError(f"{name}: expected {length} values (one per edge), got {t.numel()}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t


def _node_tensor(values, name, n):
    if values is None:
        return None
    t = values.detach().cpu() if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.uint8, torch.bool)):
        raise TypeError(f"{name}: expected numeric node attributes, got dtype {t.dtype}")
    t = t.to(torch.float32)
    if t.dim() == 1:
        t = t[:, None]
    if t.dim() != 2 or t.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n}, d) (one row per node), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t


def _canonical(src, dst, w, n, name_index, name_weight):
    """Merge directed/duplicate entries into one sorted undirected edge list."""
    keep = src != dst  # self-loops carry no coupling in eq. 1: dropped
    src, dst, w = src[keep], dst[keep], w[keep]
    u = np.minimum(src, dst)
    v = np.maximum(src, dst)
    key = u * n + v
    uniq, inverse = np.unique(key, return_inverse=True)
    m = uniq.size
    if m < key.size:
        wmin = np.full(m, np.inf)
        wmax = np.full(m, -np.inf)
        np.minimum.at(wmin, inverse, w)
        np.maximum.at(wmax, inverse, w)
        bad = ~np.isclose(wmin, wmax, rtol=1e-6, atol=1e-12)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name_weight}: edge ({uniq[k] // n}, {uniq[k] % n}) is given more than once "
                f"(both directions or duplicated) with different weights {wmin[k]:g} and {wmax[k]:g}; "
                "an undirected graph needs one weight per edge"
            )
        weight = wmin
    else:
        weight = np.empty(m)
        weight[inverse] = w
    edges = np.stack([uniq // n, uniq % n]) if m else np.zeros((2, 0), dtype=np.int64)
    return torch.as_tensor(edges, dtype=torch.long), torch.as_tensor(weight, dtype=torch.float64)


def _tensors(rowptr, col, eid, edges, weight):
    """Kernel output as ``(edges, weight, (rowptr, col, eid))`` tensors (no copies)."""
    t = torch.from_numpy
    return t(edges), t(weight), (t(rowptr), t(col), t(eid))


def _fast_edges(src, dst, w, n):
    """The O(n + m) conversion of an edge list (``None`` without numba, or for conflicting
    duplicate weights: the sorting path then names the edge)."""
    if not _csr.available():
        return None
    info, _, rowptr, col, eid, edges, weight = _csr.edges_to_graph(
        np.ascontiguousarray(src, dtype=np.int64), np.ascontiguousarray(dst, dtype=np.int64),
        None if w is None else np.ascontiguousarray(w, dtype=np.float64), n)
    if info[0]:
        return None
    return _tensors(rowptr, col, eid, edges, weight)


def _fast_scipy(mat):
    """The O(n + nnz) conversion of a sparse matrix: a canonical CSR (sorted columns, no
    duplicates) is used as it is; CSC too (the CSR of the transpose: a symmetric matrix is
    its own); other formats become CSR first (scipy, in C; repeated entries are summed).
    ``None`` without numba, or for an invalid matrix (the sorting path then names the fault)."""
    if not _csr.available():
        return None
    if mat.format not in ("csr", "csc"):
        mat = mat.tocsr()
    if not mat.has_canonical_format:
        mat = mat.copy()
        mat.sum_duplicates()
    data = mat.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    indices = mat.indices if mat.indices.dtype in (np.int32, np.int64) else mat.indices.astype(np.int64)
    info, rowptr, col, eid, edges, weight = _csr.csr_to_graph(
        np.ascontiguousarray(mat.indptr, dtype=np.int64), np.ascontiguousarray(indices),
        np.ascontiguousarray(data), drop_zeros=True)
    if info[0]:
        return None
    return _tensors(rowptr, col, eid, edges, weight)


def _from_edge_index(edge_index, edge_weight, num_nodes, name="edge_index"):
    if isinstance(edge_index, torch.Tensor):
        ei = edge_index.detach().cpu()
        if ei.is_floating_point() or ei.dtype == torch.bool or ei.is_complex():
            raise TypeError(f"{name}: expected an integer tensor, got dtype {ei.dtype}")
        ei = ei.numpy().astype(np.int64, copy=False)
    else:
        arr = np.asarray(edge_index)
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: expected integer node indices, got dtype {arr.dtype}")
        ei = arr.astype(np.int64, copy=False)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{name}: expected shape (2, E), got {ei.shape}")
    E = ei.shape[1]
    if E and ei.min() < 0:
        raise ValueError(f"{name}: negative node index {int(ei.min())}")
    if num_nodes is None:
        if E == 0:
            raise ValueError(f"{name}: empty edge list; pass num_nodes to define the nodes")
        num_nodes = int(ei.max()) + 1
    else:
        if not isinstance(num_nodes, numbers.Integral) or isinstance(num_nodes, bool):
            raise TypeError(f"num_nodes: expected an int, got {type(num_nodes).__name__}")
        num_nodes = int(num_nodes)
        if E and ei.max() >= num_nodes:
            raise ValueError(f"{name}: node index {int(ei.max())} out of range for num_nodes={num_nodes}")
    if num_nodes <= 0:
        raise ValueError("graph: empty graph (num_nodes = 0)")
    w = None if edge_weight is None else _as_float_tensor(edge_weight, "edge_weight", length=E).numpy()
    fast = _fast_edges(ei[0], ei[1], w, num_nodes)
    if fast is not None:
        return (num_nodes, *fast)
    w = np.ones(E) if w is None else w
    edges, weight = _canonical(ei[0], ei[1], w, num_nodes, name, "edge_weight")  # raises on conflicts
    return num_nodes, edges, weight, None


def _from_scipy(mat, name="graph"):
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
        raise ValueError(f"{name}: adjacency matrix must be square, got shape {mat.shape}")
    n = mat.shape[0]
    if n == 0:
        raise ValueError(f"{name}: empty graph (0 x 0 matrix)")
    if np.iscomplexobj(mat.data) or not (np.issubdtype(mat.dtype, np.number) or mat.dtype == bool):
        raise TypeError(f"{name}: expected a real-valued matrix, got dtype {mat.dtype}")
    fast = _fast_scipy(mat)
    if fast is not None:
        return (n, *fast)
    # the sorting path: without numba, and to name the fault of an invalid matrix
    coo = sp.coo_matrix(mat, dtype=np.float64)
    coo.sum_duplicates()
    if not np.isfinite(coo.data).all():
        raise ValueError(f"{name}: adjacency matrix contains NaN or infinite values")
    coo.eliminate_zeros()
    diff = abs(coo - coo.T)
    if diff.nnz and diff.max() > 1e-9 * max(1.0, abs(coo).max()):
        raise ValueError(
            f"{name}: adjacency matrix is not symmetric (max |A - A^T| = {diff.max():g}); "
            "an undirected graph is required: symmetrise it, e.g. (A + A.T) / 2"
        )
    r, c = coo.row.astype(np.int64), coo.col.astype(np.int64)
    upper = r < c
    edges, weight = _canonical(r[upper], c[upper], coo.data[upper], n, name, name)
    return n, edges, weight, None


def _from_networkx(g, name="graph"):
    import networkx as nx

    if g.is_directed():
        raise ValueError(f"{name}: directed networkx graph; pass graph.to_undirected()")
    if g.is_multigraph():
        raise ValueError(f"{name}: multigraphs are not supported; pass networkx.Graph(multigraph)")
    nodes = list(g.nodes())
    if not nodes:
        raise ValueError(f"{name}: empty graph (no nodes)")
    index = {v: i for i, v in enumerate(nodes)}
    e = list(g.edges(data="weight", default=1.0))
    src = np.fromiter((index[a] for a, _, _ in e), dtype=np.int64, count=len(e))
    dst = np.fromiter((index[b] for _, b, _ in e), dtype=np.int64, count=len(e))
    w = _as_float_tensor([float(x) for _, _, x in e], "edge weight").numpy() if e else np.ones(0)
    csr = None
    fast = _fast_edges(src, dst, w, len(nodes))
    if fast is not None:
        edges, weight, csr = fast
    else:
        edges, weight = _canonical(src, dst, w, len(nodes), name, f"{name} edge weights")
    pos = None
    attrs = nx.get_node_attributes(g, "pos")
    if len(attrs) == len(nodes):
        pos = np.asarray([attrs[v] for v in nodes], dtype=np.float64)
    return len(nodes), edges, weight, csr, pos


def as_graph(graph, edge_weight=None, num_nodes=None, x=None, pos=None, name="graph"):
    """Validate ``graph`` and convert it to skising's :class:`Graph`.

    Parameters
    ----------
    graph : Graph, scipy.sparse matrix, int array or tensor of shape (2, E), networkx.Graph or torch_geometric.data.Data
        The graph, in one of these forms:

        * a scipy sparse (weighted) adjacency: must be square and symmetric;
          entries are the edge weights;
        * an ``edge_index`` of shape ``(2, E)``: each pair is an undirected
          edge; both directions may be listed (PyG convention) and are merged;
        * a ``networkx.Graph`` (nodes numbered in iteration order, the
          ``"weight"`` attribute as edge weight, the ``"pos"`` node attribute
          as positions);
        * a PyG ``Data``/``Batch``: ``edge_index``, ``edge_weight``, ``x``,
          ``pos`` and ``batch`` are used.
    edge_weight : array-like of shape (E,), optional
        Weights for an ``edge_index`` input.
    num_nodes : int, optional
        Number of nodes for an ``edge_index`` input (default: max index + 1).
    x, pos : array-like, optional
        Node features ``(n, F)`` and positions ``(n, d)``; override those of
        the input.
    name : str, default="graph"
        Name of the input used as the prefix of error messages.

    Returns
    -------
    Graph
        The validated graph (``graph`` itself when it already is a
        :class:`Graph` and neither ``x`` nor ``pos`` is given).

    Raises
    ------
    TypeError
        Unsupported input type or non-numeric/non-integer dtype.
    ValueError
        Empty graph, non-square or asymmetric matrix, out-of-range or
        negative indices, NaN/inf weights or features, mismatched lengths,
        conflicting duplicate edges.

    Notes
    -----
    Self-loops are dropped (they only add a constant to the Ising energy).

    Examples
    --------
    >>> import torch
    >>> from skising.graph import as_graph
    >>> g = as_graph(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 0]]))
    >>> g.num_nodes, g.num_edges
    (3, 3)
    """
    batch = None
    data = {}
    if isinstance(graph, Graph):
        if edge_weight is not None or num_nodes is not None:
            raise ValueError("edge_weight/num_nodes: not allowed when graph is already a skising Graph")
        if x is None and pos is None:
            return graph
        g = Graph(graph.num_nodes, graph.edges, graph.weight, graph.x, graph.pos, graph.batch, graph.data)
        g._colors = graph._colors
        n = g.num_nodes
        if x is not None:
            g.x = _node_tensor(x, "x", n)
        if pos is not None:
            g.pos = _node_tensor(pos, "pos", n)
        return g
    gpos = None
    gx = None
    if sp.issparse(graph):
        if edge_weight is not None or num_nodes is not None:
            raise ValueError("edge_weight/num_nodes: only meaningful with an edge_index input, not a sparse matrix")
        n, edges, weight, csr = _from_scipy(graph, name)
    elif _is_pyg(graph):
        if graph.edge_index is None:
            if graph.num_nodes is None:
                raise ValueError(f"{name}: PyG Data has neither edge_index nor num_nodes")
            ei = torch.zeros((2, 0), dtype=torch.long)
        else:
            ei = graph.edge_index
        ew = edge_weight if edge_weight is not None else getattr(graph, "edge_weight", None)
        nn_ = num_nodes if num_nodes is not None else graph.num_nodes
        n, edges, weight, csr = _from_edge_index(ei, ew, nn_, f"{name}.edge_index")
        gx = getattr(graph, "x", None)
        gpos = getattr(graph, "pos", None)
        b = getattr(graph, "batch", None)
        if b is not None:
            b = torch.as_tensor(b).long().cpu()
            if b.numel() != n:
                raise ValueError(f"{name}.batch: expected {n} entries, got {b.numel()}")
            if b.numel() and (b.min() < 0 or (torch.diff(b) < 0).any()):
                raise ValueError(f"{name}.batch: must be non-negative and sorted (PyG convention)")
            batch = b
            # an edge across graphs would couple two graphs of the union
            if edges.shape[1] and (b[edges[0]] != b[edges[1]]).any():
                raise ValueError(f"{name}: an edge joins nodes of two different graphs of the batch")
    elif hasattr(graph, "is_directed") and hasattr(graph, "nodes") and hasattr(graph, "edges"):
        if edge_weight is not None or num_nodes is not None:
            raise ValueError("edge_weight/num_nodes: only meaningful with an edge_index input, not a networkx graph")
        n, edges, weight, csr, gpos = _from_networkx(graph, name)
    elif isinstance(graph, (torch.Tensor, np.ndarray, list, tuple)):
        arr = graph
        if isinstance(graph, (list, tuple)):
            arr = np.asarray(graph)
        if arr.ndim == 2 and arr.shape[0] == 2 and (
            (isinstance(arr, torch.Tensor) and not arr.is_floating_point())
            or (isinstance(arr, np.ndarray) and np.issubdtype(arr.dtype, np.integer))
        ):
            n, edges, weight, csr = _from_edge_index(arr, edge_weight, num_nodes, "edge_index")
        else:
            raise TypeError(
                f"{name}: a dense array of shape {tuple(arr.shape)} and dtype {arr.dtype} is neither an integer "
                "(2, E) edge_index nor a supported adjacency; pass scipy.sparse.csr_matrix(adjacency) for a matrix"
            )
    else:
        raise TypeError(
            f"{name}: unsupported type {type(graph).__name__}; expected a scipy sparse matrix, a (2, E) edge_index, "
            "a networkx.Graph, a torch_geometric Data or a skising Graph"
        )
    gx = _node_tensor(x if x is not None else gx, "x", n)
    gpos = _node_tensor(pos if pos is not None else gpos, "pos", n)
    return Graph(n, edges, weight, gx, gpos, batch, data, _csr=csr)


def _union_from_parts(graphs, offsets, edges, weight, x, pos, batch):
    """The union's CSR from the parts' CSRs (offsets only: O(n + m), no sort).

    Each part's CSR is sorted by (row, column); shifted by the node offsets and
    concatenated it is the sorted CSR of the union, exactly what
    ``Graph._build_csr`` would compute.
    """
    g = Graph.__new__(Graph)
    g.num_nodes = int(offsets[-1])
    g.edges, g.weight, g.x, g.pos = edges, weight, x, pos
    g.data = {"parts": len(graphs)}
    g.batch = batch
    counts = torch.bincount(batch)
    g.num_graphs = int(counts.numel())
    g.ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    e_off = np.cumsum([0] + [p.num_edges for p in graphs])
    nnz_off = np.cumsum([0] + [int(p.col.numel()) for p in graphs])
    g.col = torch.cat([p.col.cpu() + int(o) for p, o in zip(graphs, offsets[:-1])])
    g._row = torch.cat([p._row.cpu() + int(o) for p, o in zip(graphs, offsets[:-1])])
    g.eid = torch.cat([p.eid.cpu() + int(o) for p, o in zip(graphs, e_off[:-1])])
    g.rowptr = torch.cat([torch.zeros(1, dtype=torch.long)]
                         + [p.rowptr.cpu()[1:] + int(o) for p, o in zip(graphs, nnz_off[:-1])])
    g._colors = {}
    g._plans = {}
    return g


def batch_graphs(graphs):
    """Disjoint union of several :class:`Graph` objects (PyG-style batch).

    Node features/positions are concatenated when every graph has them;
    cached colourings are concatenated too, so a union of graphs seen before
    is never coloured again.

    Parameters
    ----------
    graphs : sequence of Graph or inputs of :func:`as_graph`

    Returns
    -------
    Graph
        With ``batch`` (graph index of every node), ``ptr`` (node offsets)
        and ``num_graphs`` set.

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.graph import batch_graphs
    >>> b = batch_graphs([nx.path_graph(3), nx.cycle_graph(4)])
    >>> b.num_nodes, b.num_graphs, b.ptr.tolist()
    (7, 2, [0, 3, 7])
    """
    graphs = [as_graph(g) for g in graphs]
    if not graphs:
        raise ValueError("graphs: need at least one graph")
    if len(graphs) == 1 and graphs[0].batch is None:
        return graphs[0]
    offsets = np.cumsum([0] + [g.num_nodes for g in graphs])
    edges = torch.cat([g.edges.cpu() + int(o) for g, o in zip(graphs, offsets[:-1])], dim=1)
    weight = torch.cat([g.weight.detach().cpu() for g in graphs])
    batch_parts = []
    nb = 0
    for g in graphs:
        batch_parts.append(g.batch_vector.cpu() + nb)
        nb += g.num_graphs
    batch = torch.cat(batch_parts)

    def cat(attr):
        vals = [getattr(g, attr) for g in graphs]
        if all(v is not None for v in vals) and len({v.shape[1] for v in vals}) == 1:
            return torch.cat([v.cpu() for v in vals])
        return None

    out = _union_from_parts(graphs, offsets, edges, weight, cat("x"), cat("pos"), batch)
    for method in set.intersection(*[set(g._colors) for g in graphs]):
        out._colors[method] = np.concatenate([g._colors[method] for g in graphs])
    return out
