"""IsingGraphExplainer, its PyG ExplainerAlgorithm and an end-to-end BA-2Motifs check."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skising.datasets import get_data_home, load_ba2motifs, make_ba2motifs
from skising.explain import (
    IsingExplainerAlgorithm,
    IsingGraphExplainer,
    induced_subgraph_proba,
    predict_proba,
    train_classifier,
)
from skising.explain._subgraph import _induced_logits
from skising.fields import GINClassifier
from skising.metrics import graph_explanation_accuracy, topk_node_mask

HAVE_DATA = (get_data_home() / "ba2motifs" / "ba2motifs.npz").exists()


@pytest.fixture(autouse=True)
def _one_thread_and_tmp_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SKISING_CACHE", str(tmp_path / "cache"))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return make_ba2motifs(8, random_state=0), GINClassifier(10)


def _config(**kw):
    cfg = dict(explanation_type="model", node_mask_type="object", edge_mask_type="object",
               model_config=dict(mode="multiclass_classification", task_level="graph", return_type="raw"))
    cfg.update(kw)
    return cfg


def test_induced_logits_match_explicit_subgraphs(tiny):
    from torch_geometric.data import Batch
    from torch_geometric.utils import subgraph

    ds, model = tiny
    model.eval()
    b = Batch.from_data_list(ds[:3])
    gen = torch.Generator().manual_seed(1)
    keep = torch.rand(2, b.num_nodes, generator=gen) < 0.6
    keep[1, :25] = False  # an empty subgraph: pooled to zeros
    out = _induced_logits(model, b.x, b.edge_index, b.batch, 3, keep)
    assert out.shape == (2, 3, 2)
    for k in range(2):
        for g in range(3):
            m = keep[k, 25 * g : 25 * (g + 1)]
            if not m.any():
                ref = model.head(torch.zeros(1, 64))
            else:
                ei, _ = subgraph(m, ds[g].edge_index, relabel_nodes=True, num_nodes=25)
                ref = model(ds[g].x[m], ei)
            assert torch.allclose(out[k, g], ref[0], atol=1e-5)
    # public wrapper: all-kept masks reproduce the plain prediction
    p = induced_subgraph_proba(model, ds, [torch.ones(25, dtype=bool)] * len(ds))
    assert torch.allclose(p, predict_proba(model, ds), atol=1e-6)
    with pytest.raises(ValueError, match="node_masks"):
        induced_subgraph_proba(model, ds, [torch.ones(25, dtype=bool)])


def test_explainer_masks_zero_sum_and_determinism(tiny):
    ds, model = tiny
    ex = IsingGraphExplainer(model, max_epochs=2, batch_size=4, random_state=0).fit(ds)
    h = ex.field(ds)
    assert len(h) == len(ds) and all(x.shape == (25,) for x in h)
    assert all(abs(float(x.sum())) < 1e-4 for x in h)  # zero-sum field per graph
    masks = ex.transform(ds)
    assert all(isinstance(m, np.ndarray) and m.dtype == bool and m.shape == (25,) for m in masks)  # numpy
    assert all(np.array_equal(a, b) for a, b in zip(masks, ex.transform(ds)))  # transform is reproducible
    sm = ex.node_scores(ds[:2], kind="sample_mean", n_samples=8)
    assert all(((s >= 0) & (s <= 1)).all() for s in sm)
    pr = ex.node_scores(ds[:2], kind="probability")
    assert torch.allclose(pr[0], torch.sigmoid(2 * torch.as_tensor(h[0])))
    e = ex.explain(ds[0])
    assert e.node_mask.shape == (25, 1) and e.edge_mask.shape == (ds[0].edge_index.shape[1],)
    ex2 = IsingGraphExplainer(model, max_epochs=2, batch_size=4, random_state=0).fit(ds)
    assert all(np.allclose(a, b) for a, b in zip(h, ex2.field(ds)))
    # clone + pickle
    c = clone(ex)
    assert c.get_params()["max_epochs"] == 2 and not hasattr(c, "field_model_")
    ex3 = pickle.loads(pickle.dumps(ex))
    assert all(np.allclose(a, b) for a, b in zip(h, ex3.field(ds)))


def test_explainer_bad_params(tiny):
    ds, model = tiny
    with pytest.raises(ValueError, match="coupling"):
        IsingGraphExplainer(model, coupling=-1.0, max_epochs=1).fit(ds)
    with pytest.raises(ValueError, match="n_samples"):
        IsingGraphExplainer(model, n_samples=1, max_epochs=1).fit(ds)
    with pytest.raises(TypeError, match="model"):
        IsingGraphExplainer("gin", max_epochs=1).fit(ds)
    with pytest.raises(ValueError, match="loss_target"):
        IsingGraphExplainer(model, loss_target="x", max_epochs=1).fit(ds)
    for bad in (-0.1, float("nan"), "a"):
        with pytest.raises(ValueError, match="sparsity"):
            IsingGraphExplainer(model, sparsity=bad, max_epochs=1).fit(ds)
    with pytest.raises(TypeError, match="X"):
        IsingGraphExplainer(model, max_epochs=1).fit([1, 2])
    with pytest.raises(ValueError, match="y"):
        IsingGraphExplainer(model, max_epochs=1).fit(ds, y=[0])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        IsingGraphExplainer(model).transform(ds)


def test_sparsity_adds_kept_fraction_to_the_loss(tiny):
    ds, model = tiny
    ex0 = IsingGraphExplainer(model, max_epochs=0, sparsity=0.0, random_state=0).fit(ds[:3])
    ex1 = clone(ex0).set_params(sparsity=0.5).fit(ds[:3])
    items = ex0._prepare(ds[:3])
    batch = ex0._collate(items)
    gen = torch.Generator().manual_seed(0)
    x = torch.where(torch.rand(4, batch.graph.num_nodes, generator=gen) < 0.3, 1.0, -1.0)
    kept = torch.stack([(x[:, a:b] > 0).float().mean(1) for a, b in batch.graph.subgraph_slices()], 1)
    assert torch.allclose(ex1._task_loss(x, batch) - ex0._task_loss(x, batch), 0.5 * kept, atol=1e-6)


def test_hard_target_is_cross_entropy_to_the_predicted_class(tiny):
    # loss_target="hard" (the Mutagenicity recommendation): -log p_sub[argmax p_full] per sample and graph
    ds, model = tiny
    ex = IsingGraphExplainer(model, max_epochs=0, loss_target="hard", sparsity=0.0, random_state=0).fit(ds[:3])
    batch = ex._collate(ex._prepare(ds[:3]))
    gen = torch.Generator().manual_seed(1)
    x = torch.where(torch.rand(2, batch.graph.num_nodes, generator=gen) < 0.5, 1.0, -1.0)
    pf = predict_proba(model, ds[:3])
    slices = batch.graph.subgraph_slices()
    for k in range(2):
        ps = induced_subgraph_proba(model, ds[:3], [x[k, a:b] > 0 for a, b in slices])
        want = -torch.log(ps[torch.arange(3), pf.argmax(1)])
        assert torch.allclose(ex._task_loss(x, batch)[k], want, atol=1e-4)


def test_explainer_edge_features_use_gine():
    from torch_geometric.data import Data

    gen = torch.Generator().manual_seed(0)
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    graphs = [Data(x=torch.rand(4, 3, generator=gen), edge_index=ei, edge_attr=torch.rand(6, 2, generator=gen))
              for _ in range(4)]
    model = GINClassifier(3, edge_dim=2)
    ex = IsingGraphExplainer(model, max_epochs=1, random_state=0).fit(graphs)
    assert ex.field_model_.body.edge_dim == 2
    assert len(ex.transform(graphs)) == 4


def test_pyg_explainer_contract(tiny):
    from torch_geometric.explain import Explainer
    from torch_geometric.explain.metric import characterization_score, fidelity, groundtruth_metrics

    ds, model = tiny
    g = ds[5]
    explainer = Explainer(model, algorithm=IsingExplainerAlgorithm(epochs=3, random_state=0), **_config())
    e = explainer(g.x, g.edge_index)
    assert e.node_mask.shape == (25, 1) and e.edge_mask.shape == (g.edge_index.shape[1],)
    assert ((e.node_mask >= 0) & (e.node_mask <= 1)).all()
    fp, fm = fidelity(explainer, e)
    assert 0 <= fp <= 1 and 0 <= fm <= 1
    float(characterization_score(torch.tensor([fp]), torch.tensor([fm])).mean()) if fm < 1 else None
    acc, auc = groundtruth_metrics(e.node_mask.view(-1), g.node_gt.float(), metrics=["accuracy", "auroc"])
    assert 0 <= acc <= 1 and 0 <= auc <= 1
    # phenomenon with a batch of graphs and a pre-fitted estimator; log-prob model output
    est = IsingGraphExplainer(model, max_epochs=1, random_state=0).fit(ds)
    from torch_geometric.data import Batch

    b = Batch.from_data_list(ds[:3])
    ph = Explainer(model, algorithm=IsingExplainerAlgorithm(est, mask="sample"),
                   **_config(explanation_type="phenomenon", edge_mask_type=None))
    e = ph(b.x, b.edge_index, target=b.y, batch=b.batch)
    assert e.node_mask.shape == (75, 1) and set(e.node_mask.unique().tolist()) <= {0.0, 1.0}
    ph2 = Explainer(model, algorithm=IsingExplainerAlgorithm(epochs=1, random_state=0),
                    **_config(explanation_type="phenomenon"))
    e = ph2(b.x, b.edge_index, target=b.y, batch=b.batch)
    assert e.node_mask.shape == (75, 1)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(node_mask_type=None), "node_mask_type"),
        (dict(node_mask_type="attributes"), "node_mask_type"),
        (dict(model_config=dict(mode="multiclass_classification", task_level="node", return_type="raw")), "graph-level"),
        (dict(model_config=dict(mode="regression", task_level="graph", return_type="raw")), "regression"),
    ],
)
def test_pyg_supports_rejects(tiny, kw, match):
    from torch_geometric.explain import Explainer

    _, model = tiny
    with pytest.raises(ValueError, match=match):
        Explainer(model, algorithm=IsingExplainerAlgorithm(epochs=1), **_config(**kw))


def test_pyg_algorithm_bad_args():
    with pytest.raises(ValueError, match="mask"):
        IsingExplainerAlgorithm(mask="nope")
    with pytest.raises(TypeError, match="estimator"):
        IsingExplainerAlgorithm(estimator=3)


@pytest.mark.skipif(not HAVE_DATA, reason="shared data not available")
@pytest.mark.slow
def test_end_to_end_ba2motifs_beats_random():
    """120 real BA-2Motifs graphs: a quickly trained GIN and explainer; GEA beats random."""
    ds = load_ba2motifs()
    rng = np.random.default_rng(0)
    sub = [ds[i] for i in np.r_[rng.choice(500, 60, replace=False), 500 + rng.choice(500, 60, replace=False)]]
    torch.manual_seed(0)
    model, info = train_classifier(sub, model=GINClassifier(10, norm=True), epochs=30, batch_size=16, test_size=0.25, random_state=0, name="test")
    assert info["test_acc"] >= 0.8
    train = [sub[i] for i in info["train_idx"]]
    test = [sub[i] for i in info["test_idx"]]
    ex = IsingGraphExplainer(model, max_epochs=40, batch_size=8, lr=3e-3, n_samples=4, random_state=0).fit(train)
    h = ex.field(test)
    batch = torch.cat([torch.full((len(x),), i) for i, x in enumerate(h)])
    gt = torch.cat([d.node_gt for d in test])
    gea = np.nanmean(graph_explanation_accuracy(topk_node_mask(np.concatenate(h), 5, batch, random_state=0), gt,
                                                batch))
    rand = np.nanmean(graph_explanation_accuracy(
        topk_node_mask(np.random.default_rng(1).random(len(gt)), 5, batch, random_state=0), gt, batch))
    assert gea > rand + 0.08, (gea, rand)
    # cached classifier: the second call loads the weights
    _, info2 = train_classifier(sub, model=GINClassifier(10, norm=True), epochs=30, batch_size=16, test_size=0.25, random_state=0, name="test")
    assert info2["cached"] and info2["test_acc"] == info["test_acc"]


def _edge_graphs(n=4, edge_dim=2, seed=0):
    from torch_geometric.data import Data

    gen = torch.Generator().manual_seed(seed)
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    return [Data(x=torch.rand(4, 3, generator=gen), edge_index=ei,
                 edge_attr=torch.rand(6, edge_dim, generator=gen)) for _ in range(n)]


def test_edge_attr_must_be_present_or_absent_as_at_fit():
    with_ea = _edge_graphs()
    without = [type(g)(x=g.x, edge_index=g.edge_index) for g in with_ea]
    ex = IsingGraphExplainer(GINClassifier(3, edge_dim=2), max_epochs=1, random_state=0).fit(with_ea)
    assert ex.uses_edge_attr_
    with pytest.raises(ValueError, match=r"X\[0\]\.edge_attr: missing"):
        ex.transform(without)
    with pytest.raises(ValueError, match="edge_attr: 3 edge features"):
        ex.transform(_edge_graphs(edge_dim=3))
    ex2 = IsingGraphExplainer(GINClassifier(3), max_epochs=1, random_state=0).fit(without)
    assert not ex2.uses_edge_attr_
    with pytest.raises(ValueError, match=r"X\[0\]\.edge_attr: present"):
        ex2.transform(with_ea)
    # ignoring edge features is explicit, and then both kinds of graphs give the same masks
    ex3 = IsingGraphExplainer(GINClassifier(3), max_epochs=1, use_edge_attr=False, random_state=0).fit(with_ea)
    assert not ex3.uses_edge_attr_
    for a, b in zip(ex3.transform(with_ea), ex3.transform(without)):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="use_edge_attr"):
        IsingGraphExplainer(GINClassifier(3), use_edge_attr="yes", max_epochs=1).fit(without)


def test_classifier_without_edge_attr_argument_ignores_edge_features():
    """A plain PyG classifier whose forward takes no edge_attr works on graphs that carry edge_attr."""
    from torch_geometric.nn import GIN, global_mean_pool

    class PlainGIN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gnn = GIN(3, 16, 2, out_channels=2)

        def forward(self, x, edge_index, batch=None):
            b = torch.zeros(x.shape[0], dtype=torch.long) if batch is None else batch
            return global_mean_pool(self.gnn(x, edge_index), b)

    torch.manual_seed(0)
    graphs = _edge_graphs()
    ex = IsingGraphExplainer(PlainGIN(), max_epochs=1, random_state=0).fit(graphs)
    assert not ex.uses_edge_attr_
    assert len(ex.transform(graphs)) == 4
    with pytest.raises(ValueError, match="use_edge_attr=True: model.forward takes no edge_attr"):
        IsingGraphExplainer(PlainGIN(), max_epochs=1, use_edge_attr=True, random_state=0).fit(graphs)
