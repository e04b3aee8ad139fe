import time

import numpy as np
import pytest
import torch

from gclhand.hand import build_graph_hierarchy
from gclhand.hand.graph import _is_connected, heavy_edge_matching


@pytest.fixture(scope='module')
def hierarchy(hand_model, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp('graphs'))
    t0 = time.perf_counter()
    gh = build_graph_hierarchy(hand_model, cache_dir=cache)
    t1 = time.perf_counter()
    again = build_graph_hierarchy(hand_model, cache_dir=cache)
    t2 = time.perf_counter()
    print(f'\ngraph hierarchy: build {t1 - t0:.3f} s, cached {t2 - t1:.4f} s')
    return gh, again


def test_cache_hit_on_second_build(hierarchy):
    gh, again = hierarchy
    assert not gh.from_cache and again.from_cache
    for l in range(3):
        assert torch.equal(gh.edge_index[l], again.edge_index[l])
    assert torch.equal(gh.mesh_upsample, again.mesh_upsample)


def test_level_sizes_and_pooling(hierarchy):
    gh, _ = hierarchy
    assert gh.num_nodes == [63, 126, 252]
    for l in range(2):
        up = gh.upsample[l]
        assert up.shape == (gh.num_nodes[l + 1], gh.num_nodes[l])
        assert torch.equal(up.sum(1), torch.ones(gh.num_nodes[l + 1]))  # one parent per row
        assert up[5, 2] == 1 and up[4, 2] == 1  # positions 2c, 2c+1 belong to node c
        x = torch.randn(gh.num_nodes[l], 4)
        assert (up @ x).shape == (gh.num_nodes[l + 1], 4)
    assert gh.mesh_upsample.shape == (778, 252) and gh.mesh_downsample.shape == (252, 778)
    torch.testing.assert_close(gh.mesh_upsample.sum(1), torch.ones(778))
    real = ~gh.is_fake[-1]
    torch.testing.assert_close(gh.mesh_downsample.sum(1)[real], torch.ones(int(real.sum())))
    assert gh.mesh_downsample[gh.is_fake[-1]].abs().sum() == 0


def test_graphs_symmetric_connected_fake_isolated(hierarchy):
    gh, _ = hierarchy
    for l in range(3):
        a = gh.dense_adjacency(l)
        assert torch.equal(a, a.t()) and a.diagonal().abs().sum() == 0
        fake = gh.is_fake[l]
        assert a[fake].abs().sum() == 0
        assert int((~fake).sum()) > 0.8 * gh.num_nodes[l]  # capacity is used
        # connected: (I + A)^n reaches every real node from the first one
        real = torch.nonzero(~fake).flatten()
        reach = torch.zeros(gh.num_nodes[l])
        reach[real[0]] = 1
        for _ in range(gh.num_nodes[l]):
            reach = ((reach + a @ reach) > 0).float()
        assert reach[real].all() and not reach[fake].any()


def test_connectivity_check_hand_made():
    """The build's connectivity check: a path is connected, two separate edges are not,
    isolated nodes outside ``nodes`` (the fake nodes) do not count."""
    path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    two_edges = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    assert _is_connected(path, np.array([0, 1, 2]))
    assert _is_connected(path, np.array([0, 1, 2, 4])) is False  # node 4 has no edge
    assert _is_connected(path, np.array([], dtype=np.int64))
    assert not _is_connected(two_edges, np.array([0, 1, 2, 3]))
    assert _is_connected(two_edges, np.array([2, 3]))
    assert _is_connected(torch.tensor([[0], [1]]), np.array([0, 1]))  # one direction only


def test_scaled_laplacian_spectrum(hierarchy):
    gh, _ = hierarchy
    for l in range(3):
        ei, ew = gh.scaled_laplacian(l)
        n = gh.num_nodes[l]
        m = torch.zeros(n, n, dtype=torch.float64)
        m[ei[0], ei[1]] = ew.double()
        ev = torch.linalg.eigvalsh(m)
        assert ev.min() >= -1 - 1e-5 and ev.max() <= 1 + 1e-5
        # the operator uses the bound lambda_max = 2 (one definition with the decoder):
        # the true largest eigenvalue maps to lambda_max(level) - 1
        assert ev.max().item() == pytest.approx(gh.lambda_max[l] - 1, abs=1e-5)


def test_mesh_roundtrip_is_accurate(hierarchy, hand_model):
    gh, _ = hierarchy
    pose = torch.randn(4, 45) * 0.3
    v = hand_model(side='left', hand_pose=pose).vertices
    rec = gh.mesh_upsample @ (gh.mesh_downsample @ v)
    err = (rec - v).norm(dim=-1).mean()
    assert err < 0.004  # metres; a copy-only upsample is ~3x worse


def test_heavy_edge_matching_hand_computed():
    # path 0-1-2-3 with weights 1, 5, 1: the heavy middle edge is matched, 0 and 3 alone
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    ew = torch.tensor([1., 1., 5., 5., 1., 1.])
    cl = heavy_edge_matching(ei, ew, 4)
    assert cl.tolist() == [0, 1, 1, 2]
    # equal weights on a 4-cycle: a perfect matching, two clusters of two
    ei = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])
    cl = heavy_edge_matching(ei, torch.ones(8), 4)
    assert np.bincount(cl).tolist() == [2, 2]
    assert heavy_edge_matching(ei, torch.ones(8), 4, max_pairs=1).max() == 2


def _undirected(pairs, weights):
    ei = torch.tensor([[a for a, b in pairs] + [b for a, b in pairs],
                       [b for a, b in pairs] + [a for a, b in pairs]])
    return ei, torch.tensor(list(weights) * 2, dtype=torch.float)


def test_heavy_edge_matching_uses_the_normalised_cut_weight():
    """Path 0-1-2-3 with weights 1, 1.2, 1: the plain heaviest edge is the middle one, but
    the normalised-cut weight w_ij (1/d_i + 1/d_j) is 1.45 for the end edges against 1.09
    for the middle one, so the ends are matched."""
    ei, ew = _undirected([(0, 1), (1, 2), (2, 3)], [1.0, 1.2, 1.0])
    assert heavy_edge_matching(ei, ew, 4).tolist() == [0, 0, 1, 1]
    # max_pairs keeps the heaviest pairs: two lone edges (score 2) beat the pair of a
    # path 4-5-6 (score 1.5)
    ei, ew = _undirected([(0, 1), (2, 3), (4, 5), (5, 6)], [1.0, 5.0, 1.0, 1.0])
    assert heavy_edge_matching(ei, ew, 7).tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert heavy_edge_matching(ei, ew, 7, max_pairs=2).tolist() == [0, 0, 1, 1, 2, 3, 4]


def test_mesh_edges_of_one_triangle():
    from gclhand.hand.graph import mesh_edges
    ei, ew = mesh_edges(np.array([[0, 1, 2]]), 4)
    assert sorted(map(tuple, ei.t().tolist())) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0),
                                                   (2, 1)]
    assert ew.tolist() == [1.0] * 6


def test_bad_num_nodes(hand_model, tmp_path):
    with pytest.raises(ValueError, match='double'):
        build_graph_hierarchy(hand_model, num_nodes=(63, 120, 252), cache_dir=str(tmp_path))
