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
:math:`\sigma(2 \beta \cdot \mathrm{local\ field})`. The random numbers come
from the caller's ``torch.Generator`` (not the engine's counter-based
stream), so for a seed the samples differ from the engine's explicit-graph
path, while the distribution is the same (tested by exact enumeration).
:class:`SAIPreconditioner` uses this path only for matrices whose entry
graph would be large; training on small matrices uses the engine.
"""

from __future__ import annotations

import numpy as np
import torch

from ._arith import accept_torch

__all__ = ["rook_coloring", "rook_num_edges", "sample_rook", "rook_energy"]


def _entry_coloring(rows, cols, max_colors=64):
    """A proper colouring of the entry graph in closed form, or None.

    Two entries sharing a row differ in ``j - i``; two sharing a column too.
    So the diagonal offset is a proper colouring (few colours for banded and
    stencil matrices). With the largest row/column span ``q``, ``(i + j) mod q``
    is one as well (``n`` colours for a full ``n x n`` pattern). The smaller is
    used when it has at most ``max_colors`` colours.
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
    """Number of undirected edges of the entry graph (pairs sharing a row or a column)."""
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

    Returns
    -------
    colors : int64 ndarray of shape (m,)
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if rows.size == 0:
        return np.zeros(0, np.int64)
    colors = _entry_coloring(rows, cols, max_colors=np.inf)
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
    dev = h.device
    dt = h.dtype if h.dtype in (torch.float32, torch.float64) else torch.float32
    h = h.detach().to(dt)
    m = h.numel()
    if gen is None:
        gen = torch.Generator(device=dev)
        gen.seed()
    X = torch.randint(0, 2, (n_chains, m), generator=gen, device=dev).to(dt) * 2 - 1
    if m == 0 or n_sweeps == 0:
        return X
    if colors is None:
        colors = rook_coloring(rows, cols)
    colors = np.asarray(colors, dtype=np.int64)
    order = np.argsort(colors, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(colors))]
    rows_t = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=dev)
    cols_t = torch.as_tensor(np.asarray(cols, dtype=np.int64), device=dev)
    nr, nc = int(rows_t.max()) + 1, int(cols_t.max()) + 1
    R = torch.zeros((n_chains, nr), dtype=dt, device=dev).index_add_(1, rows_t, X)
    C = torch.zeros((n_chains, nc), dtype=dt, device=dev).index_add_(1, cols_t, X)
    order_t = torch.as_tensor(order, device=dev)
    groups = []
    for c in range(bounds.size - 1):  # colours (few), not their members
        idx = order_t[bounds[c] : bounds[c + 1]]
        groups.append((idx, rows_t[idx], cols_t[idx], h[idx]))
    J = float(J)
    b = float(beta)
    for _ in range(int(n_sweeps)):  # sweeps
        for idx, r, k, hc in groups:  # colours
            x = X[:, idx]
            loc = (R[:, r] + C[:, k] - 2.0 * x) * J + hc
            u = torch.rand(x.shape, generator=gen, device=dev, dtype=dt)
            new = accept_torch(x, loc, u, b, update)
            delta = new - x
            X[:, idx] = new
            R[:, r] += delta  # distinct rows and columns within a colour
            C[:, k] += delta
    return X
