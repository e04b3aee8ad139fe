"""Tests of DGCLNet's contrastive parts (gclhand/models/contrast)."""
import math

import pytest
import torch
import torch.nn as nn

from gclhand.models.contrast import (ConsistencyHead, CrossContrastHead, FeaturePosePool,
                                     FeatureQueue, GraphReadoutProjector, MomentumKeyEncoder,
                                     SelfContrastHead, mesh_node_feats)
from gclhand.utils import ConfigError


def test_self_contrast_infonce_hand_computed_3x3():
    q = torch.eye(3)
    k = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    head = SelfContrastHead(tau=0.5)
    # S = q k^T / tau = [[2, 1.2, 0], [0, 1.6, 0], [0, 0, 2]], positives on the diagonal
    e = math.exp
    expected = (-2 + math.log(e(2) + e(1.2) + 1)
                - 1.6 + math.log(1 + e(1.6) + 1)
                - 2 + math.log(1 + 1 + e(2))) / 3
    assert head.loss(q, k).item() == pytest.approx(expected, rel=1e-6)
    # a queue adds negatives: queue key e3 adds the column [0, 0, 2]
    queue = torch.tensor([[0.0, 0.0, 1.0]])
    expected_q = (-2 + math.log(e(2) + e(1.2) + 1 + 1)
                  - 1.6 + math.log(1 + e(1.6) + 1 + 1)
                  - 2 + math.log(1 + 1 + e(2) + e(2))) / 3
    assert head.loss(q, k, queue).item() == pytest.approx(expected_q, rel=1e-6)


def test_self_contrast_pulls_positive_pairs_together():
    torch.manual_seed(0)
    q = nn.functional.normalize(torch.randn(6, 8), dim=1)
    head = SelfContrastHead(tau=0.1)
    aligned = head.loss(q, q)
    shuffled = head.loss(q, q.roll(1, 0))
    assert aligned < shuffled  # minimised when each sample matches its own copy


def test_projector_readout_and_unit_norm():
    torch.manual_seed(0)
    proj = GraphReadoutProjector(in_channels=5, hidden_channels=7, out_channels=3)
    x = torch.randn(4, 10, 5)
    z = proj(x)
    assert z.shape == (4, 3)
    assert torch.allclose(z.norm(dim=1), torch.ones(4), atol=1e-6)
    # mean readout: node order does not matter
    assert torch.allclose(proj(x[:, torch.randperm(10)]), z, atol=1e-6)
    with pytest.raises(ValueError, match='in_channels'):
        proj(torch.randn(4, 10, 6))


def test_consistency_head_loss_and_mask():
    head = ConsistencyHead(num_nodes=4, in_channels=3)
    assert len(head.mlp.lins) == 1 and head.mlp.lins[0].weight.shape == (63, 12)  # linear
    nn.init.zeros_(head.mlp.lins[0].weight)
    nn.init.zeros_(head.mlp.lins[0].bias)
    x = torch.randn(2, 4, 3, requires_grad=True)
    gt = torch.full((2, 21, 3), 0.1)  # normalised units (wrist-to-middle-MCP length = 1)
    gt[1] = -0.5
    # predictions are 0: |0 - gt| averaged
    assert head.loss(x, gt).item() == pytest.approx((0.1 + 0.5) / 2, rel=1e-6)
    assert head.loss(x, gt, valid=torch.tensor([True, False])).item() == pytest.approx(0.1)
    assert head.loss(x, gt, valid=torch.tensor([0, 1])).item() == pytest.approx(0.5)
    assert head.loss(x, gt, valid=torch.tensor([False, False])).item() == 0.0
    head.loss(x, gt).backward()
    assert head.mlp.lins[0].weight.grad.abs().sum() > 0
    # the prediction is a linear map of the flattened features
    with torch.no_grad():
        head.mlp.lins[0].weight.copy_(torch.randn(63, 12))
        head.mlp.lins[0].bias.copy_(torch.randn(63))
    w, b = head.mlp.lins[0].weight, head.mlp.lins[0].bias
    torch.testing.assert_close(head(x), (x.flatten(1) @ w.t() + b).view(2, 21, 3))
    with pytest.raises(ValueError, match='num_nodes'):
        head(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match='in_channels'):
        head(torch.randn(2, 4, 2))


