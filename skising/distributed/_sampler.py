r"""The partitioned sampler: one graph's chains split over the ranks of a process group.

Every rank builds the same colour-permuted plan as :func:`skising.sampling.sample_ising`
(colouring and node order are deterministic) and the same partition (rank 0's,
broadcast). A rank then keeps its **own** nodes and a **halo** of the remote
neighbours of its own nodes; its spins are an ``(own + halo, n_chains)``
array. Per colour, a rank updates its own nodes of that colour (one sparse
product over its rows, then the accept/reject of the single-process torch
path), then one ``all_to_all_single`` sends the just-updated spins of its
boundary nodes of that colour, 1 byte per spin per chain (int8), to the ranks
whose halo holds them. The send and receive lists per colour and peer are
computed once, from the partition, without communication (a node is sent to
rank ``q`` exactly when it has a neighbour owned by ``q``).

**Bit-identical to one process.** The random numbers are counter-based: the
uniform of a spin is a hash of ``(key, sweep, global colour-permuted position,
chain)``, so a rank computes exactly the uniforms the single process would
for its nodes; the keys and the random initial state are drawn from the same
generator in the same order on every rank. The local field of a node sums
its neighbours in the order of its row of the global plan. So for the same
seed, colouring and graph, the samples equal ``sample_ising``'s, up to the
caveat of :mod:`skising.sampling._kernels` on summation order (exact for
unweighted graphs and dyadic couplings).

Memory per rank: the graph plan (O(nodes + edges), replicated: every rank
reads the whole graph) and the chain state of its own and halo nodes
(O((own + halo) x chains)); so the partitioned sampler helps when the chains,
not the graph, are what does not fit. ``sample_ising`` is faster on one
process (its compiled kernel); partitioning pays when the graph's chains do
not fit one machine, or across machines (see ``doc/distributed.md``).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .._validation import check_coupling, check_generator, check_graph
from ..sampling import _kernels
from ..sampling._sampler import _CSR_MIN_NNZ, _check_chains, _check_rule, _plan
from ._partition import partition_graph

__all__ = ["sample_ising_partitioned"]

# rows of the random initial state drawn at a time: the same stream as one draw, O(chunk) memory
_INIT_CHUNK = 1 << 16


def _ranges(starts, ends):
    """Concatenated ``arange(s, e)`` for all pairs, vectorised."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


