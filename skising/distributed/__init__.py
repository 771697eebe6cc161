"""skising beyond one process, on ``torch.distributed`` (gloo on CPU, NCCL on GPU).

* **Data-parallel training**: every learned estimator's ``fit`` trains
  data-parallel when a default process group is initialised (``torchrun``):
  items sharded over the ranks, per-item sample streams (:func:`item_seed`),
  one gradient all-reduce per global batch, checkpoints by rank 0 that resume
  with any number of ranks.
* **Partitioned sampling**: :func:`sample_ising_partitioned` splits one
  graph's chains over the ranks (:func:`partition_graph`: METIS or
  contiguous), exchanging only boundary spins per colour, with samples
  bit-identical to :func:`skising.sampling.sample_ising`;
  :func:`suggest_ranks` says how many ranks a sampling job needs.

See ``doc/distributed.md``.
"""

from ._data_parallel import epoch_order, item_seed
from ._partition import partition_graph, partition_hint, suggest_ranks
from ._sampler import sample_ising_partitioned

__all__ = [
    "epoch_order",
    "item_seed",
    "partition_graph",
    "partition_hint",
    "sample_ising_partitioned",
    "suggest_ranks",
]
