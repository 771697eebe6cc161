"""Metric of the sparse-approximate-inverse task (eq. 23)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["sai_residual"]


def sai_residual(A, M):
    r"""Frobenius residual :math:`\|AM - I\|_F` (eq. 23), computed sparsely.

    Parameters
    ----------
    A, M : square sparse or dense matrices of the same shape

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skising.metrics import sai_residual
    >>> A = np.array([[2.0, 0.0], [0.0, 4.0]])
    >>> sai_residual(A, np.diag([0.5, 0.0]))
    1.0
    """
    A = sp.csr_matrix(A, dtype=np.float64) if not sp.issparse(A) else sp.csr_matrix(A)
    M = sp.csr_matrix(M, dtype=np.float64) if not sp.issparse(M) else sp.csr_matrix(M)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A: expected a square matrix, got shape {A.shape}")
    if M.shape != A.shape:
        raise ValueError(f"M: shape {M.shape} does not match A {A.shape}")
    R = (A @ M - sp.identity(A.shape[0], format="csr")).tocsr()
    if not np.isfinite(R.data).all():
        raise ValueError("A, M: the product contains NaN or infinite values")
    return float(np.sqrt((R.data**2).sum()))
