"""Tests of the graph disturbers (gclhand/models/disturbers)."""
import math
import random

import pytest
import torch
from torch_geometric.utils import (coalesce, contains_self_loops, is_undirected, to_dense_adj,
                                   to_undirected)

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




def hand_like_graph(n_real: int = 40, n: int = 48):
    """A chain with skip edges over the first ``n_real`` nodes, the rest isolated (padding),
    distinct positive weights (coalesced, symmetric)."""
    src = torch.cat([torch.arange(n_real - 1), torch.arange(n_real - 3)])
    dst = torch.cat([src[:n_real - 1] + 1, src[n_real - 1:] + 3])
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    w = torch.rand(src.numel(), generator=torch.Generator().manual_seed(3)) + 0.5
    return coalesce(ei, torch.cat([w, w]), num_nodes=n), n


def dense_and_sparse(**kwargs):
    dense = GraphUNetDisturber(**kwargs)
    sparse = GraphUNetDisturber(**kwargs, impl='sparse')
    sparse.load_state_dict(dense.state_dict())  # the same parameters, two evaluations
    return dense, sparse


def forward_backward(d, x, ei, ew, grad_out):
    x = x.clone().requires_grad_()
    out = d(x, ei, ew).x
    (out * grad_out).sum().backward()
    return out.detach(), x.grad, [p.grad for p in d.parameters()]


@pytest.mark.parametrize('kwargs', [
    dict(depth=1),
    dict(depth=2),
    dict(depth=3, pool_ratios=[0.8, 0.3, 0.5], sum_res=False, act='tanh', hidden_channels=12),
    dict(depth=2, pool_ratios=[2, 0.5]),  # a ratio >= 1 keeps int(ratio) nodes
    dict(depth=1, pool_ratios=1),  # ... so 1 keeps one node, not all
])
@pytest.mark.parametrize('weighted', [True, False])
def test_graph_unet_dense_equals_pyg_graph_unet(kwargs, weighted):
    """impl='dense' is PyG's GraphUNet on the batch graph: output, input gradient and every
    parameter gradient agree (padding nodes, edge weights, levels, skips, activations)."""
    torch.manual_seed(0)
    (ei, ew), n = hand_like_graph()
    ew = ew if weighted else None
    dense, sparse = dense_and_sparse(channels=8, **kwargs)
    x = torch.randn(5, n, 8)
    grad_out = torch.randn(5, n, 8)
    (out_d, gx_d, gp_d), (out_s, gx_s, gp_s) = (forward_backward(d, x, ei, ew, grad_out)
                                                for d in (dense, sparse))
    torch.testing.assert_close(out_d, out_s, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_d, gx_s, rtol=1e-5, atol=1e-5)
    for a, b in zip(gp_d, gp_s):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_graph_unet_dense_follows_edge_direction_and_self_loops():
    """Messages flow source -> target, degrees count incoming weight, and a self loop keeps
    its weight (GCNConv's add_remaining_self_loops): directed and looped graphs agree too."""
    torch.manual_seed(1)
    # a directed cycle, a loop at 2, a zero-weight loop at 6 (degree 0), 3 -> 4 given twice
    ei = torch.tensor([[0, 1, 2, 3, 4, 2, 5, 3, 6], [1, 2, 3, 4, 0, 2, 0, 4, 6]])
    ew = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5, 4.0, 0.7, 2.5, 0.0])
    dense, sparse = dense_and_sparse(channels=4, depth=1)
    x, grad_out = torch.randn(3, 7, 4), torch.randn(3, 7, 4)
    (out_d, gx_d, _), (out_s, gx_s, _) = (forward_backward(d, x, ei, ew, grad_out)
                                          for d in (dense, sparse))
    torch.testing.assert_close(out_d, out_s, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_d, gx_s, rtol=1e-5, atol=1e-5)


