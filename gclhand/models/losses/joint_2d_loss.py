"""L1 loss on projected 2D joints (paper eq. 8, :math:`L_{2Djoints}`)."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from gclhand.registry import LOSSES
from .base import HandLoss
from .utils import masked_mean

ImageSize = Union[int, Sequence[int], Tensor]


@LOSSES.register_module()
class Joint2DLoss(HandLoss):
    r"""L1 loss between predicted and GT 2D joints, in image-size-normalised coordinates.

    .. math::
        L = \frac{1}{|V|} \sum_{(b,h) \in V} \frac{1}{2K} \sum_{k}
            \left(\frac{|\hat x_k - x_k|}{W} + \frac{|\hat y_k - y_k|}{H}\right)

    Pixels are divided by the image width / height, so 1.0 is the whole crop and the value
    does not depend on the input resolution (256 px in the paper, 64/128 px in the CPU
    configs): the paper's weight :math:`\lambda_3 = 10^{-3}` then means the same at every
    resolution.  (The paper does not state the unit; normalised coordinates are what
    IntagHand's projection works in.)  Note that the camera head gets gradient from this
    term only, and Adam normalises per-parameter step sizes, so the small weight mainly
    limits how much the 2D term pulls on the shared encoder.

    Args:
        loss_weight: :math:`\lambda_3`.
        image_size: ``S`` (square) or ``(W, H)`` of the network input; ``None`` compares raw
            pixels.  ``forward(..., image_size=...)`` overrides it per call; the estimator
            passes its input size (target ``'image_size'``).
        pred, target, valid: keys of what is compared (:class:`HandLoss`); default
            ``'joints_2d'`` (pixels) for both.

    Shapes:
        pred, target: ``(B, 2, K, 2)`` pixels (x, y); valid: ``(B, 2)`` or None;
        image_size: int or ``(W, H)`` for the batch, or a tensor ``(B,)`` / ``(B, 2)`` per sample.
        Returns the weighted scalar.
    """

    default_pred = default_target = 'joints_2d'

    def __init__(self, loss_weight: float = 1.0, image_size: Optional[ImageSize] = None,
                 **keys) -> None:
        super().__init__(loss_weight, **keys)
        self.image_size = image_size

    def select(self, preds, targets):
        kwargs = super().select(preds, targets)
        kwargs['image_size'] = targets.get('image_size')
        return kwargs

    @staticmethod
    def _size_tensor(size: ImageSize, ref: Tensor) -> Tensor:
        """Image size broadcastable to ``ref`` ``(B, 2, K, 2)``: a Python int / pair is one
        size for the batch, a tensor holds one size per sample."""
        if not isinstance(size, Tensor):
            return torch.as_tensor(size, dtype=ref.dtype, device=ref.device)  # S or (W, H)
        size = size.to(dtype=ref.dtype, device=ref.device)
        if size.shape not in ((ref.shape[0],), (ref.shape[0], 2)):
            raise ValueError(f'Joint2DLoss: per-sample image_size must be (B,) or (B, 2) with '
                             f'B={ref.shape[0]}, got {tuple(size.shape)}')
        return size.view(ref.shape[0], 1, 1, -1)

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None,
                image_size: Optional[ImageSize] = None) -> Tensor:
        size = self.image_size if image_size is None else image_size
        diff = (pred - target).abs()
        if size is not None:
            diff = diff / self._size_tensor(size, diff)
        return self.loss_weight * masked_mean(diff.mean(dim=(-2, -1)), valid)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, image_size={self.image_size}'
