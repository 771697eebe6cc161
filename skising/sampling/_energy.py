r"""Energy, local fields, mean field and magnetisation of the Ising model.

With spins :math:`x_i \in \{-1, +1\}`, per-edge couplings :math:`J_{ij}` and
field :math:`h_i`, the energy (eq. 1 of the paper) sums every undirected edge
once:

.. math:: E(x) = -\sum_{\{i,j\}} J_{ij} x_i x_j - \sum_i h_i x_i,
          \qquad p(x) \propto \exp(-\beta E(x)).

All functions are differentiable in ``field`` and ``coupling`` (autograd), so
``ising_energy`` serves both for evaluation and as the score term of the
REINFORCE gradient.
"""

from __future__ import annotations

import torch

from .._validation import check_coupling, check_field, check_graph, check_int, check_scalar

__all__ = [
    "ising_energy",
    "local_field",
    "mean_field",
    "magnetization_det",
    "magnetization_sto",
]


def _spins(x, n, name="x"):
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if t.dtype == torch.bool:
        t = t.float() * 2 - 1
    if t.dim() == 1:
        t = t[None]
    if t.dim() != 2 or t.shape[1] != n:
        raise ValueError(f"{name}: expected shape ({n},) or (n_samples, {n}), got {tuple(t.shape)}")
    return t


def _segment_sum_nodes(values, graph, like):
    """Sum ``values`` (S, n) over the nodes of each graph -> (S, G)."""
    if graph.batch is None:
        return values.sum(1, keepdim=True)
    out = torch.zeros(values.shape[0], graph.num_graphs, dtype=values.dtype, device=values.device)
    return out.index_add(1, graph.batch.to(values.device), values)


def _energy(graph, x, h, J):
    """Kernel: energy per sample and graph, shape (S, G). Trusts its input."""
    u, v = graph.edges[0], graph.edges[1]
    pair = x[:, u] * x[:, v] * J  # (S, m)
    if graph.batch is None:
        e_pair = pair.sum(1, keepdim=True)
    else:
        e_pair = torch.zeros(x.shape[0], graph.num_graphs, dtype=pair.dtype, device=pair.device)
        e_pair = e_pair.index_add(1, graph.batch[u], pair)
    e_field = _segment_sum_nodes(x * h, graph, x)
    return -e_pair - e_field


def _local_field(graph, x, J):
    """Kernel: ``sum_j J_ij x_j`` for every node, x of shape (S, n) -> (S, n)."""
    u, v = graph.edges[0], graph.edges[1]
    out = torch.zeros_like(x, dtype=torch.result_type(x, J))
    out = out.index_add(1, u, x[:, v] * J)
    out = out.index_add(1, v, x[:, u] * J)
    return out


def ising_energy(graph, x, field, coupling=1.0, per_graph=None):
    """Energy of eq. 1 for one or many spin configurations.

    Parameters
    ----------
    graph : graph input (see :func:`skising.graph.as_graph`)
    x : tensor of shape (n_nodes,) or (n_samples, n_nodes)
        Spins in {-1, +1} (booleans are mapped to +1/-1).
    field : array of shape (n_nodes,) or (n_samples, n_nodes), or scalar
    coupling : float or array of shape (n_edges,)
        A scalar multiplies the graph's edge weights; an array gives ``J_e``
        per undirected edge in the order of ``graph.edges``.
    per_graph : bool, optional
        For a batch (disjoint union), return energies per graph
        ``(n_samples, n_graphs)``; default: True when the graph is a batch.

    Returns
    -------
    torch.Tensor of shape (n_samples,) or (n_samples, n_graphs)

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from skising.sampling import ising_energy
    >>> ising_energy(nx.path_graph(3), torch.tensor([1., 1., -1.]), 0.0).tolist()
    [0.0]
    """
    g = check_graph(graph)
    xs = _spins(x, g.num_nodes)
    dev = xs.device
    g = g.to(dev)
    h = check_field(field, g.num_nodes, device=dev, dtype=xs.dtype if xs.is_floating_point() else torch.float32)
    xs = xs.to(h.dtype)
    J = check_coupling(coupling, g, device=dev, dtype=h.dtype)
    e = _energy(g, xs, h, J)
    if per_graph is None:
        per_graph = g.batch is not None
    return e if per_graph else e.sum(1)


def local_field(graph, x, coupling=1.0):
    """``sum_j J_ij x_j`` for every node; shape like ``x`` (2-D).

    Parameters
    ----------
    graph : Graph or any input of :func:`~skising.graph.as_graph`
        The graph.
    x : array-like of shape (n_nodes,) or (n_samples, n_nodes)
        Spins (booleans are mapped to +1/-1; non-float values are cast to
        float32).
    coupling : float or array-like of shape (n_edges,), default=1.0
        A scalar scales the graph's edge weights; an array gives ``J`` per
        undirected edge, in the order of ``graph.edges``.

    Returns
    -------
    torch.Tensor of shape (n_samples, n_nodes)
        The local field of every node (a 1-D ``x`` gives one row), on the
        device of ``x``.

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from skising.sampling import local_field
    >>> local_field(nx.path_graph(3), torch.tensor([1., -1., 1.]), coupling=2.0).tolist()
    [[-2.0, 4.0, -2.0]]
    """
    g = check_graph(graph)
    xs = _spins(x, g.num_nodes).float() if not torch.as_tensor(x).is_floating_point() else _spins(x, g.num_nodes)
    g = g.to(xs.device)
    J = check_coupling(coupling, g, device=xs.device, dtype=xs.dtype)
    return _local_field(g, xs, J)


