import pytest
import torch
from torch_geometric.nn import ChebConv

from gclhand.models.decoders import CrossHandAttention, ImageAttention
from gclhand.registry import DECODERS, HEADS, NECKS
from gclhand.utils.build import build_component
from toy_hierarchy import ring, ring_hierarchy

NUM_NODES = (4, 8, 16)
FEAT_CHANNELS = (8, 16, 32, 64)


@pytest.fixture(scope='module')
def hierarchy_and_decoder():
    """The procedural hand's real hierarchy and a decoder built on it (dense operator)."""
    from gclhand.hand import build_graph_hierarchy, build_hand_model
    gh = build_graph_hierarchy(build_hand_model(dict(type='MANOHandModel', use_pca=True)))
    dec = build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(8, 8, 8), K=2,
                                         image_attention=False, cross_hand_attention=False),
                          graph=gh)
    return gh, dec


def toy_graph(num_nodes=NUM_NODES, weighted=False):
    """A hierarchy of rings; node i of level l+1 copies node i // 2 of level l."""
    return ring_hierarchy(num_nodes, weighted=weighted)


def feats(B=2):
    return [torch.randn(B, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate(FEAT_CHANNELS)]


def decoder(graph=None, **kw):
    cfg = dict(type='ChebGCNDecoder', channels=(16, 8, 8), K=3, num_heads=2)
    cfg.update(kw)
    return build_component(DECODERS, cfg, graph=toy_graph() if graph is None else graph,
                           feat_channels=FEAT_CHANNELS)


def test_chebconv_batched_equals_per_graph():
    torch.manual_seed(0)
    conv = ChebConv(5, 7, K=3, normalization='sym')
    ei = ring(6)
    ew = torch.rand(ei.size(1)) + 0.5
    ew = (ew + ew.flip(0)) / 2  # to_undirected pairs (i,j)/(j,i) mirror-wise: keep symmetric
    x = torch.randn(4, 6, 5)
    batched = conv(x, ei, ew, lambda_max=2.0)
    single = torch.stack([conv(xi, ei, ew, lambda_max=2.0) for xi in x])
    assert batched.shape == (4, 6, 7)
    torch.testing.assert_close(batched, single)


@pytest.mark.parametrize('img_attn', [True, False])
@pytest.mark.parametrize('hand_attn', [True, False])
def test_decoder_shapes_and_switches(img_attn, hand_attn):
    dec = decoder(image_attention=img_attn, cross_hand_attention=hand_attn)
    assert (dec.img_attn is not None) == img_attn and (dec.hand_attn is not None) == hand_attn
    out = dec(torch.randn(2, 2, 4, 16), feats())
    assert out['verts'].shape == (2, 2, 778, 3)
    assert out['nodes'].shape == (2, 2, 16, 3)
    assert out['node_feats'].shape == (2, 2, 16, 8)
    # fixed linear map from the finest nodes to the 778 vertices
    torch.testing.assert_close(out['verts'], dec.mesh_upsample @ out['nodes'])


def test_decoder_graph_override():
    torch.manual_seed(0)
    dec = decoder().eval()
    G, fs = torch.randn(2, 2, 4, 16), feats()
    ref = dec(G, fs)['verts']
    same = dec(G, fs, graph_override=dec.graph(0))['verts']
    assert torch.equal(ref, same)
    ei = torch.tensor([[0, 2], [2, 0]])  # a different level-0 graph
    other = dec(G, fs, graph_override=(ei, None))['verts']
    assert not torch.allclose(ref, other)


def test_decoder_samples_independent():
    """Batching both hands of several samples in one call must not mix samples."""
    torch.manual_seed(0)
    dec = decoder().eval()
    G, fs = torch.randn(3, 2, 4, 16), feats(3)
    full = dec(G, fs)['verts']
    one = dec(G[1:2], [f[1:2] for f in fs])['verts']
    torch.testing.assert_close(full[1:2], one)


def test_cross_hand_attention_swaps_with_hands():
    torch.manual_seed(0)
    attn = CrossHandAttention(channels=8, num_heads=2)
    x = torch.randn(3, 2, 5, 8)
    torch.testing.assert_close(attn(x.flip(1)), attn(x).flip(1))
    x2 = x.clone()
    x2[:, 1] = torch.randn(3, 5, 8)  # a different right hand changes the left output
    assert not torch.allclose(attn(x)[:, 0], attn(x2)[:, 0])


def test_image_attention_uses_features():
    torch.manual_seed(0)
    attn = ImageAttention(channels=8, feat_channels=16, num_heads=2)
    x, f = torch.randn(2, 2, 5, 8), torch.randn(2, 16, 4, 4)
    y = attn(x, f)
    assert y.shape == x.shape
    assert not torch.allclose(y, attn(x, torch.randn_like(f)))


def test_decoder_config_errors():
    with pytest.raises(ValueError, match='3 levels'):
        decoder(channels=(16, 8))
    with pytest.raises(ValueError, match=r'\(B, 2, 4, 16\)'):
        decoder()(torch.randn(1, 2, 5, 16), feats(1))
    with pytest.raises(ValueError, match='feat_channels'):
        build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(8, 8, 8)),
                        graph=toy_graph())


