"""The paper's similarity target: dot product of normalised poses (HandDGCL eq. 6)."""
import torch.nn.functional as F
from torch import Tensor

from gclhand.registry import SIM_TARGETS
from .base import SimTarget


@SIM_TARGETS.register_module()
class DotTarget(SimTarget):
    r""":math:`S_g[m, n] = \mathbf{J}_m \cdot \mathbf{J}_n^\top` (HandDGCL eq. 6).

    Each root-relative pose is flattened to a :math:`3J` vector and L2-normalised first
    ("all G are normalized before use", section 3.2), so :math:`S_g \in [-1, 1]` like the
    predicted :math:`S_p` of unit features, and the same pose gives 1. (On whole flattened
    poses this is their cosine similarity; :class:`CosineTarget` is the per-joint variant.)

    A zero pose (an unannotated hand) maps to the zero vector, so its similarity is 0.
    """

    def similarity(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        q = F.normalize(joints_q.flatten(1), dim=1)
        k = F.normalize(joints_k.flatten(1), dim=1)
        return q @ k.t()
