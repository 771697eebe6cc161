"""Train (and cache) the GIN/GINE graph classifiers that the explainers explain.

Weights are cached only under a user cache directory (``$SKISING_CACHE``,
else ``~/.cache/skising``), never inside the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from ..fields._gin import GINClassifier

__all__ = ["train_classifier", "predict_proba", "get_cache_dir", "model_kwargs_of"]


def get_cache_dir():
    """``$SKISING_CACHE`` or ``~/.cache/skising``: where trained classifiers are cached.

    The folder is not created here; :func:`train_classifier` creates it when
    it first saves weights.

    Returns
    -------
    pathlib.Path
        Where :func:`train_classifier` caches trained weights (under
        ``classifiers/``); never inside the repository.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from skising.explain import get_cache_dir
    >>> with mock.patch.dict(os.environ, {"SKISING_CACHE": "/tmp/skising-cache"}):
    ...     print(get_cache_dir().as_posix())
    /tmp/skising-cache
    """
    return Path(os.environ.get("SKISING_CACHE", "~/.cache/skising")).expanduser()


def _uses_edge_attr(graphs):
    return getattr(graphs[0], "edge_attr", None) is not None


def model_kwargs_of(data):
    """Keyword arguments a classifier takes besides ``x, edge_index, batch``."""
    return {"edge_attr": data.edge_attr} if getattr(data, "edge_attr", None) is not None else {}


@torch.no_grad()
def predict_proba(model, graphs, batch_size=256, device="cpu"):
    """Class probabilities ``(n_graphs, n_classes)`` of ``model`` on a list of PyG graphs.

    ``model(x, edge_index, batch=..., [edge_attr=...])`` must return logits.

    Parameters
    ----------
    model : torch.nn.Module
        A graph classifier, e.g. the one :func:`train_classifier` returns.
    graphs : list of torch_geometric.data.Data
    batch_size : int, default=256
        Graphs per forward pass.
    device : str or torch.device, default="cpu"

    Returns
    -------
    torch.Tensor of shape (n_graphs, n_classes)
        Softmax of the logits; every row sums to 1.

    Examples
    --------
    >>> import torch
    >>> from skising.datasets import make_ba2motifs
    >>> from skising.fields import GINClassifier
    >>> from skising.explain import predict_proba
    >>> _ = torch.manual_seed(0)
    >>> p = predict_proba(GINClassifier(10), make_ba2motifs(3, random_state=0))
    >>> tuple(p.shape), bool(torch.allclose(p.sum(1), torch.ones(3)))
    ((3, 2), True)
    """
    from torch_geometric.data import Batch

    model.eval()
    out = []
    for s in range(0, len(graphs), batch_size):
        b = Batch.from_data_list(list(graphs[s : s + batch_size])).to(device)
        out.append(torch.softmax(model(b.x, b.edge_index, batch=b.batch, **model_kwargs_of(b)), -1).cpu())
    return torch.cat(out)


def train_classifier(graphs, model=None, epochs=100, lr=1e-3, batch_size=64, test_size=0.2, random_state=0,
                     cache=True, name=None, device="cpu", verbose=False):
    """Train a graph classifier (default: 3-layer GIN/GINE, hidden 64, mean pool) with Adam.

    Parameters
    ----------
    graphs : list of torch_geometric.data.Data
        With ``x``, ``edge_index``, ``y`` (and ``edge_attr`` for GINE).
    model : torch.nn.Module, optional
        Default :class:`~skising.fields.GINClassifier` (GINE when the graphs
        carry ``edge_attr``).
    epochs : int, default=100
    lr : float, default=1e-3
    batch_size : int, default=64
        Training settings (the paper: Adam, learning rate 1e-3, batch 64).
    test_size : float, default=0.2
        Held-out fraction (stratified random split from ``random_state``).
    random_state : int, default=0
    cache : bool, default=True
        Load/save the trained weights under :func:`get_cache_dir` /
        ``classifiers``, keyed by ``name``, the settings and a data hash.
    name : str, optional
        Dataset name in the cache key.
    device : str or torch.device, default="cpu"
    verbose : bool, default=False
        Print the training loss every 10 epochs.

    Returns
    -------
    model : torch.nn.Module (eval mode)
    info : dict
        ``train_idx``, ``test_idx``, ``train_acc``, ``test_acc``,
        ``seconds``, ``cached`` and ``path``.

    Examples
    --------
    A few epochs on 40 generated BA-2Motifs graphs, without the cache (the
    paper's setting is ``epochs=100`` on the 1000 graphs of
    :func:`skising.datasets.load_ba2motifs`):

    >>> from skising.datasets import make_ba2motifs
    >>> from skising.explain import train_classifier
    >>> graphs = make_ba2motifs(40, random_state=0)
    >>> model, info = train_classifier(graphs, epochs=2, cache=False, random_state=0)
    >>> len(info["train_idx"]), len(info["test_idx"]), info["cached"]
    (32, 8, False)
    """
    from torch_geometric.data import Batch

    if not isinstance(graphs, (list, tuple)) or not graphs:
        raise ValueError("graphs: expected a non-empty list of torch_geometric Data objects")
    if not 0 < float(test_size) < 1:
        raise ValueError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
    y = np.asarray([int(g.y) for g in graphs])
    n_classes = int(y.max()) + 1
    rng = np.random.default_rng(random_state)
    test_idx = []
    for c in range(n_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.append(idx[: int(round(len(idx) * float(test_size)))])
    test_idx = np.sort(np.concatenate(test_idx))
    train_idx = np.setdiff1d(np.arange(len(graphs)), test_idx)
    if model is None:
        edge_dim = graphs[0].edge_attr.shape[1] if _uses_edge_attr(graphs) else None
        torch.manual_seed(int(random_state))
        model = GINClassifier(graphs[0].x.shape[1], n_classes, 64, 3, edge_dim)
    model = model.to(device)
    h = hashlib.sha1()
    h.update(json.dumps([name, epochs, lr, batch_size, test_size, random_state, repr(model)]).encode())
    h.update(np.asarray([g.num_nodes for g in graphs]).tobytes())
    h.update(y.tobytes())
    h.update(torch.cat([g.edge_index.flatten() for g in graphs[:50]]).numpy().tobytes())
    path = get_cache_dir() / "classifiers" / f"{name or 'graphs'}-{h.hexdigest()[:16]}.pt"
    info = {"train_idx": train_idx, "test_idx": test_idx, "path": str(path), "cached": False}
    t0 = time.perf_counter()
    if cache and path.exists():
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        info.update(cached=True, seconds=float(state["seconds"]))
    else:
        opt = torch.optim.Adam(model.parameters(), lr=float(lr))
        gen = np.random.default_rng(random_state + 1)
        for epoch in range(int(epochs)):
            model.train()
            order = gen.permutation(train_idx)
            tot = 0.0
            for s in range(0, len(order), batch_size):
                b = Batch.from_data_list([graphs[i] for i in order[s : s + batch_size]]).to(device)
                loss = torch.nn.functional.cross_entropy(
                    model(b.x, b.edge_index, batch=b.batch, **model_kwargs_of(b)), b.y.view(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * b.num_graphs
            if verbose and (epoch % 10 == 0 or epoch == epochs - 1):
                print(f"epoch {epoch}: loss {tot / len(order):.4f}")
        info["seconds"] = time.perf_counter() - t0
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "seconds": info["seconds"]}, path)
    model.eval()
    for split in ("train", "test"):
        idx = info[f"{split}_idx"]
        p = predict_proba(model, [graphs[i] for i in idx], device=device)
        info[f"{split}_acc"] = float((p.argmax(1).numpy() == y[idx]).mean())
    return model, info
