"""MeshSparsifier: learned Ising vertex sampling for mesh coarsening (paper Section 4.3)."""

from __future__ import annotations

import warnings
from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import BaseIsingEstimator, ItemInferenceMixin, item_key
from ..graph import batch_graphs
from ..mesh import as_mesh, mesh_edges, mesh_graph
from ..mesh._coarsen import COARSENINGS, _coarsen
from ..mesh._distance import _distance, _normalize
from ..mesh._features import VERTEX_FEATURES, vertex_features
from ..mesh._labels import check_face_labels, face_areas, transfer_error
from ..mesh._laplacian import _curvature
from ..mesh._mesh import check_vertex_mask
from ..mesh._qem import removal_rank
from ._fields import MeshPriorField, default_mesh_field

__all__ = ["MeshSparsifier", "exact_budget", "mesh_loss"]

_LOSSES = ("table", "eq21", "mean")
TASKS = ("geometry", "boundary")
LOCKED_FIELD = 1e4  # locked vertices get 1e4 / min(beta, 1): beta h >= 1e4, no sweep flips them
PRIORS = ("qem",)


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
        self.graph = mesh_graph(V, F, name, edges=self.edges)
        z = _curvature(V / self.ell, F)  # = curvature / ell^2, without under/overflow
        self.z = torch.as_tensor(np.log1p(z), dtype=torch.float32)[:, None]
        self.pos = torch.as_tensor(V / self.ell, dtype=torch.float32)
        e = torch.as_tensor(self.edges)
        self.edge_index = torch.cat([e, e.flip(0)], dim=1)
        self.num_nodes = len(V)
        self.labels = None  # part label per face (task="boundary"), set by set_labels
        self.locked = None  # vertices every mask keeps, set by set_locked
        self.label_source = name or label
        self._inputs = {("curvature",): self.z}
        self._rank = None

    def prior_score(self, k):
        """Centred quadric-simplification score (n,) float32: positive exactly on the ``k`` vertices the greedy
        simplification keeps (:func:`~skising.mesh.qem_removal_order`), ``(2 rank - 2 (n - k) + 1) / n``."""
        if self._rank is None:
            self._rank = removal_rank(self.V, self.F, self.edges, locked=self.locked)[0]
        n = self.num_nodes
        return torch.as_tensor((2.0 * self._rank - 2.0 * (n - k) + 1.0) / n, dtype=torch.float32)[:, None]

    def inputs(self, features):
        """The field network's vertex inputs (n, len(features)), float32, computed once per feature set."""
        key = tuple(features)
        if key not in self._inputs:
            x = vertex_features(self.V / self.ell, self.F, self.edges, key)
            self._inputs[key] = torch.as_tensor(x, dtype=torch.float32)
        return self._inputs[key]

    def set_locked(self, mask, name="locked"):
        """Vertices every mask keeps (bool (n,)); the prior's order is the greedy order with them locked."""
        m = check_vertex_mask(mask, self.num_nodes, name)
        self.locked = m if m.any() else None
        self._rank = None
        return self

    def set_labels(self, labels, name="face_labels"):
        """Attach a part segmentation (one label per face); caches the face areas and centroids it needs."""
        self.labels = check_face_labels(labels, len(self.F), name)
        self.area = face_areas(self.V, self.F)
        self.centroid = self.V[self.F].mean(1)
        return self


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


def mesh_loss(item, keep, normalization="table", coarsening="qem", task="geometry", boundary_weight=0.0):
    """Loss of one kept-vertex mask on one mesh item.

    ``task="geometry"``: the vertex-to-coarse-surface distance
    (``normalization``). ``task="boundary"``: that distance plus
    ``boundary_weight`` x the part-label transfer error (area fraction, see
    :func:`~skising.metrics.segmentation_transfer_error`) of the same coarse
    mesh; the face centroids go into the same distance query.
    """
    if not keep.any():
        return 1e3
    Vc, Fc, _ = _coarsen(item.V, item.F, keep, item.edges, coarsening)
    if task == "geometry" or boundary_weight == 0:
        return _normalize(_vertex_distances(item.V, keep, Vc, Fc), normalization, item.ell)
    return sum(mesh_task_losses(item, keep, Vc, Fc, normalization, with_labels=True)
               * np.array([1.0, float(boundary_weight)]))


