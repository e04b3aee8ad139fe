"""The feature-pose pool of the similarity distinguish (HandDGCL section 3.3; MoCo's queue)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor

from gclhand.registry import MODELS


@MODELS.register_module()
class FeaturePosePool(nn.Module):
    """A FIFO queue of (unit feature, root-relative pose, valid flag) entries.

    The "dictionary of extracted features and their corresponding 3D poses as [MoCo] did"
    (section 3.3). Entries are written at a pointer that wraps around; until the queue has
    wrapped once only the first ``num_filled`` entries are used (no random placeholder
    keys, which would give meaningless pose targets). All state is registered buffers, so
    it is saved in checkpoints and a resumed run continues with the same queue.

    Under ``torch.distributed`` (any backend, gloo included) :meth:`enqueue` gathers the
    entries of all ranks (:func:`mmengine.dist.all_gather`) in rank order, so every rank
    holds the same queue, as in MoCo.

    Args:
        size: K, number of entries (paper: 2048). Must exceed the global batch of hands.
        feat_dim: D, embedding size.
        num_joints: joints per pose.
    """

    def __init__(self, size: int = 2048, feat_dim: int = 64, num_joints: int = 21):
        super().__init__()
        if size < 1:
            raise ValueError(f'FeaturePosePool.size must be >= 1, got {size}')
        self.size = size
        self.register_buffer('feats', torch.zeros(size, feat_dim))
        self.register_buffer('poses', torch.zeros(size, num_joints, 3))
        self.register_buffer('valid', torch.zeros(size, dtype=torch.bool))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled', torch.zeros((), dtype=torch.long))

    def entries(self) -> Tuple[Tensor, Tensor, Tensor]:
        """The filled entries: feats (K', D), poses (K', J, 3), valid (K',)."""
        n = int(self.num_filled)
        return self.feats[:n], self.poses[:n], self.valid[:n]

    @torch.no_grad()
    def enqueue(self, feats: Tensor, poses: Tensor, valid: Optional[Tensor] = None) -> None:
        """Write a batch (gathered over ranks) at the pointer, overwriting the oldest entries.

        Args:
            feats: (M, D) unit features (detached here).
            poses: (M, J, 3) root-relative poses, metres.
            valid: (M,) annotated flags (default all True).

        Entries with a non-finite feature or pose are stored as zeros with ``valid=False``.
        """
        if valid is None:
            valid = torch.ones(feats.size(0), dtype=torch.bool, device=feats.device)
        feats, poses, valid = feats.detach(), poses.detach(), valid.detach().to(torch.uint8)
        if dist.get_world_size() > 1:
            feats, poses, valid = (torch.cat(dist.all_gather(t.contiguous()))
                                   for t in (feats, poses, valid))
        # a batch with a NaN/Inf label or feature (a step the non-finite guard skips) must
        # not poison the queue for the next size / M steps: such entries are zeroed and
        # stored as not annotated (identically on every rank: after the gather)
        bad = ~(torch.isfinite(feats).flatten(1).all(1) & torch.isfinite(poses).flatten(1).all(1))
        if bool(bad.any()):
            feats = torch.where(bad[:, None], torch.zeros_like(feats), feats)
            poses = torch.where(bad[:, None, None], torch.zeros_like(poses), poses)
            valid = valid * (~bad).to(valid.dtype)
        n = feats.size(0)
        if n > self.size:
            raise ValueError(f'FeaturePosePool: a step enqueues {n} hands (2 x batch x ranks)'
                             f' but the pool holds {self.size}; raise model.dgcl.pool.size')
        idx = (self.ptr + torch.arange(n, device=self.ptr.device)) % self.size
        self.feats[idx] = feats.to(self.feats.dtype)
        self.poses[idx] = poses.to(self.poses.dtype)
        self.valid[idx] = valid.bool()
        self.ptr.copy_((self.ptr + n) % self.size)
        self.num_filled.copy_(torch.clamp(self.num_filled + n, max=self.size))

    def extra_repr(self) -> str:
        return f'size={self.size}, feat_dim={self.feats.size(1)}'
