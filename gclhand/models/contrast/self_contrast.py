"""Self contrast: InfoNCE between a graph and its disturbed copy (HandDGCL eq. 3, 13)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from gclhand.registry import CONTRAST_HEADS


@CONTRAST_HEADS.register_module()
class SelfContrastHead(nn.Module):
    r"""InfoNCE pulling each hand toward its own disturbed copy (HandDGCL eq. 3, 13).

    With :math:`\mathbf{q}_m` = normalised projection of :math:`\mathbf{G}_k` (main pass),
    :math:`\hat{\mathbf{k}}_m` = that of :math:`\hat{\mathbf{G}}_k` (disturbed pass) and
    :math:`\mathbf{Q}` an optional queue of disturbed-pass embeddings of earlier batches,

    .. math::
        S = [\,\mathbf{q}\hat{\mathbf{k}}^\top \;|\; \mathbf{q}\mathbf{Q}^\top\,] / \tau,
        \qquad
        L_{self} = \frac{1}{M} \sum_m \log \frac{\exp S_{mm}}{\sum_n \exp S_{mn}}

    Positives are the diagonal of :math:`\mathbf{q}\hat{\mathbf{k}}^\top` (eq. 3); the
    other samples' disturbed embeddings and the queue are the negatives, so the positive and
    all negatives come from the same encoder (the shared decoder on disturbed features).

    Sign (eq. 11): :math:`L_{DGCLNet} = -\lambda_7 (L_{cross} + L_{self})` with eq. 13's
    :math:`L_{self}` = log softmax, so :math:`-\lambda_7 L_{self}` *is* the usual minimised
    InfoNCE: this head returns :math:`-L_{self}` (the cross entropy of the positives), and
    DGCLNet adds it with weight :math:`+\lambda_7`. (The minus of eq. 11 is wrong only for
    :math:`L_{cross}`, see :class:`CrossContrastHead`.)

    Args:
        tau: softmax temperature.
    """

    def __init__(self, tau: float = 0.1):
        super().__init__()
        if tau <= 0:
            raise ValueError(f'SelfContrastHead.tau must be > 0, got {tau}')
        self.tau = tau

    def logits(self, q: Tensor, k: Tensor, queue: Optional[Tensor] = None) -> Tensor:
        """(M, D), (M, D), (K, D) or None -> (M, M + K) logits, positives on the diagonal."""
        s = q @ k.t()
        if queue is not None and queue.numel() > 0:
            s = torch.cat([s, q @ queue.t()], dim=1)
        return s / self.tau

    def loss(self, q: Tensor, k: Tensor, queue: Optional[Tensor] = None) -> Tensor:
        """Unweighted InfoNCE (cross entropy of the positives, :math:`-L_{self}`).

        Args:
            q: (M, D) unit embeddings of ``G_k``.
            k: (M, D) unit embeddings of ``G_hat_k`` (row m is q's positive).
            queue: (K, D) unit embeddings of earlier batches' ``G_hat_k``, extra negatives,
                or ``None``.

        Returns:
            Scalar tensor.
        """
        if q.shape != k.shape:
            raise ValueError(f'SelfContrastHead: q {tuple(q.shape)} and k {tuple(k.shape)} '
                             'must have the same shape')
        labels = torch.arange(q.size(0), device=q.device)
        return F.cross_entropy(self.logits(q, k, queue), labels)

    forward = loss

    def extra_repr(self) -> str:
        return f'tau={self.tau}'
