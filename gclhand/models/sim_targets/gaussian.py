"""Gaussian-kernel similarity target on the pose distance (MPJPE)."""
import torch
from torch import Tensor

from gclhand.registry import SIM_TARGETS
from .base import SimTarget


@SIM_TARGETS.register_module()
class GaussianTarget(SimTarget):
    r""":math:`S_g[m, n] = \exp\left(-\mathrm{MPJPE}(\mathbf{J}_m, \mathbf{J}_n)^2 /
    (2 b^2)\right)`, with :math:`\mathrm{MPJPE} = \frac{1}{J}\sum_j
    \|\mathbf{J}_m[j] - \mathbf{J}_n[j]\|_2`.

    1 for identical poses, decaying with the mean joint distance; :math:`b` sets what counts
    as "similar", in the unit of the poses: DGCLNet passes poses divided by each hand's
    wrist-to-middle-MCP length (~9.75 cm on the template hand), so 0.2 is about 2 cm.

    Args:
        bandwidth: kernel bandwidth :math:`b` in the poses' unit.
    """

    def __init__(self, bandwidth: float = 0.2):
        super().__init__()
        if bandwidth <= 0:
            raise ValueError(f'GaussianTarget.bandwidth must be > 0, got {bandwidth}')
        self.bandwidth = bandwidth

    def similarity(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        # (J, M, 3) x (J, K, 3) -> (J, M, K) joint distances, averaged over joints
        mpjpe = torch.cdist(joints_q.transpose(0, 1).contiguous(),
                            joints_k.transpose(0, 1).contiguous()).mean(0)
        return torch.exp(-mpjpe.square() / (2 * self.bandwidth ** 2))

    def extra_repr(self) -> str:
        return f'bandwidth={self.bandwidth}'
