r"""Data-parallel training: what the one training loop does under ``torch.distributed``.

When a default process group is initialised (``torchrun``, or
``torch.multiprocessing.spawn`` + ``init_process_group``), every learned
estimator's ``fit`` trains data-parallel without any new argument:

* **Items are sharded, the global batch is not.** Every rank draws the same
  epoch order, a permutation seeded by ``(seed, epoch)``; a global batch is
  the next ``batch_size`` items of that order and rank ``r`` of ``N`` takes
  its items ``r, r + N, ...``.
* **Random numbers belong to the item.** Each item is sampled with its own
  generator, seeded by ``(seed, epoch, index of the item in the training
  set)`` (:func:`item_seed`), so an item's samples, losses and gradient do
  not depend on which rank holds it or on ``N``.
* **One objective.** A rank computes, per item, the RLOO surrogate and
  the magnetisation penalty (both are means over graphs in the single-process
  loop) divided by the global batch size, and one ``all_reduce`` (sum) of the
  flattened gradients (plus the loss statistics of the history) gives every
  rank the gradient of the global batch; every rank then takes the same
  optimiser step. This is DistributedDataParallel's all-reduce, done
  explicitly because the loop's backward is per item.
* **Same result everywhere.** The parameters and the seed of rank 0 are
  broadcast at the start, and the final parameters at the end, so the fitted
  estimator is identical (and picklable) on every rank; checkpoints are
  written by rank 0 and resume with any ``N`` (the order and the samples
  depend only on ``(seed, epoch, item)``).

With ``N = 1`` and ``N > 1`` the fitted parameters agree up to the order of
float additions in the gradient sum (per-item gradients are summed on each
rank, then across ranks). The per-item streams differ from those of a plain
single-process ``fit`` (which samples a whole collated batch with one
generator), so a distributed fit reproduces a distributed fit of any ``N``,
not a plain one. A loss that returns one value per sample for the whole
batch (shape ``(K,)``) is evaluated per item here.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["DataParallel", "data_parallel", "item_seed", "epoch_order"]


def item_seed(seed, epoch, index):
    """Seed of the sample stream of item ``index`` in ``epoch``: the ``"train"`` stream keyed by both.

    See :func:`skising._base.stream_seed`; a 63-bit int.
    """
    from .._base import stream_seed

    return stream_seed(seed, "train", (int(epoch), int(index)))


def epoch_order(seed, epoch, n):
    """The item order of ``epoch``: the same permutation on every rank, for any number of ranks."""
    from .._base import stream_seed

    # keyed by (epoch, -1): never the key of an item's sample stream
    return np.random.default_rng(stream_seed(seed, "train", (int(epoch), 2**32 - 1))).permutation(n)


def data_parallel():
    """A :class:`DataParallel` view of the default process group, or None when there is none."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    nccl = dist.get_backend() == "nccl"
    return DataParallel(dist.get_rank(), dist.get_world_size(),
                        torch.device("cuda", torch.cuda.current_device()) if nccl else "cpu")


class DataParallel:
    """Rank, world size and the collectives of the training loop (default process group)."""

    def __init__(self, rank, world_size, device="cpu"):
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.device = torch.device(device)  # where collective buffers live (NCCL: the rank's GPU)

    def shard(self, batch_indices):
        """This rank's items of a global batch: positions ``rank, rank + N, ...``."""
        return batch_indices[self.rank :: self.world_size]

    def broadcast_seed(self, seed):
        """Rank 0's seed on every rank (``random_state=None`` draws a different one per process)."""
        import torch.distributed as dist

        t = torch.tensor([int(seed)], dtype=torch.int64, device=self.device)
        dist.broadcast(t, src=0)
        return int(t.item())

    def broadcast_module(self, module):
        """Copy rank 0's parameters and buffers into ``module`` on every rank."""
        import torch.distributed as dist

        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                buf = t.detach().to(self.device).clone()
                dist.broadcast(buf, src=0)
                t.copy_(buf.to(t.device))

    def broadcast_object(self, obj):
        """Rank 0's picklable ``obj`` on every rank."""
        import torch.distributed as dist

        box = [obj if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce_step(self, params, stats):
        """Sum the gradients of ``params`` and the float list ``stats`` over ranks, in one all-reduce.

        Gradients are summed in place (a missing gradient counts as zero and
        stays missing only where it is missing on every rank); returns the
        summed ``stats``.
        """
        import torch.distributed as dist

        params = list(params)
        flat = [p.grad.detach().reshape(-1).to(torch.float64) if p.grad is not None
                else torch.zeros(p.numel(), dtype=torch.float64, device=p.device) for p in params]
        has = [1.0 if p.grad is not None else 0.0 for p in params]
        # float64 on the wire: the sum of N partial sums loses no more than the partials themselves
        buf = torch.cat([f.to(self.device) for f in flat]
                        + [torch.tensor(has + list(stats), dtype=torch.float64, device=self.device)])
        dist.all_reduce(buf)
        off = 0
        for p, f in zip(params, flat):
            k = f.numel()
            seg = buf[off : off + k]
            off += k
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.copy_(seg.view_as(p.grad).to(dtype=p.dtype, device=p.device))
        present = buf[off : off + len(params)]
        for p, any_rank in zip(params, present.tolist()):
            if any_rank == 0:
                p.grad = None
        off += len(params)
        return buf[off:].tolist()
