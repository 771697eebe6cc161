"""The partitioned sampler against single-process sample_ising: bit-identical, and exact.

One job of three gloo processes checks N = 3 (the whole group) and N = 2 (a
subgroup of ranks 0 and 1) on several graphs, couplings, fields, update rules,
initial states and partitions; every rank compares its gathered samples with
``sample_ising`` of the same seed (its torch path, which the compiled path
equals bit for bit, see tests/sampling/test_engine_fast.py; the docstring example of
``sample_ising_partitioned`` compares with the compiled path), and its own
nodes when not gathering.
The same job samples a tiny graph partitioned over three ranks for the
exact-enumeration test.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow  # subprocess ranks: runs in CI, skip locally with -m "not slow"

torch_dist = pytest.importorskip("torch.distributed")
if not torch_dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORKER = textwrap.dedent(
    """
    import os, sys
    import networkx as nx
    import numpy as np
    import torch
    import torch.distributed as dist
    from scipy.spatial import Delaunay

    from skising.distributed import sample_ising_partitioned
    from skising.graph import as_graph
    from skising.sampling import _kernels, sample_ising

    # the reference is sample_ising's torch path: the compiled path gives the same samples
    # (tests/sampling/test_engine_fast.py) but compiles a kernel per chain count in every process
    _kernels.HAVE_NUMBA = False

    def graphs():
        rng = np.random.default_rng(0)
        pts = rng.random((300, 2))
        tri = Delaunay(pts).simplices
        e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]).T
        ba = nx.barabasi_albert_graph(200, 3, seed=1)
        ba.add_nodes_from(range(200, 205))  # isolated nodes
        return {
            "grid": as_graph(nx.grid_2d_graph(9, 13)),
            "delaunay": as_graph(e, num_nodes=300),
            "ba": as_graph(ba),
        }

    def cases(g, rng):
        n, m = g.num_nodes, g.num_edges
        dyadic = rng.integers(-8, 9, m) / 8.0
        yield dict(coupling=-1.0, field=rng.normal(0, 0.5, n), n_chains=5, update="metropolis")
        yield dict(coupling=dyadic, field=rng.normal(0, 0.5, n), n_chains=9, update="heat_bath", beta=0.7)
        yield dict(coupling=rng.uniform(-1, 1, m), field=rng.normal(0, 0.5, (3, n)), n_chains=3,
                   update="metropolis", dtype=torch.float64, beta=1.3)
        yield dict(coupling=0.5, field=0.2, n_chains=1, update="metropolis",
                   init=np.where(rng.random(n) < 0.5, 1.0, -1.0))
        yield dict(coupling=-0.75, field=rng.normal(0, 1, n), n_chains=16, update="heat_bath", init="up")

    try:
        import pymetis  # noqa: F401  (optional: skising[distributed])
        METIS = "metis"
    except ImportError:
        METIS = "contiguous"

    def main(rank, out):
        torch.set_num_threads(1)
        dist.init_process_group("gloo", rank=rank, world_size=3)
        pair = dist.new_group([0, 1])
        ok = []
        for name, g in graphs().items():
            rng = np.random.default_rng(len(name))
            random_part = rng.integers(0, 3, g.num_nodes)
            for i, kw in enumerate(cases(g, rng)):
                kw = dict(kw, n_sweeps=3, random_state=100 + i)
                ref = sample_ising(g, **kw)
                # each case on one partition kind (METIS, contiguous, a random assignment), in turn
                partition = (METIS, "contiguous", random_part)[i % 3]
                label = str(partition)[:10]
                x = sample_ising_partitioned(g, partition=partition, **kw)
                ok.append((name, i, "N=3", label, torch.equal(x, ref)))
                nodes, own = sample_ising_partitioned(g, partition=partition, gather=False, **kw)
                ok.append((name, i, "N=3 own", label, torch.equal(own, ref[:, nodes])))
                if rank < 2:
                    part2 = partition if isinstance(partition, str) else partition % 2
                    x = sample_ising_partitioned(g, partition=part2, group=pair, **kw)
                    ok.append((name, i, "N=2", label, torch.equal(x, ref)))
        # exact enumeration, partitioned: a 7-node graph over three ranks, many chains
        tiny = as_graph(nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 6), (6, 3), (1, 5)]))
        rng = np.random.default_rng(5)
        J, h = rng.uniform(-1, 1, tiny.num_edges), rng.normal(0, 0.7, 7)
        enum = {}
        for update in ("metropolis", "heat_bath"):
            x, stats = sample_ising_partitioned(tiny, h, coupling=J, beta=0.9, n_chains=20000, n_sweeps=40,
                                                update=update, random_state=3, partition="contiguous",
                                                dtype=torch.float64, return_stats=True)
            enum[update] = x.numpy()
            assert stats["bytes_sent"] > 0 and stats["n_halo"] > 0
        torch.save({"ok": ok, "enum": enum if rank == 0 else None, "J": J, "h": h,
                    "edges": tiny.edges.T.numpy()}, os.path.join(out, f"r{rank}.pt"))
        dist.destroy_process_group()

    if __name__ == "__main__":
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[3])
        main(int(sys.argv[1]), sys.argv[2])
    """
)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    import socket

    out = tmp_path_factory.mktemp("partitioned")
    script = out / "worker.py"
    script.write_text(WORKER)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(out), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    return [torch.load(out / f"r{r}.pt", weights_only=False) for r in range(3)]


def test_partitioned_samples_equal_single_process(job):
    for r, res in enumerate(job):
        bad = [c[:4] for c in res["ok"] if not c[4]]
        assert not bad, f"rank {r}: partitioned samples differ from sample_ising for {bad}"
        n3 = sum(1 for c in res["ok"] if c[2].startswith("N=3"))
        n2 = sum(1 for c in res["ok"] if c[2] == "N=2")
        assert n3 == 3 * 5 * 2 and n2 == (3 * 5 if r < 2 else 0)


@pytest.mark.parametrize("update", ["metropolis", "heat_bath"])
def test_partitioned_distribution_matches_enumeration(job, update):
    from skising.sampling._reference import exact_distribution

    res = job[0]
    _, prob = exact_distribution(7, res["edges"], res["J"], res["h"], 0.9)
    x = res["enum"][update]
    bits = (x > 0).astype(np.int64)
    counts = np.bincount(bits @ (1 << np.arange(6, -1, -1)), minlength=prob.size)
    N = x.shape[0]
    tv = 0.5 * np.abs(counts / N - prob).sum()
    bound = 4 * 0.5 * np.sqrt(prob * (1 - prob) / N).sum() + 1e-3  # as in tests/sampling/test_sampler.py
    assert tv < bound, f"TV {tv:.4f} >= bound {bound:.4f}"


# ---------------------------------------------------------------- in-process: partitions, sizing, errors
def _delaunay(n=400, seed=0):
    from scipy.spatial import Delaunay

    from skising.graph import as_graph

    tri = Delaunay(np.random.default_rng(seed).random((n, 2))).simplices
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]).T
    return as_graph(e, num_nodes=n)


@pytest.mark.parametrize("method", ["contiguous", "metis", "auto"])
def test_partition_graph_is_balanced_and_cuts_few_edges(method):
    from skising.distributed import partition_graph

    if method == "metis":
        pytest.importorskip("pymetis")
    g = _delaunay()
    part = partition_graph(g, 4, method=method)
    assert part.shape == (400,) and set(part.tolist()) == {0, 1, 2, 3}
    assert np.bincount(part).max() <= 1.1 * 100
    e = g.edges.numpy()
    cut = float((part[e[0]] != part[e[1]]).mean())
    random_cut = 0.75  # a random 4-way assignment cuts 3/4 of the edges
    if method != "contiguous":  # node order of a random point set is not spatial
        assert cut < random_cut / 3


def test_suggest_ranks_and_hint():
    from skising.distributed import partition_hint, suggest_ranks

    gib = 2**30
    assert suggest_ranks(10**6, 32, n_edges=3 * 10**6, available=64 * gib) == 1
    n = [suggest_ranks(10**8, k, n_edges=3 * 10**8, available=64 * gib) for k in (16, 64, 256)]
    assert n == sorted(n) and n[-1] > n[0] >= 1
    assert suggest_ranks(10**10, 32, n_edges=3 * 10**10, available=64 * gib) is None
    assert "sample_ising_partitioned" in partition_hint(10**6, 32, 3 * 10**6, device="cpu")
    assert partition_hint(10**6, 32, device="cuda") == ""


def test_one_rank_without_a_group_equals_sample_ising():
    from skising.distributed import sample_ising_partitioned
    from skising.sampling import sample_ising

    g = _delaunay(300, seed=2)
    h = np.random.default_rng(0).normal(0, 0.5, 300)
    kw = dict(coupling=-0.7, beta=0.8, n_chains=8, n_sweeps=4, update="heat_bath", random_state=11)
    x, stats = sample_ising_partitioned(g, h, return_stats=True, **kw)
    assert torch.equal(x, sample_ising(g, h, **kw))
    assert stats["n_own"] == 300 and stats["n_halo"] == 0 and stats["bytes_sent"] == 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(partition="spectral"), "method"),
    (dict(partition=np.zeros(5, dtype=np.int64)), "partition"),
    (dict(partition=np.ones(300, dtype=np.int64)), "partition"),
    (dict(dtype=torch.float16), "dtype"),
    (dict(n_chains=0), "n_chains"),
    (dict(update="glauber"), "update"),
])
def test_bad_arguments_name_the_parameter(kwargs, match):
    from skising.distributed import sample_ising_partitioned

    with pytest.raises((ValueError, TypeError), match=match):
        sample_ising_partitioned(_delaunay(300, seed=2), 0.0, **kwargs)
