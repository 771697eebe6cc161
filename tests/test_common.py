"""One estimator-check suite over every public estimator (scikit-learn manners).

Applications register themselves in ``ESTIMATORS`` below with a factory for a
cheap instance, the data ``fit`` takes, the data ``transform``/``predict``
takes, and a parameter that must be rejected with a clear error.
"""

import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from skising import (
    ConstantFieldIsingSubsampler,
    FarthestPointSubsampler,
    IsingSubsampler,
    RandomSubsampler,
    SpectralSubsampler,
)
from skising.datasets import load_bunny
from skising.graph import as_graph


def _pos_graphs():
    out = []
    for s in range(3):
        G = nx.random_geometric_graph(40, 0.3, seed=s)
        out.append(as_graph(G))
    return out


def _loss(x, graph):
    return -(x * graph.pos[:, 0]).mean(1)


def _sum_loss(x, graph):
    return (x > 0).float().mean(1)


ESTIMATORS = {
    "IsingSubsampler": (
        lambda: IsingSubsampler(loss=_loss, max_epochs=3, n_sweeps=2, random_state=0),
        lambda: (_pos_graphs(),),
        lambda: _pos_graphs(),
        ("beta", -1.0),
    ),
    "RandomSubsampler": (lambda: RandomSubsampler(0.3, random_state=0), lambda: (_pos_graphs(),), _pos_graphs, ("target_fraction", 1.5)),
    "FarthestPointSubsampler": (
        lambda: FarthestPointSubsampler(0.3, random_state=0), lambda: (_pos_graphs(),), _pos_graphs,
        ("target_fraction", 0.0)),
    "SpectralSubsampler": (lambda: SpectralSubsampler(0.5), lambda: (_pos_graphs(),), _pos_graphs, ("laplacian", "weird")),
    "ConstantFieldIsingSubsampler": (
        lambda: ConstantFieldIsingSubsampler(0.3, coupling=-1.0, random_state=0),
        lambda: (_pos_graphs(),), _pos_graphs, ("beta", float("nan"))),
}

try:  # applications register when present
    from _common_registry import EXTRA_ESTIMATORS  # noqa: F401

    ESTIMATORS.update(EXTRA_ESTIMATORS)
except ImportError:
    pass

NAMES = sorted(ESTIMATORS)


def _output(est, X):
    f = getattr(est, "transform", None) or est.predict
    out = f(X)
    if isinstance(out, list):
        return [np.asarray(o.detach().cpu() if isinstance(o, torch.Tensor) else o) for o in out]
    if hasattr(out, "M_"):
        return [np.asarray(out.M_.toarray())]
    return [np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out)]


def _equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_and_clone_round_trips(name):
    make, *_ = ESTIMATORS[name]
    est = make()
    params = est.get_params(deep=False)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")], "learned state in __init__"
    c = clone(est)
    assert type(c) is type(est)
    assert c.get_params(deep=False).keys() == params.keys()
    for k, v in params.items():
        w = c.get_params(deep=False)[k]
        if isinstance(v, torch.nn.Module):  # clone deep-copies modules (sklearn semantics)
            assert type(w) is type(v)
            assert all(torch.equal(a, b) for a, b in zip(w.state_dict().values(), v.state_dict().values()))
        else:
            assert w is v or w == v
    est.set_params(**params)


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error(name):
    make, _, make_X, _ = ESTIMATORS[name]
    with pytest.raises(NotFittedError):
        _output(make(), make_X())


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_is_deterministic(name):
    make, fit_args, make_X, _ = ESTIMATORS[name]
    est = make()
    assert est.fit(*fit_args()) is est
    a = _output(est, make_X())
    b = _output(make().fit(*fit_args()), make_X())
    assert _equal(a, b)
    assert _equal(a, _output(est, make_X()))  # transform is a function of the fitted state


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name):
    make, fit_args, make_X, _ = ESTIMATORS[name]
    est = make().fit(*fit_args())
    est2 = pickle.loads(pickle.dumps(est))
    assert _equal(_output(est, make_X()), _output(est2, make_X()))


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameter_names_itself(name):
    make, fit_args, _, (param, value) = ESTIMATORS[name]
    est = make().set_params(**{param: value})  # no validation at construction
    with pytest.raises((ValueError, TypeError), match=param):
        est.fit(*fit_args())


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("Subsampler")])
def test_in_pipeline_and_mask_contract(name):
    make, fit_args, make_X, _ = ESTIMATORS[name]
    X = make_X()
    pipe = Pipeline([("sub", make())]).fit(*fit_args())
    masks = pipe.transform(X)
    assert len(masks) == len(X)
    for m, g in zip(masks, X):
        assert m.dtype == bool and m.shape == (g.num_nodes,)
    single = pipe.named_steps["sub"].transform(X[0])
    assert isinstance(single, np.ndarray) and single.shape == (X[0].num_nodes,)


