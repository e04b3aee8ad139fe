"""The deployed model's speed paths compute what the plain formulations compute.

Each faster form is checked against the straightforward one, written here from the same
parameters with PyTorch's own modules (``nn.MultiheadAttention``, ``nn.Linear``, the hand
model's per-side joint regression), forward and backward (the training path runs the same
code); the decoder's graph operators are checked in ``test_decoder_laplacian.py``.  ``test_deployed_flops`` pins the arithmetic of
the paper-size deployed model against its ResNet-50 encoder.
"""
import math

import pytest
import torch
import torch.nn as nn
from test_decoders import feats

from gclhand.models.decoders import CrossHandAttention, ImageAttention
from gclhand.registry import NECKS
from gclhand.utils.build import build_component


def reference_attend(block, x, kv):
    """``x + MHA(LN(x), kv, kv)`` then the FFN, with ``nn.MultiheadAttention`` itself."""
    x = x + block.attn(block.norm_q(x), kv, kv, need_weights=False)[0]
    return x + block.ffn(block.norm_ffn(x))


def reference_image_attention(block, x, feat):
    """One query sequence per hand, the image tokens copied per hand (the plain form)."""
    B, H, N, C = x.shape
    h, w = feat.shape[-2:]
    ys, xs = torch.linspace(-1, 1, h), torch.linspace(-1, 1, w)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1).view(1, h * w, 2)
    tokens = block.proj(feat.flatten(2).transpose(1, 2)) + block.pos(grid)
    kv = tokens.unsqueeze(1).expand(B, H, h * w, C).reshape(B * H, h * w, C)
    return reference_attend(block, x.reshape(B * H, N, C), kv).view(B, H, N, C)


def reference_cross_hand_attention(block, x):
    B, H, N, C = x.shape
    kv = block.norm_q(x.flip(1)).reshape(B * H, N, C)
    return reference_attend(block, x.reshape(B * H, N, C), kv).view(B, H, N, C)