def test_graph_unet_dense_pooling_multiplier():
    """TopKPooling's ``multiplier`` scales the pooled features in both evaluations."""
    torch.manual_seed(2)
    (ei, ew), n = hand_like_graph()
    dense, sparse = dense_and_sparse(channels=4, depth=1)
    for d in (dense, sparse):
        d.unet.pools[0].multiplier = 2.0
    x, grad_out = torch.randn(3, n, 4), torch.randn(3, n, 4)
    (out_d, gx_d, _), (out_s, gx_s, _) = (forward_backward(d, x, ei, ew, grad_out)
                                          for d in (dense, sparse))
    torch.testing.assert_close(out_d, out_s, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_d, gx_s, rtol=1e-5, atol=1e-5)


def test_dense_gcn_conv_by_hand():
    """Two nodes joined by weight w, improved self loops (2): out = D^-1/2 (A + 2I) D^-1/2 x."""
    from torch_geometric.nn import GCNConv

    from gclhand.models.disturbers.dense_graph_unet import dense_adjacency, gcn_conv
    conv = GCNConv(1, 1, improved=True)
    with torch.no_grad():
        conv.lin.weight.fill_(1.0)
        conv.bias.fill_(0.5)
    adj, loops = dense_adjacency(torch.tensor([[0], [1]]), torch.tensor([3.0]), 2)
    assert adj.tolist() == [[0.0, 0.0], [3.0, 0.0]] and loops.isnan().all()
    x = torch.tensor([[[1.0], [10.0]]])
    # node 0: no incoming edge, degree 2 -> 2/2 * 1; node 1: degree 5, from 0 (w=3) and itself
    expected = [[2 / 2 * 1 + 0.5], [(3 / (5 ** 0.5 * 2 ** 0.5)) * 1 + 2 / 5 * 10 + 0.5]]
    torch.testing.assert_close(gcn_conv(conv, x, adj, loops)[0], torch.tensor(expected))
    # plain GCN (loops weigh 1), no bias: node 1 has degree 4
    plain = GCNConv(1, 1, bias=False)
    with torch.no_grad():
        plain.lin.weight.fill_(1.0)
    expected = [[1.0], [3 / (4 ** 0.5 * 1) * 1 + 1 / 4 * 10]]
    torch.testing.assert_close(gcn_conv(plain, x, adj, loops)[0], torch.tensor(expected))


def test_graph_unet_dense_caches_its_adjacency_and_checks_impl(graph):
    x, ei, ew = graph
    d = GraphUNetDisturber(channels=8, depth=1)
    assert d.impl == 'dense'
    d(x, ei, ew)
    assert d._dense is not None and d._batch is None  # the dense path ran, not PyG's
    first = d.dense_graph(Graph(x, ei, ew))
    assert d.dense_graph(Graph(x[:2], ei, ew)) is first  # M does not matter
    wider = d.dense_graph(Graph(torch.zeros(4, 14, 8), ei, ew))  # two more padding nodes
    assert wider[0].shape == (14, 14) and wider[1].shape == (14,)
    assert d.dense_graph(Graph(x, ei, ew * 2)) is not first  # new weights, new matrix
    sparse = GraphUNetDisturber(channels=8, depth=1, impl='sparse')
    sparse(x, ei, ew)
    assert sparse._batch is not None and sparse._dense is None
    unet = GraphUNetDisturber(channels=8, depth=1)
    unet.unet.pools[0].select.min_score = 0.1
    with pytest.raises(ValueError, match=r'^GraphUNetDisturber\(impl="dense"\) supports '
                                         r'TopKPooling with a ratio only \(min_score=None\), '
                                         r'as GraphUNet builds it$'):
        unet(x, ei, ew)
    with pytest.raises(ValueError, match=r"^GraphUNetDisturber.impl must be one of "
                                         r"\('dense', 'sparse'\), got 'csr'$"):
        GraphUNetDisturber(channels=8, impl='csr')

