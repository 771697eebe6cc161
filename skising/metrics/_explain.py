"""Metrics for graph explanations: GEA and fidelity variants.

All functions work on batches of graphs given by a PyG-style ``batch``
vector (graph id per node); ``batch=None`` means one graph.
"""

from __future__ import annotations


import numpy as np
import torch

__all__ = ["topk_node_mask", "graph_explanation_accuracy", "prediction_fidelity", "harmonic_fidelity"]


def _np(a, name, dtype=None):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array (one value per node), got shape {a.shape}")
    return a


def _batch(batch, n):
    if batch is None:
        return np.zeros(n, dtype=np.int64)
    b = _np(batch, "batch", np.int64)
    if b.size != n:
        raise ValueError(f"batch: expected {n} graph ids (one per node), got {b.size}")
    if b.size and (b.min() < 0 or np.any(np.diff(b) < 0)):
        raise ValueError("batch: expected non-negative graph ids sorted by graph (PyG convention)")
    return b


def topk_node_mask(scores, k, batch=None, random_state=None):
    """Boolean mask of the ``k`` highest-scoring nodes of every graph.

    Ties are broken at random (index-order tie breaking biases GEA on
    BA-2Motifs, whose motif is always nodes 20-24).

    Parameters
    ----------
    scores : array-like of shape (n,)
    k : int or float
        Number of nodes per graph (int >= 0) or a fraction in (0, 1]
        of every graph's nodes (rounded up).
    batch : array-like of shape (n,), optional
    random_state : int, numpy Generator or None

    Returns
    -------
    numpy.ndarray of shape (n,), bool

    Examples
    --------
    >>> from skising.metrics import topk_node_mask
    >>> topk_node_mask([0.1, 0.9, 0.5, 0.2], 2).tolist()
    [False, True, True, False]
    >>> topk_node_mask([3, 1, 2, 5, 4], 0.5, batch=[0, 0, 0, 1, 1]).tolist()
    [True, False, True, True, False]
    """
    s = _np(scores, "scores", np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError("scores: contains NaN or infinite values")
    b = _batch(batch, s.size)
    counts = np.bincount(b, minlength=int(b.max()) + 1 if b.size else 0)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.integer, np.floating)):
        raise TypeError(f"k: expected an int or a float fraction, got {type(k).__name__}")
    if isinstance(k, (float, np.floating)):
        if not 0 < k <= 1:
            raise ValueError(f"k: a fractional k must lie in (0, 1], got {k}")
        kg = np.ceil(counts * float(k) - 1e-9).astype(np.int64)
    else:
        if k < 0:
            raise ValueError(f"k: expected a non-negative int, got {k}")
        kg = np.minimum(counts, int(k))
    rng = np.random.default_rng(random_state)
    order = np.lexsort((rng.random(s.size), -s, b))
    ptr = np.concatenate([[0], np.cumsum(counts)])
    rank = np.empty(s.size, dtype=np.int64)
    rank[order] = np.arange(s.size) - ptr[b[order]]
    return rank < kg[b]


