"""Named random streams: one seed per estimator, one stream per purpose and item.

An estimator's ``random_state`` is drawn once into a seed
(:func:`~skising._validation.seed_from`); every random draw afterwards comes
from a generator derived from that seed, a stream name and, at inference,
the item's content, so an item's result never depends on the items passed
with it.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["SEED_STREAMS", "graph_key", "item_key", "stream_generator", "stream_seed"]

#: Named random streams of a fitted estimator, all derived from one seed
#: (``random_state``): ``"train"`` is the seed itself (field-model
#: initialisation, batch order and training samples; data-parallel
#: training derives one stream per item and epoch); ``"sample"``
#: (``sample``/``transform``), ``"score"`` (``score``), ``"calibrate"`` and
#: ``"evaluate"`` are derived per item by :func:`stream_seed`, so an item's
#: result never depends on the other items passed with it or on its
#: position (the segmenter's sampled predictions and SAI's ``evaluate``
#: included). Two paths keep a seed offset instead, so that their results
#: stay as they were: the point sampler's Gumbel draws (``seed + 3``, a
#: function of the seed and the mesh size) and ``SAIPreconditioner``'s
#: one-matrix ``transform`` with ``decode="sample"`` and its field-offset
#: calibration over the training matrices (``seed + 1``).
SEED_STREAMS = ("train", "sample", "score", "calibrate", "evaluate")


def item_key(*arrays):
    """Two 32-bit words fingerprinting an item's content (blake2b of its arrays).

    Used to derive an item's random stream from the item itself; cost: one
    pass over the arrays' bytes.
    """
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        if a is None:
            h.update(b"\x00none")
            continue
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.data)
    v = int.from_bytes(h.digest(), "little")
    return (v & 0xFFFFFFFF, v >> 32)


def graph_key(graph):
    """:func:`item_key` of a :class:`~skising.graph.Graph` (structure, weights, ``x`` and ``pos``)."""
    return item_key(np.array([graph.num_nodes]), graph.edges, graph.weight, getattr(graph, "x", None),
                    getattr(graph, "pos", None))


def stream_seed(seed, stream, key=()):
    """Seed of the named ``stream`` (see :data:`SEED_STREAMS`) for the item with ``key``."""
    if stream not in SEED_STREAMS:
        raise ValueError(f"stream: expected one of {SEED_STREAMS}, got {stream!r}")
    if stream == "train" and not key:
        return int(seed)
    seed = int(seed)
    words = [seed & 0xFFFFFFFF, seed >> 32, SEED_STREAMS.index(stream), *[int(k) for k in key]]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))


def stream_generator(seed, stream, device, key=()):
    """A ``torch.Generator`` on ``device`` seeded with :func:`stream_seed`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(stream_seed(seed, stream, key))
    return gen
