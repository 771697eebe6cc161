"""Matrices for the sparse-approximate-inverse task (paper Section 4.4, App. F).

* :func:`make_banded_binary_matrices` -- Dataset 1: symmetric binary 30 x 30
  matrices whose nonzeros decay away from the diagonal;
* :func:`load_suitesparse_windows` -- Dataset 2: 30 x 30 diagonal windows of
  the SuiteSparse matrices in the data home;
* :func:`read_matrix_market` / :func:`load_suitesparse_matrix` /
  :func:`list_suitesparse` -- MatrixMarket reading;
* :func:`split_matrices` -- the fixed-seed 60/20/20 split.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._home import data_path

__all__ = [
    "make_banded_binary_matrices",
    "load_suitesparse_windows",
    "read_matrix_market",
    "load_suitesparse_matrix",
    "list_suitesparse",
    "split_matrices",
]


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return int(value)


def _check_det_range(det_range):
    try:
        lo, hi = (float(d) for d in det_range)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"det_range: expected a pair of numbers (low, high), got {det_range!r}") from exc
    if not (0 <= lo <= hi):
        raise ValueError(f"det_range: expected 0 <= low <= high, got {det_range!r}")
    return lo, hi


def _accept(mats, max_sparsity, det_range):
    """Boolean mask of the dense (B, n, n) matrices passing the paper's filters."""
    B, n, _ = mats.shape
    zeros = (np.abs(mats) < 1e-12).reshape(B, -1).mean(1)
    with np.errstate(all="ignore"):
        det = np.abs(np.linalg.det(mats))
    return (zeros <= max_sparsity) & (det >= det_range[0]) & (det <= det_range[1]) & np.isfinite(det)


def make_banded_binary_matrices(
    n_matrices=1600,
    size=30,
    *,
    base_prob=0.005,
    peak_prob=0.895,
    decay_power=9.0,
    max_sparsity=0.96,
    det_range=(1e-3, 50.0),
    random_state=0,
):
    r"""Dataset 1 of the paper: random symmetric binary banded matrices.

    Off-diagonal entries at distance :math:`d = |i - j|` are one with
    probability :math:`p(d) = p_0 + p_1 (1 - d / (n - 1))^{k}` (defaults
    :math:`p_0 = 0.005, p_1 = 0.895, k = 9`, which give a mean fraction of
    zeros of about 0.83); the diagonal is always one; the matrix is
    symmetric. Matrices with more than ``max_sparsity`` zeros or with
    :math:`|\det A|` outside ``det_range`` are rejected and redrawn.

    Parameters
    ----------
    n_matrices : int, default=1600
    size : int, default=30
    base_prob, peak_prob, decay_power : float
        The decay profile :math:`p(d)` above.
    max_sparsity : float, default=0.96
        Largest accepted fraction of zero entries.
    det_range : (float, float), default=(1e-3, 50)
        Accepted range of :math:`|\det A|`.
    random_state : int, None or numpy Generator

    Returns
    -------
    list of scipy.sparse.csr_matrix of shape (size, size), float64

    Examples
    --------
    >>> from skising.datasets import make_banded_binary_matrices
    >>> mats = make_banded_binary_matrices(5, random_state=0)
    >>> len(mats), mats[0].shape, bool((mats[0] != mats[0].T).nnz == 0)
    (5, (30, 30), True)
    """
    n_matrices = _check_int(n_matrices, "n_matrices", 1)
    size = _check_int(size, "size", 2)
    for name, v in (("base_prob", base_prob), ("peak_prob", peak_prob)):
        if not (0.0 <= float(v) <= 1.0):
            raise ValueError(f"{name}: expected a probability in [0, 1], got {v!r}")
    if float(base_prob) + float(peak_prob) > 1.0:
        raise ValueError("base_prob + peak_prob: must not exceed 1")
    if not (0.0 < float(max_sparsity) <= 1.0):
        raise ValueError(f"max_sparsity: expected a value in (0, 1], got {max_sparsity!r}")
    lo, hi = _check_det_range(det_range)
    rng = np.random.default_rng(random_state)
    d = np.abs(np.subtract.outer(np.arange(size), np.arange(size)))
    prob = base_prob + peak_prob * np.clip(1.0 - d / (size - 1), 0.0, None) ** float(decay_power)
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    out = []
    tries = 0
    while len(out) < n_matrices:
        B = max(64, 2 * (n_matrices - len(out)))
        draw = (rng.random((B, size, size)) < prob) & upper
        mats = (draw | draw.transpose(0, 2, 1)).astype(np.float64)
        mats[:, np.arange(size), np.arange(size)] = 1.0
        ok = _accept(mats, float(max_sparsity), (lo, hi))
        out.extend(sp.csr_matrix(m) for m in mats[ok][: n_matrices - len(out)])
        tries += 1
        if tries > 1000:  # pragma: no cover - only with absurd filters
            raise ValueError("det_range/max_sparsity: too few random matrices pass these filters")
    return out


