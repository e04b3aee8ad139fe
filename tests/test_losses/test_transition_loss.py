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


def test_offset_target_three_samples_and_keys():
    pred = torch.tensor([[1., 1., 1.], [2., 2., 2.], [0., 0., 0.]])
    target = torch.tensor([[1., 1., 4.], [2., 2., 2.], [1., 1., 1.]])
    loss_fn = TransitionLoss(pred='p', target='t')
    assert (loss_fn.pred_key, loss_fn.target_key) == ('p', 't')
    valid = torch.tensor([[1., 1.], [1., 1.], [1., 0.]])  # sample 2: one hand missing
    # per sample |diff| means: 1, 0, (1 excluded)
    assert loss_fn(pred, target, valid).item() == pytest.approx(0.5)
    assert loss_fn(pred, target).item() == pytest.approx(2 / 3)
