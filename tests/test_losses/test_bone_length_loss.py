import pytest
import torch

from gclhand.models.losses import BoneLengthLoss
from gclhand.registry import LOSSES


def test_two_joint_bone_hand_computed():
    target = torch.tensor([[0., 0., 0.], [0., 0., 2.]]).expand(1, 2, 2, 3)
    pred = torch.tensor([[5., 5., 5.], [5., 8., 5.]]).expand(1, 2, 2, 3).clone()
    pred.requires_grad_()
    loss = BoneLengthLoss(loss_weight=3., parents=(-1, 0))(pred, target)
    assert loss.item() == pytest.approx(3.)  # |3 - 2| per hand
    loss.backward()
    assert pred.grad[0, 0, 1, 1] == pytest.approx(1.5)  # 3 * d|p1 - p0|/dy / 2 hands
    normalised = BoneLengthLoss(parents=(-1, 0), normalize=True, ref_bone=(0, 1))(pred, target)
    assert normalised.item() == pytest.approx(0.5)


def test_library_tree_invariant_to_rigid_motion_and_masked():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 2, 21, 3, generator=g)
    rot = torch.tensor([[0., -1., 0.], [1., 0., 0.], [0., 0., 1.]])
    loss_fn = LOSSES.build(dict(type='BoneLengthLoss'))
    assert loss_fn(target @ rot.T + 3., target).item() == pytest.approx(0, abs=1e-5)
    scaled = 1.5 * target
    expected = 0.5 * torch.stack([
        (target[..., j, :] - target[..., p, :]).norm(dim=-1)
        for j, p in enumerate((-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15,
                               0, 17, 18, 19)) if p >= 0], dim=-1).mean(-1)
    valid = torch.tensor([[1., 0.], [0., 0.]])
    assert loss_fn(scaled, target, valid).item() == pytest.approx(expected[0, 0].item(),
                                                                  rel=1e-5)
    zero = loss_fn(scaled.requires_grad_(), torch.zeros_like(target), torch.zeros(2, 2))
    zero.backward()
    assert zero.item() == 0 and torch.isfinite(scaled.grad).all()


def test_keys_reach_the_base_class():
    loss_fn = BoneLengthLoss(pred='p', target='t', valid=None)
    assert (loss_fn.pred_key, loss_fn.target_key, loss_fn.valid_key) == ('p', 't', None)


def test_normalised_by_a_metre_sized_reference_bone():
    target = torch.tensor([[0., 0., 0.], [0., 0., 0.1]]).expand(1, 2, 2, 3)
    pred = torch.tensor([[0., 0., 0.], [0., 0., 0.15]]).expand(1, 2, 2, 3)
    loss = BoneLengthLoss(parents=(-1, 0), normalize=True, ref_bone=(0, 1))(pred, target)
    assert loss.item() == pytest.approx(0.5, rel=1e-5)  # 5 cm over a 10 cm bone
