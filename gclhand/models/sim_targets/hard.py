"""Classic MoCo's discrete target: 1 for the same sample, 0 for every other."""
import torch
from torch import Tensor

from gclhand.registry import SIM_TARGETS
from .base import SimTarget


@SIM_TARGETS.register_module()
class HardTarget(SimTarget):
    r""":math:`S_g[m, n] = 1` if key :math:`n` is query :math:`m`'s own key, else 0.

    The poses are not looked at: identity is positional. :class:`~gclhand.models.contrast.
    CrossContrastHead` puts the current batch's keys first (key :math:`m` belongs to query
    :math:`m`) and the pool's keys after, so the target is the (M, K) identity block
    ``eye(M, K)``.
    """

    def similarity(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        return torch.eye(joints_q.size(0), joints_k.size(0)).to(joints_q)