def test_hand_split():
    torch.manual_seed(0)
    split = build_component(NECKS, dict(type='HandSplit', hidden_channels=32),
                            in_channels=64, num_nodes=4, out_channels=16)
    fs = feats()
    G = split(fs)
    assert G.shape == (2, 2, 4, 16)
    assert not torch.allclose(G[:, 0], G[:, 1])  # left and right differ for one image
    G.square().sum().backward()
    assert split.hand_embed.grad is not None and split.hand_embed.grad.abs().sum() > 0


def test_hand_split_normalises_graph_features():
    """"All G are normalized before use" (HandDGCL 3.2): unit nodes by default, a switch."""
    torch.manual_seed(0)
    cfg = dict(type='HandSplit', hidden_channels=32)
    split = build_component(NECKS, cfg, in_channels=64, num_nodes=4, out_channels=16)
    fs = feats()
    G = split(fs)
    torch.testing.assert_close(G.norm(dim=-1), torch.ones(2, 2, 4))
    raw = build_component(NECKS, dict(cfg, normalize=None), in_channels=64, num_nodes=4,
                          out_channels=16)
    raw.load_state_dict(split.state_dict())
    torch.testing.assert_close(G, torch.nn.functional.normalize(raw(fs), dim=-1))
    assert (raw(fs).norm(dim=-1) - 1).abs().max() > 0.1
    with pytest.raises(ValueError, match='model.hand_split.normalize'):
        build_component(NECKS, dict(cfg, normalize='layer'), in_channels=64, num_nodes=4,
                        out_channels=16)


def test_decoder_operator_is_the_hierarchy_scaled_laplacian(hierarchy_and_decoder):
    """One scaled-Laplacian definition (issue 18.7): the decoder's dense operator on each
    level is GraphHierarchy.scaled_laplacian of that level (transposed for PyG's message
    direction), lambda_max = 2 for every graph."""
    from torch_geometric.utils import to_dense_adj
    gh, dec = hierarchy_and_decoder
    for lvl in range(gh.num_levels):
        ei, ew = gh.scaled_laplacian(lvl)
        dense = to_dense_adj(ei, edge_attr=ew, max_num_nodes=gh.num_nodes[lvl])[0]
        torch.testing.assert_close(getattr(dec, f'laplacian_{lvl}'), dense.t())
        # 2 L / 2 - I = -D^-1/2 A D^-1/2: zero diagonal on connected nodes
        a = gh.dense_adjacency(lvl)
        d = a.sum(1).clamp_min(1e-12).rsqrt() * (a.sum(1) > 0)
        torch.testing.assert_close(dense, -d[:, None] * a * d[None], atol=1e-6, rtol=0)