def graph_explanation_accuracy(pred_mask, gt_mask, batch=None):
    """Graph explanation accuracy (Agarwal et al., 2023): Jaccard index per graph.

    ``|P & G| / |P | G|`` of the predicted and ground-truth node (or edge)
    masks; with several alternative ground truths, the maximum over them.

    Parameters
    ----------
    pred_mask : array-like of shape (n,), bool
    gt_mask : array-like of shape (n,) or sequence of such (alternatives)
    batch : array-like of shape (n,), optional

    Returns
    -------
    numpy.ndarray of shape (n_graphs,)
        NaN for a graph where both masks are empty.

    Examples
    --------
    >>> from skising.metrics import graph_explanation_accuracy
    >>> graph_explanation_accuracy([1, 1, 0, 0], [0, 1, 1, 0]).round(3).tolist()
    [0.333]
    """
    p = _np(pred_mask, "pred_mask").astype(bool)
    if isinstance(gt_mask, (list, tuple)) and len(gt_mask) and np.ndim(gt_mask[0]) >= 1:
        gts = [_np(g, "gt_mask").astype(bool) for g in gt_mask]
    else:
        gts = [_np(gt_mask, "gt_mask").astype(bool)]
    for g in gts:
        if g.size != p.size:
            raise ValueError(f"gt_mask: expected {p.size} entries like pred_mask, got {g.size}")
    b = _batch(batch, p.size)
    G = int(b.max()) + 1 if b.size else 0
    best = np.full(G, -np.inf)
    for g in gts:
        inter = np.bincount(b, weights=(p & g), minlength=G)
        union = np.bincount(b, weights=(p | g), minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            best = np.fmax(best, inter / union)
    best[~np.isfinite(best)] = np.nan
    return best


def prediction_fidelity(p_full, p_sub, target=None):
    """Agreement between predictions on the whole graph and on a subgraph.

    Parameters
    ----------
    p_full, p_sub : array-like of shape (n_graphs, n_classes)
        Class probabilities on the whole graphs and on the explanations
        (the induced subgraphs of the kept nodes).
    target : array-like of shape (n_graphs,), optional
        Class whose probability is compared (default: the prediction on the
        whole graph, i.e. explaining the model).

    Returns
    -------
    dict of numpy arrays of shape (n_graphs,)
        ``"agreement"``: 1 where ``argmax p_sub == argmax p_full``;
        ``"prob"``: ``1 - |p_full[c] - p_sub[c]|`` for the target class ``c``.

    Examples
    --------
    >>> from skising.metrics import prediction_fidelity
    >>> r = prediction_fidelity([[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.7, 0.3]])
    >>> r["agreement"].tolist(), r["prob"].round(2).tolist()
    ([1.0, 0.0], [0.7, 0.5])
    """
    pf = np.asarray(p_full.detach().cpu() if isinstance(p_full, torch.Tensor) else p_full, dtype=np.float64)
    ps = np.asarray(p_sub.detach().cpu() if isinstance(p_sub, torch.Tensor) else p_sub, dtype=np.float64)
    if pf.ndim != 2 or pf.shape != ps.shape:
        raise ValueError(f"p_sub: expected the shape of p_full (n_graphs, n_classes) = {pf.shape}, got {ps.shape}")
    c = pf.argmax(1) if target is None else _np(target, "target", np.int64)
    rows = np.arange(pf.shape[0])
    return {
        "agreement": (ps.argmax(1) == pf.argmax(1)).astype(np.float64),
        "prob": 1.0 - np.abs(pf[rows, c] - ps[rows, c]),
    }


def harmonic_fidelity(p_full, p_keep, p_remove, kept_fraction, target=None):
    """Sparsity-normalised harmonic fidelity of Yuan et al.'s evaluation code.

    With ``fid = p(G)[c] - p(G \\ S)[c]`` (removing the explanation),
    ``inv = p(G)[c] - p(S)[c]`` (keeping only it) and sparsity
    ``s = 1 - kept_fraction``: ``nf = fid * s``, ``ni = inv * (1 - s)`` and
    ``H = (1 + nf)(1 - ni) / (2 + nf - ni)``, the harmonic mean of
    ``(1 + nf)/2`` and ``(1 - ni)/2``. Higher is better; 0.5 is neutral.

    Parameters
    ----------
    p_full, p_keep, p_remove : array-like of shape (n_graphs, n_classes)
        Probabilities on the whole graph, on the explanation subgraph ``S``
        and on its complement ``G \\ S``.
    kept_fraction : array-like of shape (n_graphs,)
        ``|S| / |G|`` per graph (nodes).
    target : array-like of shape (n_graphs,), optional
        Class ``c`` (default: argmax of ``p_full``).

    Returns
    -------
    dict of numpy arrays of shape (n_graphs,): ``"fidelity"``, ``"inv_fidelity"``,
    ``"harmonic"``.

    Examples
    --------
    >>> from skising.metrics import harmonic_fidelity
    >>> r = harmonic_fidelity([[0.9, 0.1]], [[0.9, 0.1]], [[0.1, 0.9]], [0.2])
    >>> round(float(r["harmonic"][0]), 4)
    0.6212
    """
    arrs = []
    for name, a in (("p_full", p_full), ("p_keep", p_keep), ("p_remove", p_remove)):
        a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"{name}: expected shape (n_graphs, n_classes), got {a.shape}")
        arrs.append(a)
    pf, pk, pr = arrs
    if pk.shape != pf.shape or pr.shape != pf.shape:
        raise ValueError(f"p_keep/p_remove: expected shape {pf.shape} like p_full, got {pk.shape} and {pr.shape}")
    frac = _np(kept_fraction, "kept_fraction", np.float64)
    if frac.size != pf.shape[0]:
        raise ValueError(f"kept_fraction: expected {pf.shape[0]} values, got {frac.size}")
    c = pf.argmax(1) if target is None else _np(target, "target", np.int64)
    rows = np.arange(pf.shape[0])
    fid = pf[rows, c] - pr[rows, c]
    inv = pf[rows, c] - pk[rows, c]
    s = 1.0 - frac
    nf, ni = fid * s, inv * (1.0 - s)
    return {"fidelity": fid, "inv_fidelity": inv, "harmonic": (1 + nf) * (1 - ni) / (2 + nf - ni)}


