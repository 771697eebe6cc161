"""Class probabilities of a graph classifier on induced subgraphs (nodes deleted with their edges).

The explainer's task loss and the fidelity metrics need the classifier's
prediction on many kept-node subsets at once: all of them go through one
forward pass over the disjoint union of the subgraphs.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

__all__ = ["induced_subgraph_proba"]


def _accepts_num_graphs(model):
    try:
        return "num_graphs" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic callables
        return False


def _accepts_edge_attr(model):
    """Whether ``model.forward`` takes an ``edge_attr`` keyword (or ``**kwargs``)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic callables
        return True
    return "edge_attr" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _induced_logits(model, x, edge_index, batch, num_graphs, keep, edge_attr=None):
    """Logits ``(K, G, C)`` of ``model`` on the K induced subgraphs of ``keep`` (K, N) bool.

    One forward pass over the disjoint union of all ``K * G`` subgraphs:
    copy k of graph g is graph ``k * G + g``; dropped nodes and every edge
    touching them are removed. A subgraph left without nodes is pooled to
    zeros by models that take ``num_graphs`` (as :class:`~skising.fields.GINClassifier`);
    for other models, empty subgraphs at the end of the union get uniform
    logits (zero).
    """
    K, N = keep.shape
    dev = x.device
    kf = keep.reshape(-1)
    new_id = torch.cumsum(kf.long(), 0) - 1
    off = (torch.arange(K, device=dev) * N)[:, None]
    src = (edge_index[0][None] + off).reshape(-1)
    dst = (edge_index[1][None] + off).reshape(-1)
    ek = kf[src] & kf[dst]
    ei = torch.stack([new_id[src[ek]], new_id[dst[ek]]])
    xb = x.repeat(K, 1)[kf]
    bb = (batch[None] + (torch.arange(K, device=dev) * num_graphs)[:, None]).reshape(-1)[kf]
    kwargs = {}
    if edge_attr is not None:
        kwargs["edge_attr"] = edge_attr.repeat(K, 1)[ek]
    total = K * num_graphs
    if _accepts_num_graphs(model):
        out = model(xb, ei, batch=bb, num_graphs=total, **kwargs)
    elif xb.shape[0] == 0:
        out = None
    else:
        out = model(xb, ei, batch=bb, **kwargs)
    if out is None or out.shape[0] < total:  # trailing empty subgraphs: no evidence
        C = out.shape[1] if out is not None else int(getattr(model, "n_classes", 2))
        pad = torch.zeros(total, C, device=dev, dtype=torch.float32)
        if out is not None:
            pad[: out.shape[0]] = out
        out = pad
    return out.reshape(K, num_graphs, -1)


@torch.no_grad()
def induced_subgraph_proba(model, graphs, node_masks, batch_size=128, device="cpu"):
    """Class probabilities of ``model`` on the induced subgraphs of ``node_masks``.

    Parameters
    ----------
    model : torch.nn.Module
        ``model(x, edge_index, batch=..., [edge_attr=...]) -> logits``.
        It is put in evaluation mode (``model.eval()``).
    graphs : list of torch_geometric.data.Data
        The graphs whose induced subgraphs are classified.
    node_masks : list of bool arrays/tensors, one ``(n_i,)`` per graph
        Nodes to keep; all other nodes and their edges are deleted.
    batch_size : int, default=128
        Number of graphs passed to ``model`` in one batch.
    device : str or torch.device, default="cpu"
        Device the batches are moved to; ``model`` must already live there.

    Returns
    -------
    torch.Tensor of shape (n_graphs, n_classes)
        Softmax of the logits of every induced subgraph, on the CPU.

    Examples
    --------
    >>> import torch
    >>> from skising.datasets import make_ba2motifs
    >>> from skising.fields import GINClassifier
    >>> from skising.explain import induced_subgraph_proba
    >>> ds = make_ba2motifs(2, random_state=0)
    >>> p = induced_subgraph_proba(GINClassifier(10), ds, [torch.ones(25, dtype=bool)] * 2)
    >>> tuple(p.shape)
    (2, 2)
    """
    from torch_geometric.data import Batch

    if len(node_masks) != len(graphs):
        raise ValueError(f"node_masks: expected {len(graphs)} masks (one per graph), got {len(node_masks)}")
    model.eval()
    out = []
    for s in range(0, len(graphs), batch_size):
        part = list(graphs[s : s + batch_size])
        b = Batch.from_data_list(part).to(device)
        masks = [torch.as_tensor(np.asarray(m.cpu() if isinstance(m, torch.Tensor) else m)).bool().reshape(-1)
                 for m in node_masks[s : s + batch_size]]
        for g, m in zip(part, masks):
            if m.numel() != g.num_nodes:
                raise ValueError(f"node_masks: a mask has {m.numel()} entries for a graph of {g.num_nodes} nodes")
        keep = torch.cat(masks).to(device)[None]
        logits = _induced_logits(model, b.x, b.edge_index, b.batch, b.num_graphs, keep,
                                 getattr(b, "edge_attr", None))
        out.append(torch.softmax(logits[0], -1).cpu())
    return torch.cat(out)
