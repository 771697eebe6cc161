r"""Convolutional Ising sampler on 8-neighbour pixel grids (eq. 17-18).

On an image grid the coupling of eq. 17 is a 3x3 kernel ``W``: pixel ``p``
and its neighbour ``p + d`` (``d`` in the 8-neighbourhood) interact with
``J = W[1 + d_row, 1 + d_col]``, so the local field of every pixel is one
``conv2d`` (zero padding: border pixels simply have fewer neighbours),

.. math:: \ell_p = \sum_d W_{1+d}\, x_{p+d} + h_p .

The kernel must be point-symmetric (``W[a, b] == W[2-a, 2-b]``, so that
``J_{p,p+d} = J_{p+d,p}``) with a zero centre. The closed-form 4-colouring
(parity of row and column, :func:`skising.graph.grid_colors`) makes the
pixels of one colour pairwise non-adjacent, so each colour is updated in
parallel through a strided view ``x[..., a::2, b::2]``; one sweep visits the
four colours in the order ``(0,0), (0,1), (1,0), (1,1)`` = colours 0..3 of
:func:`~skising.graph.grid_colors`, exactly as the generic sampler does.

:class:`GridCouplings` is this representation of the engine
(:mod:`skising.sampling._engine`): the engine's sweep driver, update rules and
counter-based random numbers. Its layout is the one the CSR sampler gives
the disjoint union of the ``B`` grids (``grid_graph`` per image, nodes
``b * H * W + row * W + col``): colour-major, then image, row, column. So
for the same seed the samples equal those of :func:`sample_ising` on that
graph (bit for bit when the local fields are exact, e.g. dyadic kernels),
on any device.

Layout: fields are ``(B, H, W)`` (B images), samples ``(K, B, H, W)``
(K chains per image); every image and chain is updated in the same
``conv2d`` call, on any device.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_device, check_generator, check_int, check_scalar
from . import _engine
from ._arith import counter_dtype

__all__ = ["grid_kernel", "GridCouplings", "sample_ising_grid", "ising_energy_grid", "mean_field_grid"]
# colour c of grid_colors(..., 8) is 2 * (row % 2) + (col % 2)
_COLOR_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def grid_kernel(coupling=1.0, dtype=torch.float32, device=None):
    """The 3x3 coupling kernel of eq. 18.

    Parameters
    ----------
    coupling : float or array-like of shape (3, 3)
        A scalar ``J`` gives ``J`` for all 8 neighbours (zero centre); a
        3x3 array is used as is and must be point-symmetric with a zero
        centre.
    dtype : torch.dtype, default=torch.float32
        Data type of the kernel.
    device : str or torch.device, optional
        Device of the kernel (default: that of a tensor ``coupling``, else
        torch's default device).

    Returns
    -------
    torch.Tensor of shape (3, 3)
        The kernel ``W``; ``W[1 + d_row, 1 + d_col]`` couples a pixel to its
        neighbour at offset ``(d_row, d_col)``.

    Examples
    --------
    >>> from skising.sampling import grid_kernel
    >>> grid_kernel(1.0).tolist()
    [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    """
    if isinstance(coupling, numbers.Real) and not isinstance(coupling, bool):
        J = check_scalar(coupling, "coupling")
        k = torch.full((3, 3), J, dtype=dtype, device=device)
        k[1, 1] = 0.0
        return k
    if isinstance(coupling, torch.Tensor) and coupling.dim() == 0:
        return grid_kernel(float(coupling), dtype, device)
    try:
        k = torch.as_tensor(coupling.detach() if isinstance(coupling, torch.Tensor) else np.asarray(coupling, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"coupling: expected a number or a 3x3 array, got {type(coupling).__name__}") from exc
    if tuple(k.shape) != (3, 3):
        raise ValueError(f"coupling: expected a scalar or a 3x3 kernel, got shape {tuple(k.shape)}")
    k = k.to(dtype=dtype, device=device)
    if not torch.isfinite(k).all():
        raise ValueError("coupling: contains NaN or infinite values")
    if k[1, 1] != 0:
        raise ValueError(f"coupling: the kernel's centre must be 0 (no self-coupling), got {float(k[1, 1])}")
    if not torch.equal(k, torch.flip(k, (0, 1))):
        raise ValueError("coupling: the kernel must be point-symmetric, W[a, b] == W[2-a, 2-b]")
    return k


def _conv_neighbors(x, kernel):
    """``sum_d W_{1+d} x_{p+d}`` for x of shape (..., H, W) -> same shape."""
    shape = x.shape
    out = F.conv2d(x.reshape(-1, 1, shape[-2], shape[-1]), kernel.to(x.dtype)[None, None], padding=1)
    return out.reshape(shape)


def _block_sizes(H, W):
    """Rows and columns of each colour's strided view (colour c = offsets _COLOR_OFFSETS[c])."""
    return [((H - a + 1) // 2, (W - b + 1) // 2) for a, b in _COLOR_OFFSETS]


class GridCouplings(_engine.Couplings):
    r"""Couplings of 8-neighbour pixel grids given by a 3x3 kernel: the engine's conv representation.

    The local field of a colour is one stride-2 ``conv2d`` of a zero-padded
    spin buffer (O(pixels) per sweep, any device); every image and chain of
    a batch is updated in the same call.

    Parameters
    ----------
    coupling : float or array-like of shape (3, 3), default=1.0
        ``J`` for all 8 neighbours, or a point-symmetric 3x3 kernel with zero
        centre (see :func:`grid_kernel`).
    shape : tuple ``(height, width)`` or ``(n_images, height, width)``
        Shape of one sample; fields have this shape (or a leading
        ``n_chains`` axis) and samples are ``(n_chains, *shape)``.
    device : str or torch.device, optional
        Default: that of a tensor ``coupling``, else CPU.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import GridCouplings
    >>> rep = GridCouplings(0.3, (2, 5, 6))
    >>> x = rep.sample(torch.zeros(2, 5, 6), n_chains=4, random_state=0)
    >>> tuple(x.shape), tuple(rep.energy(x, torch.zeros(2, 5, 6)).shape)
    ((4, 2, 5, 6), (4, 2))
    """

    def __init__(self, coupling=1.0, shape=None, device=None):
        if device is None:
            device = coupling.device if isinstance(coupling, torch.Tensor) else "cpu"
        self.device = check_device(device)
        try:
            shape = tuple(int(v) for v in shape)
        except TypeError as exc:
            raise TypeError(f"shape: expected (height, width) or (n_images, height, width), got {shape!r}") from exc
        if len(shape) not in (2, 3) or min(shape) < 0:
            raise ValueError(f"shape: expected (height, width) or (n_images, height, width), got {shape!r}")
        self.single = len(shape) == 2
        self.shape = shape
        self._bhw = (1,) + shape if self.single else shape
        B, H, W = self._bhw
        self.kernel = grid_kernel(coupling, dtype=torch.float64, device=self.device)
        if isinstance(coupling, torch.Tensor) and coupling.dim() == 2:
            self.kernel = coupling.to(self.device)  # validated above; keeps its dtype
        self.n = B * H * W
        self.bounds = np.concatenate([[0], np.cumsum([B * hc * wc for hc, wc in _block_sizes(H, W)])]).astype(np.int64)

    # ------------------------------------------------------------ engine hooks
    def _check_field(self, field, n_chains, dtype):
        if isinstance(field, numbers.Real) and not isinstance(field, bool):
            field = torch.full(self.shape, float(field))
        t, _ = _check_grid_field(field, allow_4d=True)
        if self.single:
            t = t[0] if t.dim() == 3 and tuple(t.shape) == self._bhw else t
        ok = tuple(t.shape) == self.shape or (n_chains is not None and tuple(t.shape) == (n_chains,) + self.shape)
        if not ok:
            raise ValueError(f"field: expected shape {self.shape} or (n_chains, *{self.shape}), got {tuple(t.shape)}")
        return t.to(device=self.device, dtype=dtype)

    def _mf_field(self, field):
        if isinstance(field, numbers.Real) and not isinstance(field, bool):
            field = torch.full(self.shape, float(field))
        t = field if isinstance(field, torch.Tensor) else _check_grid_field(field)[0]
        if tuple(t.shape)[-len(self.shape):] != self.shape:
            raise ValueError(f"field: expected shape {self.shape}, got {tuple(t.shape)}")
        return t.to(self.device)

    def _check_init(self, init, n_chains, dtype):
        t = torch.as_tensor(init.detach() if isinstance(init, torch.Tensor) else np.asarray(init))
        if t.dtype == torch.bool:
            t = t.to(dtype) * 2 - 1
        shape = (n_chains,) + self.shape
        try:
            t = t.to(device=self.device, dtype=dtype).expand(shape)
        except RuntimeError as exc:
            raise ValueError(f"init: cannot broadcast shape {tuple(t.shape)} to {shape}") from exc
        if not ((t == 1) | (t == -1)).all():
            raise ValueError("init: spins must be -1 or +1 (or booleans)")
        return self._to_layout(t)

    def _to_layout(self, x):
        """Spins ``(K, *shape)`` -> int8 ``(n, K)`` in layout order (colour, image, row, column)."""
        K = x.shape[0]
        x = x.reshape((K,) + self._bhw).to(torch.int8)
        parts = [x[..., a::2, b::2].permute(1, 2, 3, 0).reshape(-1, K) for a, b in _COLOR_OFFSETS]
        return torch.cat(parts).contiguous()

    def _prepare_field(self, h, dtype):
        # per colour, contiguous: (1, B, hc, wc) or (K, B, hc, wc), broadcast over chains
        h = h.detach().to(dtype).reshape((-1,) + self._bhw)
        return [h[..., a::2, b::2].contiguous() for a, b in _COLOR_OFFSETS]

    def _state(self, X, dtype, sweeping):
        # spins live inside a zero-padded buffer: border pixels see zero neighbours,
        # and no padding copy is made per colour
        K = X.shape[1]
        B, H, W = self._bhw
        P = torch.zeros(K * B, 1, H + 2, W + 2, dtype=dtype, device=self.device)
        Pv = P.view(K, B, H + 2, W + 2)
        for c, ((a, b), (hc, wc)) in enumerate(zip(_COLOR_OFFSETS, _block_sizes(H, W))):  # colours
            s, e = int(self.bounds[c]), int(self.bounds[c + 1])
            Pv[..., 1 + a : H + 1 : 2, 1 + b : W + 1 : 2] = X[s:e].view(B, hc, wc, K).permute(3, 0, 1, 2).to(dtype)
        return P, Pv, self.kernel.detach().to(dtype)[None, None]

    def _spins(self, state, c):
        _, H, W = self._bhw
        a, b = _COLOR_OFFSETS[c]
        return state[1][..., 1 + a : H + 1 : 2, 1 + b : W + 1 : 2]

    def _local(self, state, c):
        # neighbour sums at this colour's pixels only: a stride-2 conv of the
        # padded grid started at offset (a, b) (a quarter of the work)
        P, _, Wk = state
        a, b = _COLOR_OFFSETS[c]
        K = P.shape[0] // self._bhw[0]
        hc, wc = _block_sizes(*self._bhw[1:])[c]
        return F.conv2d(P[..., a:, b:], Wk, stride=2).view(K, self._bhw[0], hc, wc)

    def _block_field(self, field, c):
        return field[c]

    def _counters(self, c, n_chains):
        B, H, W = self._bhw
        hc, wc = _block_sizes(H, W)[c]
        dt = counter_dtype(self.n * n_chains)
        pos = torch.arange(int(self.bounds[c]), int(self.bounds[c + 1]), dtype=dt, device=self.device)
        return pos.view(1, B, hc, wc) * n_chains + torch.arange(n_chains, dtype=dt, device=self.device).view(-1, 1, 1, 1)

    def _write(self, state, c, new):
        self._spins(state, c).copy_(new)

    def _output(self, state, dtype):
        x = state[1][..., 1:-1, 1:-1].contiguous()
        return x[:, 0] if self.single else x

    # ------------------------------------------------------------ model
    def energy(self, x, field=0.0):
        """Energy of eq. 1 of samples ``x`` (..., height, width) -> ``x.shape[:-2]``; differentiable
        in ``field`` (and in a kernel tensor passed as ``coupling``)."""
        xs = _engine.spins_tensor(x)
        h = field if isinstance(field, torch.Tensor) else torch.as_tensor(np.asarray(field, dtype=np.float64))
        h = h.to(device=xs.device, dtype=xs.dtype)
        return _grid_energy(xs, h, self.kernel.to(xs.device))

    def local_field(self, x):
        r""":math:`\sum_d W_{1+d} x_{p+d}` of every pixel of ``x`` (..., height, width)."""
        xs = _engine.spins_tensor(x)
        return _conv_neighbors(xs, self.kernel.to(xs.device))

    def __repr__(self):
        return f"GridCouplings(shape={self.shape})"


def _grid_energy(x, h, kernel):
    """Kernel: energies of x (K, B, H, W) under h (B, H, W) -> (K, B); differentiable.

    ``E = -1/2 sum_p x_p (W * x)_p - sum_p h_p x_p`` (each edge once).
    """
    nb = _conv_neighbors(x, kernel)
    pair = 0.5 * (x * nb).sum((-2, -1))
    field = (x * h).sum((-2, -1))
    return -pair - field


def _grid_mean_field(h, kernel, beta, damping=0.5, tol=1e-5, max_iter=200):
    """Kernel: damped mean-field iteration of eq. 11 on grids, h (B, H, W) -> m."""
    return _engine.damped_mean_field(lambda m: _conv_neighbors(m, kernel), h, beta, damping, tol, max_iter)


def _check_grid_field(field, name="field", allow_4d=False):
    if isinstance(field, torch.Tensor):
        t = field.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(field, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected an array of real numbers, got {type(field).__name__}") from exc
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name}: expected real numbers, got dtype {t.dtype}")
    if t.dim() == 2:
        t, single = t[None], True
    elif t.dim() == 3 or (allow_4d and t.dim() == 4):
        single = False
    else:
        raise ValueError(f"{name}: expected shape (height, width) or (n_images, height, width), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t, single


def sample_ising_grid(
    field,
    coupling=1.0,
    beta=1.0,
    n_chains=1,
    n_sweeps=10,
    update="metropolis",
    init="random",
    random_state=None,
    device=None,
    dtype=torch.float32,
):
    r"""Sample the 8-neighbour grid Ising model with ``conv2d`` updates.

    Same model and semantics as :func:`sample_ising` on
    ``grid_graph(height, width, 8)`` with per-edge couplings read from the
    kernel (see :func:`grid_kernel`), but batched over images as well as
    chains and without a sparse matrix.

    Parameters
    ----------
    field : array-like of shape (height, width) or (n_images, height, width)
    coupling : float or array-like of shape (3, 3)
        ``J`` for all 8 neighbours, or a point-symmetric 3x3 kernel with zero
        centre.
    beta : float >= 0
    n_chains : int >= 1
        Chains per image.
    n_sweeps : int >= 0
        One sweep updates the 4 colour classes once.
    update : {"metropolis", "heat_bath"}
    init : {"random", "up", "down"} or array of the output's shape
    random_state : None, int, numpy or torch generator
    device : str or torch.device, optional
        Default: the field's device if it is a tensor, else CPU.
    dtype : torch.dtype

    Returns
    -------
    torch.Tensor of shape (n_chains, n_images, height, width), or
    (n_chains, height, width) for a 2-D field; values in {-1., +1.}

    Notes
    -----
    Samples through :class:`GridCouplings`, with the engine's counter-based
    random numbers: for a seed, the samples of :func:`sample_ising` on the
    images' batch graph, on any device.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import sample_ising_grid
    >>> x = sample_ising_grid(torch.zeros(2, 5, 6), coupling=0.3, n_chains=4, random_state=0)
    >>> tuple(x.shape), set(x.unique().tolist()) <= {-1.0, 1.0}
    ((4, 2, 5, 6), True)
    """
    if device is None:
        device = field.device if isinstance(field, torch.Tensor) else torch.device("cpu")
    device = check_device(device)
    h, single = _check_grid_field(field)
    h = h.to(device=device, dtype=dtype)
    rep = GridCouplings(coupling, tuple(h.shape), device=device)
    beta = check_scalar(beta, "beta", low=0.0)
    n_chains = check_int(n_chains, "n_chains", low=1)
    n_sweeps = check_int(n_sweeps, "n_sweeps", low=0)
    _engine.check_update(update)
    shape = (n_chains,) + tuple(h.shape)
    if isinstance(init, str):
        if init not in ("random", "up", "down"):
            raise ValueError(f"init: expected 'random', 'up', 'down' or a spin array, got {init!r}")
    else:
        t = torch.as_tensor(init.detach() if isinstance(init, torch.Tensor) else np.asarray(init))
        if single and t.dim() == len(shape) - 1:
            t = t[:, None] if t.dim() == 3 else t
        if t.dtype == torch.bool:
            t = t.to(dtype) * 2 - 1
        try:
            t = t.to(device=device, dtype=dtype).expand(shape)
        except RuntimeError as exc:
            raise ValueError(f"init: cannot broadcast shape {tuple(t.shape)} to {shape}") from exc
        if not ((t == 1) | (t == -1)).all():
            raise ValueError("init: spins must be -1 or +1 (or booleans)")
        init = rep._to_layout(t)
    gen = check_generator(random_state, device)
    x = _engine.run(rep, h, beta, n_chains, n_sweeps, update, init, gen, dtype)
    return x[:, 0] if single else x


def ising_energy_grid(x, field, coupling=1.0):
    """Energy of eq. 1 on the 8-neighbour grid, computed with one ``conv2d``.

    Equals :func:`ising_energy` on ``grid_graph(height, width, 8)`` with the
    per-edge couplings of the kernel.

    Parameters
    ----------
    x : tensor of shape (..., height, width)
        Spins in {-1, +1} (booleans map to +1/-1), e.g. (K, B, H, W).
    field : tensor broadcastable to ``x``
    coupling : float or 3x3 kernel (see :func:`grid_kernel`)

    Returns
    -------
    torch.Tensor of shape ``x.shape[:-2]``; differentiable in ``field``.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import ising_energy_grid
    >>> float(ising_energy_grid(torch.ones(2, 2), torch.zeros(2, 2)))  # 6 edges
    -6.0
    """
    xs = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if xs.dtype == torch.bool:
        xs = xs.float() * 2 - 1
    if xs.dim() < 2:
        raise ValueError(f"x: expected shape (..., height, width), got {tuple(xs.shape)}")
    xs = xs.to(torch.float32) if not xs.is_floating_point() else xs
    h = field if isinstance(field, torch.Tensor) else torch.as_tensor(np.asarray(field, dtype=np.float64))
    h = h.to(device=xs.device, dtype=xs.dtype)
    try:
        torch.broadcast_shapes(h.shape, xs.shape)
    except RuntimeError as exc:
        raise ValueError(f"field: shape {tuple(h.shape)} does not broadcast to x's {tuple(xs.shape)}") from exc
    if isinstance(coupling, torch.Tensor) and coupling.dim() == 2:
        kernel = coupling.to(device=xs.device, dtype=xs.dtype)  # keeps a learnable kernel's grad
        grid_kernel(coupling)  # validate only
    else:
        kernel = grid_kernel(coupling, dtype=xs.dtype, device=xs.device)
    return _grid_energy(xs, h, kernel)


def mean_field_grid(field, coupling=1.0, beta=1.0, damping=0.5, tol=1e-5, max_iter=200):
    r"""Mean-field magnetisations (eq. 11) on the 8-neighbour grid.

    Iterates :math:`m \leftarrow (1-\lambda) m + \lambda\tanh(\beta(h + W * m))`
    (damping :math:`\lambda`) until the largest change is below ``tol``.

    Parameters
    ----------
    field : array-like of shape (H, W) or (n_images, H, W)
        External field ``h`` of every pixel (detached: no gradient flows).
    coupling : float or array-like of shape (3, 3), default=1.0
        Coupling kernel ``W``, as in :func:`grid_kernel`.
    beta : float, default=1.0
        Inverse temperature.
    damping : float in (0, 1], default=0.5
        Weight :math:`\lambda` of the new value in each update.
    tol : float, default=1e-5
        Stop when the largest change of ``m`` is below this.
    max_iter : int, default=200
        Upper bound on the iterations.

    Returns
    -------
    torch.Tensor
        Float32 magnetisations shaped like ``field``, with values in (-1, 1),
        computed without gradient tracking.

    Examples
    --------
    >>> import torch
    >>> from skising.sampling import mean_field_grid
    >>> m = mean_field_grid(torch.full((3, 3), 0.5), coupling=0.0)
    >>> bool(torch.allclose(m, torch.tanh(torch.tensor(0.5)), atol=1e-4))
    True
    """
    h, single = _check_grid_field(field)
    h = h.to(torch.float32)
    kernel = grid_kernel(coupling, dtype=h.dtype, device=h.device)
    beta = check_scalar(beta, "beta", low=0.0)
    damping = check_scalar(damping, "damping", low=0.0, high=1.0, low_inclusive=False)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", low=1)
    with torch.no_grad():
        m = _grid_mean_field(h, kernel, beta, damping, tol, max_iter)
    return m[0] if single else m
