"""L1 loss on the relative translation between the two hands (paper eq. 9)."""
from typing import Optional

from torch import Tensor

from gclhand.registry import LOSSES
from .base import HandLoss
from .utils import masked_mean


@LOSSES.register_module()
class TransitionLoss(HandLoss):
    r"""L1 between predicted and GT left-minus-right root translation (:math:`L_{transition}`).

    .. math::
        L = \frac{1}{|V|} \sum_{b \in V} \frac{1}{3} \sum_d |\hat t_b - t_b|_d,
        \quad t = \text{root}_{left} - \text{root}_{right}

    (``gclhand.evaluation.functional.relative_root`` computes :math:`t` from two-hand joints;
    the estimator predicts it as ``pred_rel_root``).  A sample counts only when both hands
    are annotated.

    Args:
        loss_weight: :math:`\lambda_6` (1 in the paper).
        pred, target, valid: keys of what is compared (:class:`HandLoss`); default
            ``'rel_root'`` (metres) for both.

    Shapes:
        pred, target: ``(B, 3)`` (metres); valid: ``(B,)`` per sample, ``(B, 2)`` per hand
        (a sample is valid when both hands are), or None.  Returns the weighted scalar.
    """

    default_pred = default_target = 'rel_root'

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        if valid is not None and valid.dim() == 2:
            valid = (valid > 0).all(dim=-1)
        return self.loss_weight * masked_mean((pred - target).abs().mean(dim=-1), valid)
