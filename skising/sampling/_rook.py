r"""The engine's implicit-graph path: Ising sampling on a "rook graph" (entries of a
sparse pattern, coupled when they share a row or a column) without materialising its edges.

Part of the one engine (:mod:`skising.sampling`) next to the explicit-CSR sampler
:func:`skising.sampling.sample_ising`: same model (eq. 1), same update rules, another
representation of the couplings. :class:`~skising.precondition.SAIPreconditioner`
uses it for large matrices.

The Ising graph of the SAI task couples two candidate entries of ``M`` when
they share a row or a column: every row and every column of the pattern is a
clique. With one coupling ``J`` for all pairs, the local field of entry
``e = (i, k)`` needs only the row and column sums of the spins,

.. math:: \sum_{e' \sim e} J x_{e'} + h_e = J (R_i + C_k - 2 x_e) + h_e,
          \qquad R_i = \sum_{e' \in \mathrm{row}\, i} x_{e'},\;
          C_k = \sum_{e' \in \mathrm{col}\, k} x_{e'},

so a sweep costs O(number of entries) instead of O(number of line-graph
edges) (5.2 million for the ``A + A^2`` pattern of a 2D Poisson matrix with
n = 40,000, whose explicit graph and sampler plan take seconds to build).
Entries of one colour share no row and no column, so a colour is updated in
parallel, and the row and column sums are updated by the flips.

The update rules are those of :mod:`skising.sampling` (exact for eq. 1):
Metropolis accepts a flip with :math:`\min(1, e^{-\beta \Delta E})`,
heat-bath sets :math:`x_e = +1` with probability
:math:`\sigma(2 \beta \cdot \mathrm{local\ field})`. :class:`RookCouplings`
is this representation of the engine (:mod:`skising.sampling._engine`): the
engine's sweep driver, update rules and counter-based random numbers, with
the entries ordered by colour (stable). Given the same colouring, that is the
layout of the CSR sampler on the explicit entry graph, so a seed gives the
same samples on both (bit for bit when the local fields are exact, e.g. a
dyadic ``J``). :class:`SAIPreconditioner` uses this path only for matrices
whose entry graph would be large; training on small matrices uses the
explicit graph.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _engine

__all__ = ["RookCouplings", "entry_coloring", "rook_coloring", "rook_num_edges", "sample_rook", "rook_energy"]


def entry_coloring(rows, cols, max_colors=64):
    """A proper colouring of the entry graph in closed form, or None.

    Two entries sharing a row differ in ``j - i``; two sharing a column too.
    So the diagonal offset is a proper colouring (few colours for banded and
    stencil matrices). With the largest row/column span ``q``, ``(i + j) mod q``
    is one as well (``n`` colours for a full ``n x n`` pattern). The smaller is
    used when it has at most ``max_colors`` colours.

    Parameters
    ----------
    rows, cols : int64 ndarrays of shape (m,)
        Row and column of every entry.
    max_colors : int or float, default=64
        Return None when both closed forms need more colours.

    Returns
    -------
    int64 ndarray of shape (m,), or None

    Examples
    --------
    >>> import numpy as np
    >>> from skising.sampling import entry_coloring
    >>> entry_coloring(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])).tolist()
    [0, 1, 1, 0]
    """
    if rows.size == 0:
        return np.zeros(0, np.int64)
    off = cols - rows
    uniq, inv = np.unique(off, return_inverse=True)
    best = (uniq.size, inv)

    def span(group, other):
        lo = np.full(group.max() + 1, np.iinfo(np.int64).max)
        hi = np.full(group.max() + 1, -1)
        np.minimum.at(lo, group, other)
        np.maximum.at(hi, group, other)
        ok = hi >= 0
        return int((hi[ok] - lo[ok]).max()) + 1

    q = max(span(rows, cols), span(cols, rows))
    if q < best[0]:
        best = (q, (rows + cols) % q)
    if best[0] > max_colors:
        return None
    return np.asarray(best[1], dtype=np.int64)


def rook_num_edges(rows, cols):
    """Number of undirected edges of the entry graph (pairs sharing a row or a column).

    Parameters
    ----------
    rows, cols : int arrays of shape (m,)
        Row and column of every entry.

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np
    >>> from skising.sampling import rook_num_edges
    >>> rook_num_edges(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))  # a full 2 x 2 pattern
    4
    """
    if len(rows) == 0:
        return 0
    r = np.bincount(rows).astype(np.int64)
    c = np.bincount(cols).astype(np.int64)
    return int((r * (r - 1) // 2).sum() + (c * (c - 1) // 2).sum())


def _luby_coloring(rows, cols, seed=0):
    """Colouring by maximal independent sets of random priorities (vectorised).

    Each colour is grown in rounds: every uncoloured entry whose row and
    column are still free and which holds the highest priority in both is
    taken; rounds repeat until no entry can join (a maximal independent
    set). Loops run over colours and rounds, not over entries.
    """
    m = rows.size
    rows_t, cols_t = torch.as_tensor(rows), torch.as_tensor(cols)
    nr, nc = int(rows.max()) + 1, int(cols.max()) + 1
    prio = torch.as_tensor(np.random.default_rng(seed).permutation(m))
    colors = torch.full((m,), -1, dtype=torch.long)
    left = torch.arange(m)
    c = 0
    while left.numel():  # colours
        cand = left
        row_used = torch.zeros(nr, dtype=torch.bool)
        col_used = torch.zeros(nc, dtype=torch.bool)
        while cand.numel():  # rounds of one colour
            r, k, p = rows_t[cand], cols_t[cand], prio[cand]
            rmax = torch.full((nr,), -1, dtype=torch.long).scatter_reduce_(0, r, p, "amax")
            cmax = torch.full((nc,), -1, dtype=torch.long).scatter_reduce_(0, k, p, "amax")
            take = (p == rmax[r]) & (p == cmax[k])
            chosen = cand[take]
            colors[chosen] = c
            row_used[rows_t[chosen]] = True
            col_used[cols_t[chosen]] = True
            rest = cand[~take]
            cand = rest[~(row_used[rows_t[rest]] | col_used[cols_t[rest]])]
        left = left[colors[left] < 0]
        c += 1
    return colors.numpy()


def rook_coloring(rows, cols):
    """A proper colouring of the entry graph, in closed form when it is cheap.

    Two entries sharing a row or a column differ in their diagonal offset
    ``j - i``, and also in ``(i + j) mod q`` with ``q`` the largest row or
    column span. The smaller of the two is used unless it has more than
    twice the lower bound ``max(largest row, largest column)`` colours; then
    a vectorised maximal-independent-set colouring is used.

    Parameters
    ----------
    rows, cols : int arrays of shape (m,)
        Row and column of every entry.

    Returns
    -------
    colors : int64 ndarray of shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from skising.sampling import rook_coloring
    >>> rook_coloring(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])).tolist()
    [0, 1, 1, 0]
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if rows.size == 0:
        return np.zeros(0, np.int64)
    colors = entry_coloring(rows, cols, max_colors=np.inf)
    lower = max(int(np.bincount(rows).max()), int(np.bincount(cols).max()))
    if int(colors.max()) + 1 > 2 * lower:
        luby = _luby_coloring(rows, cols)
        if luby.max() < colors.max():
            colors = luby
    # renumber to 0..n_colors-1
    return np.unique(colors, return_inverse=True)[1].astype(np.int64)