def test_consistency_head_hidden_layers():
    head = ConsistencyHead(num_nodes=2, in_channels=3, num_joints=4, hidden_channels=(5,))
    assert [lin.weight.shape for lin in head.mlp.lins] == [(5, 6), (12, 5)]
    assert head(torch.randn(7, 2, 3)).shape == (7, 4, 3)


def test_cross_contrast_hand_computed():
    head = CrossContrastHead(sim_target=dict(type='HardTarget'), reduction='mean')
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    jq, jk = torch.randn(2, 21, 3), torch.randn(3, 21, 3)
    # S_p = [[1, 0, .6], [0, 1, .8]], S_g = eye(2, 3): mean squared error over 6 entries
    loss = head.loss(q, keys, jq, jk)
    assert loss.item() == pytest.approx((0.36 + 0.64) / 6, rel=1e-6)
    masked = head.loss(q, keys, jq, jk, valid_k=torch.tensor([True, True, False]))
    assert masked.item() == pytest.approx(0.0, abs=1e-7)
    loss.backward()
    assert q.grad.abs().sum() > 0


def test_cross_contrast_default_is_eq_12_frobenius_norm():
    """Eq. 12, ``L = ||S_p - S_g||_2``, as printed (the paper's λ7 = 1e-2 is set for it)."""
    head = CrossContrastHead(sim_target=dict(type='HardTarget'))
    assert head.reduction == 'norm'
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    j2, j3 = torch.zeros(2, 21, 3), torch.zeros(3, 21, 3)
    # S_p - S_g = [[0, 0, .6], [0, 0, .8]]: norm 1
    loss = head.loss(q, keys, j2, j3)
    assert loss.item() == pytest.approx(1.0, rel=1e-6)
    # dL/dS_p = (S_p - S_g) / ||.|| and dS_p/dq = keys: dL/dq = [[.6 * k2], [.8 * k2]]
    loss.backward()
    torch.testing.assert_close(q.grad, torch.tensor([[0.36, 0.48], [0.48, 0.64]]))
    # masked pairs leave the sum of squares, not the count: sqrt(.8^2) with row 0 masked
    one = head.loss(q, keys, j2, j3, valid_q=torch.tensor([False, True]))
    assert one.item() == pytest.approx(0.8, rel=1e-6)
    # an exact fit: 0 with a zero (not NaN) gradient
    q0 = torch.tensor([[1.0, 0.0]], requires_grad=True)
    zero = head.loss(q0, torch.tensor([[1.0, 0.0]]), j2[:1], j2[:1])
    zero.backward()
    assert zero.item() == 0.0 and q0.grad.abs().sum() == 0.0
    # a NaN at an unannotated pair does not reach the loss or the gradient
    nan_keys = torch.tensor([[1.0, 0.0], [float('nan'), 0.0]])
    got = head.loss(q0, nan_keys, j2[:1], j2, valid_k=torch.tensor([True, False]))
    assert got.item() == 0.0
    with pytest.raises(ConfigError, match=r"cross_contrast.reduction must be 'norm' \(eq. 12\) "
                                          r"or 'mean', got 'sum'"):
        CrossContrastHead(reduction='sum')
    assert "reduction='norm'" in repr(head)


def test_cross_contrast_norm_and_mean_gradients_differ_by_two_norm_over_pairs():
    """The two reductions point the same way; the mean's gradient is the norm's times
    2 ||S_p - S_g|| / |Omega| (the weight a config switching reductions must retune)."""
    torch.manual_seed(0)
    q = nn.functional.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    keys = nn.functional.normalize(torch.randn(10, 8), dim=1)
    jq, jk = torch.randn(4, 21, 3), torch.randn(10, 21, 3)
    grads = {}
    for reduction in ('norm', 'mean'):
        head = CrossContrastHead(reduction=reduction)
        grads[reduction], = torch.autograd.grad(head.loss(q, keys, jq, jk), q)
    norm = CrossContrastHead().loss(q, keys, jq, jk).detach()
    torch.testing.assert_close(grads['mean'], grads['norm'] * 2 * norm / 40)


def test_cross_contrast_dot_target_zero_at_match():
    head = CrossContrastHead()  # DotTarget, the paper's eq. 6
    j = torch.randn(3, 21, 3)
    z = nn.functional.normalize(j.flatten(1), dim=1)  # features that equal the pose geometry
    assert head.loss(z, z, j, j).item() == pytest.approx(0.0, abs=1e-10)


