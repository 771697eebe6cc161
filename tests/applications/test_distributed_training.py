"""Data-parallel fit under torch.distributed (gloo, CPU processes).

N = 1 runs in the test process (a gloo group of one), N = 2 in two
processes that run every scenario, so the test pays the start-up (importing
torch and skising) twice only.

Tolerance: with N = 1 and N = 2 every item is sampled from the same stream
(seeded by seed, epoch and item), so the samples and per-item gradients are
identical; only the order of the float32 additions of the per-item gradients
differs (one rank sums all items; two ranks sum halves, then the all-reduce
adds the halves), a relative error of a few float32 ulps per step. Adam
divides by the gradient's running RMS, so an ulp-level gradient difference
moves a parameter by at most about ``lr * 1e-6`` per step: after the few
steps here the parameters agree to ``atol = 1e-5`` (``lr = 0.01``), while
different samples would move them by about ``lr`` per step.
"""

import subprocess
import sys
import textwrap

import pytest
import torch

pytestmark = pytest.mark.slow  # subprocess ranks: runs in CI, skip locally with -m "not slow"

torch_dist = pytest.importorskip("torch.distributed")
if not torch_dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORKER = textwrap.dedent(
    """
    import os, pickle, sys
    import networkx as nx
    import torch
    import torch.distributed as dist

    def loss(x, graph):
        # per-graph loss (K, G): keep nodes with a large first coordinate
        w = graph.pos[:, 0].to(x.dtype)
        G = int(graph.batch_vector.max()) + 1
        out = torch.zeros(x.shape[0], G, dtype=x.dtype).index_add_(1, graph.batch_vector, x * w)
        return -out

    def graphs():
        out = []
        for i, (a, b) in enumerate([(3, 4), (4, 4), (2, 5), (3, 3), (5, 3), (4, 2), (3, 5)]):
            g = nx.grid_2d_graph(a, b)
            g = nx.convert_node_labels_to_integers(g, label_attribute="xy")
            for v, d in g.nodes(data=True):
                d["pos"] = [float(d["xy"][0]) + 0.1 * i, float(d["xy"][1]), 0.0]
                del d["xy"]
            out.append(g)
        return out

    def make(epochs):
        from skising import IsingSubsampler
        return IsingSubsampler(loss=loss, coupling=-0.5, max_epochs=epochs, n_samples=3, n_sweeps=2,
                               batch_size=4, lr=0.01, random_state=7)

    def summary(est):
        # the fitted estimator pickles (where its loss can be imported: in the worker processes);
        # the parent gets plain state
        back = pickle.loads(pickle.dumps(est)) if __name__ == "__main__" else est
        assert all(torch.equal(a, b) for a, b in zip(back.field_model_.state_dict().values(),
                                                     est.field_model_.state_dict().values()))
        return {"params": est.field_model_.state_dict(), "history": est.history_,
                "mask": est.transform(graphs()[0])}

    def run(rank, world, out, port):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        torch.set_num_threads(1)
        dist.init_process_group("gloo", rank=rank, world_size=world)
        try:
            X = graphs()
            res = {"full": summary(make(3).fit(X))}
            # interrupted after 1 epoch by a job of this world size ...
            make(1).fit(X, checkpoint_dir=os.path.join(out, f"ck{world}"))
            # ... and the checkpoint of the other world size, when there is one, resumed to 3 epochs
            other = os.path.join(out, "ck" + ("2" if world == 1 else "1"))
            if os.path.exists(other):
                res["resumed"] = summary(make(3).fit(X, checkpoint_dir=other, resume=True))
        finally:
            dist.destroy_process_group()
        return res

    if __name__ == "__main__":
        rank, world, out, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        res = run(rank, world, out, port)
        torch.save(res, os.path.join(out, f"w{world}-r{rank}.pt"))
    """
)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker_namespace():
    ns = {"__name__": "worker"}
    exec(WORKER, ns)
    return ns


def _run_two_ranks(tmp_path):
    import os

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(script), str(r), "2", str(tmp_path), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    return [torch.load(tmp_path / f"w2-r{r}.pt", weights_only=False) for r in range(2)]


def _close(a, b, atol):
    return all(torch.allclose(a[k], b[k], rtol=0, atol=atol) for k in a)


def test_data_parallel_fit_matches_one_process_and_resumes_with_any_world_size(tmp_path):
    ns = _worker_namespace()
    # N = 1 in this process (a gloo group of one), then N = 2 in two processes
    one = ns["run"](0, 1, str(tmp_path), _free_port())
    two = _run_two_ranks(tmp_path)
    p1, p2 = one["full"]["params"], [r["full"]["params"] for r in two]
    h1, h2 = one["full"]["history"], [r["full"]["history"] for r in two]
    # identical on every rank
    assert all(torch.equal(p2[0][k], p2[1][k]) for k in p2[0])
    assert [h["loss"] for h in h2[0]] == [h["loss"] for h in h2[1]]
    assert (two[0]["full"]["mask"] == two[1]["full"]["mask"]).all()
    # N = 2 equals N = 1 up to float reduction order (see the module docstring)
    assert _close(p1, p2[0], atol=1e-5)
    assert [h["loss"] for h in h1] == pytest.approx([h["loss"] for h in h2[0]], rel=1e-4)
    # while training moved the parameters far beyond that tolerance
    init = ns["make"](0).fit(ns["graphs"]()).field_model_.state_dict()
    assert max(float((p1[k] - init[k]).abs().max()) for k in p1) > 1e-3
    # the 2-rank job resumed the 1-rank checkpoint (written after epoch 1) to the same fit
    resumed = two[0]["resumed"]
    assert _close(resumed["params"], p1, atol=1e-5) and len(resumed["history"]) == 3
    assert all(torch.equal(resumed["params"][k], two[1]["resumed"]["params"][k]) for k in p1)
