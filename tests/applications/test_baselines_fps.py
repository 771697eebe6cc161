"""Farthest point sampling: the start point is honoured on every backend."""

import numpy as np
import pytest

from skising.baselines import FarthestPointSubsampler, farthest_point_sampling
from skising.baselines._fps import _fps

fpsample = pytest.importorskip("fpsample")


@pytest.mark.parametrize("n", [20, 31, 32, 200])
@pytest.mark.parametrize("start", [0, 5, 17])
def test_explicit_start_matches_exact_torch_fps(n, start):
    pos = np.random.default_rng(n).random((n, 3))
    auto = farthest_point_sampling(pos, 8, start=start)
    exact = farthest_point_sampling(pos, 8, start=start, backend="torch")
    assert auto[0] == start
    assert auto.tolist() == exact.tolist()


def test_random_start_bucket_path_gives_distinct_first_points():
    # fpsample's bucket FPS maps start_idx through a permutation of the points,
    # so random starts stay uniformly random even where it ignores the index
    pos = np.random.default_rng(0).random((200, 3)).astype(np.float32)
    firsts = {int(_fps(pos, 2, s, "auto", exact_start=False)[0]) for s in range(200)}
    assert len(firsts) == 200


def test_subsampler_fixed_start_keeps_that_node():
    pos = np.random.default_rng(1).random((300, 3))
    edge_index = np.array([np.arange(299), np.arange(1, 300)])
    from skising.graph import as_graph

    g = as_graph(edge_index, num_nodes=300, pos=pos)
    mask = FarthestPointSubsampler(target_fraction=0.1, start=123).fit_transform(g)
    assert mask[123] and mask.sum() == 30
