"""GEA / fidelity metrics and the explanation datasets, against hand-computed cases."""

import numpy as np
import pytest
import torch

from skising.datasets import get_data_home, load_ba2motifs, load_tu, make_ba2motifs
from skising.metrics import graph_explanation_accuracy, harmonic_fidelity, prediction_fidelity, topk_node_mask

HAVE_DATA = (get_data_home() / "ba2motifs" / "ba2motifs.npz").exists()


def test_topk_basic_and_fraction():
    assert topk_node_mask([0.1, 0.9, 0.5, 0.2], 2).tolist() == [False, True, True, False]
    # fraction rounds up per graph: graph 0 has 3 nodes -> 2, graph 1 has 2 -> 1
    m = topk_node_mask([3, 1, 2, 5, 4], 0.5, batch=[0, 0, 0, 1, 1])
    assert m.tolist() == [True, False, True, True, False]
    assert topk_node_mask([1, 2], 5).tolist() == [True, True]  # k larger than the graph


def test_topk_ties_broken_at_random():
    # constant scores: index-order tie breaking would always pick nodes 0..k-1
    picks = np.stack([topk_node_mask(np.zeros(25), 5, random_state=s) for s in range(400)])
    assert (picks.sum(1) == 5).all()
    freq = picks.mean(0)
    assert np.allclose(freq, 0.2, atol=0.08)
    assert topk_node_mask(np.zeros(25), 5, random_state=3).tolist() == topk_node_mask(np.zeros(25), 5, random_state=3).tolist()


def test_topk_errors():
    with pytest.raises(ValueError, match="k"):
        topk_node_mask([1, 2, 3], 1.5)
    with pytest.raises(TypeError, match="k"):
        topk_node_mask([1, 2, 3], "2")
    with pytest.raises(ValueError, match="scores"):
        topk_node_mask([1, np.nan], 1)
    with pytest.raises(ValueError, match="batch"):
        topk_node_mask([1, 2, 3], 1, batch=[0, 1])


def test_gea_jaccard_hand_computed():
    # graph 0: P={0,1}, G={1,2} -> 1/3 ; graph 1: P={3}, G={3} -> 1
    gea = graph_explanation_accuracy([1, 1, 0, 1], [0, 1, 1, 1], batch=[0, 0, 0, 1])
    assert np.allclose(gea, [1 / 3, 1.0])
    # alternatives: max over ground truths
    gea = graph_explanation_accuracy([1, 1, 0, 0], [[0, 0, 1, 1], [1, 1, 1, 0]])
    assert np.allclose(gea, [2 / 3])
    # both empty -> NaN
    assert np.isnan(graph_explanation_accuracy([0, 0], [0, 0])[0])
    with pytest.raises(ValueError, match="gt_mask"):
        graph_explanation_accuracy([1, 0], [1, 0, 0])


def test_prediction_fidelity_hand_computed():
    r = prediction_fidelity([[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.7, 0.3]])
    assert r["agreement"].tolist() == [1.0, 0.0]
    assert np.allclose(r["prob"], [0.7, 0.5])
    r = prediction_fidelity([[0.9, 0.1]], [[0.6, 0.4]], target=[1])
    assert np.allclose(r["prob"], [0.7])
    with pytest.raises(ValueError, match="p_sub"):
        prediction_fidelity([[0.9, 0.1]], [[0.6, 0.4, 0.0]])


def test_harmonic_fidelity_hand_computed():
    # fid = 0.9 - 0.1 = 0.8, inv = 0, sparsity 0.8: nf = 0.64, ni = 0
    r = harmonic_fidelity([[0.9, 0.1]], [[0.9, 0.1]], [[0.1, 0.9]], [0.2])
    assert np.allclose(r["fidelity"], 0.8) and np.allclose(r["inv_fidelity"], 0.0)
    assert np.allclose(r["harmonic"], 1.64 / 2.64)
    # neutral explanation: no change either way -> 0.5
    r = harmonic_fidelity([[0.5, 0.5]], [[0.5, 0.5]], [[0.5, 0.5]], [0.3])
    assert np.allclose(r["harmonic"], 0.5)
    # it is the harmonic mean of (1 + nf)/2 and (1 - ni)/2
    pf, pk, pr, f = np.array([[0.8, 0.2]]), np.array([[0.6, 0.4]]), np.array([[0.3, 0.7]]), 0.4
    nf, ni = (0.8 - 0.3) * 0.6, (0.8 - 0.6) * 0.4
    a, b = (1 + nf) / 2, (1 - ni) / 2
    assert np.allclose(harmonic_fidelity(pf, pk, pr, [f])["harmonic"], 2 * a * b / (a + b))


