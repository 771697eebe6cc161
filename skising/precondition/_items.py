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

# GMRES proxy of the SAI task loss ``loss="krylov"``: Arnoldi steps and right-hand sides
_KRYLOV_STEPS = 10
_KRYLOV_PROBES = 2


def _scale_of(A):
    """The power of 4 nearest ``max |A_ij|`` (1 for an all-zero matrix).

    Every computation of the task runs on ``A / scale``: dividing by a power of
    two is exact, so nothing changes for well-scaled matrices, while squares of
    entries near the ends of float64's range no longer overflow or underflow.
    The features and the losses are invariant to the scale of A; ``M`` of
    ``A`` is ``M`` of ``A / scale`` divided by ``scale`` (``G`` by
    ``sqrt(scale)``, a power of two).
    """
    data = np.abs(A.data) if sp.issparse(A) else np.abs(np.asarray(A))
    amax = float(data.max()) if data.size else 0.0
    if not (np.isfinite(amax) and amax > 0):
        return 1.0
    return float(np.ldexp(1.0, 2 * int(np.round(np.log2(amax) / 2))))


class _Item:
    """One matrix with its candidates, features and entry graph (CPU); ``A`` is stored divided by ``scale``."""

    def __init__(self, A, pattern, keep_diagonal, build_graph=True, features="A", max_candidates=None, form="sai"):
        self.scale = _scale_of(A)
        if self.scale != 1.0:
            A = A * (1.0 / self.scale)
        self.A = A
        self.n = A.shape[0]
        self.form = form
        self.rows, self.cols = candidate_pattern(A, pattern, keep_diagonal, max_candidates)
        self.x = entry_features(A, self.rows, self.cols, pattern, features, max_candidates, _mstar=form != "fsai")
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

    def losses(self, keep, keep_diagonal, form="sai", loss="frobenius"):
        """Task loss of each (sample, matrix): keep (K, m) bool -> (K, G).

        ``form="sai"``: ``||AM - I||_F`` (``loss="frobenius"``) or the GMRES
        residual proxy of :meth:`krylov` (``loss="krylov"``);
        ``form="fsai"``: the normalised log Kaporin number
        ``-(1/n) sum_i log(a_ii y_i)`` (see :mod:`._fsai`).
        """
        if form == "sai":
            if loss == "krylov":
                return self.krylov(keep, keep_diagonal)
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

    def krylov(self, keep, keep_diagonal, steps=_KRYLOV_STEPS, probes=_KRYLOV_PROBES):
        """GMRES proxy of each (sample, matrix): keep (K, m) bool -> (K, G).

        ``log10`` of the relative residual of right-preconditioned GMRES on
        ``A M`` after ``steps`` iterations (the minimum over the Krylov space,
        no restart), averaged over ``probes`` standard normal right-hand sides
        (the same for every sample, so samples are compared on equal terms).
        All (sample, matrix) systems run at once as one block-diagonal
        Arnoldi process whose inner products are per-block sums: no loop over
        matrices; the loop is over the ``steps`` Arnoldi steps.
        """
        K = keep.shape[0]
        N, G = self.N, self.G
        _, (r, c, vals) = self.residuals(keep, keep_diagonal)
        NK = K * N
        AM = (self.A_rep(K) @ sp.csc_matrix((vals, (r, c)), shape=(NK, NK))).tocsr()
        grp = np.repeat(np.arange(K), N) * G + np.tile(self.col_matrix, K)
        S = sp.csr_matrix((np.ones(NK), (grp, np.arange(NK))), shape=(K * G, NK))  # per-block sums
        P = int(probes)
        V = np.tile(np.random.default_rng(0).standard_normal((N, P)), (K, 1))
        V /= np.sqrt(S @ V**2)[grp]
        basis = [V]
        H = np.zeros((K * G, P, steps + 1, steps))
        for j in range(steps):  # Arnoldi steps (modified Gram-Schmidt)
            w = AM @ basis[j]
            for i in range(j + 1):
                h = S @ (w * basis[i])
                w -= h[grp] * basis[i]
                H[:, :, i, j] = h
            hn = np.sqrt(S @ w**2)
            H[:, :, j + 1, j] = hn
            basis.append(w / np.maximum(hn, 1e-300)[grp])
        e1 = np.zeros((K * G, P, steps + 1, 1))
        e1[..., 0, 0] = 1.0
        Ht, et = torch.as_tensor(H), torch.as_tensor(e1)
        y = torch.linalg.lstsq(Ht, et, driver="gelsd").solution
        res = torch.linalg.norm((et - Ht @ y)[..., 0], dim=-1).numpy()  # (K G, P)
        return np.log10(np.maximum(res, 1e-12)).mean(1).reshape(K, G)

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
