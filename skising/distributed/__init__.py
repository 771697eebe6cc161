"""skising beyond one process, on ``torch.distributed`` (gloo on CPU, NCCL on GPU).

* Data-parallel training: every learned estimator's ``fit`` trains
  data-parallel when a default process group is initialised (``torchrun``);
  see :mod:`skising.distributed._data_parallel` and ``doc/distributed.md``.
"""

from ._data_parallel import epoch_order, item_seed

__all__ = ["epoch_order", "item_seed"]
