"""The compiled CPU path against the simple torch path: same bits, same colours.

Correctness only (no timings): the numba kernel must reproduce the torch path
sample for sample, the compiled colouring must equal Jones-Plassmann's rounds,
and the shared random numbers and exp must be what they claim.
"""

import networkx as nx
import numpy as np
import pytest
import torch

from skising.graph import as_graph, batch_graphs
from skising.sampling import _kernels, color_graph, is_valid_coloring, sample_ising
from skising.sampling._coloring import _jones_plassmann
from skising.sampling._sampler import _sample

needs_numba = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed (pip install numba llvmlite)")


def _graph(n=400, seed=0):
    G = nx.random_geometric_graph(n, 0.09, seed=seed)
    G.add_edges_from(nx.path_graph(n).edges)  # connected, a few long edges
    return as_graph(G)


def _both(g, h, J, beta, K, sweeps, update, init, seed, dtype):
    out = []
    for backend in ("torch", "numba"):
        gen = torch.Generator().manual_seed(seed)
        init_ = init if isinstance(init, str) else init.clone()
        out.append(_sample(g, h, J, beta, K, sweeps, update, init_, gen, dtype=dtype, backend=backend))
    return out


@needs_numba
@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
@pytest.mark.parametrize("K", [1, 3, 16])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_numba_path_is_bit_identical_to_torch_path(update, K, dtype):
    g = _graph()
    rng = np.random.default_rng(K)
    # dyadic couplings: local fields are exact in any summation order
    J = torch.tensor(rng.choice([-1.0, -0.5, 0.25, 0.5, 1.0], g.num_edges), dtype=dtype)
    h = torch.tensor(rng.normal(0, 0.8, g.num_nodes), dtype=dtype)
    for beta in (0.3, 1.7):
        a, b = _both(g, h, J, beta, K, 6, update, "random", 5, dtype)
        assert torch.equal(a, b)
        assert 0 < (a > 0).float().mean() < 1  # not a frozen or trivial state


@needs_numba
@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
@pytest.mark.parametrize("K", [2, 12])
def test_identity_with_per_chain_field_given_init_and_batches(update, K):
    g = batch_graphs([_graph(150, 1), _graph(90, 2), as_graph(nx.empty_graph(3))])
    n = g.num_nodes
    rng = np.random.default_rng(3)
    h = torch.tensor(rng.normal(0, 1.0, (K, n)), dtype=torch.float32)
    J = torch.ones(g.num_edges) * -1.0
    init = torch.tensor(rng.choice([-1.0, 1.0], (K, n)), dtype=torch.float32)
    a, b = _both(g, h, J, 0.8, K, 4, update, init, 9, torch.float32)
    assert torch.equal(a, b)


@needs_numba
def test_numba_path_same_seed_same_output_and_public_api_uses_it():
    G = nx.random_regular_graph(4, 200, seed=0)
    kw = dict(coupling=-1.0, beta=0.7, n_chains=10, n_sweeps=5)
    a = sample_ising(G, 0.1, random_state=3, **kw)
    b = sample_ising(G, 0.1, random_state=3, **kw)
    c = sample_ising(G, 0.1, random_state=4, **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = as_graph(G)
    d = _sample(g, torch.full((200,), 0.1), torch.full((g.num_edges,), -1.0), 0.7, 10, 5, "metropolis", "random",
                torch.Generator().manual_seed(3), backend="torch")
    assert torch.equal(a, d)  # numba (auto) and torch give the same public result


def test_backend_numba_on_unsupported_dtype_is_a_clear_error():
    g = _graph(20)
    with pytest.raises(ValueError, match="backend"):
        _sample(g, torch.zeros(20, dtype=torch.float16), torch.ones(g.num_edges, dtype=torch.float16), 1.0, 1, 1,
                "metropolis", "random", torch.Generator().manual_seed(0), dtype=torch.float16, backend="numba")


def test_half_precision_runs_on_torch_path():
    x = sample_ising(nx.cycle_graph(8), 0.0, coupling=-1.0, beta=2.0, n_chains=4, n_sweeps=5, random_state=0,
                     dtype=torch.float16)
    assert x.dtype == torch.float16 and set(x.unique().tolist()) <= {-1.0, 1.0}


@needs_numba
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_compiled_colouring_equals_jones_plassmann_rounds(seed):
    for G in (nx.random_geometric_graph(500, 0.08, seed=seed), nx.barabasi_albert_graph(300, 4, seed=seed),
              nx.empty_graph(5), nx.complete_graph(9)):
        g = as_graph(G)
        a = _jones_plassmann(g.num_nodes, g.rowptr, g.col, seed, backend="torch")
        b = _jones_plassmann(g.num_nodes, g.rowptr, g.col, seed, backend="numba")
        assert np.array_equal(a, b)
        assert is_valid_coloring(g, b)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-13)])
