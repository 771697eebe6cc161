"""Scaling of the partitioned sampler (``skising.distributed``) over N processes on one machine.

For each graph and N in ``--ranks``, N gloo processes (one thread each) sample
``--chains`` chains for ``--sweeps`` sweeps with
:func:`skising.distributed.sample_ising_partitioned` (METIS partition), after
one warm-up call that builds the plan and the partition. Per run: seconds
per sweep (the slowest rank, wall clock), CPU seconds per sweep of the
busiest rank (the work, whatever share of a core the rank got), seconds per
sweep in the halo exchange (mean over ranks, including waiting for the other
ranks), bytes sent per sweep (all ranks), halo size. In the same N = 1
process, the single-process peers on the same graph and chains:
``sample_ising`` with the compiled kernel (``skising[numba]``) and the torch
path (``skising[torch]``, the arithmetic the partitioned sampler runs), one
thread each. A gloo ping-pong (``all_to_all_single`` of 1 byte and of 4 MiB
between two ranks) gives the latency and bandwidth of the transport.

Run::

    python benchmarks/bench_distributed.py                     # 200k-node Delaunay, 60^3 lattice
    python benchmarks/bench_distributed.py --nodes 1000000     # the 1M-node graphs (heavy)

Writes ``benchmarks/results/distributed.json`` (tidy records) and ``distributed.md``
(``distributed_1m.*`` for the 1M-node graphs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def graph(kind, n):
    from skising.graph import as_graph

    if kind == "delaunay":
        from scipy.spatial import Delaunay

        P = np.random.default_rng(0).random((n, 2))
        tri = Delaunay(P).simplices
        e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]).T
        return as_graph(torch.as_tensor(e), num_nodes=n)
    side = round(n ** (1 / 3))
    idx = np.arange(side**3).reshape(side, side, side)
    e = np.concatenate([np.stack([np.delete(idx, -1, a).ravel(), np.delete(idx, 0, a).ravel()]) for a in range(3)], 1)
    return as_graph(torch.as_tensor(e), num_nodes=side**3)


def worker(args):
    """One rank of one run: prints a JSON line of its measurements."""
    import torch.distributed as dist

    from skising.distributed import sample_ising_partitioned

    torch.set_num_threads(1)
    rank, world = args.rank, args.world
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(args.port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    g = graph(args.kind, args.nodes)
    h = torch.as_tensor(np.random.default_rng(1).normal(0, 0.3, g.num_nodes), dtype=torch.float32)
    kw = dict(coupling=0.4, n_chains=args.chains, random_state=0, partition="metis", gather=False, return_stats=True)
    t0 = time.perf_counter()
    sample_ising_partitioned(g, h, n_sweeps=1, **kw)  # plan, partition, halo lists
    setup = time.perf_counter() - t0
    dist.barrier()
    c0 = time.process_time()
    _, st = sample_ising_partitioned(g, h, n_sweeps=args.sweeps, **kw)
    out = {"rank": rank, "world": world, "setup": setup, **st, "cpu": time.process_time() - c0,
           "n_nodes": g.num_nodes, "n_edges": g.num_edges}
    if world == 1:  # the single-process peers, same graph, chains and sweeps
        from skising.sampling._sampler import _sample
        from skising.sampling import color_graph

        out["n_colors"] = int(color_graph(g).max()) + 1
        J = torch.full((g.num_edges,), 0.4)
        for backend in ("numba", "torch"):
            gen = torch.Generator().manual_seed(0)
            _sample(g, h, J, 1.0, args.chains, 1, "metropolis", "random", gen, backend=backend)  # warm
            t0 = time.perf_counter()
            _sample(g, h, J, 1.0, args.chains, args.sweeps, "metropolis", "random", gen, backend=backend)
            out[f"peer_{backend}"] = time.perf_counter() - t0
    if world == 2:  # the transport: latency and bandwidth of all_to_all_single between the two ranks
        for size in (1, 4 << 20):
            x = torch.zeros(2 * size, dtype=torch.int8)
            y = torch.empty_like(x)
            reps = 200 if size == 1 else 10
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                dist.all_to_all_single(y, x)
            out[f"a2a_{size}"] = (time.perf_counter() - t0) / reps
    print("RESULT " + json.dumps(out), flush=True)
    dist.destroy_process_group()


def launch(kind, nodes, world, args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--kind", kind, "--nodes", str(nodes),
                               "--world", str(world), "--rank", str(r), "--port", str(port),
                               "--chains", str(args.chains), "--sweeps", str(args.sweeps)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(world)]
    res = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise RuntimeError(err[-3000:])
        res += [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
    return sorted(res, key=lambda r: r["rank"])


# ----------------------------------------------------------------------------- cost model
# Assumed transports for the prediction (typical published latency / bandwidth per link),
# next to the gloo-over-loopback transport measured here.
NETWORKS = {"10GbE": (30e-6, 1.1e9), "100Gb InfiniBand": (3e-6, 11e9), "NVLink": (10e-6, 100e9)}
# halo of a part of n_r nodes: sides x c x n_r^((d-1)/d), square / cube parts
GEOMETRY = {"delaunay": (2, 4), "lattice3d": (3, 6)}


def _get(records, dataset, method, metric, **params):
    for r in records:
        if (r["dataset"] == dataset and r["method"] == method and r["metric"] == metric
                and all(r["params"].get(k) == v for k, v in params.items())):
            return r["mean"]
    return None


def model(records, rec):
    """Fit the cost model to the measured runs and predict weak scaling; appends MODEL records.

    Per sweep and rank (``n_r`` nodes, ``K`` chains, ``P`` ranks):
    ``T = (1 + iota) t_u n_r K + C alpha (P - 1) + b_r / B`` with ``t_u``
    the seconds per spin update of the rank's arithmetic (measured at N = 1), ``C`` colours
    (one ``all_to_all_single`` each, P - 1 pairwise messages), ``b_r = s c n_r^((d-1)/d) K``
    halo bytes (int8 per spin and chain; ``c`` fitted from the N = 2 halo), ``alpha`` and
    ``B`` the latency and bandwidth of the transport, ``iota`` the load imbalance (ranks
    waiting for the slowest at every colour), fitted as the N = 2 exchange time beyond
    the transport divided by the compute time.
    """
    alpha = _get(records, "gloo", "all_to_all_single", "latency_seconds")
    bw = _get(records, "gloo", "all_to_all_single", "bandwidth")
    for r in [r for r in records if r["metric"] == "n_colors"]:
        dataset = r["dataset"]
        kind, n = dataset.rsplit("_", 1)
        n, C = int(n), int(r["mean"])
        K = r["params"]["chains"]
        d, sides = GEOMETRY[kind]
        # compute per update on a core of its own: CPU time (the machine is shared); the compiled
        # kernel's by its speed ratio to the partitioned sampler, both timed in the same process
        t_torch = _get(records, dataset, "skising.distributed", "cpu_seconds_per_sweep", ranks=1) / (n * K)
        rate1 = _get(records, dataset, "skising.distributed", "updates_per_second", ranks=1)
        numba = _get(records, dataset, "skising[numba]", "updates_per_second")
        t_numba = t_torch * rate1 / numba if numba else None
        halo2 = _get(records, dataset, "skising.distributed", "halo_nodes", ranks=2)
        if halo2 is None:
            continue
        c = (halo2 / 2) / n ** ((d - 1) / d)
        rec(dataset, "MODEL", {"fit": "halo constant c", "d": d}, "halo_constant", c, "")
        comm2 = _get(records, dataset, "skising.distributed", "comm_seconds_per_sweep", ranks=2)
        wall2 = _get(records, dataset, "skising.distributed", "seconds_per_sweep", ranks=2)
        imbalance = 0.0
        if alpha and bw:
            pred2 = C * alpha + (halo2 / 2) * K / bw
            # the exchange time beyond the transport is waiting for the slower rank: a share of the compute
            imbalance = max(0.0, (comm2 - pred2) / (wall2 - comm2))
            rec(dataset, "MODEL", {"ranks": 2, "transport": "gloo loopback (measured)"},
                "transport_comm_seconds_per_sweep", pred2, "s")
            rec(dataset, "MODEL", {"fit": "N = 2 exchange time beyond the transport / compute time"},
                "imbalance", imbalance, "")
        runs = [("torch CPU, 1 thread (measured)", t_torch, 10**6, K),
                ("compiled CPU, 1 thread (skising[numba] rate)", t_numba, 10**6, K),
                # not measured here: a GPU at an assumed rate, graph filling 80 GB with 32 chains
                ("GPU (assumed 2e10 updates/s)", 1 / 2e10, 1.5 * 10**8, 32)]
        for backend, t_u, n_r, k in runs:
            if t_u is None:
                continue
            comp = t_u * n_r * k
            for net, (a, b) in NETWORKS.items():  # across machines: the assumed transports
                for sync, imb in (("none", 0.0), ("as measured here", imbalance)):
                    for P in (4, 8, 16, 32, 64):
                        comm = C * a * (P - 1) + imb * comp + sides * c * n_r ** ((d - 1) / d) * k / b
                        rec(dataset, "MODEL", {"backend": backend, "transport": net, "sync": sync,
                                               "nodes_per_rank": n_r, "chains": k, "ranks": P},
                            "weak_scaling_efficiency", comp / (comp + comm), "")
            # one machine, two ranks: the graph size from which two ranks beat one
            a, b = (alpha, bw) if alpha and bw else NETWORKS["10GbE"]
            ns = np.logspace(3, 9, 601)
            gain = t_u * ns * k / 2 * (1 - imbalance) - (C * a + c * ns ** ((d - 1) / d) * k / b)
            pays = ns[np.argmax(gain > 0)] if (gain > 0).any() else float("nan")
            rec(dataset, "MODEL", {"backend": backend, "transport": "gloo loopback (measured)", "chains": K,
                                   "ranks": 2}, "pays_from_nodes", pays, "nodes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--sweeps", type=int, default=5)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--graphs", nargs="+", default=["delaunay", "lattice3d"])
    ap.add_argument("--stem", default=None, help="results file name (default: distributed, or distributed_1m "
                    "for --nodes 1000000)")
    ap.add_argument("--model-only", action="store_true", help="refit the model to the stored measurements")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="delaunay", help=argparse.SUPPRESS)
    ap.add_argument("--world", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    command = "python benchmarks/bench_distributed.py " + " ".join(sys.argv[1:])
    stem = args.stem or ("distributed_1m" if args.nodes >= 10**6 else "distributed")
    records = []

    def rec(dataset, method, params, metric, value, unit):
        records.append({"task": "engine", "dataset": dataset, "method": method, "params": params, "metric": metric,
                        "mean": float(value), "std": None, "n": None, "unit": unit, "device": "cpu",
                        "command": command.strip()})
        print(f"  {dataset:18s} {method:22s} {json.dumps(params):48s} {metric:26s} {value:.4g} {unit}", flush=True)

    S, K = args.sweeps, args.chains
    if args.model_only:
        records[:] = [r for r in json.loads((RESULTS / f"{stem}.json").read_text()) if r["method"] != "MODEL"]
        command = records[0]["command"]
    for kind in ([] if args.model_only else args.graphs):
        for world in args.ranks:
            res = launch(kind, args.nodes, world, args)
            n = res[0]["n_nodes"]
            dataset = f"{kind}_{n}"
            p = {"ranks": world, "chains": K, "sweeps": S, "partition": "metis", "threads_per_rank": 1}
            sec = max(r["seconds"] for r in res) / S
            rec(dataset, "skising.distributed", p, "updates_per_second", n * K / sec, "updates/s")
            rec(dataset, "skising.distributed", p, "seconds_per_sweep", sec, "s")
            rec(dataset, "skising.distributed", p, "cpu_seconds_per_sweep", max(r["cpu"] for r in res) / S, "s")
            rec(dataset, "skising.distributed", p, "comm_seconds_per_sweep",
                float(np.mean([r["comm_seconds"] for r in res])) / S, "s")
            rec(dataset, "skising.distributed", p, "bytes_per_sweep", sum(r["bytes_sent"] for r in res) / S, "B")
            rec(dataset, "skising.distributed", p, "halo_nodes", sum(r["n_halo"] for r in res), "nodes")
            rec(dataset, "skising.distributed", p, "setup_seconds", max(r["setup"] for r in res), "s")
            r0 = res[0]
            if world == 1:
                rec(dataset, "skising.distributed", p, "n_colors", r0["n_colors"], "colours")
                for backend in ("numba", "torch"):
                    pp = {"chains": K, "sweeps": S, "threads": 1}
                    rec(dataset, f"skising[{backend}]", pp, "updates_per_second", n * K * S / r0[f"peer_{backend}"],
                        "updates/s")
            if world == 2:
                rec("gloo", "all_to_all_single", {"ranks": 2, "bytes": 1}, "latency_seconds", r0["a2a_1"], "s")
                rec("gloo", "all_to_all_single", {"ranks": 2, "bytes": 4 << 20}, "bandwidth",
                    (4 << 20) / r0[f"a2a_{4 << 20}"], "B/s")
    model(records, rec)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(records, indent=1))
    load = os.getloadavg()
    lines = [
        "# Partitioned sampler: scaling over processes on one machine",
        "",
        f"Command: `{command.strip()}`. Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"cores shared with other jobs (load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}), "
        f"torch {torch.__version__}, gloo over loopback, one thread per rank.",
        "",
        "| dataset | method | params | metric | value | unit |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        if r["method"] != "MODEL":
            lines.append(f"| {r['dataset']} | {r['method']} | {json.dumps(r['params'])} | {r['metric']} | "
                         f"{r['mean']:.4g} | {r['unit']} |")
    lines += ["", "## Cost model fitted to these runs", "",
              "| dataset | params | metric | value | unit |", "|---|---|---|---|---|"]
    for r in records:
        if r["method"] == "MODEL" and r["metric"] != "weak_scaling_efficiency":
            lines.append(f"| {r['dataset']} | {json.dumps(r['params'])} | {r['metric']} | {r['mean']:.4g} | "
                         f"{r['unit']} |")
    eff = [r for r in records if r["metric"] == "weak_scaling_efficiency"]
    ranks = sorted({r["params"]["ranks"] for r in eff})
    lines += ["", "## Predicted weak-scaling efficiency", "",
              "| dataset | backend | transport | imbalance | nodes per rank | chains | "
              + " | ".join(f"P = {P}" for P in ranks) + " |", "|---|---|---|---|---|---|" + "---|" * len(ranks)]
    rows = {}
    for r in eff:
        q = r["params"]
        rows.setdefault((r["dataset"], q["backend"], q["transport"], q["sync"], q["nodes_per_rank"], q["chains"]),
                        {})[q["ranks"]] = r["mean"]
    for (dataset, backend, net, sync, n_r, k), by_p in rows.items():
        lines.append(f"| {dataset} | {backend} | {net} | {sync} | {n_r:.3g} | {k} | "
                     + " | ".join(f"{100 * by_p[P]:.1f} %" for P in ranks) + " |")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"(wrote {RESULTS / stem}.json and .md)")


if __name__ == "__main__":
    main()
