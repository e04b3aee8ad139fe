"""Root-aligned, scale-normalised L1 losses on 3D joints and vertices (paper eq. 8)."""
from typing import Optional, Sequence

from torch import Tensor

from gclhand.evaluation.functional import (INTAGHAND_ROOT, REFERENCE_BONE, align_root,
                                           reference_length)
from gclhand.registry import LOSSES
from .base import HandLoss, pick
from .utils import masked_mean


def aligned_l1(pred: Tensor, target: Tensor, pred_root: Tensor, target_root: Tensor,
               scale: Tensor) -> Tensor:
    """Mean absolute coordinate error of root-aligned points, in units of ``scale``.

    Args:
        pred: ``(..., K, 3)``.
        target: ``(..., K, 3)``.
        pred_root: ``(..., 3)`` subtracted from ``pred``.
        target_root: ``(..., 3)`` subtracted from ``target``.
        scale: ``(...,)`` positive; both aligned point sets are divided by it.

    Returns:
        ``(...,)``: ``mean_{k,d} |(pred - pred_root) - (target - target_root)| / scale``.
    """
    diff = align_root(pred, pred_root) - align_root(target, target_root)
    return diff.abs().mean(dim=(-2, -1)) / scale


class _AlignedLoss3D(HandLoss):
    """Shared configuration of :class:`JointLoss3D` and :class:`VertexLoss3D`."""

    def __init__(self, loss_weight: float = 1.0, root_index: int = INTAGHAND_ROOT,
                 ref_bone: Sequence[int] = REFERENCE_BONE, eps: float = 1e-6, **keys) -> None:
        super().__init__(loss_weight, **keys)
        self.root_index = root_index
        self.ref_bone = tuple(ref_bone)
        self.eps = eps

    def _loss(self, pred: Tensor, target: Tensor, pred_joints: Tensor, target_joints: Tensor,
              valid: Optional[Tensor]) -> Tensor:
        r = self.root_index
        scale = reference_length(target_joints, self.ref_bone, self.eps)
        err = aligned_l1(pred, target, pred_joints[..., r, :], target_joints[..., r, :], scale)
        return self.loss_weight * masked_mean(err, valid)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, root_index={self.root_index}, ref_bone={self.ref_bone}'


@LOSSES.register_module()
class JointLoss3D(_AlignedLoss3D):
    r"""L1 loss on root-aligned, scale-normalised 3D joints (paper eq. 8, :math:`L_{3Djoints}`).

    .. math::
        L = \frac{1}{|V|} \sum_{(b,h) \in V} \frac{1}{3K} \sum_{k,d}
            \frac{|(P_k - P_r) - (G_k - G_r)|_d}{\ell(G)}

    with :math:`P, G` predicted and GT joints of hand :math:`h` of sample :math:`b`,
    :math:`r` the root joint (middle MCP by default), :math:`\ell(G) = |G_9 - G_0|` the GT
    hand's wrist-to-middle-MCP length and :math:`V` the valid hands.  *Scale-normalised*
    means that both root-aligned sets are divided by the **ground-truth** hand's reference
    length, so the loss is in units of hand size (comparable across hands and datasets);
    the prediction is **not** rescaled by its own length, so a prediction of the wrong size
    is penalised (its size is what the 2D and length losses also constrain).

    Args:
        loss_weight: :math:`\lambda_1` (10 in the paper).
        root_index: root joint (9 = middle MCP, library order).
        ref_bone: ``(start, end)`` joints of the reference length (wrist -> middle MCP).
        eps: lower bound of the reference length (a missing all-zero GT hand stays finite).
        pred, target, valid: keys of what is compared (:class:`~.base.HandLoss`); default
            ``'joints_3d'`` for both.

    Shapes:
        pred, target: ``(B, 2, K, 3)`` metres (any common unit); valid: ``(B, 2)`` or None.
        Returns the weighted scalar.
    """

    default_pred = default_target = 'joints_3d'

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        return self._loss(pred, target, pred, target, valid)


@LOSSES.register_module()
class VertexLoss3D(_AlignedLoss3D):
    r"""L1 loss on root-aligned, scale-normalised 3D vertices (paper eq. 8, :math:`L_{3Dverts}`).

    Same definition as :class:`JointLoss3D`, applied to the 778 vertices: the root of each
    vertex set is the root *joint* of the same hand and the scale is the GT hand's reference
    bone length, so ``forward`` also takes the predicted and GT joints
    (``pred_joints`` / ``target_joints``, ``(B, 2, 21, 3)``) that define them.  Passing joints
    (rather than precomputed roots and scales) keeps the root and scale conventions in this
    one place, configured like the joint loss.

    Args:
        loss_weight: :math:`\lambda_2` (10 in the paper).
        root_index, ref_bone, eps: as :class:`JointLoss3D`.
        pred, target, valid: keys of what is compared; default ``'verts_3d'`` for both.
        pred_joints, target_joints: keys of the joints that give each hand's root and scale;
            default ``'joints_3d'`` for both.

    Shapes:
        pred, target: ``(B, 2, V, 3)``; valid: ``(B, 2)`` or None; pred_joints,
        target_joints: ``(B, 2, J, 3)``.  Returns the weighted scalar.
    """

    default_pred = default_target = 'verts_3d'

    def __init__(self, *args, pred_joints: str = 'joints_3d', target_joints: str = 'joints_3d',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pred_joints_key = pred_joints
        self.target_joints_key = target_joints

    def select(self, preds, targets):
        kwargs = super().select(preds, targets)
        kwargs['pred_joints'] = pick(preds, self.pred_joints_key, 'prediction', 'VertexLoss3D')
        kwargs['target_joints'] = pick(targets, self.target_joints_key, 'target', 'VertexLoss3D')
        return kwargs

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None,
                pred_joints: Optional[Tensor] = None,
                target_joints: Optional[Tensor] = None) -> Tensor:
        if pred_joints is None or target_joints is None:
            raise ValueError('VertexLoss3D needs pred_joints and target_joints (B, 2, 21, 3) to '
                             'find each hand\'s root and scale: call '
                             'loss(pred_verts, gt_verts, valid, pred_joints=..., '
                             'target_joints=...)')
        return self._loss(pred, target, pred_joints, target_joints, valid)


__all__ = ['JointLoss3D', 'VertexLoss3D', 'aligned_l1']
