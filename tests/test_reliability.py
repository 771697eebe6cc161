"""Reliability: memory guards, segmenter checkpoints, CUDA -> CPU persistence.

No GPU is needed: a CUDA-fitted estimator is simulated by its pickled state
(device "cuda", a CUDA generator state) and by CUDA-tagged storages in a
``torch.save`` file, with ``torch.cuda.is_available`` patched to False.
"""

import io
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import skising._validation as validation


# ---------------------------------------------------------------- memory guards
@pytest.fixture
def little_memory(monkeypatch):
    """Pretend only 1 MiB is free, on every device."""
    monkeypatch.setattr(validation, "available_memory", lambda device=None: 2**20)


def test_entry_graph_guard_names_estimate_and_pattern(little_memory):
    from skising.precondition._pattern import candidate_pattern, check_matrix, entry_graph, entry_graph_size

    A = check_matrix(sp.eye(60) + sp.random(60, 60, density=0.2, random_state=0))
    r, c = candidate_pattern(A, "full")
    E = entry_graph_size(r, c)
    # closed form for the full pattern without the diagonal: every entry meets
    # the n - 2 other off-diagonal entries of its row and of its column
    assert E == 60 * (59 * 58 // 2) * 2
    with pytest.raises(MemoryError, match=r"GiB.*pattern") as info:
        entry_graph(r, c)
    assert f"{E} Ising edges" in str(info.value)


def test_entry_graph_size_matches_built_graph():
    from skising.precondition._pattern import candidate_pattern, check_matrix, entry_graph, entry_graph_size

    A = check_matrix(sp.eye(40) + sp.random(40, 40, density=0.05, random_state=1))
    for pattern in ("A", "A2", "full"):
        r, c = candidate_pattern(A, pattern)
        assert entry_graph(r, c).num_edges == entry_graph_size(r, c)


def test_sai_fit_full_pattern_raises_memory_error(little_memory):
    from skising.datasets import make_banded_binary_matrices
    from skising.precondition import SAIPreconditioner

    mats = make_banded_binary_matrices(2, size=30, random_state=0)
    with pytest.raises(MemoryError, match="pattern"):
        SAIPreconditioner(pattern="full", max_epochs=1, random_state=0).fit(mats)


def test_training_batch_guard_names_batch_size_and_n_samples(monkeypatch):
    from skising.segment import IsingSegmenter

    # enough for the data, not for 4 chains x 4 images x 32 x 32 pixels
    monkeypatch.setattr(validation, "available_memory", lambda device=None: 10_000)
    rng = np.random.default_rng(0)
    X = rng.random((4, 32, 32, 1))
    with pytest.raises(MemoryError, match=r"batch_size \(now 4\).*n_samples \(now 4\)"):
        IsingSegmenter(max_epochs=1, batch_size=4, random_state=0).fit(X, X[..., 0] > 0.5)


def test_training_batch_guard_on_graph_estimators(monkeypatch):
    from skising.datasets import load_bunny
    from skising.sparsify import MeshSparsifier

    monkeypatch.setattr(validation, "available_memory", lambda device=None: 10_000)

    with pytest.raises(MemoryError, match="batch_size"):
        MeshSparsifier(max_epochs=1, n_samples=4, random_state=0).fit([load_bunny()])


def test_guards_are_silent_with_enough_memory(monkeypatch):
    from skising.segment import IsingSegmenter

    monkeypatch.setattr(validation, "available_memory", lambda device=None: 2**40)
    rng = np.random.default_rng(0)
    X = rng.random((2, 8, 8, 1))
    IsingSegmenter(max_epochs=1, batch_size=2, n_sweeps=1, random_state=0).fit(X, X[..., 0] > 0.5)


# ---------------------------------------------------------------- segmenter checkpoints
def _seg_data():
    rng = np.random.default_rng(0)
    X = rng.random((4, 12, 12, 3))
    return X, X[..., 0] > 0.5


@pytest.mark.parametrize("name", ["IsingSegmenter", "UNetSegmenter"])
def test_segmenter_resume_equals_uninterrupted(name, tmp_path):
    import skising.segment as seg

    cls = getattr(seg, name)
    X, y = _seg_data()
    kw = dict(batch_size=2, random_state=0)
    if name == "IsingSegmenter":
        kw["n_sweeps"] = 2
    full = cls(max_epochs=3, **kw).fit(X, y, X_val=X[:2], y_val=y[:2])
    first = cls(max_epochs=1, **kw).fit(X, y, X_val=X[:2], y_val=y[:2], checkpoint_dir=tmp_path)
    assert (tmp_path / "checkpoint.pt").exists() and len(first.history_) == 1
    resumed = cls(max_epochs=3, **kw).fit(X, y, X_val=X[:2], y_val=y[:2], checkpoint_dir=tmp_path, resume=True)
    a, b = resumed.field_model_.state_dict(), full.field_model_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in full.history_]
    assert resumed.best_epoch_ == full.best_epoch_
    assert np.array_equal(resumed.predict(X), full.predict(X))