def mesh_task_losses(item, keep, Vc, Fc, normalization="table", with_labels=True):
    """(geometric loss, label transfer error) of one coarse mesh ``(Vc, Fc)`` of ``item`` (one distance query)."""
    if with_labels and item.labels is None:
        raise ValueError(f"{item.label_source}: no part labels; pass y= (one label array per mesh) to fit/score, "
                         "or meshes with data['face_labels'] (load_psb(..., segmentation=True))")
    if not with_labels or len(Fc) == 0:
        geo = _normalize(_vertex_distances(item.V, keep, Vc, Fc), normalization, item.ell)
        return np.array([geo, 1.0 if with_labels else np.nan])
    n = item.num_nodes
    d, face, _ = _distance(np.concatenate([item.V, item.centroid]), Vc, Fc)
    return np.array([_normalize(d[:n], normalization, item.ell),
                     transfer_error(face[n:], item.labels, item.area, len(Fc))])


def is_mesh_list(X):
    """True for a list of meshes; False for one mesh, including a ``[vertices, faces]`` list pair."""
    if not isinstance(X, list):
        return False
    if len(X) == 2 and not isinstance(X[0], (str, bytes)):
        try:
            first = np.asarray(X[0], dtype=np.float64)
        except (TypeError, ValueError):
            return True
        return first.ndim != 2  # a (n_vertices, 3)-like array first: one mesh as [vertices, faces]
    return True


def exact_budget(keep, h, edge_index, coupling, k, locked=None):
    """Flip the fewest spins of ``keep`` so that exactly ``k`` vertices are kept.

    Kept vertices with the lowest local field ``h_i + J sum_j s_j`` are
    dropped (or removed vertices with the highest one are added): the spins
    the Ising model itself holds least firmly. The flips are made in rounds
    of half of what is left, with the local fields recomputed in between, so
    that two neighbours are rarely flipped together.

    Parameters
    ----------
    keep : bool ndarray (n,)
    h : float ndarray (n,)
        The field of the sample's model.
    edge_index : int ndarray (2, 2 e)
        Both directions of every edge.
    coupling : float
    k : int
    locked : bool ndarray (n,) or None
        Vertices that are kept and never dropped (at most ``k`` of them).

    Returns
    -------
    bool ndarray (n,) with exactly ``k`` True entries.
    """
    keep = keep.copy()
    if locked is not None:
        keep |= locked
    src, dst = edge_index
    n = len(keep)
    for _ in range(64):  # rounds halve the gap: at most log2(n) + 1 are needed
        diff = int(keep.sum()) - k
        if diff == 0:
            break
        s = np.where(keep, 1.0, -1.0)
        field = h + coupling * np.bincount(src, weights=s[dst], minlength=n)
        step = abs(diff) if abs(diff) <= 2 else (abs(diff) + 1) // 2
        if diff > 0:  # drop the weakest kept vertices
            cand = np.flatnonzero(keep if locked is None else keep & ~locked)
            pick = cand[np.argpartition(field[cand], step - 1)[:step]]
            keep[pick] = False
        else:  # add the strongest removed vertices
            cand = np.flatnonzero(~keep)
            pick = cand[np.argpartition(-field[cand], step - 1)[:step]]
            keep[pick] = True
    return keep