def assert_same_forward_and_grads(module, fast, reference, inputs):
    """Outputs and parameter gradients of ``fast`` and ``reference`` agree to rounding."""
    results = []
    for fn in (fast, reference):
        module.zero_grad()
        xs = [t.clone().requires_grad_() for t in inputs]
        out = fn(*xs)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = {n: p.grad.clone() for n, p in module.named_parameters()}
        results.append((out.detach(), [t.grad for t in xs], grads))
    (out_a, in_a, g_a), (out_b, in_b, g_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-5)
    for a, b in zip(in_a, in_b):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert g_a.keys() == g_b.keys()
    for name in g_a:
        torch.testing.assert_close(g_a[name], g_b[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_image_attention_equals_per_hand_attention(batch, memory_format):
    torch.manual_seed(0)
    block = ImageAttention(channels=8, feat_channels=16, num_heads=2)
    x = torch.randn(batch, 2, 5, 8)
    # the encoder's maps are channels-last under HandDataPreprocessor(channels_last=True)
    feat = torch.randn(batch, 16, 3, 4).contiguous(memory_format=memory_format)
    assert_same_forward_and_grads(block, block, lambda a, b: reference_image_attention(
        block, a, b), [x, feat])
    # the token grid is made once per size and reused
    block(x, feat)
    assert list(block._grids) == [(3, 4, torch.device('cpu'), torch.float32)]


def test_image_attention_projects_token_keys_values_once_per_image():
    """The per-hand form projects every image token to keys/values once per hand; the
    joint query sequence does it once per image: exactly B * S * C * 2C multiply-adds
    fewer (S tokens), nothing else changes."""
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    B, N, C, S = 3, 5, 8, 12
    block = ImageAttention(channels=C, feat_channels=16, num_heads=2).eval()
    x, feat = torch.randn(B, 2, N, C), torch.randn(B, 16, 3, 4)
    counts = []
    for fn in (block, lambda a, b: reference_image_attention(block, a, b)):
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            fn(x, feat)
        counts.append(fc.get_total_flops())
    assert counts[1] - counts[0] == 2 * B * S * C * 2 * C


def test_cross_hand_attention_equals_plain_form():
    torch.manual_seed(0)
    block = CrossHandAttention(channels=8, num_heads=2)
    x = torch.randn(3, 2, 5, 8)
    assert_same_forward_and_grads(block, block,
                                  lambda a: reference_cross_hand_attention(block, a), [x])


def test_multi_head_attention_equals_torch_module_in_eval():
    torch.manual_seed(0)
    block = ImageAttention(channels=16, feat_channels=4, num_heads=4).eval()
    q, kv = torch.randn(2, 7, 16), torch.randn(2, 9, 16)
    with torch.no_grad():
        torch.testing.assert_close(block.multi_head_attention(q, kv),
                                   block.attn(q, kv, kv, need_weights=False)[0])


def legacy_hand_mlps(in_channels, hidden, out):
    """The per-hand ``nn.Sequential`` MLPs that earlier checkpoints hold (``mlps.{h}``)."""
    return nn.ModuleList(nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(),
                                       nn.Dropout(0.0), nn.Linear(hidden, out))
                         for _ in range(2))


def test_hand_split_batched_mlps_equal_per_hand_linears_and_load_legacy_keys():
    torch.manual_seed(0)
    split = build_component(NECKS, dict(type='HandSplit', hidden_channels=32, normalize=None),
                            in_channels=64, num_nodes=4, out_channels=16)
    mlps = legacy_hand_mlps(64, 32, 4 * 16)
    legacy = {f'mlps.{k}': v for k, v in mlps.state_dict().items()}
    legacy.update(hand_embed=torch.randn(2, 64), node_embed=torch.randn(2, 4, 16))
    split.load_state_dict(legacy)  # strict: every legacy key is used, none is missing
    fs = feats(3)
    g = fs[-1].mean(dim=(2, 3))
    ref = torch.stack([mlp(g + legacy['hand_embed'][h]) for h, mlp in enumerate(mlps)], 1)
    ref = ref.view(3, 2, 4, 16) + legacy['node_embed']
    torch.testing.assert_close(split(fs), ref)
    split.normalize = 'l2'  # the default: each node's feature on the unit sphere
    torch.testing.assert_close(split(fs), torch.nn.functional.normalize(ref, dim=-1))
    assert set(split.state_dict()) == {'hand_embed', 'node_embed', 'weight1', 'bias1',
                                       'weight2', 'bias2'}


def test_hand_split_initialises_like_per_hand_linears():
    """Same seed -> the same initial weights as the per-hand ``nn.Linear`` layers (left
    then right), so training runs started before the change are reproduced."""
    torch.manual_seed(3)
    split = build_component(NECKS, dict(type='HandSplit', hidden_channels=32), in_channels=64,
                            num_nodes=4, out_channels=16)
    torch.manual_seed(3)
    mlps = legacy_hand_mlps(64, 32, 64)
    for h in range(2):
        torch.testing.assert_close(split.weight1[h], mlps[h][0].weight.t(), rtol=0, atol=0)
        torch.testing.assert_close(split.bias2[h, 0], mlps[h][3].bias, rtol=0, atol=0)


def test_joint_matrix_equals_per_side_regression():
    from test_estimator import build

    from gclhand.structures import HANDS
    model = build()
    verts = torch.randn(3, 2, 778, 3)
    per_side = torch.stack([model.hand_model.joints_from_vertices(verts[:, h], side)
                            for h, side in enumerate(HANDS)], 1)
    torch.testing.assert_close(model.joints_from_vertices(verts), per_side)
    assert model.joint_matrix(778, verts.device, verts.dtype).shape == (2, 21, 778)


def test_deployed_flops():
    """FLOPs (``torch.utils.flop_counter``) of the deployed ``dgcl_interhand`` model at
    batch 1 against its ResNet-50 encoder (10.68 GFLOP at 256 px), counted with the dense
    graph matrices (sparse CSR has no meta kernel or FLOP formula): 1.1222x, 1.1269x before
    the image attention shared its token keys/values between the hands.  The default CSR
    path does ~1.4% of the encoder's FLOPs less (sparse Laplacians, gathered level copies),
    ~1.108x: the floor of the deployed/encoder time ratio for any implementation that
    computes the same numbers at the encoder's FLOP rate.  On the meta device: nothing is
    computed.
    """
    import copy
    import os.path as osp

    from torch.utils.flop_counter import FlopCounterMode

    from gclhand.apis import register_all_modules
    from gclhand.cli.config import load_config
    from gclhand.registry import MODELS
    register_all_modules()
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = load_config(osp.join(root, 'configs', 'dgcl_interhand.py'))
    model = MODELS.build(copy.deepcopy(cfg.model)).deploy().eval().to('meta')
    # the dense Laplacian: sparse CSR has no meta kernel (and no FLOP formula); its (N, N)
    # products count ~0.2% of the encoder's FLOPs that the default CSR path mostly avoids
    model.decoder.set_laplacian('dense')
    x = torch.empty(1, 3, 256, 256, device='meta')
    with torch.no_grad():
        with FlopCounterMode(display=False) as enc:
            model.encoder(x)
        with FlopCounterMode(display=False) as whole:
            model._forward_net(x)
    enc, whole = enc.get_total_flops(), whole.get_total_flops()
    assert math.isclose(enc, 10.68e9, rel_tol=0.01)
    assert whole / enc <= 1.1225, whole / enc


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_decoder_csr_path_runs_under_autocast(dtype):
    """AMP (autocast) training and inference with the default sparse CSR Laplacian: CPU's
    sparse kernels have no bf16/fp16, so the sparse products run in fp32; the outputs
    match the dense path under the same autocast, and fp32 to the low precision."""
    from test_decoders import decoder
    torch.manual_seed(0)
    dec = decoder()
    G, fs = torch.randn(2, 2, 4, 16), feats(2)
    with torch.autocast('cpu', dtype=dtype):
        csr = dec.set_laplacian('csr')(G, fs)['verts']
        dense = dec.set_laplacian('dense')(G, fs)['verts']
    fp32 = dec.set_laplacian('csr')(G, fs)['verts']
    torch.testing.assert_close(csr.float(), dense.float(), rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(csr.float(), fp32, rtol=5e-2, atol=5e-2)
    with torch.autocast('cpu', dtype=dtype):  # the backward pass runs outside, as in AMP
        out = dec.set_laplacian('csr')(G.requires_grad_(), fs)['verts']
    out.float().sum().backward()
    assert torch.isfinite(G.grad).all()
