"""The sampler plan's set-up kernels give exactly the arrays of their slow definitions.

The plan's node order (colour, then reverse Cuthill-McKee rank) determines the samples of a
seed, so its compiled RCM must equal scipy's function bit for bit; the sliced-ELL edge map
and the slot values of scalar couplings must equal the gathers they replace; many chains in
blocks must give the samples of the torch path.
"""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import reverse_cuthill_mckee

from skising.graph import as_graph
from skising.sampling import _kernels, color_graph
from skising.sampling._sampler import _plan, _sample

pytestmark = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed (pip install numba llvmlite)")


def _scipy_rcm(g):
    n = g.num_nodes
    A = sp.csr_matrix((np.ones(g.col.numel(), dtype=np.int8), g.col.numpy(), g.rowptr.numpy()), shape=(n, n))
    return reverse_cuthill_mckee(A, symmetric_mode=True)


def _graphs():
    rng = np.random.default_rng(0)
    for s in range(40):
        n = int(rng.integers(2, 200))
        kind = s % 4
        if kind == 0:  # several components, isolated nodes, many equal degrees
            G = nx.gnm_random_graph(n, int(rng.integers(0, 2 * n)), seed=s)
        elif kind == 1:
            G = nx.random_regular_graph(3, n + n % 2, seed=s)
        elif kind == 2:
            G = nx.disjoint_union(nx.path_graph(n // 2 + 1), nx.star_graph(n // 3 + 1))
        else:  # a grid with shuffled labels
            H = nx.convert_node_labels_to_integers(nx.grid_2d_graph(5, n // 5 + 1))
            G = nx.relabel_nodes(H, dict(enumerate(rng.permutation(H.number_of_nodes()).tolist())))
        if G.number_of_edges():
            yield as_graph(G)


def test_compiled_rcm_is_scipys_order():
    from skising.sampling._coloring_kernels import rcm_order

    for g in _graphs():
        np.testing.assert_array_equal(rcm_order(g.rowptr.numpy(), g.col.numpy()), _scipy_rcm(g))


def test_plan_order_is_colour_then_rcm_rank(monkeypatch):
    from skising.sampling import _sampler

    monkeypatch.setattr(_sampler, "_REORDER_MIN_NODES", 0)
    g = as_graph(nx.random_geometric_graph(400, 0.09, seed=3))
    n = g.num_nodes
    colors = color_graph(g)
    rank = np.empty(n, dtype=np.int64)
    rank[_scipy_rcm(g)] = np.arange(n)
    plan = _sampler.SamplerPlan(g, colors, "cpu")
    np.testing.assert_array_equal(plan.perm.numpy(), np.argsort(colors * n + rank))
    # the permuted CSR: row i is the row of node perm[i], columns relabelled, edges carried along
    A = g.to_scipy()[plan.perm.numpy()][:, plan.perm.numpy()].tocsr()
    A.sort_indices()
    np.testing.assert_array_equal(plan.rowptr, A.indptr)
    order = np.argsort(np.repeat(np.arange(n), np.diff(plan.rowptr)) * n + plan.col, kind="stable")
    np.testing.assert_array_equal(plan.col[order], A.indices)
    perm = plan.perm.numpy()
    u, v = perm[np.repeat(np.arange(n), np.diff(plan.rowptr))], perm[plan.col]
    edges = g.edges.numpy()[:, plan.eid_np]
    np.testing.assert_array_equal(edges, np.stack([np.minimum(u, v), np.maximum(u, v)]))


def test_ell_edge_map_and_uniform_slot_values_equal_the_gathers():
    g = as_graph(nx.random_geometric_graph(300, 0.1, seed=4))
    plan = _plan(g, "auto", "cpu")
    m = g.num_edges
    *_, emap = _kernels.ell_layout(plan.rowptr, plan.col, plan.bounds)
    np.testing.assert_array_equal(plan.ell()[5], np.append(plan.eid_np, m)[emap])
    for dtype in (torch.float32, torch.float64):
        for J in (torch.full((m,), -0.7, dtype=dtype), torch.linspace(-1, 1, m, dtype=dtype)):
            Jn = J.numpy()
            plan._slot_values.clear()
            np.testing.assert_array_equal(plan.slot_values(J, dtype, True), np.append(Jn, Jn.dtype.type(0))[
                plan.ell()[5]])
            np.testing.assert_array_equal(plan.slot_values(J, dtype, False), Jn[plan.eid_np])
            assert plan.slot_values(J, dtype, False).dtype == Jn.dtype


@pytest.mark.parametrize("K,dtype", [(512, torch.float32), (256, torch.float64), (288, torch.float32)])
def test_blocks_of_chains_written_in_node_order_match_torch_path(K, dtype):
    """Blocks of chains that each go to node order on their own (the tiled output kernel for
    blocks of a multiple of 16 chains, the numba one otherwise) give the torch path's samples."""
    g = as_graph(nx.random_regular_graph(3, 60, seed=5))
    J = torch.full((g.num_edges,), -0.4, dtype=dtype)
    h = 0.3 * torch.randn(K, 60, generator=torch.Generator().manual_seed(2), dtype=dtype)
    out = [_sample(g, h, J, 0.8, K, 3, "metropolis", "random", torch.Generator().manual_seed(7), dtype=dtype,
                   backend=b) for b in ("torch", "numba")]
    assert torch.equal(out[0], out[1])


@pytest.mark.parametrize("K", [64, 256])
def test_tiled_output_kernel_equals_gather(monkeypatch, K):
    from skising.sampling import _simd

    monkeypatch.setattr(_simd, "THREAD_MIN_UPDATES", 0)
    rng = np.random.default_rng(K)
    for n, threads in ((17, 1), (300, 2), (1000, 3)):  # tiles of 256 nodes, a partial tile, a tail
        X = np.where(rng.random((n, K)) < 0.5, 1, -1).astype(np.int8)
        pos = rng.permutation(n)
        out = np.full((K, n), 7.0, dtype=np.float32)
        assert _simd.unpermute_simd(X, pos, np.float32, n_threads=threads, out=out) is out
        np.testing.assert_array_equal(out, X[pos].T.astype(np.float32))


@pytest.mark.parametrize("shape", [(5000,), (701, 9), (3, 4000)])
def test_compiled_random_start_is_torch_randint_and_advances_the_generator_alike(shape):
    from skising.sampling._init import _layout_ok, random_spins

    assert _layout_ok()  # else the start falls back to torch.randint (same spins, slower)
    for offset in (0, 1, 623, 624, 1000):  # anywhere in the generator's 624-word block
        a, b = torch.Generator().manual_seed(offset), torch.Generator().manual_seed(offset)
        if offset:
            torch.randint(0, 9, (offset,), generator=a)
            torch.randint(0, 9, (offset,), generator=b)
        x = random_spins(shape, a)
        assert torch.equal(x, torch.randint(0, 2, shape, generator=b, dtype=torch.int8).mul_(2).sub_(1))
        assert torch.equal(a.get_state(), b.get_state())
        assert torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))


@pytest.mark.parametrize("K,threads", [(256, 2), (130, 2), (600, 4)])
def test_one_block_per_thread_gives_the_same_samples(monkeypatch, K, threads):
    """Chains split into a block per thread (no barrier between threads): the torch path's samples."""
    from skising.sampling import _simd

    monkeypatch.setattr(_simd, "THREAD_MIN_UPDATES", 0)
    g = as_graph(nx.random_regular_graph(4, 80, seed=6))
    J = torch.full((g.num_edges,), 0.3, dtype=torch.float32)
    h = 0.2 * torch.randn(K, 80, generator=torch.Generator().manual_seed(3))
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = [_sample(g, h, J, 1.1, K, 3, "heat_bath", "random", torch.Generator().manual_seed(8), backend=b)
               for b in ("torch", "numba")]
    finally:
        torch.set_num_threads(old)
    assert torch.equal(out[0], out[1])