@pytest.mark.parametrize('impl', ['dense', 'sparse'])
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_graph_unet_disturber_under_cpu_autocast(graph, dtype, impl):
    """AMP training: the U-Net's sparse adjacency product has no low-precision CPU kernel,
    so it runs in fp32 and returns the input's dtype (the fp32 result, rounded)."""
    x, ei, ew = graph
    torch.manual_seed(0)
    d = GraphUNetDisturber(channels=8, hidden_channels=16, depth=2, pool_ratios=0.5, impl=impl)
    low = x.to(dtype).requires_grad_()
    with torch.autocast('cpu', dtype=dtype):
        out = d(low, ei, ew).x
    assert out.dtype == dtype
    out.float().sum().backward()
    assert low.grad is not None and all(p.grad is not None for p in d.parameters())
    with torch.no_grad():
        ref = d(low.detach().float(), ei, ew).x
    torch.testing.assert_close(out.detach(), ref.to(dtype))

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


# -------------------------------------------------- documented defaults, ranges, messages

def test_defaults_ranges_and_messages():
    assert (FeatureMask().p, FeatureNoise().sigma, FeatureNoise().relative) == (0.2, 0.1, False)
    assert (EdgeAdd().ratio, EdgeFlip().ratio) == (0.1, 0.1)
    for cls, key in ((FeatureMask, 'p'), (EdgeAdd, 'ratio'), (EdgeFlip, 'ratio')):
        for ok in (0.0, 1.0):
            assert getattr(cls(ok), key) == ok
        for bad in (-0.1, 1.5):
            with pytest.raises(ValueError, match=rf'^{cls.__name__}.{key} must be in \[0, 1\], '
                                                 rf'got {bad}$'):
                cls(bad)
    assert FeatureNoise(sigma=0.0).sigma == 0.0
    with pytest.raises(ValueError, match=r'^FeatureNoise.sigma must be >= 0, got -1$'):
        FeatureNoise(sigma=-1)
    with pytest.raises(ValueError, match=r'^GraphUNetDisturber.depth must be >= 1, got 0$'):
        GraphUNetDisturber(channels=4, depth=0)
    assert [repr(d).split('(', 1)[1] for d in (FeatureMask(0.3), FeatureNoise(0.2, True),
                                                EdgeAdd(0.4), EdgeFlip(0.5))] == [
        'p=0.3)', 'sigma=0.2, relative=True)', 'ratio=0.4)', 'ratio=0.5)']
    with pytest.raises(ValueError, match=r'^FeatureNoise expects graph features of shape '
                                         r'\(M, N, C\), got \(3, 4\); reshape \(B, 2, N, C\) '
                                         r'hand features with x.flatten\(0, 1\)$'):
        FeatureNoise()(torch.zeros(3, 4), *ring_graph(3))


def test_graph_unet_defaults_follow_gao_and_ji():
    d = GraphUNetDisturber(channels=6)
    u = d.unet
    assert (u.in_channels, u.hidden_channels, u.out_channels) == (6, 6, 6)
    assert u.depth == 2 and u.pool_ratios == [0.5, 0.5] and u.sum_res
    assert type(u.act).__name__ in ('ReLU', 'function') and u.act(torch.tensor(-1.0)) == 0
    assert GraphUNetDisturber(channels=6, hidden_channels=3).unet.hidden_channels == 3
    cat = GraphUNetDisturber(channels=6, sum_res=False, act='tanh', pool_ratios=[0.8, 0.3])
    assert not cat.unet.sum_res and cat.unet.pool_ratios == [0.8, 0.3]
    assert cat.unet.up_convs[0].in_channels == 12  # concatenated skips
    assert cat.unet.act(torch.tensor(1.0)) == pytest.approx(math.tanh(1.0))


