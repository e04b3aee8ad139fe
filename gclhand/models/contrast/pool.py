"""MoCo-style FIFO queues of DGCLNet (HandDGCL sections 3.3, 3.4): the self-contrast queue
of disturbed-branch embeddings and the feature-pose pool of the similarity distinguish."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor

from gclhand.registry import MODELS


@MODELS.register_module()
class FeatureQueue(nn.Module):
    """A FIFO queue of unit features with a valid flag per entry (MoCo's dictionary).

    "In order to utilize large enough batch size in our implementation, we adopt MoCo-like
    dictionary settings to save the graph features of recent batches" (section 3.4).
    Entries are written at a pointer that wraps around; until the queue has wrapped once
    only the first ``num_filled`` entries exist (no random placeholder entries). All state
    is registered buffers, so it is saved in checkpoints and a resumed run continues with
    the same queue.

    Under ``torch.distributed`` (any backend, gloo included) :meth:`enqueue` gathers the
    entries of all ranks (:func:`mmengine.dist.all_gather`) in rank order, so every rank
    holds the same queue, as in MoCo. Entries with a non-finite value (a step the
    non-finite guard skips) are stored as zeros with ``valid=False``.

    Args:
        size: K, number of entries (paper: 2048). Must hold one optimiser step's entries
            (2 hands x batch x ranks x gradient-accumulation steps).
        feat_dim: D, embedding size.
    """

    def __init__(self, size: int = 2048, feat_dim: int = 64):
        super().__init__()
        if size < 1:
            raise ValueError(f'{type(self).__name__}.size must be >= 1, got {size}')
        self.size = size
        self.register_buffer('feats', torch.zeros(size, feat_dim))
        self.register_buffer('valid', torch.zeros(size, dtype=torch.bool))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled', torch.zeros((), dtype=torch.long))

    def negatives(self) -> Tensor:
        """The valid filled entries' features (K', D), e.g. InfoNCE negatives: a copy, so
        that an autograd graph using them survives a later :meth:`enqueue`."""
        n = int(self.num_filled)
        return self.feats[:n][self.valid[:n]]

    @torch.no_grad()
    def enqueue(self, feats: Tensor, valid: Optional[Tensor] = None) -> None:
        """Write a batch (gathered over ranks) at the pointer, overwriting the oldest entries.

        Args:
            feats: (M, D) unit features (detached here).
            valid: (M,) flags (default all True).
        """
        self._write(dict(feats=feats), valid)

    def _write(self, fields: Dict[str, Tensor], valid: Optional[Tensor]) -> None:
        """Gather ``fields`` (name -> (M, ...) tensor) and ``valid`` over ranks, store them."""
        if valid is None:
            valid = torch.ones_like(fields['feats'][:, 0], dtype=torch.bool)
        fields = {k: v.detach() for k, v in fields.items()}
        fields['valid'] = valid.detach().to(torch.uint8)
        if dist.get_world_size() > 1:
            fields = {k: torch.cat(dist.all_gather(v.contiguous())) for k, v in fields.items()}
        valid = fields.pop('valid').bool()
        # a batch with a NaN/Inf label or feature must not poison the queue for the next
        # size / M steps: such entries are zeroed and marked invalid (identically on every
        # rank: after the gather)
        bad = torch.zeros_like(valid)
        for v in fields.values():
            bad |= ~torch.isfinite(v).flatten(1).all(1)
        n = valid.size(0)
        if n > self.size:
            raise ValueError(f'{type(self).__name__}: one optimiser step enqueues {n} hands '
                             f'(2 x batch x ranks x accumulation) but the queue holds '
                             f'{self.size}; raise its size (model.dgcl.self_queue.size / '
                             'model.dgcl.pool.size)')
        idx = (self.ptr + torch.arange(n, device=self.ptr.device)) % self.size
        for name, v in fields.items():
            buf = getattr(self, name)
            v = torch.where(bad.view(-1, *[1] * (v.dim() - 1)), torch.zeros_like(v), v)
            buf[idx] = v.to(buf.dtype)
        self.valid[idx] = valid & ~bad
        self.ptr.copy_((self.ptr + n) % self.size)
        self.num_filled.copy_(torch.clamp(self.num_filled + n, max=self.size))

    def extra_repr(self) -> str:
        return f'size={self.size}, feat_dim={self.feats.size(1)}'


@MODELS.register_module()
class FeaturePosePool(FeatureQueue):
    """The feature-pose pool of the similarity distinguish (section 3.3): a
    :class:`FeatureQueue` whose entries also carry their root-relative 3D pose.

    "The pool is defined as a dictionary of extracted features and their corresponding 3D
    poses as [MoCo] did"; ``valid`` marks entries whose pose is annotated.

    Args:
        size: K, number of entries (paper: 2048).
        feat_dim: D, embedding size.
        num_joints: joints per pose.
    """

    def __init__(self, size: int = 2048, feat_dim: int = 64, num_joints: int = 21):
        super().__init__(size, feat_dim)
        self.register_buffer('poses', torch.zeros(size, num_joints, 3))

    def entries(self) -> Tuple[Tensor, Tensor, Tensor]:
        """The filled entries: feats (K', D), poses (K', J, 3), valid (K',)."""
        n = int(self.num_filled)
        return self.feats[:n], self.poses[:n], self.valid[:n]

    @torch.no_grad()
    def enqueue(self, feats: Tensor, poses: Tensor, valid: Optional[Tensor] = None) -> None:
        """Write a batch (gathered over ranks) at the pointer, overwriting the oldest entries.

        Args:
            feats: (M, D) unit features (detached here).
            poses: (M, J, 3) root-relative poses.
            valid: (M,) annotated flags (default all True).
        """
        self._write(dict(feats=feats, poses=poses), valid)
