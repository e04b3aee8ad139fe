"""Base of the similarity targets ``S_g`` of the similarity distinguish (HandDGCL section 3.3)."""
from abc import ABCMeta, abstractmethod

import torch.nn as nn
from torch import Tensor


class SimTarget(nn.Module, metaclass=ABCMeta):
    """Maps two sets of root-relative 3D poses to a target similarity matrix.

    ``target(J_q, J_k)`` with ``J_q`` (M, 21, 3) and ``J_k`` (K, 21, 3), each pose relative
    to its own root joint (the wrist) and, from DGCLNet, divided by the hand's
    wrist-to-middle-MCP length (section 3.4's normalised poses), returns ``S_g`` (M, K) in the range of the predicted
    similarity ``S_p`` (dot products of unit vectors, [-1, 1]). Targets carry no gradient
    and have no parameters.
    """

    def forward(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        if joints_q.dim() != 3 or joints_k.dim() != 3 or joints_q.shape[1:] != joints_k.shape[1:]:
            raise ValueError(f'{type(self).__name__} expects poses (M, J, 3) and (K, J, 3), '
                             f'got {tuple(joints_q.shape)} and {tuple(joints_k.shape)}')
        return self.similarity(joints_q.detach(), joints_k.detach())

    @abstractmethod
    def similarity(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        """(M, J, 3), (K, J, 3) -> (M, K)."""
