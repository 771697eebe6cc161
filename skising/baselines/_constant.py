"""ISING baseline: the Ising model with a constant (tuned) field."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import DEVICE, Int
from .._validation import check_device
from ..graph import batch_graphs
from ..sampling import GraphCouplings
from ..sampling._engine import UPDATES as _UPDATES
from ._base import BaseSubsampler

__all__ = ["ConstantFieldIsingSubsampler"]


class ConstantFieldIsingSubsampler(BaseSubsampler):
    """Sample the Ising model with the same field ``h`` on every node.

    Parameters
    ----------
    target_fraction : float in (0, 1)
        Target kept fraction used to tune ``h`` when ``field`` is None.
    field : float or None
        Fixed field; None tunes it in ``fit`` by bisection so that the mean
        sampled fraction on the fitted graphs equals ``target_fraction`` (within
        ``tol``). With ``target_fraction=0.5`` and no field it is 0 by symmetry.
    coupling, beta, n_sweeps, update : Ising model and sampler settings.
    n_chains : int
        Chains per graph used to measure the fraction while tuning.
    tol : float
    device : str
    random_state : None or int
    loss : callable or None, default None
        Task loss ``loss(x, graph)`` (as for :class:`~skising.IsingSubsampler`)
        used by :meth:`score`; not used to choose the nodes.
    fraction : deprecated
        Former name of ``target_fraction``; setting it warns (``FutureWarning``).

    Attributes
    ----------
    field_ : float

    Examples
    --------
    >>> import networkx as nx
    >>> from skising import ConstantFieldIsingSubsampler
    >>> sub = ConstantFieldIsingSubsampler(target_fraction=0.3, coupling=-1.0, random_state=0)
    >>> m = sub.fit_transform(nx.grid_2d_graph(20, 20))
    >>> bool(abs(m.mean() - 0.3) < 0.08)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSubsampler._parameter_constraints,
        "field": [None, Interval(Real, None, None, closed="neither")],
        "coupling": [Interval(Real, None, None, closed="neither")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "n_sweeps": [Int(1)],
        "update": [StrOptions(set(_UPDATES))],
        "n_chains": [Int(1)],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "device": DEVICE,
    }

    def __init__(self, target_fraction=0.5, field=None, coupling=1.0, beta=1.0, n_sweeps=10, update="metropolis",
                 n_chains=16, tol=0.01, device="cpu", random_state=None, loss=None, fraction="deprecated"):
        self.target_fraction = target_fraction
        self.field = field
        self.coupling = coupling
        self.beta = beta
        self.n_sweeps = n_sweeps
        self.update = update
        self.n_chains = n_chains
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.loss = loss
        self.fraction = fraction

    def _draw(self, graph, h, n, seed):
        dev = self._device
        g = graph.to(dev)
        gen = torch.Generator(device=dev).manual_seed(int(seed))
        hh = torch.full((g.num_nodes,), float(h), device=dev)
        J = float(self.coupling) * g.weight.to(device=dev, dtype=torch.float32)
        x = GraphCouplings(g, J, device=dev).sample(hh, n, int(self.n_sweeps), float(self.beta), self.update, "random", gen)
        return x > 0

    def _fit(self, graphs):
        self._device = check_device(self.device)
        if self.field is not None:
            self.field_ = float(self.field)
            return
        if graphs is None:
            raise ValueError("X: fit needs graphs to tune the constant field (or pass field=...)")
        g = batch_graphs(graphs)
        target = float(self._fraction)
        beta = max(float(self.beta), 1e-6)
        # bracket: |h| large enough to dominate every local field
        maxdeg = float(g.degree.max()) if g.num_edges else 0.0
        bound = abs(float(self.coupling)) * maxdeg + 10.0 / beta
        lo, hi = -bound, bound
        h = 0.0
        # bisection with common random numbers (the same seed at every step), so
        # the measured fraction is a near-monotone function of h
        for _ in range(30):
            h = 0.5 * (lo + hi)
            frac = float(self._draw(g, h, int(self.n_chains), self._seed).float().mean())
            if abs(frac - target) <= float(self.tol) or hi - lo < 1e-4:
                break
            if frac < target:
                lo = h
            else:
                hi = h
        self.field_ = h

    def _masks(self, graph, n, rng):
        return self._draw(graph, self.field_, n, self._torch_seed(rng)).cpu().numpy()
