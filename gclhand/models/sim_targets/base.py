"""Base of the similarity targets ``S_g`` of the similarity distinguish (HandDGCL section 3.3)."""
from abc import ABCMeta, abstractmethod

import torch
import torch.nn as nn
from torch import Tensor

from gclhand.utils.build import ConfigError, class_name


class SimTarget(nn.Module, metaclass=ABCMeta):
    """Maps two sets of root-relative 3D poses to a target similarity matrix.

    ``target(J_q, J_k)`` with ``J_q`` (M, 21, 3) and ``J_k`` (K, 21, 3), each pose relative
    to its own root joint (the wrist) and, from DGCLNet, divided by the hand's
    wrist-to-middle-MCP length (section 3.4's normalised poses), returns ``S_g`` (M, K) in
    the range of the predicted similarity ``S_p`` (dot products of unit vectors, [-1, 1]).
    Targets carry no gradient and have no parameters; :meth:`forward` refuses a result that
    is not a float ``(M, K)`` tensor in [-1, 1] (to float rounding), or that is not finite
    for finite poses, naming the class (non-finite poses, i.e. a corrupt label, are left to
    the estimator's non-finite guard, which skips the step).
    """

    def forward(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        if joints_q.dim() != 3 or joints_k.dim() != 3 or joints_q.shape[1:] != joints_k.shape[1:]:
            raise ValueError(f'{type(self).__name__} expects poses (M, J, 3) and (K, J, 3), '
                             f'got {tuple(joints_q.shape)} and {tuple(joints_k.shape)}')
        out = self.similarity(joints_q.detach(), joints_k.detach())
        expected = (joints_q.shape[0], joints_k.shape[0])
        who = f'similarity target {class_name(self)} (model.dgcl.cross_contrast.sim_target)'
        if not isinstance(out, Tensor) or tuple(out.shape) != expected \
                or not out.is_floating_point():
            # broadcasting would hide a wrong shape (an (M,) result fits (M, M) at step 1)
            got = (f'a {out.dtype} tensor of shape {tuple(out.shape)}'
                   if isinstance(out, Tensor) else f'a {type(out).__name__}')
            raise ConfigError(f'{who} returned {got}; expected a float (M, K) = {expected} '
                              f'tensor for {expected[0]} query and {expected[1]} key poses')
        # one device sync: the largest |S_g|, over the finite values only when a pose is not
        # finite (a corrupt label: the estimator's non-finite guard reports and skips it)
        poses_finite = torch.isfinite(joints_q).all() & torch.isfinite(joints_k).all()
        values = out.detach().abs()
        values = torch.where(poses_finite, values, values.nan_to_num(0.0, 0.0, 0.0))
        bound = values.amax() if values.numel() else values.new_zeros(())
        if not bool(bound <= 1 + 1e-5):  # NaN fails too
            raise ConfigError(f'{who} returned values up to {float(bound):.4g} in magnitude; '
                              'S_g must be finite and within [-1, 1], the range of the '
                              'predicted similarity of unit features (HandDGCL eq. 5-6)')
        return out

    @abstractmethod
    def similarity(self, joints_q: Tensor, joints_k: Tensor) -> Tensor:
        """(M, J, 3), (K, J, 3) -> (M, K)."""