def test_make_ba2motifs_ground_truth():
    ds = make_ba2motifs(6, random_state=1)
    assert [int(d.y) for d in ds] == [0, 0, 0, 1, 1, 1]
    for d in ds:
        assert d.num_nodes == 25 and d.x.shape == (25, 10)
        assert d.node_gt.tolist() == [False] * 20 + [True] * 5
        n_motif_edges = int(d.edge_gt.sum()) // 2
        assert n_motif_edges == (5 if int(d.y) == 0 else 6)
        assert d.edge_index.shape[1] // 2 == 19 + n_motif_edges + 1  # BA tree + motif + one link
    a = make_ba2motifs(2, random_state=5)
    b = make_ba2motifs(2, random_state=5)
    assert torch.equal(a[1].edge_index, b[1].edge_index)
    with pytest.raises(ValueError, match="n_graphs"):
        make_ba2motifs(0)


@pytest.mark.skipif(not HAVE_DATA, reason="shared data not available")
def test_load_ba2motifs_and_tu():
    ds = load_ba2motifs()
    assert len(ds) == 1000 and sum(int(d.y) for d in ds) == 500
    assert all(int(d.node_gt.sum()) == 5 and bool(d.node_gt[20:].all()) for d in ds[:50])
    mutag = load_tu("MUTAG")
    assert len(mutag) == 188 and mutag[0].x.shape[1] == 7 and mutag[0].edge_attr.shape[1] == 4
    # every edge listed in both directions, no edge across graphs
    ei = mutag[0].edge_index
    assert ei.max() < mutag[0].num_nodes and ei.shape[1] % 2 == 0


def test_load_tu_missing(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_tu("NOPE", data_home=tmp_path)
    (tmp_path / "tu" / "BAD").mkdir(parents=True)
    (tmp_path / "tu" / "BAD" / "BAD_A.txt").write_text("1, 2\n2, 1\n")
    with pytest.raises(FileNotFoundError, match="graph_indicator"):
        load_tu("BAD", data_home=tmp_path)


def test_load_tu_tiny_with_gt(tmp_path):
    d = tmp_path / "tu" / "TINY"
    d.mkdir(parents=True)
    # graph 1: nodes 1-3 path; graph 2: nodes 4-5 edge
    (d / "TINY_A.txt").write_text("1, 2\n2, 1\n2, 3\n3, 2\n4, 5\n5, 4\n")
    (d / "TINY_graph_indicator.txt").write_text("1\n1\n1\n2\n2\n")
    (d / "TINY_graph_labels.txt").write_text("1\n-1\n")
    (d / "TINY_node_labels.txt").write_text("0\n1\n0\n2\n2\n")
    (d / "TINY_edge_labels.txt").write_text("0\n0\n1\n1\n0\n0\n")
    (d / "TINY_edge_gt.txt").write_text("0\n0\n1\n1\n0\n0\n")
    ds = load_tu("TINY", data_home=tmp_path)
    assert [int(g.y) for g in ds] == [1, 0]
    assert ds[0].x.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert ds[1].edge_index.tolist() == [[0, 1], [1, 0]]
    assert ds[0].node_gt.tolist() == [False, True, True]
    assert ds[0].edge_attr.shape == (4, 2)


def test_toxicophores_on_hand_built_molecule():
    from torch_geometric.data import Data

    from skising.datasets import toxicophore_node_masks

    # atoms: 0 C (aliphatic), 1 Cl, 2 N, 3 O, 4 O, 5 N, 6 H, 7 H, 8 N, 9 N (azo pair 8=9), 10 C, 11 C (C=C)
    atoms = [0, 2, 4, 1, 1, 4, 3, 3, 4, 4, 0, 0]
    bonds = [(0, 1, 1), (2, 3, 2), (2, 4, 1), (0, 2, 1), (5, 6, 1), (5, 7, 1), (0, 5, 1), (8, 9, 2),
             (10, 11, 2), (10, 8, 1)]
    src = [a for a, b, _ in bonds] + [b for a, b, _ in bonds]
    dst = [b for a, b, _ in bonds] + [a for a, b, _ in bonds]
    v = [c for *_, c in bonds] * 2
    x = torch.nn.functional.one_hot(torch.tensor(atoms), 14).float()
    ea = torch.nn.functional.one_hot(torch.tensor(v) - 1, 3).float()
    d = Data(x=x, edge_index=torch.tensor([src, dst]), edge_attr=ea)
    found = {name: torch.nonzero(m).view(-1).tolist() for name, m in toxicophore_node_masks(d)}
    assert found == {"NO2": [2, 3, 4], "NH2": [5, 6, 7], "azo": [8, 9], "aliphatic_halide": [0, 1]}
