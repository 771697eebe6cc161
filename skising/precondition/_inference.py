"""SAIPreconditioner's inference: calibration, sampling or decoding of patterns, the operator, evaluation."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import aslinearoperator

from .._seeds import item_key, stream_generator
from .._validation import check_int
from ..sampling import GraphCouplings, RookCouplings, rook_num_edges
from ._fsai import FSAIOperator, TorchSparseOperator, fsai_factor, kaporin_loss
from ._items import _Batch, _check_spd_pattern
from ._pattern import check_matrix
from ._refine import refine_patterns

# entry graphs with more edges than this are sampled without building them (RookCouplings)
_ROOK_MIN_EDGES = 500_000
# largest matrix the (dense) pattern refinement accepts
_REFINE_MAX_N = 2000


class _SAIInference:
    """The fitted :class:`~skising.precondition.SAIPreconditioner`'s calibration and inference methods."""

    def _kept_fraction(self, items, offset):
        """Mean kept fraction per matrix of one sample at field + offset (fixed random numbers)."""
        gen = self._fresh_generator()
        frac = []
        bs = max(int(self.batch_size), 64)
        with torch.no_grad():
            for s in range(0, len(items), bs):  # batches of matrices
                b = _Batch(items[s : s + bs], self._device, 1)
                h = self._field(b).float() + offset
                x = self._sample_with(b.graph, h, 1, gen)[0]
                ent = b.ent_batch
                kept = torch.zeros(b.G, device=x.device).index_add_(0, ent, (x > 0).float())
                frac.append(kept / torch.bincount(ent, minlength=b.G).clamp_min(1))
        return float(torch.cat(frac).mean())

    def _calibrate_offset(self, items, fraction, steps=12):
        """Constant added to the learned field so that samples keep ``fraction`` on ``items``.

        The magnetisation penalty (eq. 16) controls ``mean tanh(beta h)``, the
        kept fraction of the field alone; the couplings move the sampled
        fraction away from it (58% instead of 50% in Setting 1). Bisection on
        one constant, with the same random numbers at every step, on the
        validation matrices (else the first training matrices).
        """
        lo, hi = -1.0, 1.0
        for _ in range(20):  # bracket
            if self._kept_fraction(items, lo) <= fraction:
                break
            lo *= 2.0
        for _ in range(20):
            if self._kept_fraction(items, hi) >= fraction:
                break
            hi *= 2.0
        for _ in range(steps):  # bisection steps
            mid = 0.5 * (lo + hi)
            if self._kept_fraction(items, mid) < fraction:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    # ------------------------------------------------------------ inference
    def _sample_with(self, graph, h, n, gen):
        """``n`` samples of ``graph`` (one matrix's entry graph or a batch's) in the field ``h``, drawn from ``gen``."""
        J = float(self.coupling) * graph.weight.to(device=h.device, dtype=torch.float32)
        return GraphCouplings(graph, J, device=h.device).sample(h.detach(), n, int(self.n_sweeps), float(self.beta),
                                                                self.update, "random", gen)

    def _sample_items(self, b, h, n):
        """``n`` samples of every matrix of the batch ``b`` (field ``h``), each matrix from its own
        ``"evaluate"`` stream (seed and content), so its result does not depend on the other
        matrices of the call: ``(n, total candidates)``."""
        off = np.cumsum([0] + [it.m for it in b.items])
        xs = []
        for i, it in enumerate(b.items):  # loop over matrices: one random stream each
            if it.m == 0:
                xs.append(torch.zeros((n, 0), device=h.device))
                continue
            gen = stream_generator(self._seed, "evaluate", self._device,
                                   item_key(it.A.indptr, it.A.indices, it.A.data, it.rows, it.cols))
            xs.append(self._sample_with(it.graph, h[off[i] : off[i + 1]], n, gen))
        return torch.cat(xs, 1)

    def _fresh_generator(self):
        from .._validation import check_generator

        return check_generator(self._seed + 1, self._device)

    def _fields(self, item, fraction=None):
        with torch.no_grad():
            dev = self._device
            h = self.field_model_(
                item.x.to(dev),
                torch.as_tensor(item.rows, device=dev),
                torch.as_tensor(item.cols, device=dev),
                torch.zeros(item.m, dtype=torch.long, device=dev),
            ).float() + getattr(self, "field_offset_", 0.0)
        if fraction is not None:
            deg = torch.as_tensor(np.bincount(item.rows, minlength=item.n)[item.rows]
                                  + np.bincount(item.cols, minlength=item.n)[item.cols] - 2, device=h.device)
            eta = 2.0 * float(fraction) - 1.0
            # naive mean field: every neighbour carries the target magnetisation
            h_eff = h + float(self.coupling) * deg.to(h.dtype) * eta
            h = h + _shift_for_fraction(h_eff, float(self.beta), float(fraction))
        return h

    def _sample_item(self, item, n, gen, fraction=None):
        h = self._fields(item, fraction)
        if rook_num_edges(item.rows, item.cols) > _ROOK_MIN_EDGES:
            # large entry graph: sample from row and column sums, never build its edges
            rep = RookCouplings(item.rows, item.cols, float(self.coupling), device=h.device)
        else:
            J = float(self.coupling) * torch.ones(item.graph.num_edges, device=self._device)
            rep = GraphCouplings(item.graph.to(self._device), J, device=self._device)
        x = rep.sample(h, n, int(self.n_sweeps), float(self.beta), self.update, "random", gen)
        return (x > 0).cpu().numpy()

    def _top_item(self, item, fraction=None):
        """The candidates with the largest learned field: ``fraction`` (else ``target_fraction``) of them."""
        h = self._fields(item).cpu().numpy()
        frac = fraction if fraction is not None else self.target_fraction
        k = int(np.count_nonzero(h > 0)) if frac is None else int(round(float(frac) * item.m))
        keep = np.zeros((1, item.m), dtype=bool)
        keep[0, np.argsort(-h, kind="stable")[:k]] = True
        return keep

    def _solve_item(self, item, keep):
        """keep (K, m) -> (best M as CSR (G for FSAI), loss of the best, fraction kept)."""
        if self.form == "fsai":
            best, best_loss, best_G = 0, np.inf, None
            for s in range(keep.shape[0]):  # loop over the transform samples
                G, y = fsai_factor(item.A, item.rows[keep[s]], item.cols[keep[s]])
                loss = float(kaporin_loss(item.A.diagonal(), y).mean())
                if loss < best_loss:
                    best, best_loss, best_G = s, loss, G
            return best_G, best_loss, float(keep[best].mean()) if item.m else 1.0
        b = _Batch.__new__(_Batch)
        b.items, b.N, b.G = [item], item.n, 1
        b.rows, b.cols = item.rows, item.cols
        b.col_matrix = np.zeros(item.n, dtype=np.int64)
        b.A = sp.csc_matrix(item.A)
        b._rep = {}
        res, (r, c, vals) = b.residuals(keep, bool(self.keep_diagonal))
        best = int(np.argmin(res[:, 0]))
        sel = (c // item.n) == best
        n = item.n
        M = sp.csc_matrix((vals[sel], (r[sel] - best * n, c[sel] - best * n)), shape=(n, n)).tocsr()
        return M, float(res[best, 0]), float(keep[best].mean()) if item.m else 1.0

    def _evaluate_items(self, items, n_samples=1, return_fraction=False):
        """Residual ``||AM - I||_F`` of one sampled pattern per matrix (fields batched).

        With ``n_samples > 1`` the best of that many patterns per matrix.
        """
        res, frac = [], []
        bs = max(int(self.batch_size), 64)
        with torch.no_grad():
            for s in range(0, len(items), bs):  # batches of matrices
                b = _Batch(items[s : s + bs], self._device, 1)
                h = self._field(b).float() + getattr(self, "field_offset_", 0.0)
                x = self._sample_items(b, h, int(n_samples))
                keep = (x > 0).cpu().numpy()
                if int(getattr(self, "refine_steps", 0)):
                    off = np.cumsum([0] + [it.m for it in b.items])
                    parts = [keep[:, off[i] : off[i + 1]] for i in range(b.G)]
                    parts, rr = refine_patterns(b.items, parts, int(self.refine_steps), int(self.refine_pairs))
                    keep = np.concatenate(parts, axis=1)
                    r = np.stack(rr, axis=1)  # (K, G)
                else:
                    r = b.losses(keep, bool(self.keep_diagonal), self.form)  # (K, G)
                best = r.argmin(0)
                res.extend(r[best, np.arange(b.G)].tolist())
                ent = b.ent_batch.cpu().numpy()
                cnt = np.bincount(ent, minlength=b.G)
                kept = np.zeros(b.G)
                np.add.at(kept, ent, keep[best[ent], np.arange(ent.size)])
                frac.extend((kept / np.maximum(cnt, 1)).tolist())
        if return_fraction:
            return np.asarray(res), np.asarray(frac)
        return np.asarray(res)

    def evaluate(self, X, n_samples=1):
        """Per-matrix task loss and kept fraction of sampled patterns.

        The loss is ``||AM - I||_F`` for ``form="sai"`` and the normalised
        log Kaporin number ``-(1/n) sum_i log(a_ii y_i)`` for ``form="fsai"``.

        Parameters
        ----------
        X : list of square matrices
        n_samples : int, default=1
            Best of this many patterns per matrix.

        Returns
        -------
        residuals, fractions : ndarrays of shape (n_matrices,)
        """
        self._check_fitted()
        n_samples = check_int(n_samples, "n_samples", low=1)
        items = [self._item(A) for A in self._matrices(X)]
        res, frac = self._evaluate_items(items, n_samples, return_fraction=True)
        if not np.isfinite(res).all():
            i = int(np.flatnonzero(~np.isfinite(res))[0])
            raise ValueError(f"X[{i}]: the approximate inverse overflows float64 (entries too small or too large); "
                             "rescale the matrix first")
        return res, frac

    def transform(self, A, fraction=None, solver=None):
        """Sample a pattern for ``A`` and return ``M`` as a LinearOperator.

        Parameters
        ----------
        A : square sparse or dense matrix
            Any size: the entry graph is built sparsely (never ``n^2``
            memory for ``pattern="A2"``).
        fraction : float in (0, 1), optional
            Keep about this fraction of the candidates by adding one constant
            to the learned field, solved in the naive mean field so that
            ``mean tanh(beta (h + c + J d eta)) = eta = 2 fraction - 1`` (``d``:
            number of row and column mates of an entry); used to match a given
            ``nnz(M)``. The achieved fraction is ``kept_fraction_``.
        solver : str, optional
            The Krylov solver the operator is meant for. ``"cg"`` and
            ``"minres"`` need a symmetric (positive definite) preconditioner:
            they are refused with ``form="sai"`` (whose ``M`` is not
            symmetric) and served by ``form="fsai"``.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            ``form="sai"``: ``matvec(v) = M_ @ v``, ``rmatvec(v) = M_.T @ v``;
            the CSR matrix is its attribute ``M_``. ``form="fsai"``: an
            :class:`FSAIOperator`, ``matvec(v) = G_.T @ (G_ @ v)`` with the
            lower-triangular factor ``G_`` (also the estimator's ``G_``).
            With a non-CPU ``device`` (e.g. ``"cuda"``): a
            :class:`TorchSparseOperator` whose apply is torch sparse
            matrix-vector products on that device.
        """
        self._check_fitted()
        if solver is not None:
            if not isinstance(solver, str):
                raise TypeError(f"solver: expected a str such as 'gmres' or 'cg', got {type(solver).__name__}")
            if solver.lower() in ("cg", "minres", "pcg") and self.form != "fsai":
                raise ValueError(f"solver: {solver!r} needs a symmetric preconditioner, and form='sai' builds a "
                                 "non-symmetric M; use form='fsai' (M = G^T G) for CG/MINRES, or GMRES/BiCGSTAB")
        if fraction is not None and not (0.0 < float(fraction) < 1.0):
            raise ValueError(f"fraction: expected a value in (0, 1), got {fraction!r}")
        A = check_matrix(A)
        if sp.issparse(self.pattern) and A.shape != self.pattern.shape:
            raise ValueError(f"A: shape {A.shape} does not match the user pattern {self.pattern.shape}")
        if self.form == "fsai":
            _check_spd_pattern(A, "A")
        item = self._item(A, build_graph=False)
        K = int(self.transform_samples)
        if item.m:
            if self.decode == "top":
                keep = self._top_item(item, fraction)
            else:
                keep = self._sample_item(item, K, self._fresh_generator(), fraction)
            if int(self.refine_steps):
                if item.n > _REFINE_MAX_N:
                    raise ValueError(f"refine_steps: the refinement works on dense columns, for n <= {_REFINE_MAX_N}; "
                                     f"A has n={item.n} (use refine_steps=0)")
                keep = refine_patterns([item], [keep], int(self.refine_steps), int(self.refine_pairs))[0][0]
        else:
            keep = np.zeros((1, 0), dtype=bool)
        if self.form == "fsai":
            self.G_, self.residual_, self.kept_fraction_ = self._solve_item(item, keep)
            if item.scale != 1.0:  # G of A / scale, to G of A (sqrt(scale) is a power of two: exact)
                self.G_ = self.G_ * (1.0 / np.sqrt(item.scale))
            op = FSAIOperator(self.G_)
            self.M_ = op.M_
            if self._device.type != "cpu":  # the apply runs on the device
                gpu = TorchSparseOperator([self.G_.T.tocsr(), self.G_], self._device, symmetric=True)
                gpu.G_, gpu.M_ = self.G_, self.M_
                return gpu
            return op
        self.M_, self.residual_, self.kept_fraction_ = self._solve_item(item, keep)
        if item.scale != 1.0:  # M of A / scale, to M of A (a power of two: exact)
            self.M_ = self.M_ * (1.0 / item.scale)
        if not (np.isfinite(self.M_.data).all() and np.isfinite(self.residual_)):
            raise ValueError("A: the approximate inverse overflows float64 (entries of A too small or too large); "
                             "rescale A first, e.g. A / abs(A).max()")
        op = aslinearoperator(self.M_) if self._device.type == "cpu" else TorchSparseOperator([self.M_], self._device)
        op.M_ = self.M_  # the CSR matrix travels with the operator
        return op

    def field(self, A):
        """The learned field on the candidates of ``A`` (``field_offset_`` included): ``(rows, cols, h)``."""
        self._check_fitted()
        A = check_matrix(A)
        item = self._item(A, build_graph=False)
        return item.rows, item.cols, self._fields(item).cpu().numpy()

    def score(self, X, y=None):
        """Minus the mean task loss (see :meth:`evaluate`) over the matrices of ``X`` (higher is better)."""
        self._check_fitted()
        return -float(np.mean(self.evaluate(X)[0]))


def _shift_for_fraction(h, beta, fraction, iters=60):
    """Constant c with ``mean tanh(beta (h + c)) = 2 fraction - 1`` (bisection)."""
    eta = 2.0 * fraction - 1.0
    lo, hi = -50.0 / max(beta, 1e-6) - float(h.max()), 50.0 / max(beta, 1e-6) - float(h.min())
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if float(torch.tanh(beta * (h + mid)).mean()) < eta:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
