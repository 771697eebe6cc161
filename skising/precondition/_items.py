"""Data adapter of the SAI task: one matrix with its candidates and features, and batches of them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..graph import batch_graphs
from ._fsai import fsai_factor, fsai_features, kaporin_loss
from ._lstsq import sai_lstsq
from ._pattern import candidate_pattern, entry_features, entry_graph

__all__ = ["_Item", "_Batch", "_check_spd_pattern"]


class _Item:
    """One matrix with its candidates, features and entry graph (CPU)."""

    def __init__(self, A, pattern, keep_diagonal, build_graph=True, features="A", max_candidates=None, form="sai"):
        self.A = A
        self.n = A.shape[0]
        self.form = form
        self.rows, self.cols = candidate_pattern(A, pattern, keep_diagonal, max_candidates)
        self.x = entry_features(A, self.rows, self.cols, pattern, features, max_candidates)
        if form == "fsai":
            # G is lower triangular: its candidates are the strictly lower ones
            # (features computed on the whole, symmetric candidate set)
            low = self.rows > self.cols
            self.rows, self.cols, self.x = self.rows[low], self.cols[low], self.x[torch.as_tensor(low)]
            if features == "lstsq" and self.rows.size:
                # the FSAI analogue of |M*|: |G*| of the FSAI on all candidates
                self.x[:, 2:4] = torch.as_tensor(np.stack(fsai_features(A, self.rows, self.cols), 1),
                                                 dtype=self.x.dtype)
        self._graph = None
        if build_graph:
            self._graph = entry_graph(self.rows, self.cols, x=self.x)

    @property
    def graph(self):
        """The explicit entry graph (built on first use)."""
        if self._graph is None:
            self._graph = entry_graph(self.rows, self.cols, x=self.x)
        return self._graph

    @property
    def m(self):
        return self.rows.size


class _Batch:
    def __init__(self, items, device, K):
        self.items = items
        off = np.cumsum([0] + [it.n for it in items])
        self.N = int(off[-1])
        self.G = len(items)
        self.rows = np.concatenate([it.rows + o for it, o in zip(items, off[:-1])])
        self.cols = np.concatenate([it.cols + o for it, o in zip(items, off[:-1])])
        self.col_matrix = np.repeat(np.arange(self.G), [it.n for it in items])
        self.graph = batch_graphs([it.graph for it in items]).to(device)
        self.x = self.graph.x.to(device)
        self.t_rows = torch.as_tensor(self.rows, device=device)
        self.t_cols = torch.as_tensor(self.cols, device=device)
        self.ent_batch = self.graph.batch_vector.to(device)
        self.A = sp.block_diag([it.A for it in items], format="csc")
        self._rep = {}

    def A_rep(self, K):
        if K not in self._rep:
            self._rep[K] = sp.block_diag([self.A] * K, format="csc") if K > 1 else self.A
        return self._rep[K]

    def losses(self, keep, keep_diagonal, form="sai"):
        """Task loss of each (sample, matrix): keep (K, m) bool -> (K, G).

        ``form="sai"``: ``||AM - I||_F``; ``form="fsai"``: the normalised
        log Kaporin number ``-(1/n) sum_i log(a_ii y_i)`` (see :mod:`._fsai`).
        """
        if form == "sai":
            return self.residuals(keep, keep_diagonal)[0]
        K = keep.shape[0]
        N = self.N
        s_idx, e_idx = np.nonzero(keep)
        r = self.rows[e_idx] + s_idx * N
        c = self.cols[e_idx] + s_idx * N
        A = self.A_rep(K)
        _, y = fsai_factor(A, r, c)
        per_row = kaporin_loss(np.tile(self.A.diagonal(), K), y)
        per = np.zeros((K, self.G))
        np.add.at(per, (np.repeat(np.arange(K), N), np.tile(self.col_matrix, K)), per_row)
        sizes = np.bincount(self.col_matrix, minlength=self.G)
        return per / sizes[None, :]

    def residuals(self, keep, keep_diagonal):
        """Frobenius residual of each (sample, matrix): keep (K, m) bool -> (K, G)."""
        K = keep.shape[0]
        N = self.N
        s_idx, e_idx = np.nonzero(keep)
        r = self.rows[e_idx] + s_idx * N
        c = self.cols[e_idx] + s_idx * N
        if keep_diagonal:
            d = np.arange(K * N, dtype=np.int64)
            r, c = np.concatenate([r, d]), np.concatenate([c, d])
        o = np.lexsort((r, c))
        r, c = r[o], c[o]
        vals, res2 = sai_lstsq(self.A_rep(K), r, c)
        per = np.zeros((K, self.G))
        np.add.at(per, (np.repeat(np.arange(K), N), np.tile(self.col_matrix, K)), res2)
        return np.sqrt(per), (r, c, vals)


def _check_spd_pattern(A, name):
    """Symmetric with a positive diagonal: what ``form="fsai"`` needs before its per-row Cholesky checks."""
    amax = float(np.abs(A.data).max()) if A.nnz else 1.0
    if A.nnz and abs(A - A.T).max() > 1e-10 * amax:
        raise ValueError(f"{name}: form='fsai' needs a symmetric positive definite matrix; this one is not symmetric")
    if (A.diagonal() <= 0).any():
        i = int(np.flatnonzero(A.diagonal() <= 0)[0])
        raise ValueError(f"{name}: form='fsai' needs a symmetric positive definite matrix; diagonal entry {i} is <= 0")
