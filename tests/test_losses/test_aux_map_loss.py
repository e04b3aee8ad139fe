"""Auxiliary-map losses against hand-computed values."""
import pytest
import torch
import torch.nn.functional as F

from gclhand.registry import LOSSES


def build(cfg):
    return LOSSES.build(cfg)


def test_heatmap_mse_value():
    loss = build(dict(type='HeatmapMSELoss', loss_weight=100.0))
    pred = torch.zeros(1, 42, 2, 2)
    target = torch.zeros(1, 42, 2, 2)
    target[0, 0, 0, 0] = 1.0                     # one pixel off by 1 of 168
    assert loss(pred, target).item() == pytest.approx(100.0 / 168)


def test_mask_smooth_l1_value():
    loss = build(dict(type='MaskLoss', loss_weight=2.0, beta=0.5))
    pred = torch.tensor([0.2, 1.0, 0.0, 0.0]).view(1, 2, 1, 2)
    target = torch.tensor([0.0, 0.0, 0.0, 1.0]).view(1, 2, 1, 2)
    # |d| = 0.2 (< beta: 0.5 d^2 / beta = 0.04), 1.0 (>= beta: |d| - beta/2 = 0.75), 0, 1 (0.75)
    assert loss(pred, target).item() == pytest.approx(2.0 * (0.04 + 0.75 + 0 + 0.75) / 4)


def test_dense_loss_reads_each_hand_inside_its_mask():
    loss = build(dict(type='DenseMapLoss', loss_weight=1.0, beta=1e-6))
    target = torch.full((1, 3, 1, 2), 0.5)
    mask = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)   # left px 0, right px 1
    pred = torch.zeros(1, 6, 1, 2)
    pred[:, :3, :, 0] = 0.5                       # left channels right on the left hand
    pred[:, 3:, :, 0] = 9.0                       # right channels off, but outside its mask
    pred[:, 3:, :, 1] = 0.1                       # right channels 0.4 off on the right hand
    # left term 0; right term mean over 6 values of |0.4| on 3 of them = 0.2; average 0.1
    assert loss(pred, target, mask=mask).item() == pytest.approx(0.1, abs=1e-5)
    preds, targets = {'dense': pred}, {'dense': target, 'mask': mask}
    assert loss(**loss.select(preds, targets)).item() == pytest.approx(0.1, abs=1e-5)
    with pytest.raises(ValueError, match=r'pred \(B, 6, h, w\)'):
        loss(pred[:, :3], target, mask=mask)


def test_aux_losses_match_torch():
    torch.manual_seed(0)
    p, t = torch.rand(2, 2, 4, 4), (torch.rand(2, 2, 4, 4) > 0.5).float()
    assert build(dict(type='MaskLoss', loss_weight=500.0))(p, t).item() == pytest.approx(
        500 * F.smooth_l1_loss(p, t, beta=0.05).item())