def test_graph_unet_uses_edge_weights_and_rebuilds_batch_for_new_weights():
    """The U-Net convolves with the graph's weights (PyG GraphUNet on the batch graph)."""
    torch.manual_seed(0)
    ei, ew = ring_graph(5)
    x = torch.randn(2, 5, 4)
    d = GraphUNetDisturber(channels=4, depth=1)
    out = d(x, ei, ew).x
    batch = torch.arange(2).repeat_interleave(5)
    ref = d.unet(x.reshape(10, 4), torch.cat([ei, ei + 5], 1), batch=batch,
                 edge_weight=torch.cat([ew, ew]))
    torch.testing.assert_close(out, ref.view(2, 5, 4))
    assert not torch.allclose(out, d(x, ei, None).x)  # unit weights give another result
    first = d.batch_graph(Graph(x, ei, ew), 2)
    assert d.batch_graph(Graph(x, ei, ew * 2), 2) is not first  # same edges, new weights


def test_feature_noise_is_added_gaussian_noise():
    x = torch.randn(3, 4, 5)
    torch.manual_seed(7)
    out = FeatureNoise(sigma=0.3)(x, *ring_graph(4)).x
    torch.manual_seed(7)
    torch.testing.assert_close(out, x + 0.3 * torch.randn_like(x))


def test_feature_mask_keeps_dtype_and_zero_p_is_identity():
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    out = FeatureMask(p=0.5)(x, *ring_graph(4)).x
    assert out.dtype == torch.float64
    assert torch.equal(FeatureMask(p=0.0)(x, *ring_graph(4)).x, x)


def test_edge_weight_or_ones_follows_the_features():
    from gclhand.models.disturbers.base import edge_weight_or_ones
    ei, ew = ring_graph(4)
    x = torch.zeros(1, 4, 2, dtype=torch.float64)
    ones = edge_weight_or_ones(Graph(x, ei, None))
    assert ones.shape == (8,) and ones.dtype == torch.float64 and bool((ones == 1).all())
    assert edge_weight_or_ones(Graph(x, ei, ew)) is ew


def test_edge_flip_reaches_every_free_pair():
    """On the path 0-2-4-1-3 the free pairs include index neighbours ({0, 1}, {1, 2} ...)."""
    path = to_undirected(torch.tensor([[0, 2, 4, 1], [2, 4, 1, 3]]))
    x = torch.zeros(1, 5, 2)
    torch.manual_seed(0)
    seen = torch.zeros(5, 5, dtype=torch.bool)
    for _ in range(200):
        a = to_dense_adj(EdgeFlip(ratio=0.5)(x, path).edge_index, max_num_nodes=5)[0] != 0
        seen |= a
    # every pair of distinct nodes appears as an edge at some point
    assert bool((seen | torch.eye(5, dtype=torch.bool)).all())


def test_compose_and_random_choice_errors_name_their_key():
    with pytest.raises(ValueError, match=r'^Compose.disturbers needs at least one disturber '
                                         r'config$'):
        Compose([])
    with pytest.raises(ValueError, match=r'^RandomChoice.disturbers needs at least one'):
        RandomChoice([])
    with pytest.raises(ConfigError, match=r"'Compose.disturbers\[1\]'"):
        Compose([dict(type='FeatureMask'), dict(type='NoSuchDisturber')])
    with pytest.raises(ConfigError, match=r"'RandomChoice.disturbers\[0\]'"):
        RandomChoice([dict(type='NoSuchDisturber')])
    with pytest.raises(ValueError, match=r'^RandomChoice.num_choices must be in \[1, 2\], '
                                         r'got 3$'):
        RandomChoice([FeatureMask(), FeatureNoise()], num_choices=3)
    rc = RandomChoice([FeatureMask(), FeatureNoise()])
    assert rc.num_choices == 1
    both = RandomChoice([FeatureMask(p=1.0), EdgeAdd(ratio=0.5)], num_choices=2)
    x, (ei, ew) = torch.randn(2, 12, 3), ring_graph(12)
    random.seed(0)
    out = both(x, ei, ew)
    assert torch.count_nonzero(out.x) == 0 and out.edge_index.size(1) > ei.size(1)
