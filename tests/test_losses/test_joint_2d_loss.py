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
