import numpy as np
import pytest
import scipy.sparse as sp

from skising.datasets import (
    get_data_home,
    load_suitesparse_matrix,
    load_suitesparse_windows,
    make_banded_binary_matrices,
    read_matrix_market,
    split_matrices,
)

HAVE_SS = (get_data_home() / "suitesparse").is_dir()


def test_banded_binary_matrices_properties():
    mats = make_banded_binary_matrices(200, random_state=0)
    assert len(mats) == 200
    dense = np.stack([m.toarray() for m in mats])
    assert set(np.unique(dense)) <= {0.0, 1.0}
    assert np.all(dense == dense.transpose(0, 2, 1))
    assert np.all(dense[:, np.arange(30), np.arange(30)] == 1)
    zeros = (dense == 0).reshape(200, -1).mean(1)
    assert zeros.max() <= 0.96
    assert 0.80 < zeros.mean() < 0.87  # paper: ~83% zeros
    det = np.abs(np.linalg.det(dense))
    assert det.min() >= 1e-3 and det.max() <= 50
    # nonzeros decay away from the diagonal
    d = np.abs(np.subtract.outer(np.arange(30), np.arange(30)))
    assert dense[:, d == 1].mean() > dense[:, d == 10].mean() > dense[:, d == 25].mean()


def test_banded_binary_matrices_seeded():
    a = make_banded_binary_matrices(5, random_state=1)
    b = make_banded_binary_matrices(5, random_state=1)
    assert all((x != y).nnz == 0 for x, y in zip(a, b))
    with pytest.raises(ValueError, match="n_matrices"):
        make_banded_binary_matrices(0)


def test_read_matrix_market_roundtrip(tmp_path):
    from scipy.io import mmwrite

    A = sp.random(6, 6, density=0.4, random_state=0, format="csr")
    mmwrite(str(tmp_path / "a.mtx"), A)
    B = read_matrix_market(tmp_path / "a.mtx")
    assert sp.isspmatrix_csr(B) and abs(A - B).max() < 1e-12
    with pytest.raises(FileNotFoundError, match="nope.mtx"):
        read_matrix_market(tmp_path / "nope.mtx")
    (tmp_path / "bad.mtx").write_text("garbage\n")
    with pytest.raises(ValueError, match="bad.mtx"):
        read_matrix_market(tmp_path / "bad.mtx")


def test_split():
    tr, va, te = split_matrices(list(range(100)), random_state=0)
    assert (len(tr), len(va), len(te)) == (60, 20, 20)
    assert sorted(tr + va + te) == list(range(100))
    with pytest.raises(ValueError, match="fractions"):
        split_matrices([1, 2], fractions=(0.5, 0.6))


@pytest.mark.skipif(not HAVE_SS, reason="needs the shared SuiteSparse data")
def test_suitesparse_windows():
    A = load_suitesparse_matrix("bcsstk01")
    assert A.shape == (48, 48) and abs(A - A.T).max() < 1e-9
    wins, names = load_suitesparse_windows(names=["fe_4elt2", "orsirr_1", "sherman1"], max_per_matrix=20,
                                           return_names=True)
    assert len(wins) == len(names) > 0
    assert max(names.count(n) for n in set(names)) <= 20
    for W in wins:
        d = W.toarray()
        assert d.shape == (30, 30)
        assert np.allclose(d, d.T)
        assert np.isclose(np.abs(d).max(), 1.0)
        assert (d == 0).mean() <= 0.96
        assert 1e-3 <= abs(np.linalg.det(d)) <= 50
    with pytest.raises(FileNotFoundError):
        load_suitesparse_matrix("no_such_matrix")
