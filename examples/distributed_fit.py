"""Data-parallel training and partitioned sampling with ``torchrun``.

Run on one machine with two CPU processes (gloo)::

    torchrun --nproc_per_node=2 examples/distributed_fit.py

or on a cluster with ``--nnodes`` / ``--rdzv-endpoint`` as usual (``--backend
nccl`` with one GPU per rank). Every rank runs this same script:

1. ``IsingSubsampler.fit`` trains data-parallel: the graphs are sharded over
   the ranks, gradients are all-reduced, rank 0 writes the checkpoints, and
   the fitted estimator is the same on every rank. A run killed and
   restarted with ``--resume`` continues from the checkpoint, with any
   number of processes.
2. ``sample_ising_partitioned`` samples one larger graph split over the
   ranks, with the same samples as single-process ``sample_ising``.

Not a gallery example (it needs a launcher); ``doc/distributed.md`` explains
both parts.
"""

import argparse
import os

import networkx as nx
import torch
import torch.distributed as dist

from skising import IsingSubsampler
from skising.distributed import sample_ising_partitioned
from skising.sampling import sample_ising


def keep_high_nodes(x, graph):
    """Per-graph loss (n_samples, n_graphs): reward keeping nodes with a large y coordinate (mean per graph)."""
    b = graph.batch_vector
    G = int(b.max()) + 1
    w = graph.pos[:, 1].to(x.dtype) - 3.5  # centred: keeping a low node costs
    total = torch.zeros(x.shape[0], G, dtype=x.dtype).index_add_(1, b, x * w)
    return -total / torch.bincount(b, minlength=G).to(x.dtype)


def training_graphs(n=16):
    graphs = []
    for i in range(n):
        g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(6 + i % 4, 8), label_attribute="ij")
        for _, d in g.nodes(data=True):
            d["pos"] = [float(d["ij"][0]), float(d["ij"][1]), 0.0]
            del d["ij"]
        graphs.append(g)
    return graphs


def main():
    ap = argparse.ArgumentParser(description="skising under torchrun")
    ap.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (GPU)")
    ap.add_argument("--checkpoint-dir", default="distributed_fit_checkpoint")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group(args.backend)  # rank and world size from torchrun's environment
    rank, world = dist.get_rank(), dist.get_world_size()

    est = IsingSubsampler(loss=keep_high_nodes, coupling=-0.5, max_epochs=args.epochs, n_samples=4,
                          n_sweeps=4, batch_size=8, lr=0.01, random_state=0)
    est.fit(training_graphs(), checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    if rank == 0:
        print(f"trained on {world} rank(s): loss per epoch", [round(h["loss"], 3) for h in est.history_])

    big = nx.grid_2d_graph(300, 300)
    x = sample_ising_partitioned(big, 0.05, coupling=0.4, n_chains=8, n_sweeps=20, random_state=1)
    if rank == 0:
        same = torch.equal(x, sample_ising(big, 0.05, coupling=0.4, n_chains=8, n_sweeps=20, random_state=1))
        print(f"partitioned sample over {world} rank(s): mean spin {float(x.mean()):+.4f}, "
              f"identical to one process: {same}")
        print("checkpoint:", os.path.join(args.checkpoint_dir, "checkpoint.pt"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