# ---------------------------------------------------------------------------
# MatrixMarket
# ---------------------------------------------------------------------------
def read_matrix_market(path):
    """Read a MatrixMarket file into a CSR matrix (``scipy.io.mmread``).

    Pattern matrices get the value 1 at every stored entry; symmetric files
    are expanded to both triangles (done by ``mmread``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    scipy.sparse.csr_matrix (float64)

    Examples
    --------
    >>> import os, tempfile
    >>> import scipy.io, scipy.sparse as sp
    >>> from skising.datasets import read_matrix_market
    >>> path = os.path.join(tempfile.mkdtemp(), "tridiag.mtx")
    >>> scipy.io.mmwrite(path, sp.diags([0.3, 1.0, 0.3], [-1, 0, 1], shape=(90, 90)))
    >>> A = read_matrix_market(path)
    >>> A.shape, A.nnz, A.format
    ((90, 90), 268, 'csr')
    """
    from scipy.io import mmread

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path: MatrixMarket file {p} not found")
    try:
        m = mmread(str(p))
    except Exception as exc:  # scipy raises ValueError/OSError on broken files
        raise ValueError(f"path: {p} is not a valid MatrixMarket file ({exc})") from exc
    if not sp.issparse(m):
        m = sp.csr_matrix(m)
    m = sp.csr_matrix(m, dtype=np.float64)
    m.sum_duplicates()
    return m


def list_suitesparse(data_home=None):
    """Names of the SuiteSparse matrices in ``<data home>/suitesparse`` (sorted).

    Parameters
    ----------
    data_home : str or Path, optional
        Data folder (default: ``$SKISING_DATA`` or ``../shared/data``).

    Returns
    -------
    list of str
        File stems of the ``.mtx`` files, usable as ``names`` in
        :func:`load_suitesparse_windows` and with :func:`load_suitesparse_matrix`.

    Examples
    --------
    Any folder with a ``suitesparse/`` subfolder of MatrixMarket files works
    as a data home:

    >>> import os, tempfile
    >>> import scipy.io, scipy.sparse as sp
    >>> from skising.datasets import list_suitesparse
    >>> home = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(home, "suitesparse"))
    >>> scipy.io.mmwrite(os.path.join(home, "suitesparse", "tridiag.mtx"), sp.eye(4))
    >>> list_suitesparse(data_home=home)
    ['tridiag']
    >>> len(list_suitesparse())  # the shared data  # doctest: +SKIP
    70
    """
    folder = data_path("suitesparse", data_home=data_home)
    return sorted(p.stem for p in folder.glob("*.mtx"))


