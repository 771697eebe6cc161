r"""The one Ising sampler: batched multi-chain, per-colour parallel updates.

Nodes are reordered by colour so that every colour class is a contiguous
block of rows of the (colour-permuted) coupling matrix. One colour update of
all chains is then one sparse-times-dense product
``L = A_c @ X`` (``X`` holds the chains as columns), a vectorised
accept/reject and an in-place write of the block: no Python loop over nodes,
edges or colour members, and the same code runs on CPU and CUDA.

Two implementations of the sweep give the same samples for a seed: the
torch path above (any device) and, on CPU when ``numba`` is installed
(numba, a core dependency), a compiled, multi-threaded kernel that fuses
the product, the random numbers and the accept/reject per colour. Random
numbers are counter-based (a hash of seed, sweep, node and chain) and ``exp``
is evaluated by shared elementary operations, so both paths decide every
flip identically (see :mod:`skising.sampling._kernels`). Acceptance
probabilities are compared with uniforms on a grid of ``2^-23``, so
probabilities below about ``6e-8`` act as zero, as with any float32 uniform.

Update rules, both exact for :math:`p(x) \propto \exp(-\beta E(x))` of eq. 1:

* ``"metropolis"``: flip spin *i* with probability
  :math:`\min(1, e^{-\beta \Delta E_i})`, where
  :math:`\Delta E_i = 2 x_i (\sum_j J_{ij} x_j + h_i)`.
  **Note on the paper's Algorithm 1**: as printed it accepts when
  :math:`e^{-2\beta\Delta E_i} > r`, which samples
  :math:`\exp(-2\beta E)`, i.e. the model at inverse temperature
  :math:`2\beta`. skising targets eq. 1 exactly; to reproduce the printed
  algorithm pass ``beta = 2 * beta_paper``.
* ``"heat_bath"`` (Gibbs): set :math:`x_i = +1` with probability
  :math:`\sigma(2\beta(\sum_j J_{ij} x_j + h_i))`.

Each colour update is a product of single-site kernels in detailed balance
with eq. 1 that touch disjoint, non-interacting spins, so a sweep over all
colours leaves eq. 1 invariant. Caveat: with Metropolis at :math:`\beta = 0`
(or a spin whose local field is exactly zero) every proposal is accepted and
the deterministic sweep is periodic; start from ``init="random"`` or use
``update="heat_bath"`` there.
"""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import scipy.sparse as sp
import torch

from .._validation import (
    check_coupling,
    check_device,
    check_field,
    check_generator,
    check_init,
    check_int,
    check_memory,
    check_scalar,
)
from ..graph._cache import cached_graph
from . import _coloring_kernels, _engine, _kernels
from ._coloring import color_graph

__all__ = ["sample_ising", "SamplerPlan", "GraphCouplings"]

_UPDATES = _engine.UPDATES
# above this many stored entries per colour block, CSR sparse-dense products win
_CSR_MIN_NNZ = 50_000
# from this many nodes on, the plan orders nodes inside a colour for memory locality
_REORDER_MIN_NODES = 100_000

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta state.*")


