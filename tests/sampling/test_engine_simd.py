"""The explicit-SIMD LLVM kernel (8+ chains) against the numba kernel and the torch path: same bits.

Correctness only (no timings). Block widths that are not a multiple of the
vector width, float64, per-chain fields, nodes without neighbours, non-dyadic
couplings (the local field is summed in CSR order by both compiled kernels) and
the threaded split of a colour are all checked bit for bit.
"""

import networkx as nx
import numpy as np
import pytest
import torch

from skising.graph import as_graph
from skising.sampling import _kernels, sample_ising
from skising.sampling._sampler import _plan, _sample

pytestmark = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed (pip install numba llvmlite)")


def _csr(n=500, seed=0, isolated=3):
    G = nx.random_geometric_graph(n, 0.08, seed=seed)
    G.add_nodes_from(range(n, n + isolated))  # rows without neighbours
    g = as_graph(G)
    plan = _plan(g, "auto", "cpu")
    return g, plan


def _run(plan, g, K, dtype, heat, per_chain, simd, n_threads=1, beta=0.7, seed=0):
    rng = np.random.default_rng(seed)
    n = g.num_nodes
    J = torch.tensor(rng.normal(0, 0.7, g.num_edges), dtype=torch.float64)  # not dyadic
    val = plan.slot_values(J.to(dtype), dtype, False)
    X = np.where(rng.random((n, K)) < 0.5, 1, -1).astype(np.int8)
    H = rng.normal(0, 0.6, (n, K if per_chain else 1)).astype(val.dtype)
    skeys = _kernels.sweep_keys(int(rng.integers(2**32)), 5)
    _kernels.sweeps_numba(plan.rowptr, plan.col, val, X, H, plan.bounds, skeys, 12345, beta, heat,
                          n_threads=n_threads, simd=simd)
    return X


@pytest.mark.parametrize("K", [8, 9, 16, 20, 33])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("heat", [False, True])
def test_simd_kernel_is_bit_identical_to_numba_kernel(K, dtype, heat):
    from skising.sampling import _simd

    g, plan = _csr()
    for per_chain in (False, True):
        a = _run(plan, g, K, dtype, heat, per_chain, simd=True)
        b = _run(plan, g, K, dtype, heat, per_chain, simd=False)
        np.testing.assert_array_equal(a, b)
        assert 0.2 < (a > 0).mean() < 0.8
    assert _simd.usable(a, np.zeros((g.num_nodes, 1), np.float32), np.zeros(1, np.float32), plan.col)


@pytest.mark.parametrize("threads", [2, 3, 5])  # 5: more threads than this machine has cores
def test_threaded_split_of_a_colour_is_identical(monkeypatch, threads):
    from skising.sampling import _simd

    monkeypatch.setattr(_simd, "THREAD_MIN_UPDATES", 0)  # split even a small graph between threads
    g, plan = _csr(700, 2)
    for heat in (False, True):
        a = _run(plan, g, 32, torch.float32, heat, False, simd=True, n_threads=threads)
        b = _run(plan, g, 32, torch.float32, heat, False, simd=True, n_threads=1)
        c = _run(plan, g, 32, torch.float32, heat, False, simd=False, n_threads=1)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_public_sampler_with_32_chains_matches_torch_path():
    G = nx.random_regular_graph(5, 300, seed=1)
    g = as_graph(G)
    rng = np.random.default_rng(0)
    J = torch.tensor(rng.choice([-1.0, -0.5, 0.5, 1.0], g.num_edges), dtype=torch.float32)  # dyadic: exact sums
    h = torch.tensor(rng.normal(0, 0.5, (32, 300)), dtype=torch.float32)
    for update in ("metropolis", "heat_bath"):
        out = [_sample(g, h, J, 0.9, 32, 6, update, "random", torch.Generator().manual_seed(4), backend=b)
               for b in ("torch", "numba")]
        assert torch.equal(out[0], out[1])
    a = sample_ising(G, 0.2, coupling=-1.0, n_chains=32, n_sweeps=4, random_state=8)
    b = sample_ising(G, 0.2, coupling=-1.0, n_chains=32, n_sweeps=4, random_state=8)
    assert torch.equal(a, b)


def test_cases_the_simd_kernel_leaves_to_numba():
    from skising.sampling import _simd

    X = np.ones((10, 32), np.int8)
    f32, H = np.zeros(4, np.float32), np.zeros((10, 1), np.float32)
    assert _simd.usable(X, H, f32, np.zeros(4, np.int32))
    assert not _simd.usable(np.ones((10, 7), np.int8), H, f32, np.zeros(4, np.int32))  # < 8 chains: ELL kernels
    assert not _simd.usable(X, H, f32, np.zeros(4, np.int64))  # 64-bit column indices
    assert not _simd.usable(X, np.zeros((10, 3), np.float32), f32, np.zeros(4, np.int32))  # field shape


