"""Tests of DGCLNet (gclhand/models/dgcl.py) with a small stand-in decoder.

``TinyDecoder`` only satisfies the decoder contract of docs/internals.md
(``decoder(G, feats, graph_override=None) -> dict(verts, node_feats)``); the lead's
integration tests run DGCLNet with the real decoder.
"""
import copy

import pytest
import torch
import torch.nn as nn
from torch_geometric.nn import ChebConv
from torch_geometric.utils import coalesce

from gclhand.models.dgcl import DGCLNet
from gclhand.registry import MODELS
from gclhand.utils import ConfigError

N0, C0, NF, CF, B = 8, 6, 16, 5, 3


def ring(n):
    src = torch.arange(n)
    ei = torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])
    return coalesce(ei, num_nodes=n), None


class TinyDecoder(nn.Module):
    """Two ChebConv levels with a fixed 0/1 upsample and a fixed linear map to 778 vertices."""

    def __init__(self):
        super().__init__()
        self.coarse = ring(N0)
        self.fine = ring(NF)
        self.conv0 = ChebConv(C0, 8, K=2)
        self.conv1 = ChebConv(8, CF, K=2)
        self.head = nn.Linear(CF, 3)
        self.register_buffer('up', torch.eye(N0).repeat_interleave(2, dim=0))  # (NF, N0)
        self.register_buffer('mesh', torch.rand(778, NF).softmax(dim=1))
        self.overrides = []

    def forward(self, G, feats, graph_override=None):
        self.overrides.append(graph_override)
        ei, ew = graph_override if graph_override is not None else self.coarse
        h = self.conv0(G.flatten(0, 1), ei, ew).relu()  # (M, N0, 8)
        h = self.conv1(self.up @ h, self.fine[0]) + feats[-1].mean()  # (M, NF, CF)
        verts = self.mesh @ self.head(h)
        return dict(verts=verts.view(G.size(0), 2, 778, 3), node_feats=h.view(G.size(0), 2, NF, CF))


def dgcl_cfg(disturber=None, pool=True, cross=True, consistency=True):
    cfg = dict(
        type='DGCLNet',
        disturber=disturber or dict(type='GraphUNetDisturber', channels=C0, depth=2),
        projector=dict(type='GraphReadoutProjector', in_channels=CF, hidden_channels=8,
                       out_channels=4),
        self_contrast=dict(type='SelfContrastHead', tau=0.2),
        consistency=dict(type='ConsistencyHead', num_nodes=N0, in_channels=C0,
                         target_scale=10.0) if consistency else None,
        pool=dict(type='FeaturePosePool', size=16) if pool else None,
        cross_contrast=dict(type='CrossContrastHead', sim_target=dict(type='GaussianTarget'))
        if cross else None,
        key_encoder=dict(type='MomentumKeyEncoder', momentum=0.9),
        lambda_consistent=1.0, lambda_contrast=1e-2)
    return cfg


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    G = torch.randn(B, 2, N0, C0, generator=g, requires_grad=True)
    feats = [torch.randn(B, 4, 2, 2, generator=g, requires_grad=True)]
    joints = torch.randn(B, 2, 21, 3, generator=g) * 0.03
    joints[:, :, 0] = 0
    return G, feats, joints


def run(dgcl, dec, seed=0, **kw):
    G, feats, joints = inputs(seed)
    out = dec(G, feats)
    return dgcl.loss(G, out['node_feats'], feats, dec, coarse_graph=dec.coarse,
                     gt_joints_rel=joints, **kw), (G, feats)