def test_pool_fifo_wraparound_and_state_dict():
    pool = FeaturePosePool(size=5, feat_dim=2, num_joints=1)
    assert pool.entries()[0].shape == (0, 2)

    def batch(start, n):
        v = torch.arange(start, start + n, dtype=torch.float)
        return v[:, None].repeat(1, 2), v[:, None, None].repeat(1, 1, 3)

    pool.enqueue(*batch(0, 3))
    feats, poses, valid = pool.entries()
    assert feats[:, 0].tolist() == [0, 1, 2] and int(pool.ptr) == 3 and valid.all()
    assert poses[:, 0, 0].tolist() == [0, 1, 2] and int(pool.num_filled) == 3
    pool.enqueue(*batch(3, 3), valid=torch.tensor([True, False, True]))
    assert pool.feats[:, 0].tolist() == [5, 1, 2, 3, 4]  # oldest (0) overwritten
    assert pool.poses[:, 0, 0].tolist() == [5, 1, 2, 3, 4]
    assert pool.valid.tolist() == [True, True, True, True, False]
    assert int(pool.ptr) == 1 and int(pool.num_filled) == 5
    # exact resume from a state dict
    other = FeaturePosePool(size=5, feat_dim=2, num_joints=1)
    other.load_state_dict(pool.state_dict())
    for p in (pool, other):
        p.enqueue(*batch(6, 2))
    assert torch.equal(other.feats, pool.feats) and int(other.ptr) == int(pool.ptr) == 3
    assert pool.feats[:, 0].tolist() == [5, 6, 7, 3, 4]
    pool.enqueue(*batch(8, 5))  # exactly the size: a full turn
    assert pool.feats[:, 0].tolist() == [10, 11, 12, 8, 9] and int(pool.ptr) == 3
    with pytest.raises(ValueError, match='pool.size'):
        pool.enqueue(*batch(0, 6))
    with pytest.raises(ValueError, match='size must be >= 1'):
        FeaturePosePool(size=0)


def test_queue_negatives_skip_invalid_and_nonfinite_entries():
    q = FeatureQueue(size=4, feat_dim=2)
    assert q.negatives().shape == (0, 2)
    f = torch.tensor([[1.0, 0.0], [float('nan'), 1.0], [0.0, 1.0]])
    q.enqueue(f, valid=torch.tensor([True, True, False]))
    # NaN row stored as zeros and invalid; explicitly invalid rows are kept out too
    assert q.feats[:3].tolist() == [[1, 0], [0, 0], [0, 1]]
    assert q.valid.tolist() == [True, False, False, False]
    assert q.negatives().tolist() == [[1.0, 0.0]]
    q.enqueue(torch.tensor([[2.0, 2.0], [3.0, 3.0]]))
    # slots 3 and 0 (wrapped; the oldest entry [1, 0] is overwritten)
    assert q.negatives().tolist() == [[3.0, 3.0], [2.0, 2.0]]
    assert int(q.num_filled) == 4 and int(q.ptr) == 1


def test_pool_nonfinite_pose_is_stored_invalid():
    pool = FeaturePosePool(size=3, feat_dim=1, num_joints=1)
    poses = torch.tensor([[[1.0, 1.0, 1.0]], [[float('inf'), 0.0, 0.0]]])
    pool.enqueue(torch.ones(2, 1), poses)
    feats, stored, valid = pool.entries()
    assert valid.tolist() == [True, False] and torch.isfinite(stored).all()
    assert stored[1].abs().sum() == 0 and feats[1].item() == 0.0


class _Dec(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, g, feats, graph_override=None):
        return dict(node_feats=self.lin(g))


def test_momentum_update_exact():
    torch.manual_seed(0)
    dec, proj = _Dec(), GraphReadoutProjector(4, 4, 2)
    ke = MomentumKeyEncoder(momentum=0.9)
    ke.init(dec, proj)
    key_w = ke.ema.module['decoder'].lin.weight
    assert not key_w.requires_grad and key_w is not dec.lin.weight
    ke.update(dec, proj)  # first step: copy
    q0 = dec.lin.weight.detach().clone()
    assert torch.equal(key_w, q0)
    with torch.no_grad():
        dec.lin.weight.fill_(1.0)
    ke.update(dec, proj)
    assert torch.allclose(key_w, 0.9 * q0 + 0.1 * torch.ones_like(q0), atol=1e-7)
    with torch.no_grad():
        dec.lin.weight.fill_(-2.0)
    ke.update(dec, proj)
    expected = 0.9 * (0.9 * q0 + 0.1) + 0.1 * -2.0
    assert torch.allclose(key_w, expected, atol=1e-7)


