"""The hand-written tensor products of EquivariantMeshField equal e3nn's (values and gradients)."""

import numpy as np
import pytest
import torch

from skising.datasets import load_bunny
from skising.sparsify._sparsifier import _MeshBatch, _MeshItem


@pytest.mark.parametrize("channels", [4, 8])
def test_fast_tensor_products_equal_e3nn(channels):
    pytest.importorskip("e3nn")
    from skising.sparsify import EquivariantMeshField

    g = load_bunny()
    b = _MeshBatch([_MeshItem(g.pos.numpy().astype(np.float64), g.data["faces"])], "cpu")
    torch.manual_seed(0)
    model = EquivariantMeshField(channels=channels)
    outs = {}
    for flag in (True, False):
        model.use_e3nn_tp = flag
        model.zero_grad()
        h = model(b.pos, b.z, b.edge_index)
        (h**2).sum().backward()
        outs[flag] = (h.detach(), [p.grad.clone() for p in model.parameters()])
    (h1, g1), (h2, g2) = outs[True], outs[False]
    assert h1.abs().max() > 1e-3
    torch.testing.assert_close(h2, h1, rtol=1e-5, atol=1e-6)
    for a, c in zip(g1, g2):
        torch.testing.assert_close(c, a, rtol=1e-4, atol=1e-6 * float(a.abs().max() + 1))
