"""Engine speed: colouring and Ising sampling on large sparse graphs, against peers.

Measured in one process, on the same graphs. Records name the method canonically and put the
configuration (backend, chains, input, call, threads, step, clock) in ``params``:

* ``skising`` with ``backend=numba``: the compiled CPU kernel (numba, a core dependency);
* ``skising`` with ``backend=torch``: the pure-torch path (the fallback, and the GPU path);
* ``networkx+index_add``: the paper authors' approach, networkx ``greedy_color(largest_first)``
  plus, per colour, a torch ``index_add`` over the whole edge list;
* ``python_alg1``: the literal Algorithm 1 of ``skising.sampling._reference``
  (on a 2,000-node Delaunay graph, reported per update);
* ``networkx`` (colouring): networkx ``largest_first`` against skising's Jones-Plassmann-LF;
* ``thrml``: Extropic's JAX block-Gibbs sampler (``--parts chains``);
* a ratio or speedup names what it divides by in ``params["over"]``.

For the compiled kernel, ``scope=sweeps_only`` rows time the kernel alone on prepared
(colour-permuted) spins and field; the plain rows are whole calls of ``--sweeps``
sweeps, with the per-call set-up (random start, field permutation, output in node
order). For 32 chains the sweeps-only timing is repeated on numba's row kernel
(``kernel=numba_row``, ``simd=False``), the kernel that the explicit-SIMD LLVM kernel of
``skising.sampling._simd`` replaces for 8 or more chains.

Plus: the memory-bandwidth bound estimated from a measured large copy, peak RSS
for 32 chains on the 1M-node graph, and the scaling exponent of sweep and
colouring time over n = 1e4 .. 1e6.

Run::

    python benchmarks/bench_engine.py                 # full: 1M-node graphs
    python benchmarks/bench_engine.py --quick         # 1e5 nodes, for a smoke run
    python benchmarks/bench_engine.py --device cuda   # adds the GPU column

Writes ``benchmarks/results/engine.json`` (tidy records) and ``engine.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

# torch's OpenMP workers busy-wait after every parallel region of the torch peers; on a 2-core
# machine they then steal the cores from the compiled kernel timed next (bust, 1 chain: 2.8e7
# updates/s with the default policy vs 9.3e7 with PASSIVE in the same benchmark). Must be set
# before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skising.graph import as_graph, grid_graph  # noqa: E402
from skising.sampling import _kernels  # noqa: E402
from skising.sampling._coloring import _jones_plassmann, color_graph  # noqa: E402
from skising.sampling._reference import metropolis_reference  # noqa: E402
from skising.sampling._sampler import _plan, _sample, _sweeps_numba  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = "python benchmarks/bench_engine.py " + " ".join(sys.argv[1:])
RECORDS = []
LOAD_START = os.getloadavg()


def record(dataset, method, metric, values, unit, params=None, device="cpu"):
    """One tidy record: ``method`` a canonical name (``skising``, ``thrml``, ``networkx+index_add``,
    ``networkx``, ``scipy``, ...), the configuration (chains, input, call, threads, clock, ...) in
    ``params``; a ratio names the method it is divided by in ``params["over"]``."""
    v = np.atleast_1d(np.asarray(values, dtype=float))
    params = dict(params or {})
    rec = {
        "task": "engine", "dataset": dataset, "method": method, "params": params, "metric": metric,
        "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None,
        "n": int(v.size) if v.size > 1 else None, "unit": unit, "device": device, "command": COMMAND.strip(),
    }
    RECORDS.append(rec)
    print(f"  {dataset:22s} {method:20s} {_params_text(params):60s} {metric:20s} {rec['mean']:.4g} {unit}", flush=True)
    return rec["mean"]


def _params_text(params):
    return ", ".join(f"{k}={v}" for k, v in params.items())


# ----------------------------------------------------------------------------- graphs
def delaunay2d(n, seed=0):
    from scipy.spatial import Delaunay

    P = np.random.default_rng(seed).random((n, 2))
    tri = Delaunay(P).simplices
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]).T
    return as_graph(torch.as_tensor(e), num_nodes=n)


def knn3d(n, k=8, seed=0):
    from scipy.spatial import cKDTree

    P = np.random.default_rng(seed).random((n, 3))
    _, idx = cKDTree(P).query(P, k=k + 1)
    src = np.repeat(np.arange(n), k)
    return as_graph(torch.as_tensor(np.stack([src, idx[:, 1:].ravel()])), num_nodes=n)


def psb_mesh():
    from skising.datasets import load_psb

    meshes = load_psb("bust")
    g = max(meshes, key=lambda m: m.num_nodes)
    return g, "psb_" + g.data.get("name", "bust").replace("/", "_")


def suitesparse(name):
    from skising.datasets import load_suitesparse_matrix

    A = load_suitesparse_matrix(name)
    A = A.tocoo()
    keep = A.row != A.col
    return as_graph(torch.as_tensor(np.stack([A.row[keep], A.col[keep]]).astype(np.int64)), num_nodes=A.shape[0])


# ----------------------------------------------------------------------------- helpers
def timeit(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.array(out)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def authors_sampler(g, colors, K, n_sweeps, beta, device, gen):
    """The authors' approach: per colour, index_add over the whole edge list."""
    src = torch.cat([g.edges[0], g.edges[1]]).to(device)
    dst = torch.cat([g.edges[1], g.edges[0]]).to(device)
    J = torch.cat([g.weight, g.weight]).to(device=device, dtype=torch.float32)[:, None]
    colors = torch.as_tensor(colors, device=device)
    n = g.num_nodes
    h = torch.zeros(n, 1, device=device)
    x = torch.randint(0, 2, (n, K), generator=gen, device=device).float() * 2 - 1
    masks = [(colors == c)[:, None] for c in range(int(colors.max()) + 1)]
    for _ in range(n_sweeps):
        for m in masks:
            loc = torch.zeros(n, K, device=device).index_add_(0, dst, J * x[src]) + h
            dE = 2 * x * loc
            acc = torch.exp(-beta * dE) > torch.rand((n, K), generator=gen, device=device)
            x = torch.where(m & acc, -x, x)
    return x