class _LocalPlan:
    """One rank's rows of the global plan, its halo and the exchange lists per colour."""

    def __init__(self, plan, part_pos, rank, world):
        n = plan.n
        self.rank, self.world, self.part_pos = rank, world, part_pos
        own = np.flatnonzero(part_pos == rank)
        rowptr = plan.rowptr
        entries = _ranges(rowptr[own], rowptr[own + 1])
        ecol = plan.col[entries].astype(np.int64)
        remote = part_pos[ecol] != rank
        halo = np.unique(ecol[remote])
        local = np.full(n, -1, dtype=np.int64)
        local[own] = np.arange(own.size)
        local[halo] = own.size + np.arange(halo.size)
        self.own, self.halo = own, halo
        self.n_own, self.n_halo = own.size, halo.size
        self.rowptr = np.concatenate([[0], np.cumsum(rowptr[own + 1] - rowptr[own])]).astype(np.int64)
        self.col = torch.from_numpy(local[ecol])
        self.eid = torch.from_numpy(plan.eid_np[entries])
        # colour c's own rows are the local rows cb[c]:cb[c + 1] (own positions are sorted)
        self.cb = np.searchsorted(own, plan.bounds)
        self.pos = torch.from_numpy(own)
        # sends: (own node, peer) pairs with an edge into the peer's part, by peer then position
        row_of_entry = np.repeat(np.arange(own.size), np.diff(self.rowptr))
        pairs = np.unique(part_pos[ecol[remote]] * np.int64(n) + own[row_of_entry[remote]])
        send_peer, send_pos = pairs // n, pairs % n
        recv_peer = part_pos[halo]
        order = np.lexsort((halo, recv_peer))
        recv_peer, recv_pos = recv_peer[order], halo[order]
        self.exchange = []
        for c in range(plan.n_colors):  # loop over colours and peers (few), not nodes
            lo, hi = plan.bounds[c], plan.bounds[c + 1]
            s = (send_pos >= lo) & (send_pos < hi)
            r = (recv_pos >= lo) & (recv_pos < hi)
            self.exchange.append((
                torch.from_numpy(local[send_pos[s]]), np.bincount(send_peer[s], minlength=world).tolist(),
                torch.from_numpy(local[recv_pos[r]]), np.bincount(recv_peer[r], minlength=world).tolist(),
            ))
        self._mats = None

    def matrices(self, J, dtype):
        """Per colour: the sparse rows of the own nodes of that colour over the local columns."""
        if self._mats is not None and self._mats[0] is J and self._mats[1] == dtype:
            return self._mats[2]
        vals = J.detach().to(dtype)[self.eid]
        n_local = self.n_own + self.n_halo
        rowptr = torch.from_numpy(self.rowptr)
        mats = []
        import warnings

        with warnings.catch_warnings():  # torch flags sparse CSR as "beta" on every construction
            warnings.simplefilter("ignore", UserWarning)
            for c in range(len(self.cb) - 1):
                s, e = int(self.cb[c]), int(self.cb[c + 1])
                a, b = int(self.rowptr[s]), int(self.rowptr[e])
                crow = rowptr[s : e + 1] - a
                if b - a > _CSR_MIN_NNZ:
                    mats.append(torch.sparse_csr_tensor(crow, self.col[a:b], vals[a:b], size=(e - s, n_local),
                                                        check_invariants=False))
                else:
                    rows = torch.repeat_interleave(torch.arange(e - s), crow[1:] - crow[:-1])
                    mats.append(torch.sparse_coo_tensor(torch.stack([rows, self.col[a:b]]), vals[a:b],
                                                        size=(e - s, n_local), is_coalesced=True,
                                                        check_invariants=False))
        self._mats = (J, dtype, mats)
        return mats


def _update_colour(X, A, H, s, e, pos, n_chains, k0, skey, beta, update, dtype):
    """Own rows ``s:e`` (one colour) of all chains, with the arithmetic of the single-process torch path."""
    npdt = np.float64 if dtype == torch.float64 else np.float32
    loc = torch.sparse.mm(A, X) if A._nnz() else torch.zeros(e - s, n_chains, dtype=dtype)
    loc = loc + H[s:e]
    idx = pos[s:e, None] * n_chains + torch.arange(n_chains)
    u = _kernels.hash_uniform_torch(idx, k0, skey, dtype)
    if update == "metropolis":
        y = torch.clamp((X[s:e] * loc) * float(npdt(-2.0 * beta)), max=0.0)
        flip = u < _kernels.exp_neg_torch(y)
        X[s:e] = torch.where(flip, -X[s:e], X[s:e])
    else:
        z = loc * float(npdt(2.0 * beta))
        ex = _kernels.exp_neg_torch(-torch.abs(z))
        p_up = torch.where(z >= 0, torch.ones_like(ex), ex) / (1.0 + ex)
        X[s:e] = torch.where(u < p_up, 1.0, -1.0).to(dtype)


def _exchange(X, lp, c, n_chains, group, stats):
    """Send the just-updated boundary spins of colour ``c`` (int8) into the peers' halos."""
    import torch.distributed as dist

    send_idx, send_counts, recv_idx, recv_counts = lp.exchange[c]
    t0 = time.perf_counter()
    out = torch.empty(len(recv_idx) * n_chains, dtype=torch.int8)
    inp = X[send_idx].to(torch.int8).reshape(-1)
    dist.all_to_all_single(out, inp, [k * n_chains for k in recv_counts], [k * n_chains for k in send_counts],
                           group=group)
    X[recv_idx] = out.view(-1, n_chains).to(X.dtype)
    stats["comm_seconds"] += time.perf_counter() - t0
    stats["bytes_sent"] += inp.numel()


