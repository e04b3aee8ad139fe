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


def test_edge_flip_removes_k_edges_and_adds_k_absent_pairs(graph):
    """A flip keeps the edge count: k existing edges go, k absent pairs come (issue 18.4)."""
    x, ei, ew = graph
    before = snapshot(x, ei, ew)
    d = EdgeFlip(ratio=1 / 3)  # 12 undirected edges -> k = 4
    assert d.num_flips(ei.size(1), num_free_pairs=100) == 4
    assert d.num_flips(ei.size(1), num_free_pairs=3) == 3  # not more than there are
    for seed in range(5):
        torch.manual_seed(seed)
        out = d(x, ei, ew)
        assert out.x is x
        _check_graph(out.edge_index, 12)
        a_old = to_dense_adj(ei, edge_attr=ew, max_num_nodes=12)[0]
        a_new = to_dense_adj(out.edge_index, edge_attr=out.edge_weight, max_num_nodes=12)[0]
        removed = ((a_old != 0) & (a_new == 0)).triu(1)
        added = ((a_old == 0) & (a_new != 0)).triu(1)
        assert int(removed.sum()) == 4 and int(added.sum()) == 4
        assert out.edge_index.size(1) == ei.size(1)
        kept = (a_old != 0) & (a_new != 0)
        assert torch.equal(a_new[kept], a_old[kept])  # unflipped edges keep weights
        assert torch.all(a_new[added | added.t()] == 1)
    for a, b in zip(before, (x, ei, ew)):
        assert torch.equal(a, b)


def test_edge_flip_draws_uniformly():
    """Over many draws every edge is removed, and every absent pair added, about equally."""
    ei, ew = ring_graph(8)  # 8 edges, 20 absent pairs; k = 4
    x = torch.zeros(1, 8, 2)
    torch.manual_seed(0)
    removed, added = torch.zeros(8, 8), torch.zeros(8, 8)
    a_old = to_dense_adj(ei, max_num_nodes=8)[0]
    for _ in range(400):
        a_new = to_dense_adj(EdgeFlip(ratio=0.5)(x, ei, ew).edge_index, max_num_nodes=8)[0]
        removed += ((a_old != 0) & (a_new == 0)).triu(1).float()
        added += ((a_old == 0) & (a_new != 0)).triu(1).float()
    r = removed[(a_old != 0).triu(1)] / 400  # expected 4/8
    a = added[(a_old == 0).triu(1) & ~torch.eye(8, dtype=torch.bool)] / 400  # 4/20
    assert r.sub(0.5).abs().max() < 0.1 and a.sub(0.2).abs().max() < 0.08


@pytest.mark.parametrize('kind', ['EdgeFlip', 'EdgeAdd'])
def test_edge_disturbers_never_wire_padding_nodes(kind):
    """Padding (fake) nodes stay isolated: edges are drawn among real nodes (issue 18.5)."""
    n, real = 10, 6
    ei, ew = ring_graph(real)
    mask = torch.arange(n) < real
    d = DISTURBERS.build(dict(type=kind, ratio=1.0))
    torch.manual_seed(0)
    random.seed(0)
    touched = torch.zeros(n, dtype=torch.bool)
    for _ in range(20):
        out = d(torch.randn(2, n, 3), ei, ew, node_mask=mask)
        touched[out.edge_index.flatten()] = True
        assert out.node_mask is mask
        _check_graph(out.edge_index, n)
    assert touched[:real].all() and not touched[real:].any()
    # without a mask every node is real, so the same draws reach the isolated nodes
    out = DISTURBERS.build(dict(type=kind, ratio=1.0))(torch.randn(2, n, 3), ei, ew)
    assert out.edge_index.max() >= real


def test_edge_flip_all_edges():
    """ratio 1 removes every edge and adds as many new ones (enough free pairs)."""
    ei, ew = ring_graph(7)  # 7 edges, 14 absent pairs
    out = EdgeFlip(ratio=1.0)(torch.zeros(1, 7, 2), ei, ew)
    a_old = to_dense_adj(ei, max_num_nodes=7)[0]
    a_new = to_dense_adj(out.edge_index, max_num_nodes=7)[0]
    assert not (a_old.bool() & a_new.bool()).any() and int(a_new.sum()) == 14


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
    # the replicated batch graph is PyG's Batch, built once per graph and batch size
    batch = d.batch_graph(Graph(x, ei, ew), 4)
    assert d.batch_graph(Graph(x, ei, ew), 4) is batch
    assert batch.num_graphs == 4 and batch.edge_index.size(1) == 4 * ei.size(1)
    assert torch.equal(batch.batch, torch.arange(4).repeat_interleave(12))
    assert torch.equal(batch.edge_index[:, ei.size(1):2 * ei.size(1)], ei + 12)
    assert d.batch_graph(Graph(x[:3], ei, ew), 3) is not batch
    assert d.batch_graph(Graph(x, ei.clone(), ew), 4) is not batch
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