def test_full_dgcl_loss_and_gradients():
    torch.manual_seed(0)
    dec = TinyDecoder()
    dgcl = DGCLNet(**{k: v for k, v in dgcl_cfg().items() if k != 'type'})
    dgcl.init_key_encoder(dec)
    losses, (G, feats) = run(dgcl, dec)
    assert set(losses) == {'loss_self_contrast', 'loss_consistent', 'loss_cross_contrast'}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    sum(losses.values()).backward()
    # the decoder's vertex head is not used by DGCL; its graph convolutions are
    for name, mod in [('disturber', dgcl.disturber), ('decoder.conv0', dec.conv0),
                      ('decoder.conv1', dec.conv1),
                      ('projector', dgcl.projector), ('consistency', dgcl.consistency)]:
        grads = [p.grad for p in mod.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name
    assert G.grad.abs().sum() > 0 and feats[0].grad.abs().sum() > 0
    # the momentum copy gets no gradient and is a distinct copy of the decoder
    key_params = list(dgcl.key_encoder.parameters())
    assert key_params and all(not p.requires_grad and p.grad is None for p in key_params)
    key_dec = dgcl.key_encoder.ema.module['decoder']
    assert key_dec.conv0.lins[0].weight is not dec.conv0.lins[0].weight
    # each hand is one sample: 2B entries enqueued
    assert int(dgcl.pool.num_filled) == 2 * B
    assert dec.overrides[-1] is None  # feature disturber: decoder keeps its own graph


def test_loss_weights_and_optional_terms():
    torch.manual_seed(0)
    cfg = {k: v for k, v in dgcl_cfg(pool=False, cross=False).items() if k != 'type'}
    dgcl = DGCLNet(**cfg)
    dec = TinyDecoder()
    torch.manual_seed(1)
    l1, _ = run(dgcl, dec)
    assert set(l1) == {'loss_self_contrast', 'loss_consistent'} and dgcl.key_encoder is None
    dgcl.lambda_contrast, dgcl.lambda_consistent = 2e-2, 3.0
    torch.manual_seed(1)
    l2, _ = run(dgcl, dec)
    assert torch.allclose(l2['loss_self_contrast'], 2 * l1['loss_self_contrast'])
    assert torch.allclose(l2['loss_consistent'], 3 * l1['loss_consistent'])
    # invalid hands drop out of the consistency term
    torch.manual_seed(1)
    l3, _ = run(dgcl, dec, hand_valid=torch.zeros(B, 2))
    assert l3['loss_consistent'].item() == 0.0


@pytest.mark.parametrize('kind', ['EdgeFlip', 'EdgeAdd'])
def test_edge_disturber_overrides_decoder_graph(kind):
    torch.manual_seed(0)
    cfg = {k: v for k, v in dgcl_cfg(dict(type=kind, ratio=0.5)).items() if k != 'type'}
    dgcl, dec = DGCLNet(**cfg), TinyDecoder()
    losses, _ = run(dgcl, dec)
    override = dec.overrides[-1]
    assert override is not None and not torch.equal(override[0], dec.coarse[0])
    assert all(torch.isfinite(v) for v in losses.values())


def test_resume_is_exact_with_lazy_key_encoder():
    torch.manual_seed(0)
    cfg = {k: v for k, v in dgcl_cfg().items() if k != 'type'}
    dec, dgcl = TinyDecoder(), DGCLNet(**cfg)
    for s in range(2):  # key encoder created lazily at the first call
        run(dgcl, dec, seed=s)
    state, dec_state = copy.deepcopy(dgcl.state_dict()), copy.deepcopy(dec.state_dict())
    assert any(k.startswith('key_encoder.ema.') for k in state)
    assert {'pool.feats', 'pool.poses', 'pool.valid', 'pool.ptr', 'pool.num_filled'} <= set(state)

    dec2, dgcl2 = TinyDecoder(), DGCLNet(**cfg)
    dec2.load_state_dict(dec_state)
    dgcl2.load_state_dict(state, strict=True)
    torch.manual_seed(5)
    ref, _ = run(dgcl, dec, seed=2)
    torch.manual_seed(5)
    got, _ = run(dgcl2, dec2, seed=2)
    for k in ref:
        assert torch.equal(ref[k], got[k]), k
    assert torch.equal(dgcl.pool.feats, dgcl2.pool.feats)


def test_registry_build_and_config_errors():
    dgcl = MODELS.build(dgcl_cfg())
    assert isinstance(dgcl, DGCLNet) and dgcl.pool.feats.shape == (16, 4)  # feat_dim default
    with pytest.raises(ConfigError, match='needs model.dgcl.pool'):
        MODELS.build(dgcl_cfg(pool=False, cross=True))
    with pytest.raises(ConfigError, match="unknown disturber 'NodeDropX'"):
        MODELS.build(dgcl_cfg(dict(type='NodeDropX')))
    with pytest.raises(ValueError, match='gt_joints_rel'):
        G, feats, _ = inputs()
        dec = TinyDecoder()
        dgcl.loss(G, dec(G, feats)['node_feats'], feats, dec, coarse_graph=dec.coarse)