def test_shared_exp_is_accurate(dtype, tol):
    y = -torch.linspace(0, 18, 100001, dtype=torch.float64)
    got = _kernels.exp_neg_torch(y.to(dtype)).double()
    want = torch.exp(y.to(dtype).double())
    assert ((got / want) - 1).abs().max() < tol
    assert _kernels.exp_neg_torch(torch.zeros(1, dtype=dtype)).item() == 1.0  # certain flips stay certain


def test_counter_hash_uniforms_look_uniform_and_independent():
    idx = torch.arange(1_000_000)
    u = _kernels.hash_uniform_torch(idx, 12345, _kernels.sweep_keys(99, 1)[0], torch.float64)
    assert 0 < u.min() and u.max() < 1
    counts = torch.histc(u, bins=100, min=0, max=1)
    chi2 = (((counts - 1e4) ** 2) / 1e4).sum().item()
    assert chi2 < 180  # 99 dof: p ~ 1e-6
    for lag in (1, 32, 1000):
        r = np.corrcoef(u[:-lag].numpy(), u[lag:].numpy())[0, 1]
        assert abs(r) < 5e-3
    v = _kernels.hash_uniform_torch(idx, 12345, _kernels.sweep_keys(99, 2)[1], torch.float64)
    assert abs(np.corrcoef(u.numpy(), v.numpy())[0, 1]) < 5e-3  # next sweep: fresh numbers


@needs_numba
@pytest.mark.parametrize("K", [1, 16])
def test_threaded_kernel_is_bit_identical_too(monkeypatch, K):
    monkeypatch.setattr(_kernels, "_PARALLEL_MIN_UPDATES", 0)  # force the threaded kernel on a small graph
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = _graph(600, 4)
        rng = np.random.default_rng(0)
        J = torch.tensor(rng.choice([-1.0, 0.5, 1.0], g.num_edges), dtype=torch.float32)
        h = torch.tensor(rng.normal(0, 0.5, g.num_nodes), dtype=torch.float32)
        for update in ("metropolis", "heat_bath"):
            a, b = _both(g, h, J, 0.9, K, 5, update, "random", 2, torch.float32)
            assert torch.equal(a, b)
    finally:
        torch.set_num_threads(threads)


@needs_numba
def test_locality_reordered_plan_keeps_paths_identical_and_exact(monkeypatch):
    from skising.sampling import _sampler

    monkeypatch.setattr(_sampler, "_REORDER_MIN_NODES", 0)  # reorder even a small graph
    g = _graph(300, 6)
    rng = np.random.default_rng(1)
    J = torch.tensor(rng.choice([-1.0, 1.0], g.num_edges), dtype=torch.float32)
    h = torch.tensor(rng.normal(0, 0.5, g.num_nodes), dtype=torch.float32)
    a, b = _both(g, h, J, 0.6, 8, 4, "metropolis", "random", 1, torch.float32)
    assert torch.equal(a, b)
    plan = _sampler._plan(g, "auto", "cpu")
    colors = color_graph(g)
    assert np.all(np.diff(colors[plan.perm.numpy()]) >= 0)  # still grouped by colour
    # nodes of one colour stay independent: exactness on a tiny graph with enumeration
    from skising.sampling._reference import exact_distribution

    G = nx.cycle_graph(5)
    G.add_edge(0, 2)
    small = as_graph(G)
    hs = np.array([0.3, -0.5, 0.1, 0.0, 0.4])
    x = sample_ising(small, hs, coupling=0.8, beta=1.0, n_chains=20000, n_sweeps=25, random_state=0)
    _, p = exact_distribution(5, small.edges.T.numpy(), np.full(small.num_edges, 0.8), hs, 1.0)
    bits = (x.numpy() > 0).astype(np.int64) @ (1 << np.arange(4, -1, -1))
    tv = 0.5 * np.abs(np.bincount(bits, minlength=32) / 20000 - p).sum()
    assert tv < 4 * 0.5 * np.sqrt(p * (1 - p) / 20000).sum() + 1e-3