def test_camera_head_initial_camera():
    head = build_component(HEADS, dict(type='CameraHead', hidden_channels=16,
                                       init_cam=(0.2, 0.5, 0.4)), in_channels=64)
    out = head(feats())
    assert out['cam'].shape == (2, 2, 3) and out['rel_root'].shape == (2, 3)
    expected = torch.tensor([0.2, 0.5, 0.4]).expand(2, 2, 3)
    torch.testing.assert_close(out['cam'], expected, atol=0.05, rtol=0)


def test_decoder_template_offset():
    torch.manual_seed(0)
    plain = decoder().eval()
    template = torch.randn(2, 778, 3)
    shifted = decoder(template=template).eval()
    shifted.load_state_dict(plain.state_dict())  # template is a non-persistent buffer
    G, fs = torch.randn(1, 2, 4, 16), feats(1)
    torch.testing.assert_close(shifted(G, fs)['verts'], plain(G, fs)['verts'] + template)
    with pytest.raises(ValueError, match='template'):
        decoder(template=torch.zeros(778, 3))


def test_attention_dropout_only_in_training():
    torch.manual_seed(0)
    block = ImageAttention(16, 8, num_heads=2, dropout=0.5)
    x, feat = torch.randn(2, 2, 5, 16), torch.randn(2, 8, 4, 4)
    block.eval()
    assert torch.equal(block(x, feat), block(x, feat))
    block.train()
    assert not torch.equal(block(x, feat), block(x, feat))


def test_camera_head_is_nonlinear():
    """Linear -> ReLU -> Linear: f(x) + f(-x) != 2 f(0) (it would be equal without the ReLU)."""
    torch.manual_seed(0)
    head = build_component(HEADS, dict(type='CameraHead', hidden_channels=16), in_channels=64)
    torch.nn.init.normal_(head.mlp[-1].weight)
    x = torch.randn(1, 64, 2, 2)
    f = [head([v])['cam'] for v in (x, -x, torch.zeros_like(x))]
    assert not torch.allclose(f[0] + f[1], 2 * f[2], atol=1e-3)


def test_graph_matrices_are_float32_buffers_outside_the_state_dict():
    """A hierarchy given as float64 / int32 numpy arrays (what a plugin's own hierarchy
    holds by default) becomes float32 / int64 buffers, and no graph matrix enters the
    state dict: checkpoints hold learnt weights only and load into a decoder built on any
    hierarchy with the same level sizes."""
    import types
    toy = toy_graph()
    as_np = types.SimpleNamespace(
        num_nodes=toy.num_nodes,
        edge_index=[e.numpy().astype('int32') for e in toy.edge_index],
        edge_weight=[w.double().numpy() for w in toy.edge_weight],
        upsample=[u.double().numpy() for u in toy.upsample],
        mesh_upsample=toy.mesh_upsample.double().numpy())
    dec = decoder(graph=as_np, template=torch.zeros(2, 778, 3).double())
    for name, buf in dec.named_buffers():
        assert buf.dtype == (torch.long if name.startswith(('edge_index', 'upsample_parent',
                                                           'mesh_node_index'))
                             else torch.float32), name
    graph_keys = ('edge_index', 'edge_weight', 'laplacian', 'upsample', 'mesh_upsample',
                  'mesh_node_index', 'template')
    assert not [k for k in dec.state_dict() if k.startswith(graph_keys)]
    out = dec(torch.randn(1, 2, 4, 16), feats(1))['verts']
    assert out.dtype == torch.float32


def test_upsample_shape_error_names_the_level_and_shapes():
    toy = toy_graph()
    toy.upsample = [toy.upsample[0], toy.upsample[1].t()]
    with pytest.raises(ValueError, match=r'graph.upsample\[1\] has shape \(8, 16\), '
                                         r'expected \(16, 8\)'):
        decoder(graph=toy)


