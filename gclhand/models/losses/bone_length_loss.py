"""L1 loss on bone lengths (the paper's length loss, eq. 9)."""
from typing import Optional, Sequence

from torch import Tensor

from gclhand.evaluation.functional import REFERENCE_BONE, bone_lengths, reference_length
from gclhand.registry import LOSSES
from .base import HandLoss
from .utils import masked_mean


@LOSSES.register_module()
class BoneLengthLoss(HandLoss):
    r"""L1 between predicted and GT bone lengths (paper eq. 9, :math:`L_{length}`).

    .. math::
        L = \frac{1}{|V|} \sum_{(b,h) \in V} \frac{1}{|E|} \sum_{(i,j) \in E}
            \big|\, |P_j - P_i| - |G_j - G_i| \,\big|

    over the bones :math:`E` of the kinematic tree (by default the library's 21-joint tree:
    wrist -> x1 -> x2 -> x3 -> x4 per finger, 20 bones).  Bone lengths do not depend on
    the root or on rotation, so this term carries the hand's size and proportions.

    Args:
        loss_weight: :math:`\lambda_4` (1e-3 in the paper).
        pred, target, valid: keys of what is compared (:class:`HandLoss`); default
            ``'joints_3d'`` (normalised, root-relative joints) for both.
        parents: parent index of each joint (-1 for the root); ``None`` = library tree
            (:data:`gclhand.hand.joints.LIBRARY_PARENTS`).
        normalize: divide by the GT hand's reference length (units of hand size, like
            :class:`JointLoss3D`) instead of comparing absolute lengths (input unit).
        ref_bone: ``(start, end)`` joints of the reference length (wrist -> middle MCP).
        eps: lower bound of that reference length.

    Shapes:
        pred, target: ``(B, 2, K, 3)``; valid: ``(B, 2)`` or None.  Returns the weighted
        scalar.
    """

    default_pred = default_target = 'joints_3d'

    def __init__(self, loss_weight: float = 1.0, parents: Optional[Sequence[int]] = None,
                 normalize: bool = False, ref_bone: Sequence[int] = REFERENCE_BONE,
                 eps: float = 1e-6, **keys) -> None:
        super().__init__(loss_weight, **keys)
        self.parents = None if parents is None else tuple(parents)
        self.normalize = normalize
        self.ref_bone = tuple(ref_bone)
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        err = (bone_lengths(pred, self.parents) - bone_lengths(target, self.parents)).abs()
        err = err.mean(dim=-1)
        if self.normalize:
            err = err / reference_length(target, self.ref_bone, self.eps)
        return self.loss_weight * masked_mean(err, valid)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, normalize={self.normalize}'