def rook_energy(rows, cols, x, h, J):
    """Energy of eq. 1 on the entry graph with one coupling ``J``: ``(K,)``.

    Pairs in a row sum to ``(R^2 - count) / 2``; the same for columns.
    """
    rows_t = torch.as_tensor(rows, device=x.device)
    cols_t = torch.as_tensor(cols, device=x.device)
    K = x.shape[0]
    nr = int(rows_t.max()) + 1 if rows_t.numel() else 0
    nc = int(cols_t.max()) + 1 if cols_t.numel() else 0
    R = torch.zeros((K, nr), dtype=x.dtype, device=x.device).index_add_(1, rows_t, x)
    C = torch.zeros((K, nc), dtype=x.dtype, device=x.device).index_add_(1, cols_t, x)
    m = x.shape[1]
    pairs = 0.5 * ((R**2).sum(1) + (C**2).sum(1) - 2 * m)
    return -J * pairs - (x * h).sum(1)


class RookCouplings(_engine.LayoutCouplings):
    r"""One coupling ``J`` between entries sharing a row or a column: the engine's rook representation.

    The local field of a colour is read from row and column sums of the
    spins, kept up to date by the flips: O(entries) per sweep, the entry
    graph's edges are never built.

    Parameters
    ----------
    rows, cols : int arrays of shape (m,)
        Row and column of every Ising node (candidate entry); no two equal pairs.
    coupling : float, default=1.0
        ``J`` of every pair of entries sharing a row or a column.
    colors : int array of shape (m,), optional
        A proper colouring (default: :func:`rook_coloring`).
    device : str or torch.device, optional
        Default: CPU.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skising.sampling import RookCouplings
    >>> rep = RookCouplings(np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]), coupling=-0.4)
    >>> x = rep.sample(torch.zeros(4), n_chains=3, n_sweeps=5, random_state=0)
    >>> tuple(x.shape), tuple(rep.energy(x).shape)
    ((3, 4), (3,))
    """

    def __init__(self, rows, cols, coupling=1.0, colors=None, device=None):
        from .._validation import check_device, check_scalar

        self.device = check_device("cpu" if device is None else device)
        rows = np.asarray(rows, dtype=np.int64).ravel()
        cols = np.asarray(cols, dtype=np.int64).ravel()
        if rows.shape != cols.shape:
            raise ValueError(f"cols: expected {rows.size} entries like rows, got {cols.size}")
        if rows.size and min(rows.min(), cols.min()) < 0:
            raise ValueError("rows: row and column indices must be non-negative")
        self.J = check_scalar(coupling, "coupling")
        self.n = rows.size
        colors = rook_coloring(rows, cols) if colors is None else np.asarray(colors, dtype=np.int64)
        if colors.shape != rows.shape:
            raise ValueError(f"colors: expected shape ({rows.size},), got {colors.shape}")
        order = np.argsort(colors, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        self.bounds = np.concatenate([[0], np.cumsum(np.bincount(colors, minlength=1))]).astype(np.int64)
        self.perm = torch.as_tensor(order, device=self.device)
        self.position = torch.as_tensor(position, device=self.device)
        self.rows = torch.as_tensor(rows, device=self.device)
        self.cols = torch.as_tensor(cols, device=self.device)
        self._lrows, self._lcols = self.rows[self.perm], self.cols[self.perm]  # layout order
        self._n_rows = int(rows.max()) + 1 if rows.size else 0
        self._n_cols = int(cols.max()) + 1 if cols.size else 0

    def _sums(self, x, index, size):
        """Sums of x (.., m) per row/column index (m,) -> (.., size); dim -1."""
        out = torch.zeros(x.shape[:-1] + (size,), dtype=x.dtype, device=x.device)
        return out.index_add_(x.dim() - 1, index, x)

    # ------------------------------------------------------------ engine hooks
    def _state(self, X, dtype, sweeping):
        if not sweeping:
            return X
        X = X.to(dtype)
        # row and column sums (n_rows, n_chains), (n_cols, n_chains) in the compute dtype: exact integers
        cdt = _engine.compute_dtype(dtype)
        R = self._sums(X.to(cdt).T, self._lrows, self._n_rows).T.contiguous()
        C = self._sums(X.to(cdt).T, self._lcols, self._n_cols).T.contiguous()
        return X, R, C

    def _spins(self, state, c):
        return super()._spins(state[0], c)

    def _local(self, state, c):
        X, R, C = state
        s, e = int(self.bounds[c]), int(self.bounds[c + 1])
        return (R[self._lrows[s:e]] + C[self._lcols[s:e]] - 2.0 * X[s:e].to(R.dtype)) * self.J

    def _write(self, state, c, new):
        X, R, C = state
        s, e = int(self.bounds[c]), int(self.bounds[c + 1])
        delta = (new - X[s:e]).to(R.dtype)
        X[s:e] = new
        R[self._lrows[s:e]] += delta  # distinct rows and columns within a colour
        C[self._lcols[s:e]] += delta

    def _output(self, state, dtype):
        return super()._output(state[0] if isinstance(state, tuple) else state, dtype)

    # ------------------------------------------------------------ model
    def energy(self, x, field=0.0):
        """Energy of eq. 1 of samples ``x`` ((m,) or (n_samples, m)): ``(n_samples,)``; differentiable in
        ``field``. Pairs in a row sum to ``(R^2 - count) / 2``; the same for columns."""
        xs = _engine.spins_tensor(x)
        xs = xs[None] if xs.dim() == 1 else xs
        h = field if isinstance(field, torch.Tensor) else torch.as_tensor(field, dtype=xs.dtype)
        h = h.to(device=xs.device, dtype=xs.dtype)
        return rook_energy(self.rows, self.cols, xs, h, self.J)

    def local_field(self, x):
        xs = _engine.spins_tensor(x)
        rows, cols = self.rows.to(xs.device), self.cols.to(xs.device)
        R = self._sums(xs, rows, self._n_rows)
        C = self._sums(xs, cols, self._n_cols)
        return (R[..., rows] + C[..., cols] - 2.0 * xs) * self.J

    def __repr__(self):
        return f"RookCouplings(n_entries={self.n}, n_colors={self.n_colors}, coupling={self.J:g})"


def sample_rook(rows, cols, h, J, beta, n_chains, n_sweeps, update="metropolis", gen=None, colors=None):
    """Sample the Ising model on the entry graph of a pattern (row/column cliques).

    Parameters
    ----------
    rows, cols : int arrays of shape (m,)
        Row and column of every Ising node (candidate entry).
    h : torch.Tensor of shape (m,)
        External field.
    J : float
        Coupling of every pair of entries sharing a row or a column.
    beta : float
    n_chains, n_sweeps : int
    update : {"metropolis", "heat_bath"}
    gen : torch.Generator, optional
    colors : int array of shape (m,), optional
        A proper colouring (default: :func:`rook_coloring`).

    Returns
    -------
    torch.Tensor of shape (n_chains, m), entries in {-1, +1} (dtype of ``h``,
    at least float32), started from uniformly random spins.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skising.sampling._rook import sample_rook
    >>> rows, cols = np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1])
    >>> x = sample_rook(rows, cols, torch.zeros(4), -0.4, 1.0, 3, 5, gen=torch.Generator().manual_seed(0))
    >>> x.shape
    torch.Size([3, 4])
    """
    dt = h.dtype if h.dtype in (torch.float32, torch.float64) else torch.float32
    rep = RookCouplings(rows, cols, J, colors=colors, device=h.device)
    return rep.sample(h.detach().to(dt), n_chains, n_sweeps, beta, update, "random", gen, dtype=dt)
