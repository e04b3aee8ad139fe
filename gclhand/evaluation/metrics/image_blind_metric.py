"""How far a model is from the best prediction that ignores the image (IntagHand protocol)."""
from typing import Any, Dict, List, Sequence, Tuple

import torch

from gclhand.registry import METRICS
from ..functional import INTAGHAND_ROOT, REFERENCE_BONE, align_root, point_errors, scale_align
from .base_hand_metric import BaseHandMetric, Rows, nanmean, stack_field


@METRICS.register_module()
class ImageBlindMetric(BaseHandMetric):
    r"""IntagHand-protocol MPJPE of the model beside that of the best image-blind constant.

    A network that has not learned to read the image converges to one fixed pose per hand;
    its MPJPE is then that of a constant. The constant scored here is the best one for the
    evaluated split itself: per hand, the per-coordinate median of the ground-truth joints
    after the protocol's alignment (root = middle MCP, divided by the wrist-to-middle-MCP
    length), i.e. the L1-optimal constant in that unit, then scored exactly like a
    prediction (:class:`~gclhand.evaluation.IntagHandMetric`'s alignment). Taken from the
    evaluated split's own ground truth it is a lower bound on what ignoring the image can
    score there, so ``model_to_constant`` < 1 is evidence that the model reads the image.

    Reads ``pred_joints_3d``, ``gt_joints_3d`` ``(2, 21, 3)``. Hands with ``hand_valid == 0``
    are left out.

    Output keys: ``blind/model_mpjpe``, ``blind/constant_mpjpe``, ``blind/model_to_constant``
    (the first two averaged over the left and right hands as IntagHand's MPJPE).
    """

    default_prefix = 'blind'

    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        name = type(self).__name__
        pred = stack_field(data_samples, 'pred_joints_3d', name, (2, -1, 3))
        gt = stack_field(data_samples, 'gt_joints_3d', name, (2, -1, 3))
        _, _, valid = self.joints_and_valid(data_samples)
        return [dict(pred=p.tolist(), gt=g.tolist(), valid=v.tolist())
                for p, g, v in zip(pred, gt, valid)]

    @staticmethod
    def errors(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """``(N, 2)`` IntagHand-protocol per-hand MPJPE in mm of ``(N, 2, 21, 3)`` metres."""
        aligned = scale_align(align_root(pred, INTAGHAND_ROOT), gt, pred_joints=pred,
                              bone=REFERENCE_BONE)
        return point_errors(aligned, align_root(gt, INTAGHAND_ROOT)).mean(-1) * 1000.

    @staticmethod
    def constant(gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``(2, 21, 3)`` per-hand median of the aligned, bone-normalised valid GT joints."""
        start, end = REFERENCE_BONE
        rel = align_root(gt, INTAGHAND_ROOT)
        bone = (gt[..., end, :] - gt[..., start, :]).norm(dim=-1).clamp_min(1e-9)
        norm = rel / bone[..., None, None]
        return torch.stack([norm[valid[:, h], h].median(dim=0).values for h in range(2)])

    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        pred = torch.tensor([r['pred'] for r in results], dtype=torch.float64)
        gt = torch.tensor([r['gt'] for r in results], dtype=torch.float64)
        valid = torch.tensor([r['valid'] for r in results], dtype=torch.bool)
        const = self.constant(gt, valid).expand_as(gt)
        rows, means = {}, {}
        for key, p in (('model', pred), ('constant', const)):
            err = self.errors(p, gt).masked_fill(~valid, float('nan'))
            left, right = nanmean(err[:, 0].tolist()), nanmean(err[:, 1].tolist())
            means[key] = nanmean([left, right])
            rows[f'{key} MPJPE'] = (left, right, means[key])
        ratio = means['model'] / means['constant']
        metrics = dict(model_mpjpe=means['model'], constant_mpjpe=means['constant'],
                       model_to_constant=ratio)
        rows['model / constant'] = (None, None, ratio)
        return metrics, rows
