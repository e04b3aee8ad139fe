"""Tests of the graph disturbers (gclhand/models/disturbers)."""
import random

import pytest
import torch
from torch_geometric.utils import coalesce, contains_self_loops, is_undirected, to_dense_adj

from gclhand.models.disturbers import (Compose, Disturber, EdgeAdd, EdgeFlip, FeatureMask,
                                       FeatureNoise, Graph, GraphUNetDisturber, RandomChoice)
from gclhand.registry import DISTURBERS
from gclhand.utils import ConfigError, build_component


def ring_graph(n: int):
    """Undirected ring with distinct weights 1..n per undirected edge (coalesced)."""
    src = torch.arange(n)
    dst = (src + 1) % n
    w = torch.arange(1, n + 1, dtype=torch.float)
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    return coalesce(ei, torch.cat([w, w]), num_nodes=n)


@pytest.fixture
def graph():
    torch.manual_seed(0)
    ei, ew = ring_graph(12)
    return torch.randn(4, 12, 8), ei, ew


def snapshot(*ts):
    return [t.clone() for t in ts]


def test_feature_mask_rate_and_per_sample_channels():
    torch.manual_seed(0)
    x = torch.randn(200, 10, 64).abs() + 0.1  # no exact zeros before masking
    out = FeatureMask(p=0.3)(x, *ring_graph(10))
    zero = out.x == 0
    # the same channels are masked on every node of a sample
    assert torch.equal(zero, zero[:, :1].expand_as(zero))
    rate = zero[:, 0].float().mean().item()
    assert abs(rate - 0.3) < 0.02  # 12800 Bernoulli draws, std 0.004
    # kept entries are unchanged (no rescaling)
    assert torch.equal(out.x[~zero], x[~zero])
    # samples get different masks
    assert not torch.equal(zero[0, 0], zero[1, 0])


def test_feature_noise_scale():
    torch.manual_seed(0)
    x = torch.randn(64, 50, 32) * 3.0
    ei, ew = ring_graph(50)
    d = (FeatureNoise(sigma=0.5)(x, ei, ew).x - x)
    assert abs(d.std().item() - 0.5) < 0.01 and abs(d.mean().item()) < 0.01
    d_rel = FeatureNoise(sigma=0.5, relative=True)(x, ei, ew).x - x
    assert abs(d_rel.std().item() - 1.5) < 0.03  # 0.5 x feature std 3
    # relative noise is per-sample: a sample scaled by 10 gets 10x noise
    x2 = x.clone()
    x2[0] *= 10
    d2 = FeatureNoise(sigma=0.5, relative=True)(x2, ei, ew).x - x2
    assert d2[0].std() / d2[1:].std() == pytest.approx(10, rel=0.05)


@pytest.mark.parametrize('disturber', [FeatureMask(0.5), FeatureNoise(0.2)])
def test_feature_disturbers_keep_graph_and_inputs(graph, disturber):
    x, ei, ew = graph
    before = snapshot(x, ei, ew)
    out = disturber(x, ei, ew)
    assert out.edge_index is ei and out.edge_weight is ew  # structure untouched (identity)
    assert out.x.shape == x.shape and not torch.equal(out.x, x)
    for a, b in zip(before, (x, ei, ew)):
        assert torch.equal(a, b)


def _check_graph(ei, n):
    assert is_undirected(ei, num_nodes=n)
    assert not contains_self_loops(ei)


def test_edge_add_count_weights_and_symmetry(graph):
    x, ei, ew = graph
    before = snapshot(x, ei, ew)
    random.seed(0)  # PyG's negative sampling draws with Python's random
    out = EdgeAdd(ratio=0.5)(x, ei, ew)
    assert out.x is x
    n = x.size(1)
    _check_graph(out.edge_index, n)
    # 24 directed edges: round(0.5 * 24) // 2 = 6 new undirected edges, weight 1
    assert out.edge_index.size(1) == ei.size(1) + 12
    a_old = to_dense_adj(ei, edge_attr=ew, max_num_nodes=n)[0]
    a_new = to_dense_adj(out.edge_index, edge_attr=out.edge_weight, max_num_nodes=n)[0]
    old = a_old != 0
    assert torch.equal(a_new[old], a_old[old])  # existing edges keep their weights
    assert torch.equal(a_new[~old & (a_new != 0)], torch.ones(12))
    for a, b in zip(before, (x, ei, ew)):
        assert torch.equal(a, b)


