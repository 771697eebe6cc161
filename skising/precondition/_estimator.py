r"""SAIPreconditioner: learned sparsity patterns of sparse approximate inverses.

Paper Section 4.4 / Appendix F. Every candidate entry of ``M`` (the
a-priori pattern, minus the diagonal, which is always kept) is an Ising node;
entries sharing a row or a column are coupled (``coupling = -0.4``: kept
entries spread over rows and columns). A GCNII field model maps entry
features (``A_ij``, ``(A^2)_ij``) to the field ``h``; a sample of the Ising
model is the pattern; the values of ``M`` are the column least-squares
solutions of :math:`\min \|A m_k - e_k\|_2` (eq. 28) and the task loss is
:math:`\|AM - I\|_F` (eq. 23). Training is the shared RLOO loop.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import StrOptions

from .._base import BaseIsingEstimator, Int
from ._field import EntryGCNII, PriorField
from ._inference import _SAIInference
from ._items import _Batch, _check_spd_pattern, _Item
from ._pattern import FEATURES, check_matrix, n_entry_features
from ._refine import refine_patterns

__all__ = ["SAIPreconditioner"]

# matrices used to calibrate the field offset to the target kept fraction
_CALIBRATION_MATRICES = 256


class SAIPreconditioner(_SAIInference, TransformerMixin, BaseIsingEstimator):
    r"""Sparse approximate inverse with an Ising-sampled, learned pattern.

    ``fit`` learns a field model on a collection of (small) matrices;
    ``transform(A)`` samples a pattern for any matrix ``A`` (also much larger
    than the training ones), computes the values and returns ``M`` as a
    :class:`scipy.sparse.linalg.LinearOperator`, usable as ``M=`` in scipy's
    Krylov solvers:

    * ``form="sai"`` (default): ``M`` minimises ``||AM - I||_F`` on the
      pattern, column by column (eq. 28); ``M`` is not symmetric, so it
      serves ``gmres``/``bicgstab``/``gcrotmk``, not ``cg``/``minres``
      (``transform(A, solver="cg")`` refuses). The CSR matrix is ``M_``.
    * ``form="fsai"``: factorized sparse approximate inverse
      ``M = G^T G`` of a symmetric positive definite ``A`` (``G`` lower
      triangular, Kolotilina-Yeremin values, pattern sampled from the
      strictly lower candidates); ``M`` is SPD, so it serves ``cg`` and
      ``minres``. Training minimises the normalised log Kaporin number
      of ``G A G^T``. The factor is ``G_``.

    Parameters
    ----------
    pattern : {"A2", "full", "A"} or sparse matrix, default="A2"
        A-priori pattern of M: ``"A2"`` = pattern of ``A + A^2`` (Setting 1),
        ``"full"`` = all ``n^2`` entries (Settings 2 and 3, small matrices
        only), ``"A"`` = pattern of A, or a user pattern (same shape as every
        matrix).
    keep_diagonal : bool, default=True
        Always keep the diagonal of M and leave it out of the Ising graph.
        The paper's ISING row is reproduced only this way; with the diagonal
        as an Ising node a constant-field Ising model equals RANDOM.
    features : {"lstsq", "A"}, default="lstsq"
        Entry features of the field model. ``"A"`` (the paper's): ``|A_ij|``
        and ``|(A^2)_ij|``. ``"lstsq"`` (default: the priors rank by its
        ``|M*|`` and ``|G*|``) adds three that see the
        least-squares problem: ``|M*_ij|`` of the least-squares inverse on
        all candidates (scaled by its column maximum and by its overall
        maximum) and the greedy-SPAI score of the entry from a diagonal
        start (see :func:`~skising.precondition.entry_features`); it costs
        one extra batched least-squares solve per matrix.
    form : {"sai", "fsai"}, default="sai"
        ``"sai"``: unsymmetric ``M`` for GMRES/BiCGSTAB; ``"fsai"``:
        ``M = G^T G`` for CG/MINRES on symmetric positive definite matrices
        (fit and transform reject matrices that are not symmetric or whose
        row systems are not positive definite).
    max_candidates : int or None, default=32
        At most this many off-diagonal candidates per column of M: entries
        of A first (largest ``|A_ij|`` if a column of A alone has more), then
        the largest ``(|A|^2)_ij``, with ``A^2`` formed from A's columns cut
        to their ``max_candidates`` largest entries. This bounds the setup
        cost to ``O(n max_candidates^2)`` whatever the density of A's rows
        and columns; the paper's 30 x 30 matrices never reach it. None: all
        of ``A + A^2``. Ignored for ``pattern="full"`` and user patterns.
    decode : {"sample", "top"}, default="top"
        How ``transform`` turns the learned field into a pattern:
        ``"sample"`` draws it from the Ising model (the paper's);
        ``"top"`` keeps the candidates with the largest field (``fraction``
        of them, else ``target_fraction``; all with ``h > 0`` when both are
        None), deterministic (the default: on held-out matrices it needs
        fewer GMRES iterations than a sample of the same field). Training
        always samples.
    prior : {"auto", "top", "A"} or None, default="auto"
        Parameterise the field as a static score plus a learned correction,
        ``h = a log(s + eps) + correction`` (:class:`PriorField`). ``"auto"``:
        ``"A"`` for ``form="sai"`` and ``"top"`` for ``form="fsai"`` (the
        static rules that need the fewest iterations on the shared matrices,
        see ``doc/precondition.md``). ``"top"``:
        ``s`` is ``|M*_ij|`` scaled by its maximum (the ``TOP |M*|`` rule;
        ``|G*_ij|`` of the FSAI on all candidates with ``form="fsai"``; needs
        ``features="lstsq"``); ``"A"``: the entries of A first, each
        group ordered by ``|M*_ij|`` (by ``|A_ij|`` with ``features="A"``),
        so at the nnz of A it keeps the pattern of A (static ``SPAI(A)``).
        The correction's read-out starts at zero, so an untrained model with
        ``decode="top"`` keeps exactly the static rule's entries. The default
        correction is an :class:`EntryGCNII` with 2 layers of 32 channels.
    loss : {"frobenius", "krylov"}, default="frobenius"
        Task loss of ``form="sai"`` training: ``||AM - I||_F`` (eq. 23) or
        ``"krylov"``, the ``log10`` relative residual of 10 GMRES steps on
        ``A M`` with two fixed random right-hand sides (closer to what a
        solver sees; see ``_Batch.krylov``).
    field_model : None, torch.nn.Module subclass or instance
        Called as ``model(features, rows, cols, batch) -> h`` (see
        :class:`EntryGCNII`, the default: 4 layers, 64 hidden, alpha 0.1,
        theta 0.5).
    coupling : float, default=-0.4
        J between entries sharing a row or column.
    beta : float, default=1.0
        Inverse temperature of eq. 1 (the sampler is exact for eq. 1; the
        paper's printed Algorithm 1 corresponds to ``2 * beta``).
    target_fraction : float or None, default=0.5
        Fraction of the candidates to keep (magnetisation penalty, eq. 16).
    penalty : float, default=1.0
        Weight of the magnetisation penalty.
    n_samples : int, default=2
        RLOO samples K.
    n_sweeps : int, default=3
        Sampler sweeps T.
    update : {"metropolis", "heat_bath"}
    max_epochs : int, default=0
        Training epochs. The default 0 keeps the prior (``prior="auto"``)
        untrained: on the leave-matrices-out folds of
        ``benchmarks/bench_sai_solvers.py`` every training variant measured
        (Frobenius or GMRES-proxy loss, windows or multi-scale training sets,
        1-4 epochs) needed more GMRES iterations on the held-out matrices
        than the prior alone (``doc/precondition.md``). With ``prior=None``
        (the paper's model) set ``max_epochs`` to train it.
    lr : float, default=0.01
    batch_size : int, default=32
        Matrices per optimisation step.
    transform_samples : int, default=1
        ``transform`` draws this many patterns and keeps the one with the
        lowest ``||AM - I||_F``.
    refine_steps : int, default=0
        Optional local search after sampling, in ``transform`` and
        ``evaluate`` (not in training): ``refine_steps`` rounds of
        :func:`~skising.precondition.swap_refine_dense`, which swaps entries
        within columns and moves entries between columns while keeping the
        number of entries of M, accepting only moves that lower the residual.
        0 (default) returns the Ising sample as drawn. It works on dense
        columns, so it is meant for ``n <= 2000`` (``transform`` raises
        ``ValueError`` above that) and needs ``keep_diagonal=True``.
    refine_pairs : int, default=4
        Entries moved between columns per matrix in one transfer round of
        the refinement.
    refine_train : bool, default=False
        Also refine every training sample (``refine_steps`` rounds) and use
        the residual of the refined pattern as the RLOO task loss, so that
        the field learns starting patterns for the refinement (the loss stays
        a black box of the sample; the refinement keeps its number of
        entries, so the magnetisation penalty is unchanged).
    device : str, default="cpu"
    random_state : int or None
    verbose : int

    Attributes
    ----------
    field_model_ : torch.nn.Module
    history_ : list of dict
        Per-epoch training loss, penalty, seconds (and validation score).
    M_ : scipy.sparse.csr_matrix
        The approximate inverse built by the last ``transform``
        (``G_.T @ G_`` for ``form="fsai"``).
    G_ : scipy.sparse.csr_matrix
        The lower-triangular FSAI factor of the last ``transform``
        (``form="fsai"`` only).
    kept_fraction_ : float
        Fraction of the candidates kept by the last ``transform``.
    field_offset_ : float
        Constant added to the learned field at inference, calibrated after
        training so that samples keep ``target_fraction`` of the candidates
        on the validation matrices (else the first 256 training matrices):
        eq. 16 controls ``mean tanh(beta h)``, and the couplings move the
        sampled fraction away from it. 0 when ``target_fraction`` is None or
        ``max_epochs=0``.

    Examples
    --------
    >>> import numpy as np, pyamg, scipy.sparse as sp
    >>> from scipy.sparse.linalg import gmres
    >>> from skising.datasets import make_banded_binary_matrices
    >>> from skising.precondition import SAIPreconditioner
    >>> est = SAIPreconditioner(max_epochs=1, random_state=0).fit(make_banded_binary_matrices(8))
    >>> A = pyamg.gallery.poisson((20, 20), format="csr")
    >>> M = est.transform(A)
    >>> x, info = gmres(A, np.ones(400), M=M, rtol=1e-8)
    >>> info
    0

    For CG, the symmetric form:

    >>> from scipy.sparse.linalg import cg
    >>> spd = [sp.csr_matrix(m + m.T + 30 * sp.eye(30)) for m in make_banded_binary_matrices(8)]
    >>> est = SAIPreconditioner(form="fsai", max_epochs=1, random_state=0).fit(spd)
    >>> x, info = cg(A, np.ones(400), M=est.transform(A, solver="cg"), rtol=1e-8)
    >>> info
    0
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseIsingEstimator._parameter_constraints,
        "pattern": [StrOptions({"A2", "A", "full"}), "sparse matrix"],
        "keep_diagonal": ["boolean"],
        "features": [StrOptions(set(FEATURES))],
        "form": [StrOptions({"sai", "fsai"})],
        "max_candidates": [None, Int(1)],
        "decode": [StrOptions({"sample", "top"})],
        "prior": [None, StrOptions({"auto", "top", "A"})],
        "loss": [StrOptions({"frobenius", "krylov"})],
        "transform_samples": [Int(1)],
        "refine_steps": [Int(0)],
        "refine_pairs": [Int(1)],
        "refine_train": ["boolean"],
    }

    def __init__(
        self,
        pattern="A2",
        keep_diagonal=True,
        features="lstsq",
        form="sai",
        max_candidates=32,
        decode="top",
        prior="auto",
        loss="frobenius",
        field_model=None,
        coupling=-0.4,
        beta=1.0,
        target_fraction=0.5,
        penalty=1.0,
        n_samples=2,
        n_sweeps=3,
        update="metropolis",
        max_epochs=0,
        lr=0.01,
        batch_size=32,
        transform_samples=1,
        refine_steps=0,
        refine_pairs=4,
        refine_train=False,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.pattern = pattern
        self.keep_diagonal = keep_diagonal
        self.features = features
        self.form = form
        self.max_candidates = max_candidates
        self.decode = decode
        self.prior = prior
        self.loss = loss
        self.field_model = field_model
        self.coupling = coupling
        self.beta = beta
        self.target_fraction = target_fraction
        self.penalty = penalty
        self.n_samples = n_samples
        self.n_sweeps = n_sweeps
        self.update = update
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.transform_samples = transform_samples
        self.refine_steps = refine_steps
        self.refine_pairs = refine_pairs
        self.refine_train = refine_train
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ validation
    def _check_params(self):
        if self.refine_train and not self.refine_steps:
            raise ValueError("refine_train: needs refine_steps > 0")
        if self.refine_steps and not self.keep_diagonal:
            raise ValueError("refine_steps: the refinement keeps the diagonal fixed; it needs keep_diagonal=True")
        if self.form == "fsai" and (self.refine_steps or not self.keep_diagonal):
            raise ValueError("form: 'fsai' keeps the diagonal of G and has no refinement; "
                             "use keep_diagonal=True and refine_steps=0")
        if self._prior() == "top" and self.features != "lstsq":
            raise ValueError("prior: 'top' ranks by |M*|, which needs features='lstsq'")
        if self.loss == "krylov" and self.form != "sai":
            raise ValueError("loss: 'krylov' is the GMRES proxy of form='sai'; form='fsai' trains on the Kaporin loss")

    def _matrices(self, X, name="X"):
        if sp.issparse(X) or (isinstance(X, np.ndarray) and X.ndim == 2):
            X = [X]
        elif isinstance(X, np.ndarray) and X.ndim == 3:
            X = list(X)
        elif not isinstance(X, (list, tuple)):
            raise TypeError(f"{name}: expected a matrix or a list of square matrices, got {type(X).__name__}")
        if len(X) == 0:
            raise ValueError(f"{name}: empty list of matrices")
        mats = [check_matrix(A, name=f"{name}[{i}]") for i, A in enumerate(X)]
        if getattr(self, "form", "sai") == "fsai":
            for i, A in enumerate(mats):  # loop over matrices
                _check_spd_pattern(A, f"{name}[{i}]")
        return mats

    def _in_channels(self):
        return n_entry_features(self.pattern, self.features)

    def _prior(self):
        """The static rule of the prior (``"auto"`` resolved), or None."""
        if self.prior == "auto":
            return "top" if self.form == "fsai" and self.features == "lstsq" else "A"
        return self.prior

    def _default_model(self):
        F = self._in_channels()
        prior = self._prior()
        if prior:
            # feature columns: 0 |A_ij|, 3 |M*_ij| / max |M*| (features="lstsq")
            score = 3 if self.features == "lstsq" else 0
            return PriorField(EntryGCNII(F, hidden=32, n_layers=2), prior_column=score,
                              pattern_column=0 if prior == "A" else None)
        return EntryGCNII(F)

    def _item(self, A, build_graph=True):
        cap = None if not isinstance(self.pattern, str) or self.pattern == "full" else self.max_candidates
        return _Item(A, self.pattern, bool(self.keep_diagonal), build_graph, self.features, cap, self.form)

    # ------------------------------------------------------------ hooks
    def _collate(self, items):
        return _Batch(items, self._device, int(self.n_samples))

    def _field(self, batch):
        return self.field_model_(batch.x, batch.t_rows, batch.t_cols, batch.ent_batch)

    def _task_loss(self, x, batch):
        keep = (x > 0).cpu().numpy()
        if self.refine_train:
            off = np.cumsum([0] + [it.m for it in batch.items])
            parts = [keep[:, off[i] : off[i + 1]] for i in range(batch.G)]
            _, rr = refine_patterns(batch.items, parts, int(self.refine_steps), int(self.refine_pairs))
            return torch.as_tensor(np.stack(rr, axis=1), dtype=torch.float32)  # (K, G)
        res = batch.losses(keep, bool(self.keep_diagonal), self.form, getattr(self, "loss", "frobenius"))
        return torch.as_tensor(res, dtype=torch.float32)

    def _validation_score(self, items):
        """Minus the mean validation ``||AM - I||_F`` at the calibrated kept fraction.

        With a ``target_fraction`` every epoch is scored after the same
        field-offset calibration that ``fit`` applies at the end, so epochs are
        compared at (about) the same kept fraction, not at whatever fraction
        their raw field keeps (more entries always lower the residual).
        """
        if self.target_fraction is not None:
            calib = [it for it in items if it.m > 0][:_CALIBRATION_MATRICES]
            saved = getattr(self, "field_offset_", 0.0)
            self.field_offset_ = self._calibrate_offset(calib, float(self.target_fraction), steps=8) if calib else 0.0
            try:
                return -float(np.mean(self._evaluate_items(items)))
            finally:
                self.field_offset_ = saved
        return -float(np.mean(self._evaluate_items(items)))

    # ------------------------------------------------------------ fit hooks
    def _fit_data(self, X, y, X_val, y_val):
        """Square matrices ``X`` (sparse or dense; ``y`` ignored); ``X_val``: validation matrices, the epoch
        with the lowest mean ``||AM - I||_F`` on them is kept."""
        self._no_validation_data(None, y_val)
        mats = self._matrices(X)
        if sp.issparse(self.pattern) and any(A.shape != self.pattern.shape for A in mats):
            raise ValueError(f"pattern: a user pattern of shape {self.pattern.shape} needs matrices of that shape")
        self.n_features_in_ = self._in_channels()
        self.field_offset_ = 0.0
        if self._fit_epochs == 0:  # nothing to train or calibrate: the matrices are checked, not featurised
            if X_val is not None:
                self._matrices(X_val, "X_val")
            return [], None
        items = [self._item(A) for A in mats]
        if sum(it.m for it in items) == 0:
            raise ValueError("pattern: no off-diagonal candidate entries in any matrix; nothing to learn")
        val = None
        if X_val is not None:
            val = [self._item(A) for A in self._matrices(X_val, "X_val")]
        return [it for it in items if it.m > 0], val

    def _build_field_model(self):
        return self._default_model()

    def _after_train(self, items, val):
        """Calibrate ``field_offset_`` to ``target_fraction`` on the validation (else the training) matrices."""
        if self.target_fraction is not None and self.max_epochs > 0:
            calib = [it for it in (val if val else items) if it.m > 0][:_CALIBRATION_MATRICES]
            if calib:
                self.field_offset_ = self._calibrate_offset(calib, float(self.target_fraction))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
