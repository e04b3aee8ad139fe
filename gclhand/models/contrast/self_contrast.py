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

    With :math:`\mathbf{q}_m` = normalised projection of :math:`\mathbf{G}_k` (main pass) and
    :math:`\mathbf{k}_m` = that of :math:`\hat{\mathbf{G}}_k` (disturbed pass),

    .. math::
        S = [\,\mathbf{q}\mathbf{k}^\top \;|\; \mathbf{q}\mathbf{Q}^\top\,] / \tau, \qquad
        L_{self} = -\frac{1}{M} \sum_m \log
            \frac{\exp S_{mm}}{\sum_n \exp S_{mn}}

    Positives are the diagonal of :math:`\mathbf{q}\mathbf{k}^\top` (eq. 3); the other
    samples of the batch, and the queue :math:`\mathbf{Q}` of the feature-pose pool when one
    is given, are the negatives. The paper's eq. 11/13 print
    :math:`-\lambda_7 \cdot \log \mathrm{softmax}` *added* to a minimised loss, which would
    push pairs apart; this head implements the stated intent (maximise the similarity of a
    graph and its disturbed copy), i.e. the usual minimised InfoNCE.

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
        """Unweighted InfoNCE.

        Args:
            q: (M, D) unit embeddings of ``G_k``.
            k: (M, D) unit embeddings of ``G_hat_k`` (row m is q's positive).
            queue: (K, D) unit keys of other samples, extra negatives, or ``None``.

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
