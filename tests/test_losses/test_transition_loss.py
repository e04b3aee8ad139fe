import pytest
import torch

from gclhand.models.losses import TransitionLoss
from gclhand.registry import LOSSES


def test_hand_computed_and_grad():
    pred = torch.tensor([[1., 2., 3.], [0., 0., 0.]], requires_grad=True)
    target = torch.zeros(2, 3)
    loss = TransitionLoss(loss_weight=2.)(pred, target)
    assert loss.item() == pytest.approx(2.)  # (6/3 + 0) / 2 samples * 2
    loss.backward()
    assert torch.allclose(pred.grad[0], torch.full((3,), 2. / 6))


def test_valid_per_sample_or_per_hand():
    pred = torch.tensor([[1., 2., 3.], [3., 3., 3.]])
    target = torch.zeros(2, 3)
    loss_fn = LOSSES.build(dict(type='TransitionLoss'))
    assert loss_fn(pred, target, torch.tensor([0., 1.])).item() == pytest.approx(3.)
    # a sample counts only when both hands are annotated
    assert loss_fn(pred, target, torch.tensor([[1., 1.], [1., 0.]])).item() == pytest.approx(2.)
    none = loss_fn(pred.requires_grad_(), target, torch.zeros(2, 2))
    assert none.item() == 0 and not torch.isnan(none)