def test_decoder_defaults_are_the_paper_config():
    """The class defaults are configs/_base_/models/gcn_baseline.py's decoder (K=3, 4 heads,
    the heads reaching every attention block); a head count passed on reaches them all."""
    graph = ring_hierarchy((4, 8, 16))
    dec = build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(16, 8, 8)),
                          graph=graph, feat_channels=FEAT_CHANNELS)
    assert {len(conv.lins) for level in dec.blocks for blk in level
            for conv in (blk.conv1, blk.conv2)} == {3}
    assert {m.attn.num_heads for m in [*dec.img_attn, *dec.hand_attn]} == {4}
    assert ImageAttention(8, 4).attn.num_heads == CrossHandAttention(8).attn.num_heads == 4
    two = decoder(graph=graph, num_heads=2)
    assert {m.attn.num_heads for m in [*two.img_attn, *two.hand_attn]} == {2}


def test_default_attended_maps_go_coarse_to_fine_and_stop_at_the_finest():
    """Level 0 attends to the coarsest map, each next level to one finer, and levels past
    the finest map keep attending to it (index 0)."""
    dec = decoder(graph=ring_hierarchy((2, 4, 8, 16, 32)), channels=(8, 8, 8, 8, 8))
    assert dec.attn_feat_index == (3, 2, 1, 0, 0)
    assert [m.proj[0].in_features for m in dec.img_attn] == [64, 32, 16, 8, 8]


def test_head_initialisation_scale():
    """xyz head weights ~ N(0, (0.1 / sqrt(C))^2): small offsets from the template at start."""
    torch.manual_seed(0)
    dec = build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(16, 8, 256),
                                         image_attention=False, cross_hand_attention=False),
                          graph=toy_graph())
    std = dec.head_weight.std().item()
    assert abs(std - 0.1 / 16) < 0.1 / 16 * 0.1
    assert torch.equal(dec.head_bias, torch.zeros(2, 1, 3))


def test_attention_feed_forward_width_and_nonlinearity():
    """FFN = Linear(C, ffn_ratio * C) -> GELU -> Linear: twice the width by default, and
    not odd with zero biases (a linear FFN would give ffn(-x) = -ffn(x))."""
    torch.manual_seed(0)
    block = CrossHandAttention(8, num_heads=2)
    assert block.ffn[0].out_features == 16
    assert CrossHandAttention(8, num_heads=2, ffn_ratio=3.0).ffn[0].out_features == 24
    for layer in (block.ffn[0], block.ffn[-1]):
        torch.nn.init.zeros_(layer.bias)
    x = torch.randn(5, 8)
    assert not torch.allclose(block.ffn(-x), -block.ffn(x), atol=1e-4)


def test_padding_nodes_at_the_end_keep_the_operator_square():
    """The real hierarchy pads levels with isolated nodes at the end; the scaled Laplacian
    must still be (N, N) with zero rows there, not cut at the last node that has an edge."""
    graph = ring_hierarchy((4, 8, 16), num_real=(3, 6, 12))
    dec = build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(8, 8, 8), K=2,
                                         image_attention=False, cross_hand_attention=False,
                                         laplacian='dense'), graph=graph)
    for lvl, (n, real) in enumerate(zip((4, 8, 16), (3, 6, 12))):
        lap = getattr(dec, f'laplacian_{lvl}')
        assert lap.shape == (n, n)
        assert not lap[real:].any() and not lap[:, real:].any()
    assert dec(torch.randn(1, 2, 4, 8), [])['verts'].shape == (1, 2, 778, 3)


def test_attention_head_count_must_divide_the_channels():
    with pytest.raises(ValueError, match=r'attention channels \(10\) must be divisible by '
                                         r'num_heads \(4\)'):
        CrossHandAttention(10, num_heads=4)
