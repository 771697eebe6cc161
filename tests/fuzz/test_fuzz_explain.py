"""Hostile graphs and datasets against IsingGraphExplainer.

Self-loops, directed / duplicate / out-of-range / negative / float edge
indices, isolated nodes, graphs without edges or nodes, NaN/inf node and
edge features, wrong feature counts, 1-D features, non-Data items, empty
collections. Every case either works (one boolean mask / finite zero-sum
field per graph) or raises ValueError/TypeError naming the argument.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from skising.datasets import make_ba2motifs
from skising.explain import IsingGraphExplainer
from skising.fields import GINClassifier

OK_ERRORS = (ValueError, TypeError)
FEW = settings(max_examples=max(6, settings.default.max_examples // 5))
NAMES = ("X", "edge_index", "graph", "y")


def _named(exc):
    msg = str(exc)
    return isinstance(exc, OK_ERRORS) and any(msg.startswith(n) for n in NAMES)


@st.composite
def graphs(draw, n_features=10, valid=False):
    n = draw(st.integers(1 if valid else 0, 7))
    E = draw(st.integers(0, 12))
    src = draw(st.lists(st.integers(0, max(n - 1, 0)), min_size=E, max_size=E))
    dst = draw(st.lists(st.integers(0, max(n - 1, 0)), min_size=E, max_size=E))
    ei = torch.tensor([src, dst], dtype=torch.long).reshape(2, E)
    if n == 0:
        ei = ei[:, :0]
    if draw(st.booleans()):  # symmetrise, as PyG graphs usually are
        ei = torch.cat([ei, ei.flip(0)], 1)
    x = torch.rand(n, n_features)
    op = "none" if valid else draw(st.sampled_from(
        ["none", "none", "none", "self_loops", "oob", "neg", "float_ei", "1d_ei", "nan_x", "inf_x", "wrong_feat",
         "1d_x", "int_x", "bool_x", "edge_attr_nan", "no_x", "not_data"]))
    if op == "self_loops" and n:
        ei = torch.cat([ei, torch.arange(n).repeat(2, 1)], 1)
    elif op == "oob":
        ei = torch.cat([ei, torch.tensor([[0], [n + 3]])], 1)
    elif op == "neg":
        ei = torch.cat([ei, torch.tensor([[0], [-1]])], 1)
    elif op == "float_ei":
        ei = ei.float()
    elif op == "1d_ei":
        ei = ei.reshape(-1)
    elif op == "nan_x" and n:
        x[draw(st.integers(0, n - 1)), 0] = float("nan")
    elif op == "inf_x" and n:
        x[0, -1] = float("inf")
    elif op == "wrong_feat":
        x = torch.rand(n, n_features + 2)
    elif op == "1d_x":
        x = torch.rand(n)
    elif op == "int_x":
        x = (x > 0.5).long()
    elif op == "bool_x":
        x = x > 0.5
    elif op == "no_x":
        return Data(edge_index=ei, num_nodes=n)
    elif op == "not_data":
        return draw(st.sampled_from([ei, "graph", None, 3]))
    d = Data(x=x, edge_index=ei, num_nodes=n)
    if op == "edge_attr_nan":
        d.edge_attr = torch.full((d.edge_index.shape[-1], 2), float("nan"))
    return d


@st.composite
def collections(draw, valid=False):
    items = draw(st.lists(graphs(valid=valid), min_size=1 if valid else 0, max_size=3))
    kind = "list" if valid else draw(st.sampled_from(["list", "list", "tuple", "single", "batch", "none", "str"]))
    if kind == "tuple":
        return tuple(items)
    if kind == "single":
        return items[0] if items else items
    if kind == "batch":
        try:
            return Batch.from_data_list(items)
        except Exception:  # noqa: BLE001 - PyG cannot batch some broken items: not our input
            return items
    if kind == "none":
        return None
    if kind == "str":
        return "graphs"
    return items


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    clf = GINClassifier(10)
    return IsingGraphExplainer(clf, max_epochs=1, n_sweeps=1, random_state=0).fit(make_ba2motifs(4, random_state=0))


def _n_graphs(X):
    if isinstance(X, Batch):
        return X.num_graphs
    return 1 if isinstance(X, Data) else len(X)


@given(collections(), st.sampled_from(["transform", "field", "sample_mean"]))
def test_fuzz_explainer_inference(fitted, X, method):
    try:
        if method == "sample_mean":
            out = fitted.node_scores(X, kind="sample_mean", n_samples=2)
        else:
            out = getattr(fitted, method)(X)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc), repr(exc)
        return
    assert len(out) == _n_graphs(X)
    for o in out:
        if method == "transform":
            assert isinstance(o, np.ndarray) and o.dtype == bool
        else:
            assert torch.isfinite(torch.as_tensor(o)).all()
        if method == "field":
            assert abs(float(o.sum())) < 1e-3  # zero-sum field per graph


@given(graphs(), st.sampled_from(["probability", "field", "sample"]))
def test_fuzz_explainer_explain(fitted, graph, kind):
    try:
        expl = fitted.explain(graph, kind=kind, n_samples=2)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc), repr(exc)
        return
    assert expl.node_mask.shape == (graph.num_nodes, 1) and torch.isfinite(expl.node_mask).all()
    assert expl.edge_mask.shape == (graph.edge_index.shape[1],)


@FEW
@given(st.booleans(), st.data())
def test_fuzz_explainer_fit(valid, data):
    X = data.draw(collections(valid=valid))
    y = None
    if data.draw(st.booleans()):
        y = data.draw(st.sampled_from([np.zeros(_n_graphs(X) if isinstance(X, (list, tuple, Data, Batch)) else 1),
                                       np.zeros(7), np.array([5])]))
    torch.manual_seed(0)
    est = IsingGraphExplainer(GINClassifier(10), max_epochs=1, n_sweeps=1, random_state=0)
    try:
        est.fit(X, y)
    except Exception as exc:  # noqa: BLE001
        assert _named(exc), repr(exc)
        return
    assert np.isfinite(est.history_[0]["loss"])