def _setup(g, coloring, partition, group, rank, world):
    """The cached local plan of this rank (partition computed on rank 0 and broadcast)."""
    import torch.distributed as dist

    plan = _plan(g, coloring, torch.device("cpu"))
    key = ("partition", coloring, partition if isinstance(partition, str) else "array", world, rank)
    if isinstance(partition, str):
        hit = g._plans.get(key)
        if hit is not None:
            return plan, hit
        part = partition_graph(g, world, partition) if rank == 0 else np.zeros(g.num_nodes, dtype=np.int64)
    else:
        part = np.asarray(partition)
        if part.shape != (g.num_nodes,) or not np.issubdtype(part.dtype, np.integer):
            raise ValueError(f"partition: expected an integer array of shape ({g.num_nodes},), got "
                             f"{part.dtype} of shape {part.shape}")
        if part.size and (part.min() < 0 or part.max() >= world):
            raise ValueError(f"partition: part ids must lie in [0, {world}) (the group's size)")
    if world > 1:  # one partition everywhere (METIS could differ between machines)
        t = torch.from_numpy(part.astype(np.int64))
        dist.broadcast(t, src=dist.get_global_rank(group, 0) if group is not None else 0, group=group)
        part = t.numpy()
    lp = _LocalPlan(plan, part[plan.perm.numpy()], rank, world)
    if isinstance(partition, str):
        g._plans[key] = lp
    return plan, lp