@pytest.mark.parametrize("K,dtype", [(257, torch.float32), (600, torch.float32), (300, torch.float64)])
def test_many_chains_run_in_blocks_with_the_same_samples(K, dtype):
    """More than 16 vectors of chains: blocks of 256 (float32) / 128 (float64) chains, one after
    another, with the random-number counters of the whole array (same samples as the torch path)."""
    from skising.sampling import _simd

    assert _simd.usable(np.ones((10, K), np.int8), np.zeros((10, 1), np.float32), np.zeros(4, np.float32),
                        np.zeros(4, np.int32))
    blocks = _simd.chain_blocks(K, np.dtype(str(dtype).split(".")[1]))
    assert len(blocks) > 1 and blocks[0][0] == 0 and blocks[-1][1] == K
    g = as_graph(nx.random_regular_graph(3, 40, seed=2))
    J = torch.full((g.num_edges,), 0.5, dtype=dtype)
    for h in (torch.zeros(40, dtype=dtype), 0.3 * torch.randn(K, 40, generator=torch.Generator().manual_seed(1),
                                                              dtype=dtype)):
        out = [_sample(g, h, J, 1.0, K, 3, "heat_bath", "random", torch.Generator().manual_seed(0), dtype=dtype,
                       backend=b) for b in ("torch", "numba")]
        assert torch.equal(out[0], out[1])


def test_bad_arrays_are_a_clear_error():
    from skising.sampling import _simd

    g, plan = _csr(50, 0, 0)
    val = plan.slot_values(torch.ones(g.num_edges), torch.float32, False)
    X = np.ones((50, 16), np.int8)
    with pytest.raises(TypeError, match="H must be C-contiguous float32"):
        _simd.sweeps_simd(plan.rowptr, plan.col, val, X, np.zeros((50, 1), np.float64), plan.bounds, [1], 0, 1.0,
                          False)
    with pytest.raises(TypeError, match="X must be"):
        _simd.sweeps_simd(plan.rowptr, plan.col, val, X.astype(np.int16), np.zeros((50, 1), np.float32),
                          plan.bounds, [1], 0, 1.0, False)
    with pytest.raises(ValueError, match="number of rows"):
        _simd.sweeps_simd(plan.rowptr, plan.col, val, X[:40], np.zeros((40, 1), np.float32), plan.bounds, [1], 0,
                          1.0, False)


def test_ir_is_plain_vector_code():
    from skising.sampling import _simd

    ir = _simd.kernel_ir(np.float32, 20, False, True)
    assert "<16 x float>" in ir and "<4 x float>" in ir  # one full block and a narrower last one
    assert "fma" not in ir and "fast" not in ir  # no contraction, no fast-math: the same roundings as numba


def test_compile_failure_falls_back_to_numba_with_a_warning(monkeypatch):
    from skising.sampling import _simd

    def broken(key):
        raise RuntimeError("no LLVM target for this CPU")

    monkeypatch.setattr(_simd, "_compiled", {})
    monkeypatch.setattr(_simd, "_compile", broken)
    g, plan = _csr(200, 5)
    with pytest.warns(RuntimeWarning, match="did not compile"):
        a = _run(plan, g, 16, torch.float32, False, False, simd=True)
    b = _run(plan, g, 16, torch.float32, False, False, simd=False)
    np.testing.assert_array_equal(a, b)


def test_concurrent_callers_get_their_own_samples(monkeypatch):
    import threading

    from skising.sampling import _simd

    monkeypatch.setattr(_simd, "THREAD_MIN_UPDATES", 0)
    g, plan = _csr(400, 7)
    want = {s: _run(plan, g, 16, torch.float32, False, False, simd=True, n_threads=1, seed=s) for s in range(4)}
    got = {}

    def work(s):
        got[s] = _run(plan, g, 16, torch.float32, False, False, simd=True, n_threads=2, seed=s)

    ts = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    for s in range(4):
        np.testing.assert_array_equal(got[s], want[s])


@pytest.mark.parametrize("K", [16, 48])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_register_transpose_output_equals_gather(monkeypatch, K, dtype):
    from skising.sampling import _simd

    rng = np.random.default_rng(K)
    for n, threads in ((0, 1), (15, 2), (37, 1), (1000, 3)):  # tails of fewer than 16 nodes, thread shares
        monkeypatch.setattr(_simd, "THREAD_MIN_UPDATES", 0)
        X = np.where(rng.random((n, K)) < 0.5, 1, -1).astype(np.int8)
        pos = rng.permutation(n)
        out = _kernels.unpermute_numba(X, pos, dtype, n_threads=threads)
        assert out.dtype == dtype and out.flags.c_contiguous and out.shape == (K, n)
        np.testing.assert_array_equal(out, X[pos].T.astype(dtype))
    assert _simd.unpermute_simd(np.ones((4, 24), np.int8), np.arange(4), dtype) is None  # not a multiple of 16