@pytest.mark.parametrize('relative_to,expected', [('edges', 4), ('pairs', 22)])
def test_edge_flip_count_and_symmetry(graph, relative_to, expected):
    x, ei, ew = graph
    before = snapshot(x, ei, ew)
    d = EdgeFlip(ratio=1 / 3, relative_to=relative_to)  # 12 edges, 66 pairs
    assert d.num_flips(12, ei.size(1)) == expected
    out = d(x, ei, ew)
    assert out.x is x
    _check_graph(out.edge_index, 12)
    a_old = to_dense_adj(ei, edge_attr=ew, max_num_nodes=12)[0]
    a_new = to_dense_adj(out.edge_index, edge_attr=out.edge_weight, max_num_nodes=12)[0]
    changed = (a_old != 0) != (a_new != 0)
    assert int(changed.triu(1).sum()) == expected  # exactly k pairs flipped
    same = ~changed & (a_old != 0)
    assert torch.equal(a_new[same], a_old[same])  # unflipped edges keep weights
    added = changed & (a_new != 0)
    assert torch.all(a_new[added] == 1)
    for a, b in zip(before, (x, ei, ew)):
        assert torch.equal(a, b)


def test_edge_flip_all_pairs_is_complement():
    ei, ew = ring_graph(6)
    out = EdgeFlip(ratio=1.0, relative_to='pairs')(torch.zeros(1, 6, 2), ei, ew)
    a_old = to_dense_adj(ei, max_num_nodes=6)[0]
    a_new = to_dense_adj(out.edge_index, max_num_nodes=6)[0]
    assert torch.equal(a_new, 1 - a_old - torch.eye(6))


def test_graph_unet_disturber(graph):
    x, ei, ew = graph
    x = x.requires_grad_()
    d = GraphUNetDisturber(channels=8, hidden_channels=16, depth=2, pool_ratios=0.5)
    assert sum(p.numel() for p in d.parameters()) > 0
    out = d(x, ei, ew)
    assert out.x.shape == x.shape and out.edge_index is ei and out.edge_weight is ew
    assert not torch.allclose(out.x, x)
    out.x.square().sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in d.parameters() if p.requires_grad)
    # samples are independent graphs of the batch: one sample alone gives the same output
    with torch.no_grad():
        alone = d(x[2:3], ei, ew).x
    assert torch.allclose(alone[0], out.x[2], atol=1e-5)
    with pytest.raises(ValueError, match='channels'):
        d(torch.randn(2, 12, 5), ei, ew)


def test_compose_and_random_choice(graph):
    x, ei, ew = graph
    torch.manual_seed(1)
    random.seed(1)
    out = Compose([dict(type='FeatureMask', p=1.0), dict(type='EdgeAdd', ratio=0.5)])(x, ei, ew)
    assert torch.count_nonzero(out.x) == 0 and out.edge_index.size(1) == ei.size(1) + 12
    rc = RandomChoice([FeatureMask(p=1.0), EdgeAdd(ratio=0.5)], num_choices=1)
    random.seed(0)
    kinds = set()
    for _ in range(20):
        o = rc(x, ei, ew)
        masked, added = bool(torch.count_nonzero(o.x) == 0), o.edge_index.size(1) > ei.size(1)
        assert masked != added  # exactly one applied
        kinds.add(masked)
    assert kinds == {True, False}
    with pytest.raises(ValueError, match='num_choices'):
        RandomChoice([FeatureMask()], num_choices=2)


def test_registry_and_errors(graph):
    x, ei, ew = graph
    for name in ('FeatureMask', 'FeatureNoise', 'EdgeAdd', 'EdgeFlip', 'GraphUNetDisturber',
                 'Compose', 'RandomChoice'):
        assert DISTURBERS.get(name) is not None
    d = build_component(DISTURBERS, dict(type='EdgeFlip', ratio=0.2))
    assert isinstance(d, Disturber) and isinstance(d(x, ei, ew), Graph)
    with pytest.raises(ConfigError, match="unknown disturber 'NoSuch'"):
        build_component(DISTURBERS, dict(type='NoSuch'), key='model.dgcl.disturber')
    with pytest.raises(ValueError, match=r'\(M, N, C\)'):
        FeatureMask()(x[0], ei, ew)
    with pytest.raises(ValueError):
        FeatureMask(p=1.5)
