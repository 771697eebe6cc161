"""MeshSparsifier: learned Ising vertex sampling for mesh coarsening (paper Section 4.3)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin

from .._validation import check_generator

from .._base import BaseIsingEstimator
from .._validation import check_int
from ..datasets._mesh_io import mesh_edges
from ..datasets._psb import mesh_graph
from ..graph import batch_graphs
from ..metrics._mesh import _distance, _normalize
from ._coarsen import _coarsen
from ._fields import default_mesh_field
from ._laplacian import _curvature
from ._mesh import as_mesh

__all__ = ["MeshSparsifier", "mesh_loss"]

_LOSSES = ("table", "eq21", "mean")


class _MeshItem:
    """One mesh with everything the loop needs, computed once."""

    def __init__(self, V, F, name=None, label="mesh"):
        self.V, self.F = V, F
        self.edges = mesh_edges(F)
        u, v = self.edges
        with np.errstate(over="ignore", invalid="ignore"):
            self.ell = float(np.linalg.norm(V[u] - V[v], axis=1).mean())
        if not (np.isfinite(self.ell) and self.ell > 0):
            raise ValueError(f"{label}: mean edge length is {self.ell!r} (coincident vertices, or coordinates outside the "
                             "floating-point range); rescale the vertices")
        self.graph = mesh_graph(V, F, name)
        z = _curvature(V / self.ell, F)  # = curvature / ell^2, without under/overflow
        self.z = torch.as_tensor(np.log1p(z), dtype=torch.float32)[:, None]
        self.pos = torch.as_tensor(V / self.ell, dtype=torch.float32)
        e = torch.as_tensor(self.edges)
        self.edge_index = torch.cat([e, e.flip(0)], dim=1)
        self.num_nodes = len(V)


def _vertex_distances(V, keep, Vc, Fc):
    """Distances (n,) of the original vertices ``V`` to the coarse mesh ``(Vc, Fc)``.

    ``Vc`` must be ``V[keep]`` (positions fixed, as :func:`_coarsen` makes it).
    A kept vertex that is a corner of a coarse face lies on the coarse
    surface, so its distance is exactly 0 and it is not queried: about half
    of the exact point-to-triangle queries are skipped.
    """
    n = len(V)
    if len(Fc) == 0:  # no surface left: distance to the kept points
        from scipy.spatial import cKDTree

        return cKDTree(Vc).query(V)[0]
    on_surface = np.zeros(len(Vc), dtype=bool)
    on_surface[Fc.ravel()] = True
    query = np.ones(n, dtype=bool)
    query[np.flatnonzero(keep)[on_surface]] = False
    d = np.zeros(n)
    if query.any():
        d[query] = _distance(V[query], Vc, Fc)[0]
    return d


def mesh_loss(item, keep, normalization="table"):
    """Distance loss of one kept-vertex mask on one mesh item (coarsen + eq. 21/table)."""
    if not keep.any():
        return 1e3
    Vc, Fc, _ = _coarsen(item.V, item.F, keep, item.edges)
    return _normalize(_vertex_distances(item.V, keep, Vc, Fc), normalization, item.ell)


class _MeshBatch:
    def __init__(self, items, device):
        self.items = items
        self.graph = batch_graphs([it.graph for it in items]).to(device)
        offs = np.cumsum([0] + [it.num_nodes for it in items])
        self.offsets = offs
        self.pos = torch.cat([it.pos for it in items]).to(device)
        self.z = torch.cat([it.z for it in items]).to(device)
        self.edge_index = torch.cat([it.edge_index + int(o) for it, o in zip(items, offs[:-1])], dim=1).to(device)
        self.batch = None if len(items) == 1 else self.graph.batch
        self.num_graphs = len(items)


class MeshSparsifier(TransformerMixin, BaseIsingEstimator):
    """Learned vertex sampling for triangle-mesh coarsening (paper Section 4.3).

    A field network (default: the paper's E(3)-equivariant network on the
    curvature input of eq. 25) predicts the external field ``h`` of an
    antiferromagnetic Ising model (``J = -1``) on the mesh graph; a sample
    keeps the +1 vertices, and the mesh is coarsened by collapsing every
    removed vertex onto its nearest kept neighbour
    (:func:`~skising.sparsify.coarsen_mesh`). The field network is trained
    with RLOO (eq. 15) on the distance of the original vertices to the
    coarse surface, plus the magnetisation penalty (eq. 16) for
    ``target_fraction``.

    Parameters
    ----------
    field_model : None, torch.nn.Module class or instance, default=None
        Called as ``model(pos, z, edge_index, batch, num_graphs)``;
        None: :class:`EquivariantMeshField` when e3nn is installed, else
        :class:`InvariantMeshField` (with a warning naming the ``mesh`` extra).
    coupling : float, default=-1.0
        Ising coupling (negative = antiferromagnetic: neighbours disagree,
        which spreads the kept vertices evenly).
    beta : float, default=1.0
    target_fraction : float or None, default=0.5
        Fraction of vertices to keep (eta = 2 fraction - 1); None disables
        the magnetisation penalty.
    penalty : float, default=1.0
        Weight of the magnetisation penalty.
    epochs : int, default=50
    lr : float, default=1e-3
    n_samples : int, default=4
        Ising samples per mesh and step (RLOO needs >= 2).
    n_sweeps : int, default=10
        Sampler sweeps per sample.
    batch_size : int, default=1
        Meshes per optimiser step.
    loss : {"table", "eq21", "mean"}, default="table"
        Training loss: ``"table"`` = 10 x mean unsquared distance / mean edge
        length (scale-free; the normalisation that Table 5 fits),
        ``"eq21"`` = sum of squared distances (eq. 21 as written),
        ``"mean"`` = mean unsquared distance.
    update : {"metropolis", "heat_bath"}, default="metropolis"
    max_grad_norm : float or None, default=None
        Clip the gradient norm of the field network's parameters at every
        step (``torch.nn.utils.clip_grad_norm_``); steadies training at
        large ``lr``.
    device : str, default="cpu"
    random_state : int, RandomState, Generator or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    field_model_ : torch.nn.Module
    history_ : list of dict
        Per epoch: mean training loss, penalty, seconds.

    Examples
    --------
    >>> from skising.datasets import load_bunny
    >>> from skising.sparsify import MeshSparsifier
    >>> g = load_bunny()
    >>> sp = MeshSparsifier(epochs=2, random_state=0).fit([g])
    >>> mask = sp.transform(g)
    >>> mask.shape, bool(0.3 < mask.mean() < 0.7)
    ((502,), True)
    """

    def __init__(
        self,
        field_model=None,
        coupling=-1.0,
        beta=1.0,
        target_fraction=0.5,
        penalty=1.0,
        epochs=50,
        lr=1e-3,
        n_samples=4,
        n_sweeps=10,
        batch_size=1,
        loss="table",
        update="metropolis",
        max_grad_norm=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.field_model = field_model
        self.coupling = coupling
        self.beta = beta
        self.target_fraction = target_fraction
        self.penalty = penalty
        self.epochs = epochs
        self.lr = lr
        self.n_samples = n_samples
        self.n_sweeps = n_sweeps
        self.batch_size = batch_size
        self.loss = loss
        self.update = update
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ data
    def _prepare(self, meshes, name="meshes"):
        if isinstance(meshes, (str, bytes)) or not isinstance(meshes, (list, tuple)):
            raise TypeError(f"{name}: expected a list of meshes, got {type(meshes).__name__}")
        if len(meshes) == 0:
            raise ValueError(f"{name}: need at least one mesh")
        items = []
        for i, m in enumerate(meshes):  # loop over meshes
            if isinstance(m, _MeshItem):
                items.append(m)
                continue
            V, F = as_mesh(m, f"{name}[{i}]")
            if len(F) == 0:
                raise ValueError(f"{name}[{i}]: the mesh has no faces")
            nm = getattr(m, "data", {}).get("name") if hasattr(m, "data") else None
            items.append(_MeshItem(V, F, nm, f"{name}[{i}]"))
        return items

    def _item(self, mesh):
        if isinstance(mesh, _MeshItem):
            return mesh
        return self._prepare([mesh], "mesh")[0]

    # ------------------------------------------------------------ hooks
    def _collate(self, items):
        return _MeshBatch(items, self._device)

    def _field(self, batch):
        h = self.field_model_(batch.pos, batch.z, batch.edge_index, batch.batch, batch.num_graphs)
        if h.dim() != 1 or h.shape[0] != batch.pos.shape[0]:
            raise ValueError(f"field_model: expected an output of shape ({batch.pos.shape[0]},), got {tuple(h.shape)}")
        return h

    def _task_loss(self, x, batch):
        keep = (x > 0).cpu().numpy()
        K = keep.shape[0]
        out = np.zeros((K, len(batch.items)))
        for g, it in enumerate(batch.items):  # loop over meshes and samples
            a, b = batch.offsets[g], batch.offsets[g + 1]
            for k in range(K):
                out[k, g] = mesh_loss(it, keep[k, a:b], self.loss)
        return torch.as_tensor(out, dtype=torch.float32, device=x.device)

    # ------------------------------------------------------------ API
    def _check_params(self):
        device = self._check_common_params()
        if self.loss not in _LOSSES:
            raise ValueError(f"loss: expected one of {_LOSSES}, got {self.loss!r}")
        check_int(self.n_samples, "n_samples", low=2)
        if self.max_grad_norm is not None:
            from .._validation import check_scalar

            check_scalar(self.max_grad_norm, "max_grad_norm", low=0.0, low_inclusive=False)
        return device

    def _validation_score(self, items):
        """Minus the mean loss of one sample per mesh, from a fixed stream (best-epoch selection)."""
        return -float(np.mean([mesh_loss(it, self.sample(it, 1)[0], self.loss) for it in items]))

    def fit(self, meshes, y=None, val_meshes=None, checkpoint_dir=None, resume=False):
        """Train the field network on a list of meshes.

        Parameters
        ----------
        meshes : list of mesh inputs
            ``(vertices, faces)`` pairs, ``.off`` paths or skising Graphs with
            ``pos`` and ``data["faces"]`` (e.g. :func:`~skising.datasets.load_psb`).
        y : ignored
        val_meshes : list of mesh inputs, optional
            When given, the loss (``loss``) of one sample per mesh, from a
            fixed random stream, is measured after every epoch and the
            parameters of the best epoch are kept (``best_epoch_``). They may
            be held-out meshes or (a subset of) the training meshes; the
            latter guards against a late unlucky step without giving up data.
        checkpoint_dir : str or path, optional
            Write the full training state atomically after every epoch.
        resume : bool
            Continue from the checkpoint in ``checkpoint_dir`` (identical
            result to an uninterrupted fit with the same ``random_state``).

        Returns
        -------
        self
        """
        return self._fit(meshes, val_meshes, checkpoint_dir, resume, default_mesh_field)

    def _fit(self, meshes, val_meshes, checkpoint_dir, resume, factory):
        self._set_checkpointing(checkpoint_dir, resume)
        self._device = self._check_params()
        self._init_random(self._device)
        items = self._prepare(meshes)
        val = None if val_meshes is None else self._prepare(list(val_meshes), "val_meshes")
        self.field_model_ = self._make_model(factory)
        self._train(items, val_items=val, epochs=int(self.epochs))
        return self

    def predict_field(self, mesh):
        """The learned field ``h`` (n_vertices,) of one mesh (numpy)."""
        self._check_fitted()
        it = self._item(mesh)
        with torch.no_grad():
            return self._field(self._collate([it])).cpu().numpy()

    def sample(self, mesh, n_samples=1):
        """Kept-vertex masks (n_samples, n_vertices) sampled from the learned model."""
        self._check_fitted()
        n_samples = check_int(n_samples, "n_samples", low=1)
        it = self._item(mesh)
        batch = self._collate([it])
        # a fresh stream per call: sample/transform are functions of the fitted state
        saved, self._torch_gen = self._torch_gen, check_generator(self._seed + 2, self._device)
        try:
            with torch.no_grad():
                h = self._field(batch)
                x = self._sample_batch(batch, h, self._couplings(batch), n_samples)
        finally:
            self._torch_gen = saved
        return (x > 0).cpu().numpy()

    def transform(self, mesh):
        """One kept-vertex mask (bool, (n_vertices,)) sampled from the learned model."""
        return self.sample(mesh, 1)[0]

    def coarsen(self, mesh):
        """Coarse mesh ``(vertices, faces)`` from one sampled mask."""
        it = self._item(mesh)
        Vc, Fc, _ = _coarsen(it.V, it.F, self.transform(it), it.edges)
        return Vc, Fc

    def score(self, meshes, y=None, normalization="table"):
        """Minus the mean vertex-to-mesh distance over ``meshes`` (one sample each).

        ``normalization`` as in :func:`~skising.metrics.vertex_to_mesh_distance`
        (default ``"table"``, comparable with the paper's Table 5).
        """
        self._check_fitted()
        items = self._prepare(list(meshes))
        return -float(np.mean([mesh_loss(it, self.transform(it), normalization) for it in items]))