def test_grid_search_over_ising_subsampler():
    from sklearn.model_selection import GridSearchCV

    graphs = _pos_graphs() + _pos_graphs()[:1]
    gs = GridSearchCV(IsingSubsampler(loss=_loss, max_epochs=2, n_sweeps=2, random_state=0),
                      {"coupling": [-1.0, 1.0]}, cv=2)
    gs.fit(graphs)
    assert gs.best_params_["coupling"] in (-1.0, 1.0)


def test_subsampler_loss_must_be_callable():
    with pytest.raises(TypeError, match="loss"):
        IsingSubsampler(loss=None).fit(_pos_graphs())


def test_subsampler_feature_mismatch_is_a_clear_error():
    est = IsingSubsampler(loss=_sum_loss, max_epochs=1, n_sweeps=1, random_state=0).fit(_pos_graphs())
    with pytest.raises(ValueError, match="features"):
        est.transform(nx.path_graph(5))


def test_fps_needs_positions():
    with pytest.raises(ValueError, match="pos"):
        FarthestPointSubsampler(0.5).fit_transform(nx.path_graph(5))


def test_subsampler_field_and_samples_shapes():
    g = load_bunny()
    est = IsingSubsampler(loss=_loss, max_epochs=1, n_sweeps=2, random_state=0).fit(g)
    assert est.field(g).shape == (g.num_nodes,)
    s = est.sample(g, 3)
    assert s.shape == (3, g.num_nodes) and s.dtype == bool
    for mode in ("majority", "mean_field"):
        m = est.set_params(transform_mode=mode).transform(g)
        assert m.shape == (g.num_nodes,) and m.dtype == bool


# ---------------------------------------------------------------- scikit-learn's own checks
@pytest.mark.parametrize("name", NAMES)
def test_sklearn_check_estimator_runs_to_the_end(name):
    """check_estimator runs every check; only checks that feed tabular data may fail, and they are listed."""
    from sklearn.utils.estimator_checks import check_estimator

    from skising.estimator_checks import TABULAR_INPUT_CHECKS, expected_failed_checks

    est = ESTIMATORS[name][0]()
    expected = expected_failed_checks(est)
    assert set(expected) <= set(TABULAR_INPUT_CHECKS)
    results = check_estimator(est, on_fail=None, expected_failed_checks=expected)
    assert not [r["check_name"] for r in results if r["status"] == "failed"]
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    # what does not need data must pass
    for check in ("check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
                  "check_parameters_default_constructible", "check_estimator_cloneable", "check_estimator_repr"):
        assert check in passed, check
    assert not passed & set(expected)


def _items_and_output(name):
    """Several distinct items of the estimator's input type, and a function of the output per item."""
    from skising.datasets import load_bunny, make_ba2motifs, make_banded_binary_matrices

    def as_arrays(out):
        return [np.asarray(o.detach().cpu() if isinstance(o, torch.Tensor) else o) for o in out]

    if name.endswith("Segmenter"):
        X = np.random.default_rng(3).random((3, 16, 16, 3))
        return X, lambda est, items: list(est.predict(np.stack(items)))
    if name == "SAIPreconditioner":
        mats = make_banded_binary_matrices(3, random_state=5)
        # transform takes one matrix: each result must not depend on what was transformed before
        return mats, lambda est, items: [est.transform(A).M_.toarray() for A in items]
    if name.startswith(("MeshSparsifier", "PointSamplerSubsampler")):
        b = load_bunny()
        b2 = load_bunny()
        b2.pos = b2.pos * torch.tensor([1.0, 0.5, 2.0])
        return [b, b2], lambda est, items: as_arrays(est.transform(list(items)))
    if name == "IsingGraphExplainer":
        return make_ba2motifs(3, random_state=7), lambda est, items: as_arrays(est.transform(list(items)))
    return _pos_graphs(), lambda est, items: as_arrays(est.transform(list(items)))