def sample_ising_partitioned(
    graph,
    field,
    coupling=1.0,
    beta=1.0,
    n_chains=1,
    n_sweeps=10,
    update="metropolis",
    init="random",
    random_state=None,
    coloring="auto",
    partition="auto",
    dtype=torch.float32,
    gather=True,
    group=None,
    return_stats=False,
):
    r"""Sample the Ising model of one graph split over the ranks of a process group.

    Call it on every rank of an initialised ``torch.distributed`` group of
    CPU processes (gloo) with the same arguments; the samples equal
    :func:`skising.sampling.sample_ising`'s for the same seed, colouring and
    graph (see :mod:`skising.distributed._sampler`). Without a process group
    it runs as one rank.

    Parameters
    ----------
    graph, field, coupling, beta, n_chains, n_sweeps, update, init, coloring
        As in :func:`skising.sampling.sample_ising`.
    random_state : None, int or torch.Generator
        An int (or None: rank 0 draws one and broadcasts it) seeds the same
        stream on every rank; a generator must be in the same state on every rank.
    partition : {"auto", "metis", "contiguous"} or array of shape (n_nodes,)
        How nodes are split over the ranks (see :func:`partition_graph`), or
        the rank of every node.
    dtype : {torch.float32, torch.float64}
    gather : bool, default True
        Return all nodes' spins on every rank; ``False``: only this rank's
        nodes, as ``(nodes, x)``.
    group : torch.distributed.ProcessGroup, optional
        Default: the default group.
    return_stats : bool, default False
        Also return a dict: ``n_own``, ``n_halo``, ``bytes_sent`` (by this
        rank, all sweeps), ``comm_seconds`` and ``seconds`` (the sweeps).

    Returns
    -------
    torch.Tensor of shape (n_chains, n_nodes) when ``gather``, else
    ``(nodes, x)``: LongTensor of this rank's node ids and its spins
    ``(n_chains, len(nodes))``; values in {-1., +1.}.

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from skising.distributed import sample_ising_partitioned
    >>> from skising.sampling import sample_ising
    >>> g = nx.grid_2d_graph(6, 6)
    >>> x = sample_ising_partitioned(g, 0.1, n_chains=4, n_sweeps=5, random_state=0)  # one rank here
    >>> torch.equal(x, sample_ising(g, 0.1, n_chains=4, n_sweeps=5, random_state=0))
    True
    """
    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank(group) if distributed else 0
    world = dist.get_world_size(group) if distributed else 1
    g = check_graph(graph)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    beta = _check_rule(beta, update)
    h, n_chains, n_sweeps, init = _check_chains(g, field, n_chains, n_sweeps, init, "cpu", dtype)
    if random_state is None and world > 1:  # one seed for all ranks
        seed = torch.randint(0, 2**62, (1,))
        dist.broadcast(seed, src=dist.get_global_rank(group, 0) if group is not None else 0, group=group)
        random_state = int(seed)
    gen = check_generator(random_state, "cpu")
    J = check_coupling(coupling, g, device="cpu", dtype=dtype)
    plan, lp = _setup(g, coloring, partition, group, rank, world)
    n, K = g.num_nodes, n_chains
    own = lp.own
    # chain state: own rows then halo rows, in the order of the global plan's positions
    rows = np.concatenate([own, lp.halo])
    if isinstance(init, str):
        if init == "random":  # the single-process draw, chunk by chunk, keeping this rank's rows
            X = torch.empty(rows.size, K, dtype=dtype)
            for a in range(0, n, _INIT_CHUNK):  # loop over chunks of rows (memory), not nodes
                chunk = torch.randint(0, 2, (min(_INIT_CHUNK, n - a), K), generator=gen, dtype=torch.int8)
                sel = np.flatnonzero((rows >= a) & (rows < a + _INIT_CHUNK))
                X[sel] = chunk[rows[sel] - a].to(dtype).mul_(2).sub_(1)
        else:
            X = torch.full((rows.size, K), 1.0 if init == "up" else -1.0, dtype=dtype)
    else:
        X = init.to(dtype)[:, plan.perm[torch.from_numpy(rows)]].T.contiguous()
    k0, k1 = torch.randint(0, 2**32, (2,), generator=gen).tolist()
    skeys = _kernels.sweep_keys(k1, n_sweeps)
    nodes = plan.perm[lp.pos]
    H = h[nodes][:, None] if h.dim() == 1 else h[:, nodes].T.contiguous()
    stats = {"n_own": lp.n_own, "n_halo": lp.n_halo, "bytes_sent": 0, "comm_seconds": 0.0}
    t0 = time.perf_counter()
    if n_sweeps and n:
        mats = lp.matrices(J, dtype)
        for t in range(n_sweeps):
            for c, A in enumerate(mats):  # loop over colours (few)
                s, e = int(lp.cb[c]), int(lp.cb[c + 1])
                if e > s:
                    _update_colour(X, A, H, s, e, lp.pos, K, k0, skeys[t], beta, update, dtype)
                if world > 1:
                    _exchange(X, lp, c, K, group, stats)
    stats["seconds"] = time.perf_counter() - t0
    x_own = X[: lp.n_own].T.contiguous()
    if gather:
        out = _gather(x_own, plan, lp, g.num_nodes, group) if world > 1 else torch.empty(K, n, dtype=dtype)
        if world == 1:
            out[:, nodes] = x_own
        result = out
    else:
        result = (nodes, x_own)
    return (result, stats) if return_stats else result


def _gather(x_own, plan, lp, n, group):
    """All ranks' spins on every rank, in node order (int8 on the wire)."""
    import torch.distributed as dist

    world = lp.world
    sizes = torch.tensor([lp.n_own])
    all_sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(all_sizes, sizes, group=group)
    m = max(int(s) for s in all_sizes)
    K = x_own.shape[0]
    buf = torch.zeros(m, K, dtype=torch.int8)
    buf[: lp.n_own] = x_own.T.to(torch.int8)
    bufs = [torch.empty_like(buf) for _ in range(world)]
    dist.all_gather(bufs, buf, group=group)
    pos = [torch.from_numpy(np.asarray(lp_nodes)) for lp_nodes in _owned_positions(lp)]
    out = torch.empty(K, n, dtype=x_own.dtype)
    for q in range(world):  # loop over ranks (few)
        out[:, plan.perm[pos[q]]] = bufs[q][: int(all_sizes[q])].T.to(x_own.dtype)
    return out


def _owned_positions(lp):
    """Global positions owned by every rank (the partition is known everywhere)."""
    return [np.flatnonzero(lp.part_pos == q) for q in range(lp.world)]
