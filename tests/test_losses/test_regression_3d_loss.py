import pytest
import torch

from gclhand.models.losses import JointLoss3D, VertexLoss3D
from gclhand.registry import LOSSES


def two_joint_case():
    """GT bone (0,0,0)->(0,0,2): reference length 2.  The prediction, once root-aligned, is
    (0,0,0)->(0,0,3): |diff| summed = 1 over 6 coordinates -> 1/6, over the length -> 1/12."""
    target = torch.tensor([[0., 0., 0.], [0., 0., 2.]]).expand(1, 2, 2, 3).clone()
    pred = torch.tensor([[1., 1., 1.], [1., 1., 4.]]).expand(1, 2, 2, 3).clone()
    return pred.requires_grad_(), target


def test_joint_loss_hand_computed():
    pred, target = two_joint_case()
    loss = JointLoss3D(loss_weight=10., root_index=0, ref_bone=(0, 1))(pred, target)
    assert loss.item() == pytest.approx(10 / 12)
    loss.backward()
    # d/dpred of |p1 - p0 - g|/(6 * 2 * 2 hands): only z of joint 1 (+) and joint 0 (-)
    expected = torch.zeros(1, 2, 2, 3)
    expected[..., 1, 2], expected[..., 0, 2] = 10 / 24, -10 / 24
    assert torch.allclose(pred.grad, expected)


def test_joint_loss_does_not_rescale_prediction():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 2, 21, 3, generator=g)
    root = target[..., 9:10, :]
    assert JointLoss3D()(target + 1., target).item() == pytest.approx(0, abs=1e-6)
    loss = JointLoss3D()(2 * (target - root) + root, target)
    ref = (target[..., 9, :] - target[..., 0, :]).norm(dim=-1)
    expected = ((target - root).abs().mean(dim=(-2, -1)) / ref).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_valid_mask_and_all_invalid_is_zero_with_grad():
    pred, target = two_joint_case()
    target[0, 1] = 0.  # a missing right hand: all zeros, reference length 0
    loss_fn = JointLoss3D(root_index=0, ref_bone=(0, 1))
    masked = loss_fn(pred, target, torch.tensor([[1., 0.]]))
    assert masked.item() == pytest.approx(1 / 12)
    none_valid = loss_fn(pred, target, torch.zeros(1, 2))
    assert none_valid.item() == 0 and none_valid.requires_grad
    none_valid.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() == 0


def test_wrong_mask_shape_raises():
    pred, target = two_joint_case()
    with pytest.raises(ValueError, match='hand_valid'):
        JointLoss3D(root_index=0, ref_bone=(0, 1))(pred, target, torch.ones(2))


def test_vertex_loss_uses_joint_root_and_gt_scale():
    pred_j, target_j = two_joint_case()
    target_v = torch.tensor([[0., 0., 1.], [0., 2., 0.]]).expand(1, 2, 2, 3)
    pred_v = (target_v + torch.tensor([1., 1., 1.]) + torch.tensor([0., 0., 0.6])).requires_grad_()
    # root-aligned: pred moves by the joint root (1,1,1) -> residual (0,0,0.6) per vertex:
    # sum 1.2 over 6 coordinates = 0.2, over the GT length 2 -> 0.1
    loss_fn = LOSSES.build(dict(type='VertexLoss3D', loss_weight=10., root_index=0,
                                ref_bone=(0, 1)))
    loss = loss_fn(pred_v, target_v, None, pred_joints=pred_j, target_joints=target_j)
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert pred_v.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='pred_joints'):
        loss_fn(pred_v, target_v)


def test_vertex_loss_keys_weights_and_messages():
    loss = VertexLoss3D(10.0)  # loss_weight positional
    assert loss.loss_weight == 10.0
    assert (loss.pred_key, loss.target_key) == ('verts_3d', 'verts_3d')
    assert (loss.pred_joints_key, loss.target_joints_key) == ('joints_3d', 'joints_3d')
    other = VertexLoss3D(pred='a', target='b', pred_joints='pj', target_joints='tj')
    assert (other.pred_key, other.target_key) == ('a', 'b')
    preds = dict(a=1, pj=2)
    targets = dict(b=3, tj=4, hand_valid=5)
    assert other.select(preds, targets) == dict(pred=1, target=3, valid=5, pred_joints=2,
                                                target_joints=4)
    with pytest.raises(KeyError, match="VertexLoss3D: no target 'tj'"):
        other.select(preds, dict(b=3, hand_valid=5))
    with pytest.raises(KeyError, match="VertexLoss3D: no prediction 'pj'"):
        other.select(dict(a=1), targets)
    assert JointLoss3D(pred='x', target='y').pred_key == 'x'
    pred_j, target_j = two_joint_case()
    for kwargs in (dict(pred_joints=pred_j), dict(target_joints=target_j)):
        with pytest.raises(ValueError, match=r"^VertexLoss3D needs pred_joints and "
                                             r"target_joints \(B, 2, 21, 3\) to find each "
                                             r"hand's root and scale: call loss\(pred_verts, "
                                             r"gt_verts, valid, pred_joints=\.\.\., "
                                             r"target_joints=\.\.\.\)$"):
            VertexLoss3D()(pred_j, target_j, **kwargs)


def test_vertex_loss_valid_mask():
    pred_j, target_j = two_joint_case()
    target_v = torch.tensor([[0., 0., 1.], [0., 2., 0.]]).expand(1, 2, 2, 3).clone()
    pred_v = target_v + torch.tensor([1., 1., 1.])
    pred_v[0, 1] += 0.6  # the right hand is off by 0.6 in every coordinate
    loss_fn = VertexLoss3D(root_index=0, ref_bone=(0, 1))
    full = loss_fn(pred_v, target_v, None, pred_joints=pred_j, target_joints=target_j)
    assert full.item() == pytest.approx(0.15)  # mean over hands of 0.6 / 2 (scale) and 0
    left = loss_fn(pred_v, target_v, torch.tensor([[1., 0.]]), pred_joints=pred_j,
                   target_joints=target_j)
    assert left.item() == pytest.approx(0.0, abs=1e-7)


def test_metre_sized_hands_are_not_clamped():
    """A 10 cm reference bone divides as 0.1 (the eps bound is far below hand sizes)."""
    pred, target = two_joint_case()
    pred, target = pred.detach() * 0.05, target * 0.05  # bone 0.1 m, residual z 0.05 m
    loss = JointLoss3D(root_index=0, ref_bone=(0, 1))(pred, target)
    assert loss.item() == pytest.approx((0.05 / 6) / 0.1, rel=1e-5)
