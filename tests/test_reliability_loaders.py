"""Every loader and generator: bad arguments raise ValueError/TypeError naming
the argument; a missing data folder raises FileNotFoundError naming the path."""

import numpy as np
import pytest

from skising import datasets as D

BAD_ARGS = [
    (lambda: D.load_psb("dog"), ValueError, "category"),
    (lambda: D.load_psb("chair", ids=[1]), ValueError, "ids"),
    (lambda: D.load_psb("chair", ids="abc"), TypeError, "ids"),
    (lambda: D.load_weizmann_horse(size=-1), ValueError, "size"),
    (lambda: D.load_weizmann_horse(size="abc"), TypeError, "size"),
    (lambda: D.load_weizmann_horse(split="x"), ValueError, "split"),
    (lambda: D.load_weizmann_horse(n_images=0), ValueError, "n_images"),
    (lambda: D.load_suitesparse_windows(size=1), ValueError, "size"),
    (lambda: D.load_suitesparse_windows(det_range=(5, 1), names=[]), ValueError, "det_range"),
    (lambda: D.load_suitesparse_windows(max_sparsity=0, names=[]), ValueError, "max_sparsity"),
    (lambda: D.load_suitesparse_matrix(3), TypeError, "name"),
    (lambda: D.make_ba2motifs(-1), ValueError, "n_graphs"),
    (lambda: D.make_banded_binary_matrices(0), ValueError, "n_matrices"),
    (lambda: D.make_banded_binary_matrices(2, size=1), ValueError, "size"),
    (lambda: D.make_banded_binary_matrices(2, base_prob=2), ValueError, "base_prob"),
    (lambda: D.make_banded_binary_matrices(2, det_range="ab"), TypeError, "det_range"),
    (lambda: D.make_banded_binary_matrices(2, max_sparsity=float("nan")), ValueError, "max_sparsity"),
    (lambda: D.split_matrices([1, 2, 3], fractions=(0.5,)), ValueError, "fractions"),
    (lambda: D.split_matrices([1, 2, 3], fractions="abc"), TypeError, "fractions"),
    (lambda: D.data_path(3), TypeError, "parts"),
    (lambda: D.get_data_home(3), TypeError, "data_home"),
    (lambda: D.mesh_edges([[0, 1]]), ValueError, "faces"),
    (lambda: D.write_off("/tmp/x.off", [[0, 0]], [[0, 1, 2]]), ValueError, "vertices"),
    (lambda: D.write_off("/tmp/x.off", np.eye(3), [[0, 1, 3]]), ValueError, "faces"),
    (lambda: D.read_off(None), TypeError, "path"),
]


@pytest.mark.parametrize("call, exc, name", BAD_ARGS, ids=[f"{n}-{i}" for i, (_, _, n) in enumerate(BAD_ARGS)])
def test_loader_bad_arguments(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


MISSING = [
    lambda home: D.load_psb("chair", ids=[101], data_home=home),
    lambda home: D.load_weizmann_horse(data_home=home),
    lambda home: D.load_suitesparse_windows(data_home=home),
    lambda home: D.load_suitesparse_matrix("bcsstk01", data_home=home),
    lambda home: D.list_suitesparse(data_home=home),
    lambda home: D.load_tu("Mutagenicity", data_home=home),
    lambda home: D.load_mutagenicity(data_home=home),
    lambda home: D.load_ba2motifs(data_home=home),
]


@pytest.mark.parametrize("call", MISSING)
def test_loader_missing_data_names_the_path(call, tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        call(tmp_path)
