"""An Ising model prepared once and sampled many times."""

from __future__ import annotations

import torch

from .._validation import check_coupling
from ..graph._cache import cached_graph
from ._energy import ising_energy, local_field, mean_field
from ._sampler import _call_device, _check_call, _check_dtype, _check_rule, _plan, _sample

__all__ = ["IsingModel"]


class IsingModel:
    r"""The Ising model :math:`p(x) \propto \exp(-\beta E(x))` of eq. 1 on one graph, prepared once.

    The constructor does all the per-graph work: the graph's conversion and
    validation, the per-edge couplings, the colouring and the sampler plan
    (colour-permuted CSR). :meth:`sample` then does only per-call work (field,
    start, sweeps, output), with the samples of :func:`sample_ising` for the
    same arguments and seed. The way to sample a large graph repeatedly.

    Parameters
    ----------
    graph : graph input (see :func:`skising.graph.as_graph`)
    coupling : float or array-like of shape (n_edges,), default=1.0
        A scalar multiplies the graph's edge weights; an array gives ``J_e`` per
        undirected edge, in the order of ``graph.edges``.
    beta : float >= 0, default=1.0
        Inverse temperature.
    update : {"metropolis", "heat_bath"}, default="metropolis"
    coloring : str, default="auto"
        Colouring method (see :func:`color_graph`).
    device : str or torch.device, optional
        Default: CPU.
    dtype : torch.dtype, default=torch.float32
        Floating type of the spins and arithmetic.

    Attributes
    ----------
    graph : Graph
        The validated graph (on ``device``).
    coupling : torch.Tensor of shape (n_edges,)
        The per-edge couplings ``J_e``.
    n_nodes, n_edges, n_colors : int

    See Also
    --------
    sample_ising : one call, same samples; repeated calls with the same unchanged input
        reuse its conversion and plan too (a cache keyed on the input's content).

    Examples
    --------
    >>> import networkx as nx
    >>> from skising.sampling import IsingModel
    >>> model = IsingModel(nx.grid_2d_graph(8, 8), coupling=1.0, beta=0.4)
    >>> x = model.sample(field=0.0, n_chains=4, n_sweeps=20, random_state=0)
    >>> tuple(x.shape), tuple(model.energy(x).shape)
    ((4, 64), (4,))
    """

    def __init__(self, graph, coupling=1.0, beta=1.0, *, update="metropolis", coloring="auto", device=None,
                 dtype=torch.float32):
        self.device = _call_device(None, device)
        self.dtype = _check_dtype(dtype)
        self.beta = _check_rule(beta, update)
        self.update = update
        self.coloring = coloring
        self.graph = cached_graph(graph).to(self.device)
        self.coupling = check_coupling(coupling, self.graph, device=self.device, dtype=self.dtype).detach()
        self._plan = _plan(self.graph, coloring, self.device)

    @property
    def n_nodes(self):
        return self.graph.num_nodes

    @property
    def n_edges(self):
        return self.graph.num_edges

    @property
    def n_colors(self):
        return self._plan.n_colors

    def sample(self, field=0.0, n_chains=1, n_sweeps=10, init="random", random_state=None):
        """Draw ``n_chains`` samples after ``n_sweeps`` sweeps.

        Parameters
        ----------
        field : float or array-like of shape (n_nodes,) or (n_chains, n_nodes), default=0.0
            External field ``h``.
        n_chains : int >= 1, default=1
        n_sweeps : int >= 0, default=10
        init : {"random", "up", "down"} or array of shape (n_nodes,) / (n_chains, n_nodes)
        random_state : None, int, numpy or torch generator
            Same seed: the samples of :func:`sample_ising` with the model's arguments.

        Returns
        -------
        torch.Tensor of shape (n_chains, n_nodes), values in {-1., +1.}
        """
        if isinstance(field, torch.Tensor):
            field = field.to(self.device)
        h, n_chains, n_sweeps, init, gen = _check_call(self.graph, field, n_chains, n_sweeps, init, random_state,
                                                       self.device, self.dtype)
        return _sample(self.graph, h, self.coupling, self.beta, n_chains, n_sweeps, self.update, init, gen,
                       self.coloring, self.dtype)

    def energy(self, x, field=0.0):
        """Energy :math:`E(x)` of eq. 1 of every sample ``x`` (shape (n_nodes,) or (n_samples, n_nodes))."""
        return ising_energy(self.graph, x, field, self.coupling)

    def local_field(self, x):
        r""":math:`\sum_j J_{ij} x_j` of every node and sample."""
        return local_field(self.graph, x, self.coupling)

    def mean_field(self, field=0.0, **kwargs):
        """Mean-field magnetisations at the model's ``beta`` (eq. 11; keywords as :func:`mean_field`)."""
        return mean_field(self.graph, field, self.coupling, self.beta, **kwargs)

    def __repr__(self):
        return (f"IsingModel(n_nodes={self.n_nodes}, n_edges={self.n_edges}, beta={self.beta:g}, "
                f"update={self.update!r}, device={str(self.device)!r})")