def test_segmenter_checkpoint_argument_errors(tmp_path):
    from skising.segment import IsingSegmenter, UNetSegmenter

    X, y = _seg_data()
    for cls in (IsingSegmenter, UNetSegmenter):
        with pytest.raises(ValueError, match="resume"):
            cls(max_epochs=1).fit(X, y, resume=True)
        with pytest.raises(TypeError, match="checkpoint_dir"):
            cls(max_epochs=1).fit(X, y, checkpoint_dir=3.5)
    UNetSegmenter(max_epochs=1, random_state=0).fit(X, y, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="written by UNetSegmenter"):
        IsingSegmenter(max_epochs=2, random_state=0).fit(X, y, checkpoint_dir=tmp_path, resume=True)


def test_resume_refuses_checkpoint_from_other_device_type(tmp_path):
    from skising.segment import UNetSegmenter

    X, y = _seg_data()
    UNetSegmenter(max_epochs=1, random_state=0).fit(X, y, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    state["device"] = "cuda:0"
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="written on cuda"):
        UNetSegmenter(max_epochs=2, random_state=0).fit(X, y, checkpoint_dir=tmp_path, resume=True)


# ---------------------------------------------------------------- CUDA -> CPU persistence
def _fitted_segmenter():
    from skising.segment import IsingSegmenter

    X, y = _seg_data()
    return IsingSegmenter(max_epochs=1, batch_size=4, n_sweeps=1, n_predict_samples=2, random_state=0).fit(X, y), X


def test_gpu_fitted_pickled_state_loads_on_cpu_only_machine(monkeypatch):
    """The state a CUDA fit pickles (device 'cuda', CUDA generator state) loads on the CPU."""
    est, X = _fitted_segmenter()
    state = est.__getstate__()
    # what __getstate__ writes on a CUDA machine: tensors already on the CPU,
    # the device recorded, and a CUDA generator state (16 bytes: seed + offset)
    state["_device"] = torch.device("cuda:0")
    state["_pickled_device"] = "cuda:0"
    state["_torch_gen_state"] = ("cuda:0", torch.zeros(16, dtype=torch.uint8))
    state["device"] = "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = type(est).__new__(type(est))
    loaded.__setstate__(pickle.loads(pickle.dumps(state)))
    assert loaded._device == torch.device("cpu") and loaded._torch_gen.device.type == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.field_model_.parameters())
    assert loaded.kernel_.device.type == "cpu"
    np.testing.assert_array_equal(loaded.decision_function(X), est.decision_function(X))
    assert loaded.predict(X).shape == X.shape[:3]
    with pytest.raises(ValueError, match="device"):  # refitting asks for CUDA again: a clear error
        loaded.fit(X, X[..., 0] > 0.5)


def test_gpu_tagged_torch_save_file_loads_with_map_location(monkeypatch, tmp_path):
    """A torch.save file whose storages say 'cuda:0' (as written on a GPU) maps to the CPU."""
    from skising.sparsify import MeshSparsifier
    from skising.datasets import load_bunny

    g = load_bunny()
    est = MeshSparsifier(max_epochs=1, n_sweeps=1, random_state=0).fit([g])
    path = tmp_path / "model.pt"
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    torch.save(est, path)
    monkeypatch.undo()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):  # what users hit without map_location
        torch.load(path, weights_only=False)
    loaded = torch.load(path, map_location="cpu", weights_only=False)
    np.testing.assert_array_equal(loaded.field(g), est.field(g))
    np.testing.assert_array_equal(loaded.transform(g), est.transform(g))


def test_cpu_pickle_state_keeps_tensors_and_marks_nothing():
    est, X = _fitted_segmenter()
    state = est.__getstate__()
    assert "_pickled_device" not in state  # CPU fits pickle exactly as before
    buf = io.BytesIO()
    torch.save(est, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_to_device_copies_modules_and_walks_containers():
    from skising._base import _to_device

    lin = torch.nn.Linear(2, 2)
    out = _to_device({"m": lin, "t": [torch.ones(2, requires_grad=True)], "k": 3}, "cpu")
    assert out["m"] is not lin and torch.equal(out["m"].weight, lin.weight)
    assert not out["t"][0].requires_grad and out["k"] == 3


def test_gpu_device_estimator_pickles_tensors_on_cpu_and_stays_intact(monkeypatch):
    """__getstate__'s non-CPU branch (device recorded, copies on the CPU) and the load back."""
    est, X = _fitted_segmenter()
    before = est.decision_function(X)
    model = est.field_model_
    est._device = torch.device("cuda:0")  # pretend it was fitted on a GPU (its tensors stay on the CPU here)
    state = est.__getstate__()
    assert state["_pickled_device"] == "cuda:0"
    assert state["field_model_"] is not model and est.field_model_ is model  # the live estimator is untouched
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(blob)
    assert loaded._device == torch.device("cpu") and "_pickled_device" not in loaded.__dict__
    np.testing.assert_array_equal(loaded.decision_function(X), before)


def test_sampler_memory_guard_suggests_the_partitioned_sampler(monkeypatch):
    import networkx as nx

    from skising.sampling import sample_ising

    monkeypatch.setattr(validation, "available_memory", lambda device=None: 10_000)
    with pytest.raises(MemoryError, match="n_chains.*skising.distributed.sample_ising_partitioned"):
        sample_ising(nx.grid_2d_graph(30, 30), 0.0, n_chains=64, n_sweeps=1, random_state=0)