@pytest.mark.parametrize("name", NAMES)
def test_item_result_does_not_depend_on_its_batch(name):
    """transform(X)[i] == transform([X[i]])[0], and reversing X reverses the output (fixed random_state)."""
    make, fit_args, _, _ = ESTIMATORS[name]
    est = make().fit(*fit_args())
    items, out = _items_and_output(name)
    items = list(items)
    full = out(est, items)
    assert len(full) == len(items)
    for i in range(len(items)):
        np.testing.assert_array_equal(full[i], out(est, [items[i]])[0], err_msg=f"item {i} alone")
    rev = out(est, items[::-1])
    for a, b in zip(full, rev[::-1]):
        np.testing.assert_array_equal(a, b, err_msg="reversed order")


@pytest.mark.parametrize("name", ["IsingSegmenter", "SAIPreconditioner"])
def test_sampled_outputs_do_not_depend_on_the_batch(name):
    """The sampling paths beyond transform: each item draws from its own stream (seed and content)."""
    make, fit_args, _, _ = ESTIMATORS[name]
    est = make().fit(*fit_args())
    if name == "IsingSegmenter":
        X = np.random.default_rng(3).random((3, 16, 16, 3))
        outs = [lambda items: list(est.sample(np.stack(items), n_samples=2).swapaxes(0, 1)),
                lambda items: list(est.predict_proba(np.stack(items)))]
        items = list(X)
    else:
        from skising.datasets import make_banded_binary_matrices

        items = make_banded_binary_matrices(3, random_state=5)
        outs = [lambda items: list(est.evaluate(items, n_samples=2)[0])]
    for out in outs:
        full = out(items)
        for i in range(len(items)):
            np.testing.assert_array_equal(full[i], out([items[i]])[0], err_msg=f"item {i} alone")
        for a, b in zip(full, out(items[::-1])[::-1]):
            np.testing.assert_array_equal(a, b, err_msg="reversed order")


def test_unavailable_device_is_a_value_error_naming_device():
    if not (torch.backends.mps.is_available()):
        with pytest.raises(ValueError, match="device"):
            IsingSubsampler(loss=_loss, device="mps", max_epochs=1).fit(_pos_graphs())
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device"):
            ConstantFieldIsingSubsampler(0.3, device="cuda").fit(_pos_graphs())
    with pytest.raises(ValueError, match="device"):
        IsingSubsampler(loss=_loss, device="tpu", max_epochs=1).fit(_pos_graphs())


GRAPH_SUBSAMPLERS = ["IsingSubsampler", "RandomSubsampler", "FarthestPointSubsampler", "SpectralSubsampler",
                     "ConstantFieldIsingSubsampler"]


@pytest.mark.parametrize("name", GRAPH_SUBSAMPLERS)
def test_score_and_loss_scorer(name):
    """Every graph subsampler has score(); make_loss_scorer works in cross_val_score and GridSearchCV."""
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from skising.metrics import make_loss_scorer
    from skising.subsampling import CoverageLoss

    make, fit_args, make_X, _ = ESTIMATORS[name]
    loss = CoverageLoss()
    est = make().set_params(loss=loss)
    graphs = make_X()
    est.fit(*fit_args())
    s = est.score(graphs)
    assert np.isfinite(s) and s < 0
    scorer = make_loss_scorer(loss)
    if name != "IsingSubsampler":  # the baselines score exactly what transform returns
        assert scorer(est, graphs) == s
    assert "CoverageLoss" in repr(scorer) and "object at" not in repr(scorer)
    cv = cross_val_score(make().set_params(loss=loss), graphs, cv=3, scoring=scorer)
    assert cv.shape == (3,) and np.isfinite(cv).all()
    if name in ("RandomSubsampler", "FarthestPointSubsampler"):
        search = GridSearchCV(make(), {"target_fraction": [0.05, 0.5]}, scoring=scorer, cv=3).fit(graphs)
        assert search.best_params_ == {"target_fraction": 0.5}  # keeping more nodes covers better