def test_momentum_update_follows_a_compiled_decoder():
    # the GPU check and users compile the decoder after the estimator made the key copy:
    # torch.compile's wrapper renames the parameters ('_orig_mod.lin.weight'), and the
    # update must still average the same tensors
    torch.manual_seed(0)
    dec, proj = _Dec(), GraphReadoutProjector(4, 4, 2)
    ke = MomentumKeyEncoder(momentum=0.5)
    ke.init(dec, proj)
    compiled = torch.compile(dec, backend='eager')
    assert 'lin.weight' not in dict(compiled.named_parameters())
    with torch.no_grad():
        dec.lin.weight.fill_(1.0)
    q0 = ke.ema.module['decoder'].lin.weight.clone()
    ke.update(compiled, torch.compile(proj, backend='eager'))
    assert torch.allclose(ke.ema.module['decoder'].lin.weight, 0.5 * q0 + 0.5, atol=1e-7)


def test_key_encoder_no_grad_and_lazy_resume():
    torch.manual_seed(0)
    dec, proj = _Dec(), GraphReadoutProjector(4, 4, 2)
    ke = MomentumKeyEncoder(momentum=0.5)
    g = torch.randn(2, 2, 6, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match='init_key_encoder'):
        ke(g, [])
    ke.update(dec, proj)
    with torch.no_grad():
        dec.lin.weight.add_(1.0)
    ke.update(dec, proj)
    keys = ke(g, [])
    assert keys.shape == (4, 2) and keys.grad_fn is None
    # a fresh, not yet initialised encoder takes the checkpoint and applies it on init
    fresh = MomentumKeyEncoder(momentum=0.5)
    fresh.load_state_dict(ke.state_dict(), strict=True)
    fresh.init(_Dec(), GraphReadoutProjector(4, 4, 2))
    # init's copy counts as the first average, then two momentum steps
    assert torch.equal(fresh(g, []), keys) and int(fresh.ema.steps) == 3


# -------------------------------------------------- documented defaults and boundaries

def test_defaults_are_the_documented_values():
    """The defaults the docstrings state (paper / MoCo values where they exist)."""
    assert SelfContrastHead().tau == 0.1
    assert MomentumKeyEncoder().momentum == 0.999
    q = FeatureQueue()
    assert q.size == 2048 and q.feats.shape == (2048, 64) and q.valid.dtype == torch.bool
    assert q.ptr.dtype == torch.long and q.num_filled.dtype == torch.long
    pool = FeaturePosePool()
    assert pool.feats.shape == (2048, 64) and pool.poses.shape == (2048, 21, 3)
    proj = GraphReadoutProjector(in_channels=5)
    assert [lin.weight.shape for lin in proj.mlp.lins] == [(128, 5), (64, 128)]
    assert repr(q).endswith('(size=2048, feat_dim=64)')
    assert MomentumKeyEncoder(0.5).extra_repr() == 'momentum=0.5'
    assert repr(SelfContrastHead(0.3)).endswith('(tau=0.3)')


def test_constructor_ranges_and_messages():
    with pytest.raises(ValueError, match=r'^SelfContrastHead.tau must be > 0, got 0$'):
        SelfContrastHead(tau=0)
    for m in (0.0, 1.0):  # both ends allowed (1 freezes the key encoder)
        assert MomentumKeyEncoder(momentum=m).momentum == m
    for m in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf'^MomentumKeyEncoder.momentum must be in '
                                             rf'\[0, 1\], got {m}$'):
            MomentumKeyEncoder(momentum=m)
    assert FeatureQueue(size=1).size == 1
    for cls in (FeatureQueue, FeaturePosePool):
        with pytest.raises(ValueError, match=rf'^{cls.__name__}.size must be >= 1, got 0$'):
            cls(size=0, feat_dim=2)


