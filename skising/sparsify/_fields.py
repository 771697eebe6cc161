r"""Field networks for mesh sparsification (paper Appendix E).

Both take ``(pos, z, edge_index, batch)``: vertex positions already divided
by the mesh's mean edge length, the curvature input ``log1p(z / l^2)``
(:func:`~skising.sparsify.curvature_features`, shape (n, 1)), directed edges
``(2, E)`` (messages flow ``edge_index[0] -> edge_index[1]``) and the graph
index of every vertex; they return the field ``h`` of shape ``(n,)``.
Only relative positions enter, so ``h`` is invariant to translations, and
the inputs are normalised by the mean edge length, so it is invariant to
uniform scaling too.

* :class:`EquivariantMeshField` (needs ``e3nn``, the ``mesh`` extra): the
  paper's two-layer E(3)-equivariant network, irreps
  ``0e -> 16x0e + 16x1o -> 16x0e`` with spherical-harmonic edge attributes
  and edge-length-dependent tensor-product weights, self-interaction
  residuals, the graph mean subtracted, and a linear map to a scalar. Its
  output is invariant to rotations and reflections.
* :class:`InvariantMeshField` (PyG only): the fallback when e3nn is missing;
  two GINE layers on the curvature input with radial-basis edge-length
  features, the same centring and read-out. Rotation invariant by
  construction (it never sees directions).
* :class:`MeshPriorField`: a static per-vertex score (the last column of
  ``z``, e.g. the centred quadric-simplification rank of
  ``MeshSparsifier(prior="qem")``) times a learned scale, plus a learned
  correction network whose read-out starts at zero.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EquivariantMeshField", "InvariantMeshField", "MeshPriorField", "default_mesh_field", "has_e3nn"]


def has_e3nn():
    try:
        import e3nn  # noqa: F401
    except ImportError:
        return False
    return True


def _rbf(d, n_basis=8, cutoff=3.0):
    """Gaussian radial basis of edge lengths (in mean-edge-length units)."""
    mu = torch.linspace(0.0, cutoff, n_basis, device=d.device, dtype=d.dtype)
    width = cutoff / (n_basis - 1)
    return torch.exp(-(((d[:, None] - mu) / width) ** 2))


def _scatter_mean(src, index, n):
    out = torch.zeros((n,) + src.shape[1:], dtype=src.dtype, device=src.device)
    out.index_add_(0, index, src)
    cnt = torch.zeros(n, dtype=src.dtype, device=src.device).index_add_(0, index, torch.ones_like(index, dtype=src.dtype))
    return out / cnt.clamp(min=1).view(-1, *([1] * (src.dim() - 1)))


def _center(h, batch, num_graphs):
    """Subtract the per-graph mean of node features."""
    if batch is None:
        return h - h.mean(0, keepdim=True)
    return h - _scatter_mean(h, batch, num_graphs).index_select(0, batch)


class EquivariantMeshField(nn.Module):
    """The paper's two-layer E(3)-equivariant field network (needs e3nn).

    Parameters
    ----------
    channels : int, default=16
        Multiplicity of the hidden ``0e`` and ``1o`` irreps.
    n_basis : int, default=8
        Radial basis size for the edge-length-dependent weights.
    radial_hidden : int, default=16
        Hidden width of the radial MLP.
    in_features : int, default=1
        Invariant scalar inputs per vertex (the columns of ``z``; see the
        estimator's ``features``).

    Examples
    --------
    The field of a tetrahedron does not change when the mesh is rotated or
    reflected:

    >>> import torch
    >>> from skising.sparsify import EquivariantMeshField
    >>> _ = torch.manual_seed(0)
    >>> pos, z = torch.randn(4, 3), torch.rand(4, 1)
    >>> edge_index = torch.tensor([[0, 0, 0, 1, 1, 2, 1, 2, 3, 2, 3, 3],
    ...                            [1, 2, 3, 2, 3, 3, 0, 0, 0, 1, 1, 2]])
    >>> net = EquivariantMeshField()
    >>> h = net(pos, z, edge_index)
    >>> Q, _ = torch.linalg.qr(torch.randn(3, 3))  # an orthogonal matrix
    >>> h.shape, bool(torch.allclose(net(pos @ Q.T, z, edge_index), h, atol=1e-5))
    (torch.Size([4]), True)
    """

    def __init__(self, channels=16, n_basis=8, radial_hidden=16, in_features=1):
        super().__init__()
        try:
            from e3nn import o3
        except ImportError as exc:  # pragma: no cover - exercised without e3nn
            raise ImportError(
                "EquivariantMeshField needs e3nn: pip install 'skising[mesh]' "
                "(or use InvariantMeshField)"
            ) from exc
        self.channels = channels
        self.n_basis = n_basis
        self.in_features = int(in_features)
        self.irreps_in = o3.Irreps(f"{self.in_features}x0e")
        self.irreps_sh = o3.Irreps.spherical_harmonics(1)
        self.irreps_hidden = o3.Irreps(f"{channels}x0e + {channels}x1o")
        self.irreps_out = o3.Irreps(f"{channels}x0e")
        self.tp1 = o3.FullyConnectedTensorProduct(self.irreps_in, self.irreps_sh, self.irreps_hidden, shared_weights=False)
        self.tp2 = o3.FullyConnectedTensorProduct(self.irreps_hidden, self.irreps_sh, self.irreps_out, shared_weights=False)
        self.radial1 = nn.Sequential(nn.Linear(n_basis, radial_hidden), nn.SiLU(), nn.Linear(radial_hidden, self.tp1.weight_numel))
        self.radial2 = nn.Sequential(nn.Linear(n_basis, radial_hidden), nn.SiLU(), nn.Linear(radial_hidden, self.tp2.weight_numel))
        self.self1 = o3.Linear(self.irreps_in, self.irreps_hidden)  # residual / self-interaction
        self.self2 = o3.Linear(self.irreps_hidden, self.irreps_out)
        self.readout = nn.Linear(channels, 1)

    def _gate(self, x):
        """SiLU on scalars; vectors scaled by a sigmoid of their norm (equivariant)."""
        c = self.channels
        s, v = x[:, :c], x[:, c:].reshape(-1, c, 3)
        norm = v.norm(dim=-1, keepdim=True)
        v = v * torch.sigmoid(norm)
        return torch.cat([nn.functional.silu(s), v.reshape(-1, 3 * c)], dim=1)

    def _tp1(self, z, sh, w):
        """``tp1`` (``d x 0e x (0e + 1o) -> c x 0e + c x 1o``) written out; equals e3nn's to rounding.

        e3nn's component normalisation (path weights 1 and sqrt(3)) times the
        Wigner 3j symbols (1 and 1/sqrt(3)) is 1; each path sums its ``d``
        inputs with the path normalisation ``1/sqrt(d)``.
        """
        c = self.channels
        d = self.in_features
        if d == 1:
            zw = z * w  # (E, 2c)
        else:  # e3nn's layout: one (d, c) weight block per path; path normalisation 1/sqrt(fan-in d)
            zw = torch.einsum("ed,epdc->epc", z, w.view(-1, 2, d, c)).reshape(-1, 2 * c) * d**-0.5
        return torch.cat([zw[:, :c] * sh[:, :1], (zw[:, c:, None] * sh[:, None, 1:]).reshape(-1, 3 * c)], dim=1)

    def _tp2(self, x, sh, w):
        """``tp2`` (``c x 0e + c x 1o`` x ``(0e + 1o) -> c x 0e``) written out; equals e3nn's to rounding.

        Per edge: ``out_k = a sum_j w0_jk s_j Y0 + a/sqrt(3) sum_j w1_jk (v_j . Y1)``
        with e3nn's path weight ``a = 1/sqrt(2c)``; one batched matrix product
        instead of e3nn's generic outer products (forward+backward 1.4x faster
        with 8 channels, 1.9x with 16, on CPU on an 8.5k-vertex chair).
        """
        c = self.channels
        a = (2.0 * c) ** -0.5
        t0 = x[:, :c] * sh[:, :1]
        t1 = (x[:, c:].view(-1, c, 3) * sh[:, None, 1:]).sum(-1) * (3.0**-0.5)
        t = torch.cat([t0, t1], dim=1)[:, None, :]  # (E, 1, 2c)
        return a * torch.bmm(t, w.view(-1, 2 * c, c)).squeeze(1)

    def forward(self, pos, z, edge_index, batch=None, num_graphs=1):
        from e3nn import o3

        src, dst = edge_index[0], edge_index[1]
        vec = pos.index_select(0, dst) - pos.index_select(0, src)
        length = vec.norm(dim=1)
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        emb = _rbf(length, self.n_basis)
        n = pos.shape[0]
        e3nn_tp = getattr(self, "use_e3nn_tp", False)  # the generic e3nn path, kept as the test oracle
        w1 = self.radial1(emb)
        zs = z.index_select(0, src)
        m1 = self.tp1(zs, sh, w1) if e3nn_tp else self._tp1(zs, sh, w1)
        x = self._gate(_scatter_mean(m1, dst, n) + self.self1(z))
        w2 = self.radial2(emb)
        xs = x.index_select(0, src)  # not x[src]: its backward (index_put_ accumulate) is not reproducible on
        # several CPU threads, index_select's (index_add_) is
        m2 = self.tp2(xs, sh, w2) if e3nn_tp else self._tp2(xs, sh, w2)
        y = _scatter_mean(m2, dst, n) + self.self2(x)
        y = _center(y, batch, num_graphs)
        return self.readout(y).squeeze(-1)


class InvariantMeshField(nn.Module):
    """Invariant fallback field network on PyG's ``GINEConv`` (no e3nn needed).

    Parameters
    ----------
    hidden : int, default=32
    n_basis : int, default=8
        Radial basis size of the edge-length features.
    in_features : int, default=1
        Invariant scalar inputs per vertex (the columns of ``z``).

    Examples
    --------
    >>> import torch
    >>> from skising.sparsify import InvariantMeshField
    >>> _ = torch.manual_seed(0)
    >>> pos, z = torch.randn(4, 3), torch.rand(4, 1)
    >>> edge_index = torch.tensor([[0, 0, 0, 1, 1, 2, 1, 2, 3, 2, 3, 3],
    ...                            [1, 2, 3, 2, 3, 3, 0, 0, 0, 1, 1, 2]])
    >>> net = InvariantMeshField()
    >>> h = net(pos, z, edge_index)
    >>> Q, _ = torch.linalg.qr(torch.randn(3, 3))  # an orthogonal matrix
    >>> h.shape, bool(torch.allclose(net(pos @ Q.T, z, edge_index), h, atol=1e-5))
    (torch.Size([4]), True)
    """

    def __init__(self, hidden=32, n_basis=8, in_features=1):
        super().__init__()
        from torch_geometric.nn import GINEConv

        self.n_basis = n_basis
        self.in_features = int(in_features)
        self.inp = nn.Linear(self.in_features, hidden)
        self.conv1 = GINEConv(nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)), edge_dim=n_basis)
        self.conv2 = GINEConv(nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)), edge_dim=n_basis)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, pos, z, edge_index, batch=None, num_graphs=1):
        src, dst = edge_index[0], edge_index[1]
        emb = _rbf((pos[dst] - pos[src]).norm(dim=1), self.n_basis)
        x = nn.functional.silu(self.inp(z))
        x = x + nn.functional.silu(self.conv1(x, edge_index, emb))
        x = x + self.conv2(x, edge_index, emb)
        x = _center(x, batch, num_graphs)
        return self.readout(x).squeeze(-1)


class MeshPriorField(nn.Module):
    r"""A static vertex score as the prior of the field, plus a learned correction.

    .. math:: h_i = a\, s_i + \mathrm{correction}(\mathrm{pos}, z, \ldots)_i

    with ``s_i = z[:, -1]`` (the score column the estimator appends to the
    vertex inputs, e.g. the centred rank of
    :func:`~skising.mesh.qem_removal_order`) and ``a`` a learned scale that
    starts at ``scale``. The correction network sees all columns of ``z``
    (the score included) when its ``in_features`` equals ``z.shape[1]``,
    else the columns before the score. Its ``readout`` (an ``nn.Linear``,
    as in both mesh field networks) starts at zero, so before training
    ``h = a s`` exactly; a correction without a ``readout`` is multiplied by
    a learned gain that starts at zero instead.

    Parameters
    ----------
    correction : torch.nn.Module
        Called as ``correction(pos, z', edge_index, batch, num_graphs)``
        with ``z'`` as above.
    scale : float, default=8.0
        Initial ``a``.

    Examples
    --------
    >>> import torch
    >>> from skising.sparsify import InvariantMeshField, MeshPriorField
    >>> net = MeshPriorField(InvariantMeshField(in_features=2), scale=4.0)
    >>> pos = torch.randn(4, 3)
    >>> z = torch.tensor([[0.3, -1.0], [0.1, 1.0], [0.7, 0.5], [0.2, -0.5]])
    >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])
    >>> net(pos, z, edge_index).tolist()  # 4 x the score column
    [-4.0, 4.0, 2.0, -2.0]
    """

    def __init__(self, correction, scale=8.0):
        super().__init__()
        self.correction = correction
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        out = getattr(correction, "readout", None)
        if isinstance(out, nn.Linear):
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)
            self.gain = None
        else:
            self.gain = nn.Parameter(torch.zeros(()))

    def forward(self, pos, z, edge_index, batch=None, num_graphs=1):
        out = getattr(self.correction, "readout", None)
        if self.gain is None and not torch.is_grad_enabled() and not out.weight.any():
            # an untrained (zero) read-out: the correction is its bias, whatever the hidden layers say
            return self.scale * z[:, -1] + out.bias
        zc = z if getattr(self.correction, "in_features", None) == z.shape[1] else z[:, :-1]
        h = self.correction(pos, zc, edge_index, batch, num_graphs)
        if self.gain is not None:
            h = self.gain * h
        return self.scale * z[:, -1] + h


def default_mesh_field(in_features=1):
    """EquivariantMeshField(channels=8) when e3nn is installed, else InvariantMeshField with a warning.

    Eight channels, not the class default of 16: the Table 5 recipe of
    ``benchmarks/results/mesh.md`` (fewer parameters, steadier at lr 3e-2).
    ``in_features``: scalar inputs per vertex.
    """
    if has_e3nn():
        return EquivariantMeshField(channels=8, in_features=in_features)
    import warnings

    warnings.warn(
        "e3nn is not installed: MeshSparsifier falls back to the invariant InvariantMeshField. "
        "Install the 'mesh' extra (pip install 'skising[mesh]') for the paper's equivariant network.",
        UserWarning,
        stacklevel=3,
    )
    return InvariantMeshField(in_features=in_features)