class SamplerPlan:
    """Colour-permuted CSR blocks of one graph on one device (cached).

    Nodes are sorted by colour (inside a colour: by node index, or for
    graphs of at least ``_REORDER_MIN_NODES`` nodes by reverse Cuthill-McKee
    rank, for memory locality; a batch is reordered only when one of its
    graphs is that large); colour ``c`` owns the contiguous positions ``s:e`` and the CSR
    rows ``a:b`` of the permuted matrix. Attributes ``rowptr`` / ``col``
    (numpy, CPU) hold the whole permuted CSR for the compiled kernel.
    """

    def __init__(self, graph, colors, device, order=None):
        n = graph.num_nodes
        colors = np.asarray(colors, dtype=np.int64)
        if order is None and _reorders(graph):
            order = _rcm(graph)
        # by colour, inside a colour by RCM rank (or node index): a stable radix sort on small integers
        key = colors if order is None else colors[order]
        perm = np.argsort(key.astype(np.int16) if n and colors.max() < 2**15 else key, kind="stable")
        if order is not None:
            perm = order[perm]
        position = np.empty(n, dtype=np.int64)
        position[perm] = np.arange(n)
        counts = np.bincount(colors, minlength=1) if n else np.zeros(1, dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rowptr = graph.rowptr.cpu().numpy()
        col = graph.col.cpu().numpy()
        eid = graph.eid.cpu().numpy()
        idt = np.int32 if n < 2**31 else np.int64
        if _kernels.HAVE_NUMBA:  # one compiled pass: row gather, column relabelling, index dtype
            new_rowptr, pcol, peid = _kernels.permute_csr_numba(rowptr, col, eid, perm, position, idt)
        else:  # row gather of the CSR in C (scipy), then relabel columns
            M = sp.csr_matrix((eid, col, rowptr), shape=(n, n))[perm]
            new_rowptr = M.indptr.astype(np.int64)
            pcol = position[M.indices].astype(idt)
            peid = M.data.astype(np.int64)
        self.n = n
        self.device = device
        self.perm = torch.from_numpy(perm).to(device)
        self.position = torch.from_numpy(position).to(device)
        self.eid_np = peid
        self.eid = torch.from_numpy(peid).to(device)
        self.rowptr = new_rowptr
        self.col = pcol
        self.bounds = bounds
        self.n_colors = counts.size
        self.n_edges = graph.num_edges
        self._blocks = None
        self._ell = None
        self._slot_values = {}

    @property
    def blocks(self):
        """Per colour ``(s, e, a, b, crow, col)``: positions ``s:e``, CSR entries ``a:b``, the block's
        row pointer and columns on the plan's device (for the torch path; built on first use)."""
        if self._blocks is None:
            pcol_t = torch.from_numpy(self.col.astype(np.int64))
            rowptr_t = torch.from_numpy(self.rowptr)
            self._blocks = []
            for c in range(self.n_colors):  # loop over colours (few), not their members
                s, e = int(self.bounds[c]), int(self.bounds[c + 1])
                a, b = int(self.rowptr[s]), int(self.rowptr[e])
                crow = (rowptr_t[s : e + 1] - a).to(self.device)
                self._blocks.append((s, e, a, b, crow, pcol_t[a:b].to(self.device)))
        return self._blocks

    def ell(self):
        """Sliced-ELL form of the permuted CSR for the compiled one-chain kernel (built once, on first use).

        ``(sbounds, srow, swid, sptr, ecol, eid)``: see :func:`_kernels.ell_layout`; ``eid``
        maps each slot to its undirected edge, ``n_edges`` for padding (value 0).
        """
        if self._ell is None:
            self._ell = _kernels.ell_layout(self.rowptr, self.col, self.bounds, entry_ids=self.eid_np, pad=self.n_edges)
        return self._ell

    def slot_values(self, J, dtype, ell):
        """Couplings per stored entry for the compiled kernels: per ELL slot (``ell``) or per CSR entry.

        Gathering them costs more than a sweep on big graphs, so the last result per
        layout is kept: reused for the same unmodified tensor ``J`` (a weak reference
        and torch's version counter, so a freed or edited tensor never matches), or
        for any ``J`` whose entries all equal the same value (scalar couplings on an
        unweighted graph).
        """
        Jn = J.detach().to(dtype).cpu().numpy()
        uniform = Jn.size > 0 and Jn[0] == Jn.min() == Jn.max()  # NaN never counts as uniform
        key = ("uniform", Jn.dtype.str, Jn[0].tobytes()) if uniform else ("tensor", Jn.dtype.str, J._version)
        hit = self._slot_values.get(ell)
        if hit is not None and hit[0] == key and (uniform or hit[1]() is J):
            return hit[2]
        if ell:
            eid = self.ell()[5]
            if uniform:  # the value at every real slot, 0 at padding: no gather
                vals = np.where(eid == self.n_edges, Jn.dtype.type(0), Jn[0])
            else:
                vals = np.append(Jn, Jn.dtype.type(0))[eid]
        else:
            vals = np.full(self.eid_np.size, Jn[0]) if uniform else Jn[self.eid_np]
        try:
            ref = weakref.ref(J)
        except TypeError:  # pragma: no cover - tensors support weak references
            ref = lambda: None  # noqa: E731
        self._slot_values[ell] = (key, ref, vals)
        return vals

    def matrices(self, J):
        """Sparse CSR blocks ``A_c`` (rows of colour c, all columns) with values ``J``."""
        vals = J[self.eid]
        mats = []
        with warnings.catch_warnings():  # torch flags sparse CSR as "beta" on every construction
            warnings.simplefilter("ignore", UserWarning)
            for s, e, a, b, crow, col in self.blocks:
                if b - a > _CSR_MIN_NNZ:
                    mats.append(torch.sparse_csr_tensor(crow, col, vals[a:b], size=(e - s, self.n), check_invariants=False))
                else:  # small blocks: COO products have far less fixed overhead
                    rows = torch.repeat_interleave(torch.arange(e - s, device=crow.device), crow[1:] - crow[:-1])
                    mats.append(torch.sparse_coo_tensor(torch.stack([rows, col]), vals[a:b], size=(e - s, self.n),
                                                        is_coalesced=True, check_invariants=False))
        return mats


def _reorders(graph):
    """Whether the plan orders nodes inside a colour by RCM rank: graphs with a piece of at least
    ``_REORDER_MIN_NODES`` nodes (the largest piece we know of: a batch's parts keep their own order)."""
    return graph.num_nodes > 0 and int((graph.ptr[1:] - graph.ptr[:-1]).max()) >= _REORDER_MIN_NODES


def _rcm(graph):
    # big graphs: inside each colour, order nodes by reverse Cuthill-McKee so that neighbours sit
    # close in memory (7x faster sweeps on a randomly labelled mesh); scipy's reverse_cuthill_mckee
    # order, computed by a compiled twin
    return _coloring_kernels.rcm_order(graph.rowptr.cpu().numpy(), graph.col.cpu().numpy())


def _plan(graph, coloring, device):
    key = (coloring, str(device))
    plan = graph._plans.get(key)
    if plan is None:
        order = None
        if (_reorders(graph) and _kernels.HAVE_NUMBA and torch.get_num_threads() > 1
                and coloring not in graph._colors):
            # colouring and RCM order depend only on the graph and release the GIL: one thread each
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(1) as pool:
                future = pool.submit(_rcm, graph)
                colors = color_graph(graph, coloring)
                order = future.result()
        else:
            colors = color_graph(graph, coloring)
        plan = SamplerPlan(graph, colors, device, order=order)
        graph._plans[key] = plan
    return plan


def _use_numba(backend, device, dtype):
    if backend == "torch":
        return False
    ok = _kernels.HAVE_NUMBA and torch.device(device).type == "cpu" and dtype in (torch.float32, torch.float64)
    if backend == "numba" and not ok:
        raise ValueError(
            "backend: 'numba' needs numba (pip install numba llvmlite), a CPU device and float32/float64; "
            f"got numba={'yes' if _kernels.HAVE_NUMBA else 'no'}, device={device}, dtype={dtype}"
        )
    return ok


def _sweeps_numba(plan, J, dtype, Xn, Hn, skeys, k0, beta, update, out=None):
    """The compiled path: sweeps in place on ``Xn`` ((n, n_chains) int8, colour-permuted); with ``out``
    ((n_chains, n) float), the final spins land there in node order instead (``Xn`` is consumed)."""
    ell = None
    if Xn.shape[1] < 8:  # a few chains: the sliced-ELL kernels (values per slot, 0 for padding)
        ell = (*plan.ell()[:5], plan.slot_values(J, dtype, True))
        val = ell[5][:0]  # unused by the ELL kernel
    else:
        val = plan.slot_values(J, dtype, False)
    _kernels.sweeps_numba(plan.rowptr, plan.col, val, Xn, Hn, plan.bounds, skeys, k0, beta, update == "heat_bath",
                          n_threads=torch.get_num_threads(), ell=ell, out=out,
                          position=None if out is None else plan.position.numpy())


def _sample(graph, h, J, beta, n_chains, n_sweeps, update, init, gen, coloring="auto", dtype=torch.float32,
            backend="auto"):
    """Kernel: trusts validated tensors on one device. Returns (n_chains, n) spins.

    ``backend``: ``"auto"`` (compiled CPU kernel when numba is installed, the
    device is a CPU and ``dtype`` is float32/float64; torch otherwise),
    ``"torch"`` or ``"numba"``. Both give the same samples for a seed (see
    :mod:`skising.sampling._kernels`).
    """
    rep = GraphCouplings._from_plan(graph, _plan(graph, coloring, h.device), J, backend)
    if not isinstance(init, str):
        init = rep._to_layout(init)
    return _engine.run(rep, h, beta, n_chains, n_sweeps, update, init, gen, dtype)


class GraphCouplings(_engine.LayoutCouplings):
    r"""Couplings on the edges of an explicit graph: the engine's CSR representation.

    The layout is the sampler plan's colour-permuted node order (:class:`SamplerPlan`);
    the local field of a colour is one sparse product ``A_c @ X``, and on a
    CPU with numba a compiled kernel runs the same sweeps (same samples).
    Same samples as :func:`sample_ising` for the same arguments and seed.

    Parameters
    ----------
    graph : graph input (see :func:`skising.graph.as_graph`)
    coupling : float or array-like of shape (n_edges,), default=1.0
        A scalar multiplies the graph's edge weights; an array gives ``J_e``
        per undirected edge, in the order of ``graph.edges``.
    coloring : str, default="auto"
        Colouring method (see :func:`color_graph`), cached on the graph.
    device : str or torch.device, optional
        Default: CPU.
    dtype : torch.dtype, default=torch.float32
        Floating type of the couplings.

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.sampling import GraphCouplings
    >>> rep = GraphCouplings(nx.cycle_graph(6), coupling=-1.0)
    >>> x = rep.sample(field=0.0, n_chains=2, n_sweeps=5, random_state=0)
    >>> tuple(x.shape), tuple(rep.energy(x).shape)
    ((2, 6), (2,))
    """

    def __init__(self, graph, coupling=1.0, coloring="auto", device=None, dtype=torch.float32):
        device = _call_device(None, device)
        g = cached_graph(graph).to(device)
        J = check_coupling(coupling, g, device=device, dtype=_check_dtype(dtype))
        self._setup(g, _plan(g, coloring, device), J, "auto")

    @classmethod
    def _from_plan(cls, graph, plan, J, backend="auto"):
        rep = cls.__new__(cls)
        rep._setup(graph, plan, J, backend)
        return rep

    def _setup(self, graph, plan, J, backend):
        self.graph, self.plan, self.coupling, self.backend = graph, plan, J, backend
        self.n, self.device, self.bounds = plan.n, plan.device, plan.bounds
        self.perm, self.position = plan.perm, plan.position

    def _fast_sweeps(self, X, field, n_chains, n_sweeps, beta, update, k0, skeys, dtype):
        if not _use_numba(self.backend, self.device, dtype):
            return None
        # sweeps, then the spins in node order as (n_chains, n) floats, in one compiled pass per block of
        # chains (in torch's allocation: numpy's asks for huge pages, whose compaction stalled for seconds
        # on a busy machine)
        out = torch.empty((n_chains, self.n), dtype=torch.float64 if dtype == torch.float64 else torch.float32)
        _sweeps_numba(self.plan, self.coupling, dtype, X.contiguous().numpy(), field.contiguous().numpy(), skeys,
                      k0, beta, update, out=out.numpy())
        return out

    def _state(self, X, dtype, sweeping):
        if sweeping:
            self._mats = self.plan.matrices(self.coupling.detach().to(dtype))
        return super()._state(X, dtype, sweeping)

    def _local(self, state, c):
        A = self._mats[c]
        if A.values().numel():
            return torch.sparse.mm(A, state)
        s, e = int(self.bounds[c]), int(self.bounds[c + 1])
        return torch.zeros(e - s, state.shape[1], dtype=state.dtype, device=state.device)

    def _output(self, X, dtype):
        self._mats = None
        if _kernels.HAVE_NUMBA and X.device.type == "cpu" and dtype in (torch.float32, torch.float64):
            # back to node order as (n_chains, n) floats in one compiled pass (torch's strided
            # gather of X.T took seconds for 32 chains on 1M nodes)
            return torch.from_numpy(_kernels.unpermute_numba(X.contiguous().numpy(), self.plan.position.numpy(),
                                                             np.float64 if dtype == torch.float64 else np.float32,
                                                             n_threads=torch.get_num_threads()))
        return X.T[:, self.position].to(dtype).contiguous()

    def energy(self, x, field=0.0, per_graph=None):
        """Energy of eq. 1 of samples ``x`` ((n_nodes,) or (n_samples, n_nodes)): ``(n_samples,)``, or
        ``(n_samples, n_graphs)`` for a batch (``per_graph``); differentiable in ``field`` and the couplings."""
        from ._energy import _energy, _spins

        xs = _spins(x, self.n)
        h = field if isinstance(field, torch.Tensor) else torch.as_tensor(field, dtype=torch.float32)
        h = h.to(device=xs.device)
        J = self.coupling.to(xs.device)
        dt = torch.promote_types(torch.promote_types(xs.dtype, h.dtype), J.dtype)
        e = _energy(self.graph, xs.to(dt), (h[None] if h.dim() == 1 else h).to(dt), J.to(dt))
        if per_graph is None:
            per_graph = self.graph.batch is not None
        return e if per_graph else e.sum(1)

    def local_field(self, x):
        from ._energy import _local_field, _spins

        out = _local_field(self.graph, _spins(x, self.n), self.coupling)
        return out[0] if torch.as_tensor(x).dim() == 1 else out

    def __repr__(self):
        return f"GraphCouplings(n_nodes={self.n}, n_edges={self.graph.num_edges}, n_colors={self.n_colors})"


def sample_ising(
    graph,
    field,
    coupling=1.0,
    beta=1.0,
    n_chains=1,
    n_sweeps=10,
    update="metropolis",
    init="random",
    random_state=None,
    device=None,
    coloring="auto",
    dtype=torch.float32,
):
    r"""Sample the Ising model :math:`p(x) \propto \exp(-\beta E(x))` on a graph.

    Parameters
    ----------
    graph : graph input (see :func:`skising.graph.as_graph`)
        A batch (disjoint union) samples every graph at once.
    field : array-like of shape (n_nodes,) or (n_chains, n_nodes), or float
        External field ``h``.
    coupling : float or array-like of shape (n_edges,)
        A scalar multiplies the graph's edge weights (1 for unweighted
        graphs); an array gives ``J_e`` per undirected edge, in the order of
        ``Graph.edges``. Positive: ferromagnetic, negative: antiferromagnetic.
    beta : float >= 0
        Inverse temperature.
    n_chains : int >= 1
        Independent chains, sampled together.
    n_sweeps : int >= 0
        Sweeps; one sweep updates every colour class once.
    update : {"metropolis", "heat_bath"}
    init : {"random", "up", "down"} or array of shape (n_nodes,) / (n_chains, n_nodes)
    random_state : None, int, numpy or torch generator
        Same seed, same device: identical samples.
    device : str or torch.device, optional
        Default: the field's device if it is a tensor, else CPU.
    coloring : str
        Colouring method (see :func:`color_graph`), cached on the graph.
    dtype : torch.dtype
        Floating type of the spins and arithmetic.

    Returns
    -------
    torch.Tensor of shape (n_chains, n_nodes), values in {-1., +1.}

    Notes
    -----
    The paper's Algorithm 1 accepts with :math:`e^{-2\beta\Delta E}`, which
    samples at inverse temperature :math:`2\beta`; this function accepts
    with :math:`\min(1, e^{-\beta\Delta E})` and targets eq. 1 exactly.

    To sample one graph many times, prepare it once with
    :class:`IsingModel` (same samples for the same arguments and seed).
    Repeated calls with the same, unchanged scipy matrix, ``edge_index`` or
    PyG ``Data`` reuse its conversion, colouring and plan too: a cache keyed
    on the input object and a hash of its arrays' content, so an in-place
    edit is seen (see :mod:`skising.graph._cache`).

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.sampling import sample_ising
    >>> x = sample_ising(nx.grid_2d_graph(4, 4), field=0.0, coupling=-1.0, beta=1.0,
    ...                  n_chains=8, n_sweeps=20, random_state=0)
    >>> tuple(x.shape), set(x.unique().tolist()) <= {-1.0, 1.0}
    ((8, 16), True)
    """
    g = cached_graph(graph)
    device = _call_device(field, device)
    dtype = _check_dtype(dtype)
    beta = _check_rule(beta, update)
    h, n_chains, n_sweeps, init, gen = _check_call(g, field, n_chains, n_sweeps, init, random_state, device, dtype)
    g = g.to(device)
    J = check_coupling(coupling, g, device=device, dtype=dtype)
    return _sample(g, h, J, beta, n_chains, n_sweeps, update, init, gen, coloring, dtype)


def _call_device(field, device):
    if device is None:
        device = field.device if isinstance(field, torch.Tensor) else torch.device("cpu")
    return check_device(device)


def _check_dtype(dtype):
    if dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        raise TypeError(f"dtype: expected a torch floating dtype, got {dtype!r}")
    return dtype


def _check_rule(beta, update):
    """``beta`` and ``update`` of a sampler (``sample_ising``, ``IsingModel``, the partitioned
    sampler), checked; returns ``beta`` as a float."""
    beta = check_scalar(beta, "beta", low=0.0)
    if update not in _UPDATES:
        raise ValueError(f"update: expected one of {_UPDATES}, got {update!r}")
    return beta


def _check_chains(g, field, n_chains, n_sweeps, init, device, dtype):
    """The chain arguments of a sampling call on the graph ``g``, checked: ``(h, n_chains, n_sweeps, init)``
    (shared with the partitioned sampler)."""
    h = check_field(field, g.num_nodes, device=device, dtype=dtype, allow_grad=False)
    n_chains = check_int(n_chains, "n_chains", low=1)
    if h.dim() == 2 and h.shape[0] != n_chains:
        raise ValueError(f"field: a 2-D field needs one row per chain ({n_chains}), got {h.shape[0]} rows")
    n_sweeps = check_int(n_sweeps, "n_sweeps", low=0)
    init = check_init(init, n_chains, g.num_nodes, device, dtype)
    return h, n_chains, n_sweeps, init


def _check_call(g, field, n_chains, n_sweeps, init, random_state, device, dtype):
    """The per-call arguments of a sampling call on the graph ``g``: ``(h, n_chains, n_sweeps, init, gen)``,
    after a check that the chains fit in memory."""
    h, n_chains, n_sweeps, init = _check_chains(g, field, n_chains, n_sweeps, init, device, dtype)
    gen = check_generator(random_state, device)
    # before allocating: the compiled path holds int8 spins, the output and a per-chain field; the
    # torch path float spins, a colour block of random numbers and its temporaries too
    itemsize = torch.tensor([], dtype=dtype).element_size()
    per_chain = itemsize if h.dim() == 2 else 0
    if _use_numba("auto", device, dtype):
        per_update = 1 + itemsize + per_chain
    else:
        per_update = 3 * itemsize + per_chain
    try:
        check_memory(per_update * g.num_nodes * n_chains, f"sampling {n_chains} chains on {g.num_nodes} nodes",
                     "reduce n_chains (or sample in several calls)", device)
    except MemoryError as exc:
        from ..distributed import partition_hint

        hint = partition_hint(g.num_nodes, n_chains, g.num_edges, itemsize, device)
        raise MemoryError(f"{exc}, {hint}" if hint else str(exc)) from None
    return h, n_chains, n_sweeps, init, gen
