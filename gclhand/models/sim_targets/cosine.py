"""Per-joint direction similarity target."""
import torch.nn.functional as F
from torch import Tensor

from gclhand.registry import SIM_TARGETS
from .base import SimTarget


@SIM_TARGETS.register_module()
class CosineTarget(SimTarget):
    r"""Mean over joints of the cosine between corresponding root-relative joint vectors.

    .. math::
        S_g[m, n] = \frac{1}{J - 1} \sum_{j \ne r}
            \frac{\mathbf{J}_m[j] \cdot \mathbf{J}_n[j]}{\|\mathbf{J}_m[j]\| \|\mathbf{J}_n[j]\|}

    Invariant to each joint's distance from the root (hand size, finger length), sensitive
    only to directions. The root joint ``r`` is excluded (its vector is zero).

    Args:
        root_index: index of the root joint the poses are relative to (0 = wrist, the
            poses DGCLNet passes). A zero joint vector has cosine 0 with everything.
    """

    def __init__(self, root_index: int = 0):
        super().__init__()
        self.root_index = root_index

    def similarity(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        keep = [j for j in range(joints_q.size(1)) if j != self.root_index]
        q = F.normalize(joints_q[:, keep], dim=-1)  # (M, J-1, 3)
        k = F.normalize(joints_k[:, keep], dim=-1)  # (K, J-1, 3)
        return q.flatten(1) @ k.flatten(1).t() / len(keep)