@needs_numba
def test_sliced_ell_layout_holds_each_csr_row_in_order():
    g = batch_graphs([_graph(130, 3), as_graph(nx.empty_graph(5)), as_graph(nx.star_graph(20))])
    from skising.sampling._sampler import _plan

    plan = _plan(g, "auto", "cpu")
    sbounds, srow, swid, sptr, ecol, emap = _kernels.ell_layout(plan.rowptr, plan.col, plan.bounds)
    nnz, S = plan.col.size, _kernels._SLICE
    assert sbounds[-1] == srow.size and sptr[-1] == ecol.size == emap.size
    real = emap < nnz
    assert np.array_equal(np.sort(emap[real]), np.arange(nnz))  # every entry exactly once
    assert np.array_equal(ecol[real], plan.col[emap[real]])
    # slot (slice q, p, t) holds entry p of row srow[q] + t: the CSR order of each row is kept
    q = np.repeat(np.arange(srow.size), swid * S)
    k = np.arange(ecol.size) - sptr[q]
    p, t = k // S, k % S
    row = srow[q] + t
    assert np.array_equal(emap[real], plan.rowptr[row[real]] + p[real])
    # padding slots point at a row of their own slice (value 0 there)
    assert np.all((ecol[~real] >= srow[q[~real]]) & (ecol[~real] < srow[q[~real]] + S))
    for c in range(plan.n_colors):  # slices never cross a colour boundary
        s0, s1 = sbounds[c], sbounds[c + 1]
        assert np.all(srow[s0:s1] >= plan.bounds[c]) and np.all(srow[s0:s1] < plan.bounds[c + 1])


@needs_numba
@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
def test_one_chain_ell_kernel_identical_with_isolated_nodes_and_exact_zero_fields(update):
    # colour sizes that are not multiples of the slice, empty rows, and local fields that cancel to 0
    g = batch_graphs([as_graph(nx.empty_graph(7)), _graph(203, 5), as_graph(nx.cycle_graph(9))])
    J = torch.ones(g.num_edges)
    h = torch.zeros(g.num_nodes)
    h[::3] = -0.0
    for beta in (0.0, 0.4, 2.0):
        a, b = _both(g, h, J, beta, 1, 5, update, "random", 11, torch.float32)
        assert torch.equal(a, b)


@needs_numba
@pytest.mark.parametrize("K", [1, 9])
def test_cached_coupling_values_follow_in_place_edits_and_new_tensors(K):
    g = _graph(250, 8)
    rng = np.random.default_rng(K)
    h = torch.tensor(rng.normal(0, 0.5, g.num_nodes), dtype=torch.float32)
    J = torch.tensor(rng.choice([-1.0, 0.5, 1.0], g.num_edges), dtype=torch.float32)
    seen = []
    for step in range(4):
        if step == 1:
            J.mul_(-1.0)  # in place: the plan's cached values must not be reused
        elif step == 2:
            J = torch.full((g.num_edges,), 0.75)  # uniform: cached by value
        elif step == 3:
            J = torch.full((g.num_edges,), -0.25)
        a, b = _both(g, h, J, 0.9, K, 4, "metropolis", "random", 3, torch.float32)
        assert torch.equal(a, b)
        seen.append(a)
    assert not torch.equal(seen[0], seen[1]) and not torch.equal(seen[2], seen[3])


@needs_numba
@pytest.mark.parametrize("K", [1, 3, 32])
def test_compiled_unpermute_equals_torch_gather(K):
    rng = np.random.default_rng(K)
    X = torch.tensor(rng.choice([-1, 1], (1000, K)), dtype=torch.int8)
    pos = torch.tensor(rng.permutation(1000))
    for dt, ndt in ((torch.float32, np.float32), (torch.float64, np.float64)):
        got = torch.from_numpy(_kernels.unpermute_numba(X.numpy(), pos.numpy(), ndt))
        assert torch.equal(got, X.T[:, pos].to(dt).contiguous()) and got.is_contiguous()


@needs_numba
@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_unpermute_is_identical(monkeypatch, threads):
    monkeypatch.setattr(_kernels, "_PARALLEL_MIN_UPDATES", 0)  # threaded pass on a small array
    rng = np.random.default_rng(1)
    X = torch.tensor(rng.choice([-1, 1], (3000, 5)), dtype=torch.int8)
    pos = torch.tensor(rng.permutation(3000))
    got = torch.from_numpy(_kernels.unpermute_numba(X.numpy(), pos.numpy(), np.float32, n_threads=threads))
    assert torch.equal(got, X.T[:, pos].float().contiguous())
