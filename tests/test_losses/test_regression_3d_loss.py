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
