"""Cross contrast (similarity distinguish, HandDGCL eq. 5, 6, 12)."""
from typing import Optional, Union

import torch
import torch.nn as nn
from torch import Tensor

from gclhand.models.losses.utils import masked_mean
from gclhand.registry import CONTRAST_HEADS, SIM_TARGETS
from gclhand.utils import ConfigError, build_component


@CONTRAST_HEADS.register_module()
class CrossContrastHead(nn.Module):
    r"""Regress feature similarities onto pose similarities (eq. 5, 6, 12).

    .. math::
        S_p[m, n] = \mathbf{q}_m \cdot \mathbf{k}_n^\top, \qquad
        S_g[m, n] = \mathrm{target}(\mathbf{J}_m, \mathbf{J}_n), \qquad
        L_{cross} = \|S_p - S_g\|_2 = \Big(\sum_{(m, n) \in \Omega}
                    (S_p[m, n] - S_g[m, n])^2\Big)^{1/2}

    ``q`` are the current batch's unit embeddings (with gradient); the keys are the batch's
    own momentum keys first, then the pool's (so key m is query m's positive, which
    :class:`~gclhand.models.sim_targets.HardTarget` relies on). :math:`\Omega` are the pairs
    whose both hands are annotated.

    Sign: eq. 11 writes :math:`L_{DGCLNet} = -\lambda_7 (L_{cross} + L_{self})`; the minus
    is right for eq. 13's log-softmax :math:`L_{self}` but would *maximise* the mismatch
    :math:`|S_p - S_g|` of eq. 12, against the stated goal ("making the similarity of the pose
    of embedded feature the target similarity", section 4.4). DGCLNet therefore adds
    :math:`+\lambda_7 L_{cross}`: this is where the code departs from the printed sign.

    Reduction: ``'norm'`` (default) is eq. 12 as printed, the Frobenius norm of the
    mismatch over :math:`\Omega`, for which the paper set λ7 = 1e-2 (batch 32, pool 2048).
    Its gradient has unit norm in :math:`S_p` whatever the fit (0 at an exact fit), so per
    pair it shrinks as :math:`1/\sqrt{|\Omega|}`.  ``'mean'`` is the mean squared
    mismatch, minimised by the same :math:`S_p`; its gradient is the norm's times
    :math:`2 \|S_p - S_g\|_2 / |\Omega|`, ~1/330 at the paper's M = 64 queries, K = 2,112
    keys and a mean squared mismatch of 0.3, so λ7 must be retuned with it (it was
    gclhand's default until 2026-12-03).

    Args:
        sim_target: config of the target, a ``SIM_TARGETS`` entry (default the paper's
            ``DotTarget``, eq. 6).
        reduction: ``'norm'`` (eq. 12) or ``'mean'`` (mean squared mismatch).
    """

    def __init__(self, sim_target: Union[dict, nn.Module] = dict(type='DotTarget'),
                 reduction: str = 'norm'):
        super().__init__()
        if reduction not in ('norm', 'mean'):
            raise ConfigError("model.dgcl.cross_contrast.reduction must be 'norm' (eq. 12) "
                              f"or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.sim_target = build_component(SIM_TARGETS, sim_target,
                                          key='model.dgcl.cross_contrast.sim_target')

    def loss(self, q: Tensor, keys: Tensor, joints_q: Tensor, joints_k: Tensor,
             valid_q: Optional[Tensor] = None, valid_k: Optional[Tensor] = None) -> Tensor:
        """Unweighted cross-contrast loss.

        Args:
            q: (M, D) unit query embeddings (with gradient).
            keys: (K, D) unit keys, the first M the queries' own.
            joints_q: (M, 21, 3) root-relative GT poses of the queries (DGCLNet: in units of
                the hand's wrist-to-middle-MCP length).
            joints_k: (K, 21, 3) poses of the keys.
            valid_q: (M,) bool, annotated queries (default all).
            valid_k: (K,) bool, annotated keys (default all).

        Returns:
            Scalar (0 with gradient graph intact when no valid pair).
        """
        s_p = q @ keys.t()
        s_g = self.sim_target(joints_q, joints_k).to(s_p)
        vq = torch.ones_like(s_p[:, 0], dtype=torch.bool) if valid_q is None else valid_q
        vk = torch.ones_like(s_p[0], dtype=torch.bool) if valid_k is None else valid_k
        pairs = vq.bool()[:, None] & vk.bool()[None, :]
        if self.reduction == 'mean':
            return masked_mean((s_p - s_g).square(), pairs)
        # replaced, not multiplied by 0: a NaN of an unannotated hand cannot leak in; the
        # norm's gradient at 0 is 0 (no valid pair: a 0 with its graph intact)
        return torch.linalg.vector_norm(torch.where(pairs, s_p - s_g, 0.0))

    def extra_repr(self) -> str:
        return f'reduction={self.reduction!r}'

    forward = loss
