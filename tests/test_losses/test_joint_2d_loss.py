import pytest
import torch

from gclhand.models.losses import Joint2DLoss
from gclhand.registry import LOSSES


def case():
    pred = torch.tensor([[0., 0.], [10., 20.]]).expand(1, 2, 2, 2).clone().requires_grad_()
    return pred, torch.zeros(1, 2, 2, 2)


def test_normalised_by_width_and_height():
    pred, target = case()
    # |dx|/W = 10/100, |dy|/H = 20/200 -> (0.1 + 0.1) / 4 coordinates = 0.05
    loss = Joint2DLoss(loss_weight=2., image_size=(100, 200))(pred, target)
    assert loss.item() == pytest.approx(0.1)
    loss.backward()
    assert pred.grad[0, 0, 1, 0] == pytest.approx(2. / (4 * 2 * 100))


def test_square_per_sample_and_raw_pixels():
    pred, target = case()
    assert Joint2DLoss(image_size=100)(pred, target).item() == pytest.approx(0.075)
    per_sample = LOSSES.build(dict(type='Joint2DLoss'))
    assert per_sample(pred, target, image_size=torch.tensor([100.])).item() == \
        pytest.approx(0.075)
    assert per_sample(pred, target, image_size=torch.tensor([[100., 200.]])).item() == \
        pytest.approx(0.05)
    assert per_sample(pred, target).item() == pytest.approx(7.5)  # pixels
    with pytest.raises(ValueError, match='image_size'):
        per_sample(pred, target, image_size=torch.tensor([1., 2., 3.]))


def test_valid_mask():
    pred, target = case()
    pred2 = torch.cat([pred, torch.zeros(1, 2, 2, 2)], dim=0)  # second sample: exact
    target2 = torch.cat([target, torch.zeros(1, 2, 2, 2)], dim=0)
    loss_fn = Joint2DLoss(image_size=100)
    assert loss_fn(pred2, target2).item() == pytest.approx(0.075 / 2)
    assert loss_fn(pred2, target2, torch.tensor([[1, 1], [0, 0]])).item() == \
        pytest.approx(0.075)
    assert loss_fn(pred2, target2, torch.zeros(2, 2)).item() == 0


def test_three_joints_per_sample_sizes_and_offset_targets():
    """(B, 2, K, 2) with K = 3 and a nonzero target; per-sample (W, H) broadcast per sample."""
    target = torch.full((2, 2, 3, 2), 5.0)
    pred = target.clone()
    pred[0, :, :, 0] += 10.0  # sample 0: x off by 10 px on every joint of both hands
    pred[1, 1, 0, 1] += 30.0  # sample 1: one y coordinate of the right hand off by 30 px
    sizes = torch.tensor([[100., 50.], [40., 300.]])
    loss = Joint2DLoss()(pred, target, image_size=sizes)
    # per hand: sample 0 both hands (10/100 over 3 joints x 2 coords) = 0.05; sample 1
    # right hand 30/300 / 6 = 1/60, left 0
    expected = (0.05 + 0.05 + 0.0 + 1 / 60) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    masked = Joint2DLoss()(pred, target, torch.tensor([[0., 1.], [0., 1.]]), image_size=sizes)
    assert masked.item() == pytest.approx((0.05 + 1 / 60) / 2, rel=1e-6)  # right hands only
    three = torch.zeros(3, 2, 3, 2)
    with pytest.raises(ValueError, match=r'^Joint2DLoss: per-sample image_size must be \(B,\) '
                                         r'or \(B, 2\) with B=3, got \(2,\)$'):
        Joint2DLoss()(three, three, image_size=torch.ones(2))
    keyed = Joint2DLoss(pred='p', target='t', image_size=64)
    assert (keyed.pred_key, keyed.target_key) == ('p', 't')
    assert keyed.select(dict(p=1), dict(t=2, hand_valid=3, image_size=(4, 5))) == dict(
        pred=1, target=2, valid=3, image_size=(4, 5))
    assert keyed.extra_repr().endswith(', image_size=64')