def test_self_contrast_head_value_shapes_and_one_entry_queue():
    head = SelfContrastHead(tau=1.0)
    q = torch.tensor([[1.0], [-1.0]])
    k = torch.tensor([[1.0], [-1.0]])
    # logits [[1, -1], [-1, 1]]: each row log(e + 1/e) - 1
    row = math.log(math.e + 1 / math.e) - 1
    assert head(q, k).item() == pytest.approx(row, rel=1e-6)
    # a queue of one entry (numel 1) is still used: column [1, -1]
    with_q = head.loss(q, k, torch.tensor([[1.0]]))
    r0 = math.log(2 * math.e + 1 / math.e) - 1
    r1 = math.log(math.e + 2 / math.e) - 1
    assert with_q.item() == pytest.approx((r0 + r1) / 2, rel=1e-6)
    assert head.logits(q, k, torch.zeros(0, 1)).shape == (2, 2)  # empty queue: batch only
    with pytest.raises(ValueError, match=r'^SelfContrastHead: q \(2, 1\) and k \(3, 1\) must '
                                         r'have the same shape$'):
        head.loss(q, torch.ones(3, 1))


def test_projector_is_linear_relu_linear_on_the_node_mean():
    torch.manual_seed(0)
    proj = GraphReadoutProjector(in_channels=3, hidden_channels=4, out_channels=2)
    x = torch.randn(5, 7, 3)
    l1, l2 = proj.mlp.lins
    h = (x.mean(dim=1) @ l1.weight.t() + l1.bias).relu() @ l2.weight.t() + l2.bias
    torch.testing.assert_close(proj(x), torch.nn.functional.normalize(h, dim=1))
    one = GraphReadoutProjector(in_channels=3, hidden_channels=4, out_channels=2, num_layers=1)
    assert [lin.weight.shape for lin in one.mlp.lins] == [(2, 3)]
    with pytest.raises(ValueError, match=r"^GraphReadoutProjector expects \(M, N, 3\) node "
                                         r"features, got \(5, 3\); set model.dgcl.projector"
                                         r".in_channels to the decoder's output channels$"):
        proj(torch.randn(5, 3))


def test_consistency_head_message():
    head = ConsistencyHead(num_nodes=4, in_channels=3)
    with pytest.raises(ValueError, match=r"^ConsistencyHead was built for graph features "
                                         r"\(M, 4, 3\), got \(2, 5, 3\); set model.dgcl."
                                         r"consistency.num_nodes / in_channels to the coarsest "
                                         r"graph level's size and the hand split's output "
                                         r"channels$"):
        head(torch.randn(2, 5, 3))


def test_cross_contrast_masks_one_side_and_single_pair():
    head = CrossContrastHead(sim_target=dict(type='HardTarget'), reduction='mean')
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    j2, j3 = torch.zeros(2, 21, 3), torch.zeros(3, 21, 3)
    # S_p = [[1, .6, 0], [0, .8, 1]], S_g = eye(2, 3): squared errors [[0, .36, 0], [0, .04, 1]]
    only_q = head.loss(q, keys, j2, j3, valid_q=torch.tensor([False, True]))
    assert only_q.item() == pytest.approx((0.04 + 1.0) / 3, rel=1e-6)
    only_k = head.loss(q, keys, j2, j3, valid_k=torch.tensor([0, 1, 0]))
    assert only_k.item() == pytest.approx((0.36 + 0.04) / 2, rel=1e-6)
    single = head.loss(q, keys, j2, j3, valid_q=torch.tensor([1, 0]),
                       valid_k=torch.tensor([0, 1, 0]))
    assert single.item() == pytest.approx(0.36, rel=1e-6)
    norm = CrossContrastHead(sim_target=dict(type='HardTarget'))
    assert norm.loss(q, keys, j2, j3, valid_q=torch.tensor([False, True])).item() == \
        pytest.approx(1.04 ** 0.5, rel=1e-6)
    assert norm.loss(q, keys, j2, j3, valid_k=torch.tensor([0, 1, 0])).item() == \
        pytest.approx(0.4 ** 0.5, rel=1e-6)
    none = head.loss(q.requires_grad_(), keys, j2, j3, valid_q=torch.zeros(2))
    assert none.item() == 0.0 and none.requires_grad
    # targets follow the prediction's dtype (poses may come as float64)
    dot = CrossContrastHead()
    got = dot(q.detach(), keys, torch.randn(2, 21, 3).double(), torch.randn(3, 21, 3).double())
    assert got.dtype == torch.float32