def bandwidth_gbs():
    a = np.ones(64 * 2**20, dtype=np.float32)  # 256 MiB
    b = np.empty_like(a)
    t = timeit(lambda: np.copyto(b, a), 5)
    return 2 * a.nbytes / t.min() / 1e9  # read + write


def bytes_per_update(g, K):
    """Lower bound on memory traffic per spin update of the compiled kernel (float32, int32 indices, int8 spins)."""
    deg = 2 * g.num_edges / g.num_nodes
    csr = 8 * deg + 8  # col + value per entry, rowptr per row: read once per node, shared by chains
    return csr / K + 4 / K + 2  # field once per node; the int8 spin read + written


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_gib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 2**20
    return float("nan")


# ----------------------------------------------------------------------------- measurements
def bench_graph(name, g, args, full_peers=True):
    n, m = g.num_nodes, g.num_edges
    print(f"\n== {name}: n={n:,} m={m:,} (mean degree {2 * m / n:.2f})", flush=True)
    record(name, "graph", "n_nodes", n, "nodes")
    # colouring: skising JP (compiled when numba is present)
    t = timeit(lambda: _jones_plassmann(n, g.rowptr, g.col, 0), args.repeats)
    record(name, "skising", "coloring_seconds", t, "s", {"coloring": "jp"})
    cols = color_graph(g, "jp")
    record(name, "skising", "n_colors", int(cols.max()) + 1, "colors", {"coloring": "jp"})
    if full_peers:
        import networkx as nx

        G = g.to_networkx()
        t0 = time.perf_counter()
        d = nx.greedy_color(G, strategy="largest_first")
        record(name, "networkx", "coloring_seconds", time.perf_counter() - t0, "s", {"coloring": "largest_first"})
        nx_colors = np.empty(n, dtype=np.int64)
        nx_colors[np.fromiter(d.keys(), dtype=np.int64)] = np.fromiter(d.values(), dtype=np.int64)
        record(name, "networkx", "n_colors", int(nx_colors.max()) + 1, "colors", {"coloring": "largest_first"})
        del G, d
        gc.collect()
    t0 = time.perf_counter()
    plan = _plan(g, "auto", "cpu")
    record(name, "skising", "setup_seconds", time.perf_counter() - t0, "s", {"step": "plan"})
    if _kernels.HAVE_NUMBA:  # the sliced-ELL layout of the 1-7 chain kernels (built on first use, once per plan)
        t0 = time.perf_counter()
        plan.ell()
        record(name, "skising", "setup_seconds", time.perf_counter() - t0, "s", {"step": "sliced_ell"})

    gen = torch.Generator().manual_seed(0)
    h = torch.zeros(n)
    J = torch.ones(m)
    out = {}
    for K in (1, 32):
        backends = ["numba", "torch"] if _kernels.HAVE_NUMBA else ["torch"]
        for backend in backends:
            if backend == "torch" and not full_peers:
                continue
            # enough sweeps that the per-call set-up (random start, permutations) is amortised;
            # fewer for the slow torch path with many chains
            sweeps = args.sweeps if backend == "numba" or K == 1 else max(1, args.sweeps // 4)
            t = timeit(lambda: _sample(g, h, J, 0.5, K, sweeps, "metropolis", "random", gen, backend=backend),
                       args.repeats)
            ups = n * K * sweeps / t
            prm = {"backend": backend, "chains": K}
            out[(backend, K)] = record(name, "skising", "updates_per_second", ups, "updates/s", prm)
            record(name, "skising", "sweep_seconds", t / sweeps, "s", prm)
            if backend == "numba":
                # the sweeps alone: the compiled kernel on the prepared (colour-permuted) spins and
                # field, without the per-call set-up (random start, field permutation, output in
                # node order)
                Xn = (torch.randint(0, 2, (n, K), generator=gen, dtype=torch.int8) * 2 - 1).numpy()
                Hn = np.zeros((n, 1), dtype=np.float32)
                skeys = np.asarray(_kernels.sweep_keys(3, sweeps), dtype=np.uint32)
                ts = timeit(lambda: _sweeps_numba(plan, J, torch.float32, Xn, Hn, skeys, 4, 0.5, "metropolis"),
                            args.repeats)
                prm = {**prm, "scope": "sweeps_only"}
                out[("sweeps", K)] = record(name, "skising", "updates_per_second", n * K * sweeps / ts, "updates/s",
                                            prm)
                record(name, "skising", "sweep_seconds", ts / sweeps, "s", prm)
                if K >= 8:
                    # the same sweeps on numba's row kernel instead of the explicit-SIMD LLVM kernel
                    # (skising.sampling._simd), in the same process
                    val = plan.slot_values(J, torch.float32, False)
                    ts = timeit(lambda: _kernels.sweeps_numba(plan.rowptr, plan.col, val, Xn, Hn, plan.bounds, skeys,
                                                              4, 0.5, False, n_threads=args.threads, simd=False),
                                args.repeats)
                    out[("rowkernel", K)] = record(name, "skising", "updates_per_second", n * K * sweeps / ts,
                                                   "updates/s", {**prm, "kernel": "numba_row"})
                    record(name, "skising", "speedup", out[("sweeps", K)] / out[("rowkernel", K)], "x",
                           {**prm, "kernel": "simd", "over": "skising kernel=numba_row"})
        if full_peers:
            nx_sweeps = 1
            t = timeit(lambda: authors_sampler(g, nx_colors, K, nx_sweeps, 0.5, "cpu", gen), max(1, args.repeats // 2))
            out[("authors", K)] = record(name, "networkx+index_add", "updates_per_second", n * K * nx_sweeps / t,
                                         "updates/s", {"chains": K})
    if full_peers and _kernels.HAVE_NUMBA:
        for K in (1, 32):
            record(name, "skising", "speedup", out[("numba", K)] / out[("authors", K)], "x",
                   {"backend": "numba", "chains": K, "over": "networkx+index_add"})
    if _kernels.HAVE_NUMBA:
        bw = args.bandwidth
        for K in (1, 32):
            bound = bw * 1e9 / bytes_per_update(g, K)
            record(name, "bandwidth_bound", "updates_per_second", bound, "updates/s", {"chains": K})
            record(name, "bandwidth_bound", "bandwidth_ratio", bound / out[("numba", K)], "x",
                   {"chains": K, "over": "skising backend=numba"})
            record(name, "bandwidth_bound", "bandwidth_ratio", bound / out[("sweeps", K)], "x",
                   {"chains": K, "over": "skising backend=numba scope=sweeps_only"})
    if args.device != "cpu":
        dev = args.device
        gd = g.to(dev)
        hd, Jd = h.to(dev), J.to(dev)
        gend = torch.Generator(device=dev).manual_seed(0)
        for K in (1, 32):
            sweeps = args.sweeps

            def run():
                _sample(gd, hd, Jd, 0.5, K, sweeps, "metropolis", "random", gend, backend="torch")
                sync(dev)

            t = timeit(run, args.repeats)
            record(name, "skising", "updates_per_second", n * K * sweeps / t, "updates/s",
                   {"backend": "torch", "chains": K}, device=dev)
    return out


def bench_python_reference(args):
    g = delaunay2d(2000, seed=1)
    n = g.num_nodes
    colors = color_graph(g).tolist()
    edges = g.edges.T.tolist()
    w = [1.0] * len(edges)
    rng = np.random.default_rng(0)
    x0 = rng.choice([-1.0, 1.0], n)
    t = timeit(lambda: metropolis_reference(n, edges, w, [0.0] * n, colors, 0.5, 1, x0, rng), 3, warmup=0)
    record("delaunay2d_2e3", "python_alg1", "updates_per_second", n / t, "updates/s", {"chains": 1})


GRAPHS = {}  # Delaunay graphs by size, reused by the scaling part


def bench_scaling(args):
    sizes = [10**4, 10**5] + ([10**6] if not args.quick else [])
    sweep_t, col_t = [], []
    gen = torch.Generator().manual_seed(0)
    for n in sizes:
        g = GRAPHS.pop(n, None) or delaunay2d(n)
        name = f"delaunay2d_{n:.0e}".replace("+0", "")
        t = timeit(lambda: _jones_plassmann(n, g.rowptr, g.col, 0), args.repeats)
        col_t.append(record(name, "skising", "coloring_seconds", t, "s", {"coloring": "jp", "part": "scaling"}))
        h, J = torch.zeros(n), torch.ones(g.num_edges)
        sw = args.sweeps  # same sweeps at every size: the O(n) per-call set-up weighs the same
        t = timeit(lambda: _sample(g, h, J, 0.5, 1, sw, "metropolis", "random", gen), args.repeats)
        sweep_t.append(record(name, "skising", "sweep_seconds", t / sw, "s", {"chains": 1, "part": "scaling"}))
        del g
        gc.collect()
    ln = np.log(sizes)
    record("delaunay2d", "skising", "scaling_exponent", np.polyfit(ln, np.log(sweep_t), 1)[0], "", {"of": "sweep"})
    record("delaunay2d", "skising", "scaling_exponent", np.polyfit(ln, np.log(col_t), 1)[0], "", {"of": "coloring"})


def write(args):
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = args.stem or ("engine" if not args.quick else "engine_quick")
    global RECORDS
    if args.skip and (RESULTS / f"{stem}.json").exists():
        # a partial run replaces its own records and keeps the others
        new = {(r["dataset"], r["method"], r["metric"]) for r in RECORDS}
        old = [r for r in json.loads((RESULTS / f"{stem}.json").read_text())
               if (r["dataset"], r["method"], r["metric"]) not in new]
        RECORDS = old + RECORDS
    (RESULTS / f"{stem}.json").write_text(json.dumps(RECORDS, indent=1))
    load = os.getloadavg()
    lines = [
        "# Engine benchmark",
        "",
        f"Command: `{COMMAND.strip()}`. Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, numba "
        f"{getattr(_kernels._nb, '__version__', 'absent')}, {args.threads} thread(s); "
        f"load average (1 / 5 / 15 min) at the start {LOAD_START[0]:.1f} / {LOAD_START[1]:.1f} / "
        f"{LOAD_START[2]:.1f}, at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared machine: absolute "
        "timings are depressed; ratios between rows were measured in the same process).",
        f"GPU: {'measured on ' + args.device if args.device != 'cpu' else 'not measured (no GPU on this machine)'}.",
        "",
        "| dataset | method | params | metric | mean | std | n | unit | device |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in RECORDS:
        std = "" if r["std"] is None else f"{r['std']:.3g}"
        nn = "" if r["n"] is None else str(r["n"])
        lines.append(f"| {r['dataset']} | {r['method']} | {_params_text(r['params'])} | {r['metric']} | "
                     f"{r['mean']:.4g} | {std} | {nn} | {r['unit']} | {r['device']} |")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"(wrote {RESULTS / stem}.json and .md)", flush=True)


def rss_child(n, args):
    """A fresh process that holds the n-node Delaunay graph: peak RSS (GiB) of sampling 32 chains
    from it (plan, colouring and output included; the high-water mark is reset after the graph
    is built, so scipy's triangulation and this process's earlier peers do not count), then the
    32-chain kernel alone timed there (updates/s per repeat). Returns ``(rss, rates)``."""
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--rss-child", str(n), "--threads", str(args.threads),
                          "--repeats", str(args.repeats), "--sweeps", str(args.sweeps)],
                         capture_output=True, text=True)
    rss, rates = None, None
    for line in out.stdout.splitlines():
        if line.startswith("PEAK_RSS_GIB"):
            rss = float(line.split()[1])
        if line.startswith("SWEEP_RATES"):
            rates = np.array([float(v) for v in line.split()[1:]])
    if rss is None or rates is None:
        print(f"(fresh-process child failed: {out.stderr.strip()[-300:]})")
    return rss, rates


def _rss_child_main(n, args):
    torch.set_num_threads(args.threads)
    g = delaunay2d(n)
    h, J = torch.zeros(n), torch.ones(g.num_edges)
    gen = torch.Generator().manual_seed(0)
    gc.collect()
    if reset_peak_rss():
        _sample(g, h, J, 0.5, 32, 2, "metropolis", "random", gen)
        print("PEAK_RSS_GIB", peak_rss_gib())
    # the same kernel-only timing as bench_graph's "sweeps only" rows, in this fresh process (a check
    # on process state: a load-order effect once made the threaded kernel 2x slower in the main one)
    plan = _plan(g, "auto", "cpu")
    Xn = (torch.randint(0, 2, (n, 32), generator=gen, dtype=torch.int8) * 2 - 1).numpy()
    Hn = np.zeros((n, 1), dtype=np.float32)
    skeys = np.asarray(_kernels.sweep_keys(3, args.sweeps), dtype=np.uint32)
    ts = timeit(lambda: _sweeps_numba(plan, J, torch.float32, Xn, Hn, skeys, 4, 0.5, "metropolis"), args.repeats)
    print("SWEEP_RATES", " ".join(str(n * 32 * args.sweeps / t) for t in ts))


# ----------------------------------------------------------------------------- inputs, whole calls, chains, peers
def _cpu_wall(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def timeit_cpu(fn, repeats, warmup=1, min_time=0.2):
    """Wall and process CPU seconds (all threads) per call: on a shared machine the CPU time is the
    load-independent measure of the work, the wall time what a user waits. A call shorter than
    ``min_time`` is repeated within each timing (as often as the last untimed call says fits in
    ``min_time``), so millisecond calls are not timed one at a time."""
    last = None
    for _ in range(max(warmup, 1)):  # at least one untimed call, to size the inner loop
        _, _, last = _cpu_wall(fn)
    inner = max(1, int(np.ceil(min_time / max(last, 1e-9)))) if last < min_time else 1

    def loop():
        for _ in range(inner):
            fn()

    wall, cpu = [], []
    for _ in range(repeats):
        _, c, w = _cpu_wall(loop)
        wall.append(w / inner)
        cpu.append(c / inner)
    return np.array(wall), np.array(cpu)


def _rate(name, method, params, work, fn, repeats, warmup=1):
    """Record flips/ns by wall time and by process CPU time; returns both (wall, CPU)."""
    w, c = timeit_cpu(fn, repeats, warmup)
    cpu = record(name, method, "flips_per_cpu_ns", work / c / 1e9, "flips/ns", params)
    return np.array([record(name, method, "flips_per_ns", work / w / 1e9, "flips/ns", params), cpu])


def _legacy_as_graph(obj, **kw):
    """``as_graph`` through the sorting path (what every input took before the O(n + m) kernels)."""
    from skising.graph import _csr

    with _csr.disabled():
        return as_graph(obj, **kw)


def bench_inputs(g, name, args):
    """``as_graph`` per input type, then whole ``sample_ising`` calls on scipy input against the
    prepared graph (first call, later calls, ``IsingModel.sample``)."""
    import scipy.sparse as sp
    from torch_geometric.data import Data

    from skising.graph._cache import clear_cache
    from skising.sampling import IsingModel, sample_ising

    n = g.num_nodes
    A = g.to_scipy().astype(np.float32)
    A.indptr, A.indices = A.indptr.astype(np.int32), A.indices.astype(np.int32)
    C = A.tocoo()
    ei = torch.as_tensor(np.stack([C.row, C.col]).astype(np.int64))
    inputs = {"scipy_csr": A, "scipy_coo": C, "edge_index": ei, "pyg_data": Data(edge_index=ei, num_nodes=n)}
    print(f"\n== input conversion: {name}", flush=True)
    for label, obj in inputs.items():
        as_graph(obj)  # loads the compiled kernels for these dtypes
        cpu, wall = [], []
        for _ in range(args.repeats):
            _, c, w = _cpu_wall(lambda: as_graph(obj))
            cpu.append(c)
            wall.append(w)
        record(name, "skising", "setup_seconds", wall, "s", {"step": "as_graph", "input": label})
        record(name, "skising", "cpu_seconds", cpu, "s", {"step": "as_graph", "input": label})
    _, c, w = _cpu_wall(lambda: _legacy_as_graph(A))
    prm = {"step": "as_graph", "input": "scipy_csr", "path": "sorting"}
    record(name, "skising", "setup_seconds", w, "s", prm)
    record(name, "skising", "cpu_seconds", c, "s", prm)
    _, c, w = _cpu_wall(lambda: A.tocoo().tocsr())
    record(name, "scipy", "setup_seconds", w, "s", {"step": "csr.tocoo().tocsr()"})

    # whole calls from scipy input, 10 sweeps, as a user calls it
    h0 = torch.zeros(n)
    J = -torch.ones(g.num_edges)
    gen = torch.Generator().manual_seed(0)
    sweeps = 10
    small = A[:2000, :2000].tocsr()
    for K in (1, 32):  # the kernels of this chain count loaded (a first call in a process that sampled before)
        sample_ising(small, 0.0, coupling=-1.0, n_chains=K, n_sweeps=1)
    _first_call_steps(A, name, sweeps, args)
    for K in (1, 32):
        walls, cpus = [], []
        for _ in range(args.repeats):
            clear_cache()
            A2 = A.copy()  # a new object: nothing cached for it
            _, c, w = _cpu_wall(lambda: sample_ising(A2, 0.0, coupling=-1.0, n_chains=K, n_sweeps=sweeps))
            walls.append(w)
            cpus.append(c)
        first = {"call": "sample_ising", "input": "scipy_csr", "chains": K, "sweeps": sweeps, "nth_call": "first"}
        record(name, "skising", "setup_seconds", walls, "s", first)
        record(name, "skising", "cpu_seconds", cpus, "s", first)
        gp = as_graph(A2)  # cached: the prepared graph of the calls above
        t = timeit(lambda: _sample(gp, h0, J, 1.0, K, sweeps, "metropolis", "random", gen), args.repeats)
        prm = {"input": "Graph", "chains": K, "sweeps": sweeps}
        prep = record(name, "skising", "updates_per_second", n * K * sweeps / t, "updates/s",
                      {**prm, "call": "_sample"})
        t = timeit(lambda: sample_ising(A2, 0.0, coupling=-1.0, n_chains=K, n_sweeps=sweeps), args.repeats)
        whole = record(name, "skising", "updates_per_second", n * K * sweeps / t, "updates/s",
                       {**first, "nth_call": "second_on"})
        model = IsingModel(A2, coupling=-1.0)
        t = timeit(lambda: model.sample(0.0, n_chains=K, n_sweeps=sweeps), args.repeats)
        mod = record(name, "skising", "updates_per_second", n * K * sweeps / t, "updates/s",
                     {**prm, "input": "scipy_csr", "call": "IsingModel.sample"})
        record(name, "skising", "ratio", prep / whole, "x",
               {**prm, "call": "_sample", "over": "sample_ising(scipy_csr) second_on"})
        record(name, "skising", "ratio", prep / mod, "x", {**prm, "call": "_sample", "over": "IsingModel.sample"})
        del model
        gc.collect()
    clear_cache()


def _first_call_steps(A, name, sweeps, args):
    """Where a first ``sample_ising(A)`` call (1 chain) spends its time, step by step (CPU seconds),
    and the first call in a fresh process (import excluded; the numba cache present)."""
    import subprocess
    import tempfile

    from skising.graph._cache import cached_graph, clear_cache
    from skising.sampling import sample_ising

    steps = {}
    for _ in range(args.repeats):
        clear_cache()
        A3 = A.copy()
        g, c1, _ = _cpu_wall(lambda: cached_graph(A3))
        _, c2, _ = _cpu_wall(lambda: color_graph(g))
        _, c3, _ = _cpu_wall(lambda: _plan(g, "auto", "cpu"))
        _, c4, _ = _cpu_wall(lambda: sample_ising(A3, 0.0, coupling=-1.0, n_chains=1, n_sweeps=sweeps))
        for k, v in (("as_graph", c1), ("coloring", c2), ("plan (RCM, permuted CSR)", c3),
                     ("sample (ELL layout, sweeps, output)", c4)):
            steps.setdefault(k, []).append(v)
    for k, v in steps.items():
        record(name, "skising", "cpu_seconds", v, "s", {"call": "sample_ising", "input": "scipy_csr", "chains": 1,
                                                        "sweeps": sweeps, "nth_call": "first", "step": k})
    with tempfile.TemporaryDirectory() as tmp:
        import scipy.sparse as sp

        path = os.path.join(tmp, "A.npz")
        sp.save_npz(path, A, compressed=False)
        code = ("import sys, time, scipy.sparse as sp; from skising.sampling import sample_ising; "
                "A = sp.load_npz(sys.argv[1]); K = int(sys.argv[2]); c = time.process_time(); "
                "w = time.perf_counter(); sample_ising(A, 0.0, coupling=-1.0, n_chains=K, n_sweeps=int(sys.argv[3])); "
                "print('FIRST', time.perf_counter() - w, time.process_time() - c)")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
        for K in (1, 32):
            walls, cpus = [], []
            for _ in range(max(1, args.repeats - 1)):
                out = subprocess.run([sys.executable, "-c", code, path, str(K), str(sweeps)], capture_output=True,
                                     text=True, env=env, check=False)
                for line in out.stdout.splitlines():
                    if line.startswith("FIRST"):
                        walls.append(float(line.split()[1]))
                        cpus.append(float(line.split()[2]))
            if walls:
                prm = {"call": "sample_ising", "input": "scipy_csr", "chains": K, "sweeps": sweeps,
                       "nth_call": "first", "process": "fresh"}
                record(name, "skising", "setup_seconds", walls, "s", prm)
                record(name, "skising", "cpu_seconds", cpus, "s", prm)


def bench_networkx(args, n=10**5):
    """networkx input: ``as_graph`` against networkx's own export (``to_scipy_sparse_array``)."""
    import networkx as nx

    g = delaunay2d(n)
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(g.edges.T.tolist())
    name = f"delaunay2d_{n:.0e}".replace("+0", "")
    print(f"\n== networkx input: {name}", flush=True)
    t = timeit(lambda: as_graph(G), args.repeats)
    a = record(name, "skising", "setup_seconds", t, "s", {"step": "as_graph", "input": "networkx"})
    t = timeit(lambda: nx.to_scipy_sparse_array(G, format="csr"), args.repeats)
    b = record(name, "networkx", "setup_seconds", t, "s", {"step": "to_scipy_sparse_array"})
    record(name, "skising", "ratio", a / b, "x", {"step": "as_graph", "input": "networkx",
                                                  "over": "networkx to_scipy_sparse_array"})


def bench_threads(g, name, args):
    """Whole prepared-graph calls with 1, 2, ... threads (32 chains)."""
    n = g.num_nodes
    h0, J = torch.zeros(n), -torch.ones(g.num_edges)
    gen = torch.Generator().manual_seed(0)
    print(f"\n== threads: {name}", flush=True)
    rates = {}
    for T in range(1, (os.cpu_count() or 1) + 1):
        torch.set_num_threads(T)
        t = timeit(lambda: _sample(g, h0, J, 1.0, 32, args.sweeps, "metropolis", "random", gen), args.repeats)
        rates[T] = record(name, "skising", "updates_per_second", n * 32 * args.sweeps / t, "updates/s",
                          {"backend": "numba", "chains": 32, "threads": T})
    torch.set_num_threads(args.threads)
    for T in rates:
        if T > 1:
            record(name, "skising", "speedup", rates[T] / rates[1], "x",
                   {"backend": "numba", "chains": 32, "threads": T, "over": "skising threads=1"})


def bench_first_use(args):
    """A fresh process: import, then the first ``sample_ising`` (numba cache load or compile)."""
    import subprocess

    code = ("import time; t0 = time.perf_counter(); c0 = time.process_time(); import torch, networkx as nx; "
            "from skising.sampling import sample_ising; t1 = time.perf_counter(); c1 = time.process_time(); "
            "A = nx.to_scipy_sparse_array(nx.random_regular_graph(4, 1000, seed=0), format='csr'); "
            "K = int(__import__('sys').argv[1]); t2 = time.perf_counter(); c2 = time.process_time(); "
            "sample_ising(A, 0.0, coupling=-1.0, n_chains=K, n_sweeps=5); "
            "print('FIRST', t1 - t0, time.perf_counter() - t2, c1 - c0, time.process_time() - c2)")
    import tempfile

    print("\n== first use (fresh processes)", flush=True)
    for K in (1, 32):
        # "empty numba cache": the first use ever (every kernel compiled); then fresh processes with
        # the cache that the first one left
        for cache, runs in (("empty numba cache", 1), ("numba cache present", max(2, args.repeats))):
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            tmp = tempfile.TemporaryDirectory() if cache.startswith("empty") else None
            if tmp is not None:
                env["NUMBA_CACHE_DIR"] = tmp.name
            imp, first, imp_cpu, first_cpu = [], [], [], []
            if tmp is None:  # fill the default cache first (a source change since its last use recompiles)
                subprocess.run([sys.executable, "-c", code, str(K)], capture_output=True, env=env, check=False)
            for _ in range(runs):
                out = subprocess.run([sys.executable, "-c", code, str(K)], capture_output=True, text=True, env=env,
                                     check=False)
                for line in out.stdout.splitlines():
                    if line.startswith("FIRST"):
                        for lst, v in zip((imp, first, imp_cpu, first_cpu), line.split()[1:]):
                            lst.append(float(v))
            if tmp is not None:
                tmp.cleanup()
            prm = {"process": "fresh", "numba_cache": "empty" if tmp is not None else "present", "chains": K}
            record("random_regular4_1e3", "skising", "setup_seconds", imp, "s", {**prm, "step": "import"})
            record("random_regular4_1e3", "skising", "cpu_seconds", imp_cpu, "s", {**prm, "step": "import"})
            record("random_regular4_1e3", "skising", "setup_seconds", first, "s",
                   {**prm, "step": "first sample_ising", "sweeps": 5})
            record("random_regular4_1e3", "skising", "cpu_seconds", first_cpu, "s",
                   {**prm, "step": "first sample_ising", "sweeps": 5})
    # an application's first use: SAIPreconditioner (defaults) fitted on 8 matrices, then one transform
    sai = ("import time; t0 = time.perf_counter(); c0 = time.process_time(); "
           "from skising import SAIPreconditioner; from skising.datasets import make_banded_binary_matrices; "
           "import pyamg; t1 = time.perf_counter(); c1 = time.process_time(); "
           "mats = make_banded_binary_matrices(8, size=30, random_state=0); "
           "t2 = time.perf_counter(); c2 = time.process_time(); "
           "SAIPreconditioner(random_state=0).fit(mats).transform(pyamg.gallery.poisson((30, 30), format='csr')); "
           "print('FIRST', t1 - t0, time.perf_counter() - t2, c1 - c0, time.process_time() - c2)")
    for cache, runs in (("empty", 1), ("present", max(2, args.repeats))):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        tmp = tempfile.TemporaryDirectory() if cache == "empty" else None
        if tmp is not None:
            env["NUMBA_CACHE_DIR"] = tmp.name
        vals = [[], [], [], []]
        if tmp is None:  # fill the default cache first
            subprocess.run([sys.executable, "-c", sai], capture_output=True, env=env, check=False)
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", sai], capture_output=True, text=True, env=env, check=False)
            for line in out.stdout.splitlines():
                if line.startswith("FIRST"):
                    for lst, v in zip(vals, line.split()[1:]):
                        lst.append(float(v))
        if tmp is not None:
            tmp.cleanup()
        prm = {"process": "fresh", "numba_cache": cache}
        for i, (metric, step) in enumerate((("setup_seconds", "import"), ("setup_seconds", "first fit + transform"),
                                            ("cpu_seconds", "import"), ("cpu_seconds", "first fit + transform"))):
            record("banded_binary_30", "skising", metric, vals[i], "s",
                   {**prm, "call": "SAIPreconditioner().fit(8 matrices).transform(poisson 30x30)", "step": step})


def lattice3d(side):
    """Periodic ``side^3`` cubic lattice."""
    idx = np.arange(side**3).reshape(side, side, side)
    e = [np.stack([idx.ravel(), np.roll(idx, -1, axis=a).ravel()]) for a in range(3)]
    return as_graph(torch.as_tensor(np.concatenate(e, axis=1)), num_nodes=side**3)


def pegasus(seed=4242):
    """D-Wave Pegasus(14) with J, h ~ N(0, 1) (thrml's notebook protocol): networkx graph, J per nx edge, h."""
    import warnings

    import networkx as nx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import dwave_networkx

        G = nx.convert_node_labels_to_integers(dwave_networkx.pegasus_graph(14))
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(G.number_of_nodes())
    J = rng.standard_normal(G.number_of_edges())
    for (a, b), w in zip(G.edges, J):
        G[a][b]["weight"] = w
    return G, J, h


def _thrml_setup(G, J, h, beta):
    import jax
    import jax.numpy as jnp
    import networkx as nx
    from thrml.block_management import Block
    from thrml.block_sampling import SamplingSchedule, sample_states
    from thrml.models.ising import IsingEBM, IsingSamplingProgram, hinton_init
    from thrml.pgm import SpinNode

    nodes = [SpinNode() for _ in range(G.number_of_nodes())]
    edges = [(nodes[a], nodes[b]) for a, b in G.edges]
    model = IsingEBM(nodes, edges, jnp.asarray(h, dtype=jnp.float32), jnp.asarray(J, dtype=jnp.float32),
                     jnp.array(beta))
    coloring = nx.coloring.greedy_color(G, strategy="DSATUR")
    groups = [[] for _ in range(max(coloring.values()) + 1)]
    for v in G.nodes:
        groups[coloring[v]].append(nodes[v])
    blocks = [Block(x) for x in groups]
    program = IsingSamplingProgram(model, blocks, [])
    init = hinton_init(jax.random.key(0), model, blocks, (1,))

    def make(sweeps):
        schedule = SamplingSchedule(sweeps, 1, 1)
        return jax.jit(jax.vmap(lambda k: sample_states(k, program, schedule, [x[0] for x in init], [],
                                                        [Block(nodes)])))

    return make


def _thrml_run(f, K, seed):
    import jax

    keys = jax.random.split(jax.random.key(seed), K)
    out = jax.block_until_ready(f(keys))
    return np.asarray(out[0])[:, -1, :].astype(np.int8) * 2 - 1  # (K, n) spins


def bench_chains(args):
    """Pegasus(14) and the periodic 3-D lattice: flips/ns over chain counts, thrml in the same run,
    and the equilibrium agreement of the two samplers at beta = 0.5."""
    from skising.sampling import IsingModel, ising_energy

    G, J, h = pegasus()
    n = G.number_of_nodes()
    name = "pegasus14"
    model = IsingModel(G, coupling=1.0, beta=1.0, update="heat_bath")  # J as the edge weights
    hf = torch.as_tensor(h, dtype=torch.float32)
    print(f"\n== chains: {name} n={n} m={G.number_of_edges()}", flush=True)
    sweeps = 100
    ours = {}
    for K in (1, 8, 32, 80, 256, 1024, 4096):
        ours[K] = _rate(name, "skising", {"chains": K, "sweeps": sweeps, "call": "IsingModel.sample"}, n * K * sweeps,
                        lambda: model.sample(hf, n_chains=K, n_sweeps=sweeps), args.repeats)
    _chain_ratios(name, ours)
    try:
        make = _thrml_setup(G, J, h, 1.0)
        f = make(sweeps)
        for K in (1, 8, 32, 80, 256, 1024):
            _thrml_run(f, K, 1)  # compile for this batch shape
            th = _rate(name, "thrml", {"chains": K, "sweeps": sweeps, "call": "jit(vmap(sample_states))"},
                       n * K * sweeps, lambda: _thrml_run(f, K, 2), max(1, args.repeats - 1), warmup=0)
            for clock, i in (("wall", 0), ("cpu", 1)):
                record(name, "skising", "speedup", ours[K][i] / th[i], "x", {"chains": K, "clock": clock,
                                                                            "over": "thrml"})
    except ImportError as exc:
        print(f"(thrml not measured: {exc})")
    # equilibrium agreement at beta = 0.5 (a spin glass here: skising's energy per spin moves by 0.01,
    # eight standard errors, from 400 to 1600 sweeps and is flat from 1600 to 4000): mean energy per
    # spin and mean |m| over independent chains after 2000 sweeps
    K, Kt, burn = 512, 128, 2000
    m05 = IsingModel(G, coupling=1.0, beta=0.5, update="heat_bath")
    xs = m05.sample(hf, n_chains=K, n_sweeps=burn, random_state=0)
    stats = {"skising": (ising_energy(m05.graph, xs, hf, 1.0).numpy() / n, xs.mean(1).abs().numpy())}
    try:
        f = _thrml_setup(G, J, h, 0.5)(burn)
        xt = torch.as_tensor(_thrml_run(f, Kt, 3), dtype=torch.float32)
        stats["thrml"] = (ising_energy(m05.graph, xt, hf, 1.0).numpy() / n, xt.mean(1).abs().numpy())
    except ImportError:
        pass
    for lib, (e, m) in stats.items():
        prm = {"beta": 0.5, "chains": e.size, "sweeps": burn}
        record(name, lib, "energy_per_spin", e, "", prm)
        record(name, lib, "abs_magnetization", m, "", prm)
    if "thrml" in stats:
        for i, metric in enumerate(("energy_per_spin", "abs_magnetization")):
            a, b = stats["skising"][i], stats["thrml"][i]
            z = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
            record(name, "skising", "z_score", z, "", {"beta": 0.5, "of": metric, "against": "thrml"})
    del model, m05
    gc.collect()

    side = 100 if not args.quick else 40
    g = lattice3d(side)
    name = f"lattice3d_{side}"
    n = g.num_nodes
    model = IsingModel(g, coupling=1.0, beta=0.2, update="heat_bath")
    print(f"\n== chains: {name} n={n}", flush=True)
    sweeps = 10
    ours = {}
    for K in (1, 8, 32, 256, 1024, 4096):
        try:
            model.sample(0.0, n_chains=K, n_sweeps=1)
        except MemoryError as exc:
            print(f"  {K} chains: refused by the memory check ({str(exc)[:90]}...)")
            record(name, "skising", "flips_per_ns", float("nan"), "flips/ns",
                   {"chains": K, "sweeps": sweeps, "refused": "memory check"})
            continue
        ours[K] = _rate(name, "skising", {"chains": K, "sweeps": sweeps, "call": "IsingModel.sample"}, n * K * sweeps,
                        lambda: model.sample(0.0, n_chains=K, n_sweeps=sweeps), max(1, args.repeats - 1), warmup=0)
        gc.collect()
    _chain_ratios(name, ours)


def _chain_ratios(name, ours):
    """Throughput at 1024 and 4096 chains over the 256-chain figure, by wall and by CPU time."""
    for K in (1024, 4096):
        if K in ours and 256 in ours:
            r = ours[K] / ours[256]
            for clock, i in (("wall", 0), ("cpu", 1)):
                record(name, "skising", "ratio", r[i], "x", {"chains": K, "clock": clock, "over": "skising chains=256"})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1e5-node graphs instead of 1e6")
    p.add_argument("--device", default="cpu", help="also measure the torch path on this device (e.g. cuda)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sweeps", type=int, default=8)
    p.add_argument("--skip", default="", help="comma list of parts to skip: main,others,reference,scaling")
    p.add_argument("--parts", default="", help="run only these parts (comma list): inputs (as_graph per input "
                   "type, whole calls vs prepared graph), networkx, threads, firstuse, chains (Pegasus(14) and "
                   "the 3-D lattice over chain counts, thrml in the same run, equilibrium agreement)")
    p.add_argument("--stem", default="", help="results file name (default engine / engine_quick)")
    p.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rss_child is not None:
        _rss_child_main(args.rss_child, args)
        return
    torch.set_num_threads(args.threads)
    if _kernels.HAVE_NUMBA:
        _kernels._nb.set_num_threads(min(args.threads, _kernels._nb.config.NUMBA_NUM_THREADS))
    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"--device {args.device}: not available here; GPU column not measured")
        args.device = "cpu"
    skip = set(filter(None, args.skip.split(",")))
    N = 10**5 if args.quick else 10**6
    parts = set(filter(None, args.parts.split(",")))
    if parts:
        tag = "1e5" if args.quick else "1e6"
        if parts & {"inputs", "threads"}:
            g = delaunay2d(N)
            if "inputs" in parts:
                bench_inputs(g, f"delaunay2d_{tag}", args)
                write(args)
            if "threads" in parts:
                bench_threads(g, f"delaunay2d_{tag}", args)
                write(args)
            del g
            gc.collect()
        if "networkx" in parts:
            bench_networkx(args, 10**4 if args.quick else 10**5)
            write(args)
        if "firstuse" in parts:
            bench_first_use(args)
            write(args)
        if "chains" in parts:
            bench_chains(args)
            write(args)
        return
    tag = "1e5" if args.quick else "1e6"
    args.bandwidth = bandwidth_gbs()
    record("memory", "numpy", "bandwidth", args.bandwidth, "GB/s", {"step": "copy 256 MiB"})
    # warm the compiled kernels (first call compiles or loads the on-disk cache)
    tiny = delaunay2d(300)
    for K in (1, 32):
        _sample(tiny, torch.zeros(300), torch.ones(tiny.num_edges), 0.5, K, 1, "metropolis", "random",
                torch.Generator().manual_seed(0))
    _jones_plassmann(300, tiny.rowptr, tiny.col)

    if "reference" not in skip:
        bench_python_reference(args)
        skip.add("reference")
    if "main" not in skip:
        t0 = time.perf_counter()
        g = delaunay2d(N)
        print(f"(built Delaunay graph in {time.perf_counter() - t0:.1f} s)")
        name = f"delaunay2d_{tag}"
        bench_graph(name, g, args)
        write(args)
        if _kernels.HAVE_NUMBA:  # peak RSS and the 32-chain kernel alone, in a fresh process
            rss, rates = rss_child(N, args)
            if rss is not None:
                record(name, "skising", "peak_rss", rss, "GiB", {"backend": "numba", "chains": 32})
            if rates is not None:
                record(name, "skising", "updates_per_second", rates, "updates/s",
                       {"backend": "numba", "chains": 32, "scope": "sweeps_only", "process": "fresh"})
        if "scaling" not in skip:
            GRAPHS[N] = g
        del g
        gc.collect()
    if "others" not in skip:
        side = 316 if args.quick else 1000
        g, name = psb_mesh()
        bench_graph(name, g, args)
        for mat in ("luxembourg_osm", "bcsstk33"):
            bench_graph(mat, suitesparse(mat), args)
        write(args)
        bench_graph(f"grid8_{side}x{side}", grid_graph(side, side, 8), args, full_peers=False)
        write(args)
        bench_graph(f"knn3d_k8_{tag}", knn3d(N), args, full_peers=False)
        write(args)
    if "reference" not in skip:
        bench_python_reference(args)
        write(args)
    if "scaling" not in skip:
        bench_scaling(args)
    write(args)


if __name__ == "__main__":
    main()
