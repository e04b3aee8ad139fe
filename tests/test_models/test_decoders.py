import types

import pytest
import torch
from torch_geometric.nn import ChebConv
from torch_geometric.utils import to_undirected

from gclhand.models.decoders import CrossHandAttention, ImageAttention
from gclhand.registry import DECODERS, HEADS, NECKS
from gclhand.utils.build import build_component

NUM_NODES = (4, 8, 16)
FEAT_CHANNELS = (8, 16, 32, 64)


def _ring(n, weighted=False):
    """A ring of ``n`` nodes, unit or (seeded) random weights in [0.5, 1.5)."""
    i = torch.arange(n)
    ei = to_undirected(torch.stack([i, (i + 1) % n]))
    if weighted:
        return ei, torch.rand(ei.shape[1], generator=torch.Generator().manual_seed(n)) + 0.5
    return ei, torch.ones(ei.shape[1])


def toy_graph(num_nodes=NUM_NODES, weighted=False):
    """A hierarchy of rings; node i of level l+1 copies node i // 2 of level l."""
    up = []
    for n0, n1 in zip(num_nodes[:-1], num_nodes[1:]):
        m = torch.zeros(n1, n0)
        m[torch.arange(n1), torch.arange(n1) // 2] = 1
        up.append(m)
    mesh_up = torch.rand(778, num_nodes[-1], generator=torch.Generator().manual_seed(0))
    rings = [_ring(n, weighted) for n in num_nodes]
    return types.SimpleNamespace(num_nodes=list(num_nodes),
                                 edge_index=[ei for ei, _ in rings],
                                 edge_weight=[ew for _, ew in rings], upsample=up,
                                 mesh_upsample=mesh_up / mesh_up.sum(1, keepdim=True))


def feats(B=2):
    return [torch.randn(B, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate(FEAT_CHANNELS)]


def decoder(**kw):
    cfg = dict(type='ChebGCNDecoder', channels=(16, 8, 8), K=3, num_heads=2)
    cfg.update(kw)
    return build_component(DECODERS, cfg, graph=toy_graph(), feat_channels=FEAT_CHANNELS)


def test_chebconv_batched_equals_per_graph():
    torch.manual_seed(0)
    conv = ChebConv(5, 7, K=3, normalization='sym')
    ei, ew = _ring(6)
    ew = torch.rand_like(ew) + 0.5
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
    G.sum().backward()
    assert split.hand_embed.grad is not None and split.hand_embed.grad.abs().sum() > 0


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