def test_cross_contrast_sim_target_key_in_errors():
    with pytest.raises(Exception, match="'model.dgcl.cross_contrast.sim_target'"):
        CrossContrastHead(sim_target=dict(type='NoSuchTarget'))


def test_queue_stores_in_its_own_dtype_and_checks_all_fields_for_nan():
    pool = FeaturePosePool(size=4, feat_dim=1, num_joints=1)
    feats = torch.tensor([[float('nan')], [2.0]], dtype=torch.float64)
    poses = torch.ones(2, 1, 3, dtype=torch.float64)
    pool.enqueue(feats, poses)
    f, p, valid = pool.entries()
    assert f.dtype == torch.float32 and f.tolist() == [[0.0], [2.0]]
    assert valid.tolist() == [False, True] and p[0].abs().sum() == 0
    with pytest.raises(ValueError, match=r'^FeaturePosePool: one optimiser step enqueues 5 '
                                         r'hands \(2 x batch x ranks x accumulation\) but the '
                                         r'queue holds 4; raise its size \(model.dgcl.'
                                         r'self_queue.size / model.dgcl.pool.size\)$'):
        pool.enqueue(torch.zeros(5, 1), torch.zeros(5, 1, 3))


def test_key_encoder_state_dict_errors_are_reported():
    dec, proj = _Dec(), GraphReadoutProjector(4, 4, 2)
    ke = MomentumKeyEncoder(momentum=0.5)
    ke.init(dec, proj)
    state = ke.state_dict()
    with pytest.raises(RuntimeError, match='Unexpected key.*ema.bogus'):
        ke.load_state_dict({**state, 'ema.bogus': torch.zeros(1)})
    with pytest.raises(RuntimeError, match='Missing key.*ema.steps'):
        ke.load_state_dict({k: v for k, v in state.items() if k != 'ema.steps'})
    with pytest.raises(RuntimeError, match='size mismatch'):
        ke.load_state_dict({**state, 'ema.steps': torch.zeros(3)})


def test_consistency_head_hidden_layer_is_linear_relu_linear():
    torch.manual_seed(0)
    head = ConsistencyHead(num_nodes=2, in_channels=3, num_joints=1, hidden_channels=(4,))
    x = torch.randn(5, 2, 3)
    l1, l2 = head.mlp.lins
    h = (x.flatten(1) @ l1.weight.t() + l1.bias).relu() @ l2.weight.t() + l2.bias
    torch.testing.assert_close(head(x), h.view(5, 1, 3))


def test_cross_contrast_single_query_and_key():
    head = CrossContrastHead(sim_target=dict(type='HardTarget'), reduction='mean')
    q, k = torch.tensor([[0.6, 0.8]]), torch.tensor([[1.0, 0.0]])
    # S_p = 0.6, S_g = 1 (its own key)
    got = head.loss(q, k, torch.zeros(1, 21, 3), torch.zeros(1, 21, 3))
    assert got.item() == pytest.approx(0.16, rel=1e-6)
    head.reduction = 'norm'
    assert head.loss(q, k, torch.zeros(1, 21, 3), torch.zeros(1, 21, 3)).item() == \
        pytest.approx(0.4, rel=1e-6)


def test_mesh_node_feats_selects_the_node_axis_of_any_rank():
    """``(..., N_f, C_f) -> (..., R, C_f)``: the node axis is the second to last, for the
    projector's (M, N, C) as for the decoder's (B, 2, N, C); all nodes: the input itself."""
    decoder = nn.Module()
    decoder.register_buffer('mesh_node_index', torch.tensor([0, 2]))
    x3 = torch.arange(2 * 3 * 2.0).view(2, 3, 2)
    torch.testing.assert_close(mesh_node_feats(decoder, x3), x3[:, [0, 2]])
    x4 = torch.arange(2 * 2 * 3 * 2.0).view(2, 2, 3, 2)
    torch.testing.assert_close(mesh_node_feats(decoder, x4), x4[:, :, [0, 2]])
    decoder.mesh_node_index = torch.tensor([0, 1, 2])
    assert mesh_node_feats(decoder, x3) is x3 and mesh_node_feats(nn.Module(), x4) is x4