class _MeshBatch:
    def __init__(self, items, device, features=("curvature",), prior_k=None):
        self.items = items
        self.graph = batch_graphs([it.graph for it in items]).to(device)
        offs = np.cumsum([0] + [it.num_nodes for it in items])
        self.offsets = offs
        self.pos = torch.cat([it.pos for it in items]).to(device)
        z = [it.inputs(features) for it in items]
        if prior_k is not None:  # the prior's score as the last input column (MeshPriorField reads it there)
            z = [torch.cat([x, it.prior_score(k)], dim=1) for x, it, k in zip(z, items, prior_k)]
        self.z = torch.cat(z).to(device)
        self.edge_index = torch.cat([it.edge_index + int(o) for it, o in zip(items, offs[:-1])], dim=1).to(device)
        self.locked = None
        if any(it.locked is not None for it in items):
            self.locked = torch.as_tensor(np.concatenate([
                np.zeros(it.num_nodes, dtype=bool) if it.locked is None else it.locked for it in items])).to(device)
        self.batch = None if len(items) == 1 else self.graph.batch
        self.num_graphs = len(items)


class MeshSparsifier(TransformerMixin, ItemInferenceMixin, BaseIsingEstimator):
    """Learned vertex sampling for triangle-mesh coarsening (paper Section 4.3).

    The external field ``h`` of an antiferromagnetic Ising model
    (``J = -1``) on the mesh graph is a field network's output (the paper's
    E(3)-equivariant network on the curvature input of eq. 25, 8 channels),
    by default added to a prior, the vertex order of a greedy quadric
    simplification (``prior="qem"``); a
    sample keeps the +1 vertices, its size is made exact
    (``exact_budget``), and the mesh is coarsened to the kept vertices
    (:func:`~skising.mesh.coarsen_mesh`, ``coarsening``). The field network
    is trained with RLOO (eq. 15) on the distance of the original vertices
    to that coarse surface, plus the magnetisation penalty (eq. 16) for
    ``target_fraction``.

    The defaults are the measured best recipe: the field is the greedy
    quadric simplification's vertex order (``prior="qem"``) plus a
    correction network that stays untrained (``max_epochs=0``: on the
    5-fold PSB benchmark, 4 epochs of training did not lower the distance,
    ``benchmarks/results/mesh_learned_prior.md``), quadric-ordered
    coarsening and exact budgets. The paper's model is
    ``prior=None, max_epochs=4`` (lr 3e-2, 8 channels: the Table 5 recipe of
    ``benchmarks/results/mesh.md``); its Table 5 setting adds
    ``coarsening="nearest", exact_budget=False`` (see ``doc/mesh.md``).

    A mesh given as a Graph with ``data["locked"]`` (bool per vertex) keeps
    those vertices in every mask, in :meth:`fit` and at inference: their
    field is ``1e4 / min(beta, 1)``, which no sweep flips, the exact budget
    never drops them, and the prior's order is the greedy order with them
    locked (:func:`~skising.mesh.qem_removal_order` ``locked=``). Locking a
    segmentation's :func:`~skising.mesh.part_boundary_vertices` keeps the
    segmentation in the coarse mesh when the labels are known at
    simplification time (``doc/mesh.md``). More locked vertices than the
    budget raise a ``ValueError``.

    Parameters
    ----------
    field_model : None, torch.nn.Module class or instance, default=None
        Called as ``model(pos, z, edge_index, batch, num_graphs)``;
        None: ``EquivariantMeshField(channels=8)`` when e3nn is installed,
        else :class:`InvariantMeshField` (with a warning naming the ``mesh``
        extra). With ``prior``, this is the correction network: it gets the
        prior's score as one more input column (after ``features``) when its
        ``in_features`` is ``len(features) + 1`` (the default network's),
        else the ``features`` alone.
    coupling : float, default=-1.0
        Ising coupling (negative = antiferromagnetic: neighbours disagree,
        which spreads the kept vertices evenly).
    beta : float, default=1.0
    target_fraction : float or None, default=0.5
        Fraction of vertices to keep (eta = 2 fraction - 1); None disables
        the magnetisation penalty and the exact budget.
    penalty : float, default=1.0
        Weight of the magnetisation penalty.
    max_epochs : int, default=0
        Training epochs. The default 0 keeps the prior (``prior="qem"``)
        untrained: trained for 4 epochs on the distance of its own coarse
        mesh, the correction left the training loss flat and changed the
        held-out distance by -0.4 % to +9 % (5-fold CV on four PSB
        categories, ``doc/mesh.md``). With ``prior=None`` (the
        paper's model) set ``max_epochs`` (4 is the Table 5 recipe).
    lr : float, default=3e-2
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
    coarsening : {"qem", "nearest"}, default="qem"
        How the coarse mesh is built from the kept vertices, in training and
        in :meth:`coarsen`: quadric-ordered half-edge collapses, or the
        paper's collapse onto the nearest kept neighbour (Appendix E).
    task : {"geometry", "boundary"}, default="geometry"
        What the coarse mesh is for. ``"geometry"``: the distance ``loss``
        alone. ``"boundary"``: keep a part segmentation representable too;
        the training loss adds ``boundary_weight`` x the label transfer
        error (area fraction of the original surface whose part label the
        coarse mesh loses, :func:`~skising.metrics.segmentation_transfer_error`).
        Needs one face-label array per training mesh (``fit(meshes, y)``, or
        meshes with ``data["face_labels"]``, e.g.
        ``load_psb(..., segmentation=True)``); the trained field needs no
        labels at :meth:`transform` time.
    boundary_weight : float, default=30.0
        Weight of the transfer error (a fraction in [0, 1]) against the
        distance loss, for ``task="boundary"``.
    features : tuple of str, default=("curvature",)
        Rotation-invariant vertex inputs of the default field network (the
        columns of ``z``; a custom ``field_model`` must accept as many):
        ``"curvature"`` (eq. 25, the paper's input), ``"qem_cost"`` (the
        quadric error of the vertex's cheapest collapse, what quadric
        simplification removes first), ``"concavity"`` (signed mean
        curvature, positive in creases); see :mod:`skising.mesh._features`.
    prior : {"qem"} or None, default="qem"
        Parameterise the field as a static score plus a learned correction
        (:class:`MeshPriorField`): ``h = a s + correction``. ``"qem"``:
        ``s_i = (2 rank_i - 2 (n - k) + 1) / n``, with ``rank`` the order in
        which a greedy quadric simplification without a kept set removes the
        vertices (:func:`~skising.mesh.qem_removal_order`, computed once per
        mesh) and ``k = round(target_fraction * n)``: positive exactly on the
        ``k`` vertices that simplification keeps. The correction network
        (``field_model``, default as below) receives the score as one more
        input column and its read-out starts at zero, so an untrained model
        samples the Ising model in the prior's field alone. None: the field
        network alone (the paper's model).
    prior_scale : float, default=32.0
        Initial ``a`` (learned) of ``prior``; the larger, the closer an
        untrained model's sample (after the exact budget) is to the greedy
        kept set, against the coupling's ``|J| x degree``: 32 keeps the
        greedy set except in a band of ranks around the budget's threshold
        (98 % of the bunny's vertices agree with it at half of them).
    exact_budget : bool, default=True
        Keep exactly ``round(target_fraction * n)`` vertices of every mesh:
        the sample's surplus (or deficit) is removed (added) where the local
        field ``h_i + J sum_j s_j`` is weakest (strongest), in training
        losses and in :meth:`transform`. :meth:`sample` returns the raw
        Ising samples either way.
    update : {"metropolis", "heat_bath"}, default="metropolis"
    max_grad_norm : float or None, default=None
        Clip the gradient norm of the field network's parameters at every
        step (``torch.nn.utils.clip_grad_norm_``); steadies training at
        large ``lr``.
    device : str, default="cpu"
    random_state : int, RandomState, Generator or None, default=None
    verbose : int, default=0
    epochs : deprecated
        Former name of ``max_epochs``; setting it warns (``FutureWarning``).

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
    >>> sp = MeshSparsifier(max_epochs=1, random_state=0).fit([g])
    >>> mask = sp.transform(g)
    >>> mask.shape, int(mask.sum())
    ((502,), 251)
    >>> [int(m.sum()) for m in sp.transform([g, g])]
    [251, 251]
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseIsingEstimator._parameter_constraints,
        "loss": [StrOptions(set(_LOSSES))],
        "coarsening": [StrOptions(set(COARSENINGS))],
        "task": [StrOptions(set(TASKS))],
        "boundary_weight": [Interval(Real, 0, None, closed="left")],
        "features": [tuple, list, str],
        "exact_budget": ["boolean"],
        "prior": [None, StrOptions(set(PRIORS))],
        "prior_scale": [Interval(Real, 0, None, closed="neither")],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        field_model=None,
        coupling=-1.0,
        beta=1.0,
        target_fraction=0.5,
        penalty=1.0,
        max_epochs=0,
        lr=3e-2,
        n_samples=4,
        n_sweeps=10,
        batch_size=1,
        loss="table",
        coarsening="qem",
        task="geometry",
        boundary_weight=30.0,
        features=("curvature",),
        exact_budget=True,
        prior="qem",
        prior_scale=32.0,
        update="metropolis",
        max_grad_norm=None,
        device="cpu",
        random_state=None,
        verbose=0,
        epochs="deprecated",
    ):
        self.field_model = field_model
        self.coupling = coupling
        self.beta = beta
        self.target_fraction = target_fraction
        self.penalty = penalty
        self.max_epochs = max_epochs
        self.lr = lr
        self.n_samples = n_samples
        self.n_sweeps = n_sweeps
        self.batch_size = batch_size
        self.loss = loss
        self.coarsening = coarsening
        self.task = task
        self.boundary_weight = boundary_weight
        self.features = features
        self.exact_budget = exact_budget
        self.prior = prior
        self.prior_scale = prior_scale
        self.update = update
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.epochs = epochs

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
            data = getattr(m, "data", None)
            data = data if isinstance(data, dict) else {}
            it = _MeshItem(V, F, data.get("name"), f"{name}[{i}]")
            if data.get("face_labels") is not None:
                it.set_labels(data["face_labels"], f"{name}[{i}].data['face_labels']")
            if data.get("locked") is not None:
                it.set_locked(data["locked"], f"{name}[{i}].data['locked']")
                self._check_lock_budget(it, f"{name}[{i}].data['locked']")
            items.append(it)
        return items

    def _item(self, mesh):
        if isinstance(mesh, _MeshItem):
            return mesh
        return self._prepare([mesh], "mesh")[0]

    def _predict_items(self, X):
        """A list of meshes -> (items, False); one mesh (a Graph, a path, a ``(V, F)`` pair) -> ([item], True)."""
        self._check_fitted()
        if is_mesh_list(X):
            return self._prepare(X, "X"), False
        return [self._item(X)], True

    # ------------------------------------------------------------ hooks
    def _collate(self, items):
        prior_k = [self._budget_size(it) for it in items] if getattr(self, "prior", None) else None
        return _MeshBatch(items, self._device, self._features(), prior_k)

    def _budget_size(self, item):
        """Vertices to keep of ``item``: ``round(target_fraction * n)`` (half of them without a target).

        Reads ``target_fraction`` itself, not its value at ``fit``: ``set_params(target_fraction=...)`` on a
        fitted estimator changes the budget of :meth:`transform`."""
        frac = getattr(self, "target_fraction", None)
        frac = 0.5 if frac is None else float(frac)
        n = item.num_nodes
        return int(min(max(round(frac * n), 1), n))

    def _features(self):
        f = getattr(self, "features", ("curvature",))
        return tuple(f) if isinstance(f, (tuple, list)) else (f,)

    def _field(self, batch):
        h = self.field_model_(batch.pos, batch.z, batch.edge_index, batch.batch, batch.num_graphs)
        if h.dim() != 1 or h.shape[0] != batch.pos.shape[0]:
            raise ValueError(f"field_model: expected an output of shape ({batch.pos.shape[0]},), got {tuple(h.shape)}")
        if batch.locked is not None:  # a field no sweep can flip: locked vertices are +1 in every sample
            h = torch.where(batch.locked, h.new_tensor(LOCKED_FIELD / min(float(self.beta), 1.0)), h)
        batch.h = h.detach()  # the budget fix reads the field of the samples' model
        return h

    def _budget(self, keep, item, h):
        """``keep`` (K, n) with the exact budget applied when ``exact_budget`` (else unchanged), locked vertices
        kept."""
        if item.locked is not None:
            keep = keep | item.locked
        if not getattr(self, "exact_budget", False) or getattr(self, "target_fraction", None) is None:
            return keep
        k = self._budget_size(item)
        self._check_lock_budget(item, "locked", k)
        h = np.asarray(h, dtype=np.float64)
        ei = item.edge_index.numpy()
        return np.stack([exact_budget(m, h, ei, float(self.coupling), k, item.locked) for m in keep])  # per sample

    def _check_lock_budget(self, item, name, k=None):
        """ValueError when the exact budget is below the mesh's locked vertex count."""
        if item.locked is None or not getattr(self, "exact_budget", False) or getattr(
                self, "target_fraction", None) is None:
            return
        k = self._budget_size(item) if k is None else k
        n_locked = int(item.locked.sum())
        if n_locked > k:
            raise ValueError(f"{name}: {n_locked} locked vertices of {item.label_source} exceed the budget of {k} "
                             f"vertices (target_fraction={self.target_fraction}); lock fewer vertices or raise "
                             "target_fraction")

    def _task_loss(self, x, batch):
        keep = (x > 0).cpu().numpy()
        h = batch.h.cpu().numpy()
        K = keep.shape[0]
        out = np.zeros((K, len(batch.items)))
        for g, it in enumerate(batch.items):  # loop over meshes and samples
            a, b = batch.offsets[g], batch.offsets[g + 1]
            kg = self._budget(keep[:, a:b], it, h[a:b])
            for k in range(K):
                out[k, g] = self._mesh_loss(it, kg[k], self.loss)
        return torch.as_tensor(out, dtype=torch.float32, device=x.device)

    def _mesh_loss(self, it, keep, normalization):
        return mesh_loss(it, keep, normalization, getattr(self, "coarsening", "qem"), getattr(self, "task", "geometry"),
                         float(getattr(self, "boundary_weight", 0.0)))

    def _attach_labels(self, items, y, name="y"):
        """Face labels from ``y`` (one array per mesh) or the meshes' ``data["face_labels"]``.

        Every mesh must have them for ``task="boundary"``.
        """
        if y is not None:
            if isinstance(y, np.ndarray) and y.dtype != object and y.ndim == 1 and len(items) == 1:
                y = [y]
            if len(y) != len(items):
                raise ValueError(f"{name}: expected one face-label array per mesh ({len(items)}), got {len(y)}")
            for i, (it, lab) in enumerate(zip(items, y)):  # loop over meshes
                it.set_labels(lab, f"{name}[{i}]")
        if getattr(self, "task", "geometry") == "boundary":
            missing = [i for i, it in enumerate(items) if it.labels is None]
            if missing:
                raise ValueError(f"{name}: task='boundary' needs a part segmentation (one label per face) of every "
                                 f"mesh; missing for meshes {missing[:5]}: pass {name}=[labels, ...] or meshes with "
                                 "data['face_labels'] (load_psb(..., segmentation=True))")
        return items

    def _check_params(self):
        f = self._features()
        if not f or any(not isinstance(x, str) or x not in VERTEX_FEATURES for x in f) or len(set(f)) != len(f):
            raise ValueError(f"features: expected distinct names from {VERTEX_FEATURES}, "
                             f"got {getattr(self, 'features', None)!r}")

    def _validation_score(self, items):
        """Minus the mean loss of one mask per mesh, from a fixed stream (best-epoch selection)."""
        return -float(np.mean([self._mesh_loss(it, self._masks(it, 1)[0], self.loss) for it in items]))

    # ------------------------------------------------------------ fit hooks
    def _fit_data(self, X, y, X_val, y_val):
        """Meshes ``X`` (``(vertices, faces)`` pairs, ``.off`` paths or skising Graphs with ``pos`` and
        ``data["faces"]``, e.g. :func:`~skising.datasets.load_psb`); ``y``: part labels, one int array per
        mesh with one label per face (``task="boundary"``; None: the meshes' ``data["face_labels"]``);
        ``X_val``: meshes whose loss of one mask
        each (fixed stream) selects the best epoch (held-out meshes or a subset of the training ones, which
        guards against a late unlucky step without giving up data)."""
        self._no_validation_data(None, y_val)
        items = self._attach_labels(self._prepare(X), y)
        val = None if X_val is None else self._attach_labels(self._prepare(X_val, "X_val"), None, "X_val")
        return items, val

    def _build_field_model(self):
        return default_mesh_field(in_features=len(self._features()) + (1 if getattr(self, "prior", None) else 0))

    def _make_model(self, factory):
        """The field model; with ``prior``, the correction inside a :class:`MeshPriorField`."""
        model = super()._make_model(factory)
        if getattr(self, "prior", None) and not isinstance(model, MeshPriorField):
            model = MeshPriorField(model, float(self.prior_scale)).to(self._device)
        return model

    # ------------------------------------------------------------ API
    def fit(self, X, y=None, X_val=None, y_val=None, checkpoint_dir=None, resume=False, val_meshes=None):
        """Train the field network on a list of meshes (see :meth:`BaseIsingEstimator.fit
        <skising._base.BaseIsingEstimator.fit>` and ``_fit_data`` for ``X`` and ``X_val``).

        ``val_meshes`` is the former name of ``X_val``: passing it warns
        (``FutureWarning``).
        """
        if val_meshes is not None:
            warnings.warn(f"{type(self).__name__}.fit: `val_meshes` was renamed `X_val` (one name across skising's "
                          "estimators) and will be removed", FutureWarning, stacklevel=2)
            if X_val is not None:
                raise ValueError("val_meshes: pass X_val only (val_meshes is its deprecated former name)")
            X_val = val_meshes
        return super().fit(X, y, X_val, y_val, checkpoint_dir, resume)

    def predict_field(self, mesh):
        """Deprecated name of :meth:`field`."""
        warnings.warn(f"{type(self).__name__}: `predict_field` was renamed `field` (one name across skising's "
                      "estimators) and will be removed", FutureWarning, stacklevel=2)
        return self.field(mesh)

    # ------------------------------------------------------------ inference hooks (field, sample, transform: see the base)
    def _item_key(self, it):
        return item_key(it.V, it.F)

    def _raw_samples(self, it, n_samples):
        """(samples (n_samples, n) bool, field (n,)) from the mesh's own "sample" stream (seeded by its content)."""
        _, h, x = next(self._sample_items([it], n_samples))
        return (x > 0).cpu().numpy(), h.cpu().numpy()

    def _masks(self, it, n_samples):
        keep, h = self._raw_samples(it, n_samples)
        return self._budget(keep, it, h)

    def _transform_items(self, items):
        """One sample per mesh, exact budget applied (``exact_budget``); a mesh's mask depends only on the
        fitted state and that mesh."""
        return [self._masks(it, 1)[0] for it in items]  # loop over meshes

    def coarsen(self, mesh):
        """Coarse mesh ``(vertices, faces)`` of one mesh from :meth:`transform`'s mask and ``coarsening``."""
        it = self._item(mesh)
        Vc, Fc, _ = _coarsen(it.V, it.F, self.transform(it), it.edges, getattr(self, "coarsening", "qem"))
        return Vc, Fc

    def score(self, meshes, y=None, normalization="table"):
        """Minus the mean loss over ``meshes`` (one :meth:`transform` mask each).

        ``task="geometry"``: the vertex-to-mesh distance, ``normalization``
        as in :func:`~skising.metrics.vertex_to_mesh_distance` (default
        ``"table"``, comparable with the paper's Table 5).
        ``task="boundary"``: that distance plus ``boundary_weight`` x the
        label transfer error, with the labels from ``y`` or the meshes'
        ``data["face_labels"]``.
        """
        items, _ = self._predict_items(meshes)
        self._attach_labels(items, y)
        return -float(np.mean([self._mesh_loss(it, self.transform(it), normalization) for it in items]))
