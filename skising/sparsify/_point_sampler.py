r"""POINT SAMPLER baseline: a learned, independent-per-vertex sampler (Table 5).

The paper's POINT SAMPLER row is a learned point-cloud simplification
network (Potamias et al., "Revisiting point cloud simplification", ECCV
2022) whose graph layer is DevConv,

.. math::  x_i' = W \, \max_{j \in N(i)} \lVert W_\theta (x_i - x_j) \rVert ,

a max over neighbours of the norm of a learned map of relative
positions / features. Here it is a baseline of the same loss as
:class:`~skising.sparsify.MeshSparsifier` with the Ising coupling removed:

* :class:`DevConvMeshField`: two DevConv layers (the first on relative
  positions in mean-edge-length units, the second on relative hidden
  features; the "norm" is taken per channel over groups of 3), combined with
  the curvature input of eq. 25, a residual, the graph mean subtracted, a
  linear read-out to one score ``s_i`` per vertex. Translation- and
  scale-invariant, *not* rotation-invariant (as the original DevConv).
* Training (the relaxation): every vertex is kept independently with
  probability ``sigmoid(2 beta s_i)``; the non-differentiable loss
  (coarsening + vertex-to-mesh distance) is trained through the
  score-function (REINFORCE) estimator with the leave-one-out baseline, plus
  the magnetisation penalty for ``target_fraction``. This is exactly the shared
  RLOO loop of :class:`~skising._base.BaseIsingEstimator` on an Ising model
  with ``J = 0`` (independent spins, sampled exactly in one shot), so the
  only differences to ISING+MAG are the missing coupling and the network.
  (A straight-through estimator needs a differentiable loss, which the
  coarsen-and-measure loss is not.)
* Selection (``transform``): ``selection="gumbel"`` (default) draws exactly
  ``round(target_fraction n)`` vertices without replacement with weights
  ``exp(2 beta s_i)`` (Gumbel-top-k), a fixed-size output like the original
  sampler's; ``"topk"`` keeps the highest scores (deterministic, but the
  kept vertices cluster: on chairs it scored 2-3x worse than RANDOM);
  ``"sample"`` draws the Bernoulli mask of training (its size varies).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Hidden, StrOptions
from torch import nn

from .._base import FRACTION
from .._seeds import stream_seed
from .._validation import check_int
from ..sampling import IndependentSpins
from ._sparsifier import MeshSparsifier

__all__ = ["DevConv", "DevConvMeshField", "PointSamplerSubsampler"]


class DevConv(nn.Module):
    r"""DevConv layer: ``W [x_i, max_j || W_theta (f_i - f_j) ||]``.

    ``W_theta`` maps the difference of the input features ``f`` (positions
    in the first layer) to ``channels`` groups of 3; the norm of every group,
    maximised over the neighbours ``j -> i``, is concatenated with the
    node's own features ``x`` and mapped by ``W``.

    Parameters
    ----------
    in_diff : int
        Width of the features whose differences are taken (3 for positions).
    in_self : int
        Width of the node's own features ``x``.
    channels : int
        Output width (and number of norm groups).

    Examples
    --------
    Only differences of positions enter, so a translation changes nothing:

    >>> import torch
    >>> from skising.sparsify import DevConv
    >>> _ = torch.manual_seed(0)
    >>> pos, x = torch.randn(5, 3), torch.rand(5, 2)
    >>> ei = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
    >>> conv = DevConv(3, 2, 8)
    >>> conv(pos, x, ei).shape, bool(torch.allclose(conv(pos + 1.0, x, ei), conv(pos, x, ei)))
    (torch.Size([5, 8]), True)
    """

    def __init__(self, in_diff, in_self, channels):
        super().__init__()
        self.channels = channels
        self.theta = nn.Linear(in_diff, 3 * channels, bias=False)
        self.lin = nn.Linear(in_self + channels, channels)

    def forward(self, f, x, edge_index):
        src, dst = edge_index[0], edge_index[1]
        # index_select, not f[src]: a reproducible backward on several CPU threads
        d = self.theta(f.index_select(0, src) - f.index_select(0, dst)).view(-1, self.channels, 3).norm(dim=-1)
        agg = torch.zeros(x.shape[0], self.channels, dtype=d.dtype, device=d.device)
        agg = agg.scatter_reduce(0, dst[:, None].expand_as(d), d, reduce="amax", include_self=False)
        return self.lin(torch.cat([x, agg], dim=1))


class DevConvMeshField(nn.Module):
    """Two-layer DevConv score network (the POINT SAMPLER's backbone).

    Same call signature as the other mesh field networks:
    ``model(pos, z, edge_index, batch, num_graphs) -> (n,)``.

    Parameters
    ----------
    hidden : int, default=32

    Examples
    --------
    >>> import torch
    >>> from skising.sparsify import DevConvMeshField
    >>> _ = torch.manual_seed(0)
    >>> pos = torch.randn(5, 3); z = torch.rand(5, 1)
    >>> ei = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
    >>> DevConvMeshField(8)(pos, z, ei).shape
    torch.Size([5])
    """

    def __init__(self, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.inp = nn.Linear(1, hidden)
        self.conv1 = DevConv(3, hidden, hidden)
        self.conv2 = DevConv(hidden, hidden, hidden)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, pos, z, edge_index, batch=None, num_graphs=1):
        from ._fields import _center

        x = nn.functional.silu(self.inp(z))
        x = x + nn.functional.silu(self.conv1(pos, x, edge_index))
        x = x + self.conv2(x, x, edge_index)
        x = _center(x, batch, num_graphs)
        return self.readout(x).squeeze(-1)


_SELECTIONS = ("gumbel", "topk", "sample")


class PointSamplerSubsampler(MeshSparsifier):
    """POINT SAMPLER baseline: a learned DevConv scorer, independent vertices.

    Trained on the same coarsen-and-measure loss as
    :class:`MeshSparsifier` by the score-function (RLOO) estimator on
    independent Bernoulli keep decisions ``p_i = sigmoid(2 beta s_i)`` (an
    Ising model with zero coupling), plus the magnetisation penalty; see the
    module documentation for the details and what differs from the paper's
    sampler.

    Parameters
    ----------
    field_model : None, torch.nn.Module class or instance, default=None
        Score network ``model(pos, z, edge_index, batch, num_graphs) -> (n,)``;
        None: :class:`DevConvMeshField` ``(hidden=32)``.
    target_fraction : float in (0, 1), default=0.5
        Fraction of vertices to keep.
    selection : {"gumbel", "topk", "sample"}, default="gumbel"
        What ``transform`` keeps: ``"gumbel"``, exactly ``round(target_fraction n)``
        vertices drawn without replacement with weights ``exp(2 beta s_i)``
        (Gumbel-top-k: the independent keep probabilities of training,
        conditioned on the budget); ``"topk"``, the ``round(target_fraction n)``
        highest scores (deterministic; the kept vertices cluster where the
        scores are high); ``"sample"``, the Bernoulli mask of training (its
        size varies).
    penalty : float, default=10.0
        Weight of the magnetisation penalty that holds the expected kept
        fraction at ``target_fraction`` during training. Independent spins drift
        more than coupled ones: with weight 1 the trained sampler kept about
        62% of the chair vertices, with 10 about 50%.
    max_epochs, lr, n_samples, batch_size, loss, coarsening, beta, max_grad_norm, device, random_state, verbose
        As in :class:`MeshSparsifier`.
    epochs : deprecated
        Former name of ``max_epochs``; setting it warns (``FutureWarning``).
    fraction : deprecated
        Former name of ``target_fraction``; setting it warns (``FutureWarning``).

    Attributes
    ----------
    field_model_ : torch.nn.Module
    history_ : list of dict

    Examples
    --------
    >>> from skising.datasets import load_bunny
    >>> from skising.sparsify import PointSamplerSubsampler
    >>> g = load_bunny()
    >>> ps = PointSamplerSubsampler(max_epochs=1, random_state=0).fit([g])
    >>> int(ps.transform(g).sum())
    251
    """

    def __init__(
        self,
        field_model=None,
        target_fraction=0.5,
        selection="gumbel",
        penalty=10.0,
        max_epochs=10,
        lr=1e-2,
        n_samples=4,
        batch_size=1,
        loss="table",
        coarsening="qem",
        beta=1.0,
        max_grad_norm=None,
        device="cpu",
        random_state=None,
        verbose=0,
        epochs="deprecated",
        fraction="deprecated",
    ):
        self.field_model = field_model
        self.target_fraction = target_fraction
        self.selection = selection
        self.penalty = penalty
        self.max_epochs = max_epochs
        self.lr = lr
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.loss = loss
        self.coarsening = coarsening
        self.beta = beta
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.epochs = epochs
        self.fraction = fraction

    _parameter_constraints: ClassVar[dict] = {
        **MeshSparsifier._parameter_constraints,
        "target_fraction": [FRACTION],
        "fraction": [FRACTION, Hidden(StrOptions({"deprecated"}))],
        "selection": [StrOptions(set(_SELECTIONS))],
    }

    def _build_field_model(self):
        return DevConvMeshField()

    # ------------------------------------------------------------ hooks
    def _couplings(self, batch):
        return torch.zeros(batch.graph.edges.shape[1], dtype=torch.float32, device=self._device)

    def _sample_batch(self, batch, h, J, n_chains, gen, n_sweeps=None):
        """Exact independent spins: P(x_i = +1) = sigmoid(2 beta h_i) (one heat-bath sweep of J = 0), drawn from ``gen``."""
        return IndependentSpins(h.shape[-1], device=h.device).sample(
            h.detach(), n_chains, 1, float(self.beta), "heat_bath", "down", gen)

    def _validation_score(self, items):
        """Minus the mean loss of one ``select`` draw per mesh (best-epoch selection on the test-time rule)."""
        from ._sparsifier import mesh_loss

        return -float(np.mean([mesh_loss(it, self.select(it, 1)[0], self.loss, self.coarsening) for it in items]))

    # ------------------------------------------------------------ API
    def field(self, X):
        """The learned scores ``s`` (n_vertices,) of one mesh (a list for a list); ``P(keep) = sigmoid(2 beta s)``."""
        return super().field(X)

    def select(self, mesh, n_draws=1):
        """Kept-vertex masks (n_draws, n_vertices) chosen as ``selection`` says.

        The Gumbel noise comes from the mesh's own ``"sample"`` stream, seeded
        by ``random_state`` and the mesh's content (like :meth:`sample`), so
        the result is a function of the fitted state and that mesh, and
        meshes of equal size get independent noise; ``"topk"`` repeats one
        mask.
        """
        self._check_fitted()
        n_draws = check_int(n_draws, "n_draws", low=1)
        if self.selection == "sample":
            return self.sample(mesh, n_draws)
        it = self._item(mesh)
        s = 2.0 * float(self.beta) * self.field(it).astype(np.float64)
        n = len(s)
        k = int(min(max(round(float(self._fraction) * n), 1), n))
        s = np.broadcast_to(s, (n_draws, n))
        if self.selection == "gumbel":
            rng = np.random.default_rng(stream_seed(self._seed, "sample", self._item_key(it)))
            s = s + rng.gumbel(size=(n_draws, n))
        idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
        keep = np.zeros((n_draws, n), dtype=bool)
        np.put_along_axis(keep, idx, True, axis=1)
        return keep

    def _transform_items(self, items):
        """One mask per mesh chosen as ``selection`` says."""
        return [self.select(it, 1)[0] for it in items]  # loop over meshes