def test_baseline_score_without_loss_names_loss():
    est = RandomSubsampler(0.3, random_state=0).fit(_pos_graphs())
    with pytest.raises(ValueError, match="loss"):
        est.score(_pos_graphs())


@pytest.mark.parametrize("name", ["IsingGraphExplainer", "IsingSegmenter", "UNetSegmenter", "MeshSparsifier",
                                  "PointSamplerSubsampler"])
def test_epochs_is_a_deprecated_alias_of_max_epochs(name):
    """One vocabulary: every learned estimator takes max_epochs; the old epochs still works, with a warning."""
    make, fit_args, make_X, _ = ESTIMATORS[name]
    est = make()
    assert est.get_params()["epochs"] == "deprecated" and "max_epochs" in est.get_params()
    old = make().set_params(epochs=1, max_epochs=7)
    with pytest.warns(FutureWarning, match="max_epochs"):
        old.fit(*fit_args())
    assert _equal(_output(old, make_X()), _output(make().set_params(max_epochs=1).fit(*fit_args()), make_X()))


@pytest.mark.parametrize("name", ["RandomSubsampler", "FarthestPointSubsampler", "SpectralSubsampler",
                                  "ConstantFieldIsingSubsampler", "PointSamplerSubsampler"])
def test_fraction_is_a_deprecated_alias_of_target_fraction(name):
    """One vocabulary: target_fraction everywhere; the old fraction still works, with a warning."""
    make, fit_args, make_X, _ = ESTIMATORS[name]
    assert make().get_params()["fraction"] == "deprecated" and "target_fraction" in make().get_params()
    old = make().set_params(fraction=0.25, target_fraction=0.75)
    with pytest.warns(FutureWarning, match="target_fraction"):
        old.fit(*fit_args())
    assert _equal(_output(old, make_X()), _output(make().set_params(target_fraction=0.25).fit(*fit_args()), make_X()))


def test_parameter_constraints_are_declared_and_checked_at_fit():
    """Every estimator declares _parameter_constraints covering all its parameters; errors name the parameter."""
    for name in NAMES:
        est = ESTIMATORS[name][0]()
        missing = set(est.get_params(deep=False)) - set(est._parameter_constraints)
        assert not missing, (name, missing)
    with pytest.raises(ValueError, match="n_samples"):
        IsingSubsampler(loss=_loss, n_samples=True).fit(_pos_graphs())  # a bool is not a count


def test_subsampler_x_val_keeps_the_best_epoch_and_others_refuse_it():
    """One validation argument: X_val selects the best epoch where an estimator has a validation score."""
    est = IsingSubsampler(loss=_loss, max_epochs=3, n_sweeps=2, random_state=0).fit(_pos_graphs(),
                                                                                  X_val=_pos_graphs()[:1])
    scores = [h["val_score"] for h in est.history_]
    assert len(scores) == 3 and est.best_epoch_ == int(np.argmax(scores))
    assert est.score(_pos_graphs()[:1]) == pytest.approx(max(scores))
    with pytest.raises(ValueError, match="y_val"):
        IsingSubsampler(loss=_loss, max_epochs=1).fit(_pos_graphs(), y_val=[0])


@pytest.mark.parametrize("name", NAMES)
def test_numpy_generator_random_state_is_drawn_from_once(name):
    """One seed normaliser: a numpy Generator passed as random_state gives fit one draw, no more."""
    make, fit_args, _, _ = ESTIMATORS[name]
    rng = np.random.default_rng(5)
    make().set_params(random_state=rng).fit(*fit_args())
    ref = np.random.default_rng(5)
    ref.integers(0, 2**63 - 1)
    assert rng.integers(1 << 30) == ref.integers(1 << 30)