def load_suitesparse_matrix(name, data_home=None):
    """One SuiteSparse matrix of the data home by name, as CSR float64.

    Parameters
    ----------
    name : str
        File stem of the matrix, i.e. ``suitesparse/<name>.mtx`` in the data
        home (see :func:`list_suitesparse`).
    data_home : str or Path, optional
        Data folder (default: ``$SKISING_DATA`` or ``../shared/data``).

    Returns
    -------
    scipy.sparse.csr_matrix
        The matrix, read by :func:`read_matrix_market` (float64).

    Raises
    ------
    TypeError
        If ``name`` is not a str.
    FileNotFoundError
        If the data home has no such file.

    Examples
    --------
    >>> from skising.datasets import load_suitesparse_matrix
    >>> load_suitesparse_matrix("bcsstk01").shape  # doctest: +SKIP
    (48, 48)
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a matrix name (str), got {type(name).__name__}")
    return read_matrix_market(data_path("suitesparse", f"{name}.mtx", data_home=data_home))


def load_suitesparse_windows(
    size=30,
    *,
    max_per_matrix=60,
    max_sparsity=0.96,
    det_range=(1e-3, 50.0),
    names=None,
    random_state=0,
    return_names=False,
    data_home=None,
):
    """Dataset 2 of the paper: diagonal windows of SuiteSparse matrices.

    Every matrix is cut into non-overlapping ``size x size`` windows along
    its diagonal; each window is symmetrised from its upper triangle
    (``W = triu(W) + triu(W, 1).T``), scaled to ``max |w| = 1``, and kept
    when not all its entries are below 1e-6 in magnitude, when at most
    ``max_sparsity`` of its entries are zero and when ``|det W|`` lies in
    ``det_range``.

    Uncapped, one road network (``luxembourg_osm``) supplies about three
    quarters of all windows, so at most ``max_per_matrix`` windows are taken
    from each matrix (a random subset, seeded by ``random_state``, when more
    pass the filters). Pass ``max_per_matrix=None`` for the uncapped set.

    Parameters
    ----------
    size : int, default=30
    max_per_matrix : int or None, default=60
    max_sparsity : float, default=0.96
    det_range : (float, float), default=(1e-3, 50)
    names : list of str, optional
        Restrict to these matrices (default: every ``.mtx`` in the folder).
    random_state : int
    return_names : bool, default=False
        Also return the source matrix name of every window.
    data_home : str or Path, optional

    Returns
    -------
    windows : list of scipy.sparse.csr_matrix
    sources : list of str
        Only when ``return_names`` is True.

    Examples
    --------
    A 90 x 90 tridiagonal matrix in a temporary data home gives three
    30 x 30 windows:

    >>> import os, tempfile
    >>> import scipy.io, scipy.sparse as sp
    >>> from skising.datasets import load_suitesparse_windows
    >>> home = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(home, "suitesparse"))
    >>> A = sp.diags([0.3, 1.0, 0.3], [-1, 0, 1], shape=(90, 90))
    >>> scipy.io.mmwrite(os.path.join(home, "suitesparse", "tridiag.mtx"), A)
    >>> windows, sources = load_suitesparse_windows(data_home=home, return_names=True)
    >>> len(windows), windows[0].shape, windows[0].nnz, sources[0]
    (3, (30, 30), 88, 'tridiag')
    >>> len(load_suitesparse_windows())  # the shared data  # doctest: +SKIP
    307
    """
    size = _check_int(size, "size", 2)
    if max_per_matrix is not None:
        max_per_matrix = _check_int(max_per_matrix, "max_per_matrix", 1)
    if not (0.0 < float(max_sparsity) <= 1.0):
        raise ValueError(f"max_sparsity: expected a value in (0, 1], got {max_sparsity!r}")
    lo, hi = _check_det_range(det_range)
    names = list_suitesparse(data_home) if names is None else list(names)
    rng = np.random.default_rng(random_state)
    windows, sources = [], []
    for name in names:  # loop over files, not entries
        A = load_suitesparse_matrix(name, data_home=data_home)
        n = min(A.shape)
        nw = n // size
        if nw == 0:
            continue
        coo = A.tocoo()
        r, c, v = coo.row, coo.col, coo.data
        w = r // size
        keep = (w == c // size) & (w < nw)
        r, c, v, w = r[keep], c[keep], v[keep], w[keep]
        dense = np.zeros((nw, size, size))
        np.add.at(dense, (w, r % size, c % size), v)
        up = np.triu(dense)
        dense = up + np.triu(dense, 1).transpose(0, 2, 1)
        amax = np.abs(dense).reshape(nw, -1).max(1)
        ok = amax >= 1e-6
        dense = dense[ok] / amax[ok][:, None, None]
        if dense.shape[0] == 0:
            continue
        ok = _accept(dense, float(max_sparsity), (lo, hi))
        dense = dense[ok]
        if max_per_matrix is not None and dense.shape[0] > max_per_matrix:
            pick = np.sort(rng.choice(dense.shape[0], max_per_matrix, replace=False))
            dense = dense[pick]
        windows.extend(sp.csr_matrix(d) for d in dense)
        sources.extend([name] * dense.shape[0])
    if return_names:
        return windows, sources
    return windows


def split_matrices(items, fractions=(0.6, 0.2, 0.2), random_state=0):
    """Shuffle and split a list into train/validation/test parts (60/20/20).

    Parameters
    ----------
    items : iterable
        The items to split (converted to a list).
    fractions : sequence of float, default=(0.6, 0.2, 0.2)
        Non-negative fraction of ``items`` in each part, summing to 1; one
        part per entry. Part sizes are the rounded cumulative fractions.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the shuffle (passed to :func:`numpy.random.default_rng`).

    Returns
    -------
    list of list
        One list of items per entry of ``fractions``, in shuffled order.

    Examples
    --------
    >>> from skising.datasets import split_matrices
    >>> tr, va, te = split_matrices(list(range(10)))
    >>> len(tr), len(va), len(te)
    (6, 2, 2)
    """
    try:
        fr = np.asarray(fractions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"fractions: expected numbers, got {fractions!r}") from exc
    if fr.ndim != 1 or fr.size < 1 or (fr < 0).any() or abs(fr.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions: expected non-negative fractions summing to 1, got {fractions!r}")
    items = list(items)
    order = np.random.default_rng(random_state).permutation(len(items))
    cuts = np.round(np.cumsum(fr)[:-1] * len(items)).astype(int)
    return [[items[i] for i in part] for part in np.split(order, cuts)]
