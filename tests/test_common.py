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
    "RandomSubsampler": (lambda: RandomSubsampler(0.3, random_state=0), lambda: (_pos_graphs(),), _pos_graphs, ("fraction", 1.5)),
    "FarthestPointSubsampler": (
        lambda: FarthestPointSubsampler(0.3, random_state=0), lambda: (_pos_graphs(),), _pos_graphs, ("fraction", 0.0)),
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