def mean_field(graph, field, coupling=1.0, beta=1.0, damping=0.5, tol=1e-6, max_iter=1000, init=None):
    r"""Mean-field magnetisations, the fixed point of eq. 11.

    Iterates :math:`m \leftarrow (1 - \lambda) m + \lambda \tanh(\beta (h + J m))`
    (damping :math:`\lambda`) until the largest change is below ``tol``.

    Parameters
    ----------
    graph : Graph or any input of :func:`~skising.graph.as_graph`
    field : float or array-like of shape (n,) or (k, n)
        External field ``h`` (a tensor that requires grad stays differentiable).
    coupling : float or array-like of shape (m,), default=1.0
        A scalar scales the graph's edge weights; an array gives ``J`` per
        undirected edge, in the order of ``graph.edges``.
    beta : float, default=1.0
        Inverse temperature.
    damping : float in (0, 1], default=0.5
        Weight :math:`\lambda` of the new value in each update.
    tol : float, default=1e-6
        Stop when the largest change of ``m`` is below this.
    max_iter : int, default=1000
        Upper bound on the iterations.
    init : array-like, optional
        Starting magnetisations (default: ``tanh(beta h)``).

    Returns
    -------
    torch.Tensor of shape like ``field`` (values in (-1, 1)), differentiable
    through the last iteration.

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from skising.sampling import mean_field
    >>> m = mean_field(nx.empty_graph(2), torch.tensor([0.5, -0.5]))
    >>> torch.allclose(m, torch.tanh(torch.tensor([0.5, -0.5])), atol=1e-5)
    True
    """
    g = check_graph(graph)
    h = check_field(field, g.num_nodes)
    beta = check_scalar(beta, "beta", low=0.0)
    damping = check_scalar(damping, "damping", low=0.0, high=1.0, low_inclusive=False)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", low=1)
    g = g.to(h.device)
    J = check_coupling(coupling, g, device=h.device, dtype=h.dtype)
    squeeze = h.dim() == 1
    H = h[None] if squeeze else h
    m = torch.tanh(beta * H).detach() if init is None else torch.as_tensor(init, dtype=h.dtype).reshape(H.shape)
    with torch.no_grad():
        for _ in range(max_iter):
            new = (1 - damping) * m + damping * torch.tanh(beta * (H + _local_field(g, m, J.detach())))
            delta = (new - m).abs().max()
            m = new
            if delta < tol:
                break
    # one differentiable step at the fixed point
    m = torch.tanh(beta * (H + _local_field(g, m, J)))
    return m[0] if squeeze else m


def magnetization_det(field, beta=1.0, batch=None):
    r"""Deterministic magnetisation :math:`\eta_{det} = \frac1n \sum_i \tanh(\beta h_i)` (eq. 12).

    With ``batch`` (node -> graph), one value per graph.

    Parameters
    ----------
    field : array-like of shape (..., n)
        External field ``h``.
    beta : float, default=1.0
        Inverse temperature.
    batch : LongTensor of shape (n,), optional
        Graph index of every node (as in :func:`~skising.graph.batch_graphs`).

    Returns
    -------
    torch.Tensor of shape (...) or (..., n_graphs)

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import magnetization_det
    >>> float(magnetization_det(torch.tensor([0.0, 100.0]), beta=1.0))
    0.5
    """
    h = field if isinstance(field, torch.Tensor) else torch.as_tensor(field, dtype=torch.float32)
    t = torch.tanh(beta * h)
    if batch is None:
        return t.mean(-1)
    batch = batch.to(h.device)
    G = int(batch.max()) + 1
    s = torch.zeros(t.shape[:-1] + (G,), dtype=t.dtype, device=t.device).index_add(-1, batch, t)
    cnt = torch.bincount(batch, minlength=G).to(t.dtype)
    return s / cnt


def magnetization_sto(x, batch=None):
    r"""Stochastic magnetisation :math:`\eta_{sto} = \frac1n \sum_i x_i` of samples (eq. 13).

    With ``batch`` (node -> graph), one value per graph.

    Parameters
    ----------
    x : array-like of shape (..., n)
        Spins in {-1, +1} (booleans are mapped to +1/-1).
    batch : LongTensor of shape (n,), optional
        Graph index of every node (as in :func:`~skising.graph.batch_graphs`).

    Returns
    -------
    torch.Tensor of shape (...) or (..., n_graphs)
        Mean spin (float32) over all nodes, or over the nodes of each graph.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import magnetization_sto
    >>> magnetization_sto(torch.tensor([[1., 1., 1., -1.]])).tolist()
    [0.5]
    """
    xs = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    xs = xs.float() * 2 - 1 if xs.dtype == torch.bool else xs.float()
    if batch is None:
        return xs.mean(-1)
    batch = batch.to(xs.device)
    G = int(batch.max()) + 1
    s = torch.zeros(xs.shape[:-1] + (G,), dtype=xs.dtype, device=xs.device).index_add(-1, batch, xs)
    return s / torch.bincount(batch, minlength=G).to(xs.dtype)
