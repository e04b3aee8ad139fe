"""Losses of IntagHand's auxiliary encoder maps: heatmaps, masks, dense correspondence.

IntagHand (Li et al., CVPR 2022, ``core/Loss.py``) uses MSE on the joint heatmaps and a
smooth L1 (``beta = 0.05``) on the masks and, inside each hand's mask, on the dense maps,
with weights 100 / 500 / 30 (``utils/defaults.yaml``) beside 100 on its 3D L1 terms; its
3D labels are in metres rescaled to a mean reference bone of ~0.09 m, so a weight of 10 on
gclhand's 3D terms (in units of that bone) weighs the same per millimetre and IntagHand's
auxiliary weights carry over unchanged.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from gclhand.registry import LOSSES
from .base import HandLoss, pick


@LOSSES.register_module()
class HeatmapMSELoss(HandLoss):
    r"""Mean squared error of joint heatmaps, :math:`\frac{1}{N}\sum (\hat H - H)^2`.

    Args:
        loss_weight: weight (IntagHand: 100).
        pred, target: keys (default ``'heatmaps'``; (B, 42, h, w) each).
    """

    default_pred = default_target = 'heatmaps'

    def __init__(self, loss_weight: float = 1.0, pred: Optional[str] = None,
                 target: Optional[str] = None) -> None:
        super().__init__(loss_weight, pred, target, valid=None)

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        return self.loss_weight * F.mse_loss(pred, target)


@LOSSES.register_module()
class MaskLoss(HandLoss):
    r"""Smooth L1 (``beta``) between predicted and GT (left, right) hand masks.

    Args:
        loss_weight: weight (IntagHand: 500).
        beta: smooth-L1 transition point (IntagHand: 0.05).
        pred, target: keys (default ``'mask'``; (B, 2, h, w) in [0, 1]).
    """

    default_pred = default_target = 'mask'

    def __init__(self, loss_weight: float = 1.0, beta: float = 0.05,
                 pred: Optional[str] = None, target: Optional[str] = None) -> None:
        super().__init__(loss_weight, pred, target, valid=None)
        self.beta = beta

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        return self.loss_weight * F.smooth_l1_loss(pred, target, beta=self.beta)


@LOSSES.register_module()
class DenseMapLoss(HandLoss):
    r"""Smooth L1 of the dense-correspondence colours inside each hand's GT mask.

    .. math::
        L = \frac{1}{2} \sum_{h \in \{l, r\}} \mathrm{mean}\,
            \mathrm{smoothL1}(\hat D_h M_h, D M_h)

    with :math:`\hat D_h` the 3 channels predicted for hand :math:`h`, :math:`D` the
    stored dense image (both hands, one colour code) and :math:`M_h` hand :math:`h`'s mask
    (IntagHand's definition: the mean runs over all pixels).

    Args:
        loss_weight: weight (IntagHand: 30).
        beta: smooth-L1 transition point (IntagHand: 0.05).
        pred, target: keys (default ``'dense'``: (B, 6, h, w) prediction, (B, 3, h, w)
            target).
        mask: key of the GT masks (B, 2, h, w) among the targets.
    """

    default_pred = default_target = 'dense'

    def __init__(self, loss_weight: float = 1.0, beta: float = 0.05,
                 pred: Optional[str] = None, target: Optional[str] = None,
                 mask: str = 'mask') -> None:
        super().__init__(loss_weight, pred, target, valid=None)
        self.beta = beta
        self.mask_key = mask

    def select(self, preds, targets):
        kwargs = super().select(preds, targets)
        kwargs['mask'] = pick(targets, self.mask_key, 'target', type(self).__name__)
        return kwargs

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tensor:
        if pred.shape[1] != 6 or target.shape[1] != 3 or mask is None or mask.shape[1] != 2:
            raise ValueError(f'DenseMapLoss expects pred (B, 6, h, w), target (B, 3, h, w) and '
                             f'mask (B, 2, h, w), got {tuple(pred.shape)}, '
                             f'{tuple(target.shape)}, {None if mask is None else tuple(mask.shape)}')
        loss = sum(F.smooth_l1_loss(pred[:, 3 * h:3 * h + 3] * mask[:, h:h + 1],
                                    target * mask[:, h:h + 1], beta=self.beta)
                   for h in range(2)) / 2
        return self.loss_weight * loss
