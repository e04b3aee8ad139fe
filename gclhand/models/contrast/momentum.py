"""MoCo's momentum key encoder over the shared decoder and the projector."""
from typing import Any, List, Optional

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage
from torch import Tensor

from gclhand.registry import MODELS
from .projector import mesh_node_feats


@MODELS.register_module()
class MomentumKeyEncoder(nn.Module):
    r"""EMA copy of (decoder, projector) producing the keys of the feature-pose pool.

    MoCo (He et al., CVPR 2020), which HandDGCL's pool follows (section 3.3, "the model
    updates momentumly"): :math:`\theta_k \leftarrow m\,\theta_k + (1 - m)\,\theta_q`
    once per optimiser step (``DGCLNet.step`` calls :meth:`update` after the parameters
    moved, so the next step's keys see them, as MoCo's update before computing keys does).
    Keys are ``normalize(proj_k(decoder_k(G.detach(), feats.detach())['node_feats']))``,
    read at the nodes that reach the mesh (:func:`~gclhand.models.contrast.mesh_node_feats`).

    The copy is a ``deepcopy`` made by :meth:`init` (the estimator calls
    ``dgcl.init_key_encoder(decoder)`` once built) or at first use, and counts as the first
    average (a copy), so every :meth:`update` after it is a momentum step; it has
    ``requires_grad=False`` and runs under ``no_grad``. The averaging is MMEngine's
    :class:`~mmengine.model.ExponentialMovingAverage`, whose ``momentum`` is the weight of
    the *new* value, i.e. ``1 - m`` here; buffers are copied from the online modules.
    When a checkpoint is loaded before the copy exists (resume with lazy creation), its
    ``ema.*`` entries are kept and loaded into the copy when it is made, so resume is exact.

    Args:
        momentum: m, MoCo's momentum (paper/MoCo: 0.999).
    """

    def __init__(self, momentum: float = 0.999):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'MomentumKeyEncoder.momentum must be in [0, 1], got {momentum}')
        self.momentum = momentum
        self.register_module('ema', None)
        self._pending_state: Optional[dict] = None

    @property
    def initialized(self) -> bool:
        return self.ema is not None

    @staticmethod
    def _pair(decoder: nn.Module, projector: nn.Module) -> nn.ModuleDict:
        # a module under torch.compile names its parameters '_orig_mod.*'; the average is
        # over the plain module's (the same tensors), so compiling the decoder or the
        # projector after the copy was made leaves the keys of the average unchanged
        return nn.ModuleDict({'decoder': getattr(decoder, '_orig_mod', decoder),
                              'projector': getattr(projector, '_orig_mod', projector)})

    def init(self, decoder: nn.Module, projector: nn.Module) -> None:
        """Make the EMA copy of ``decoder`` and ``projector`` (no-op if it exists)."""
        if self.ema is not None:
            return
        self.ema = ExponentialMovingAverage(self._pair(decoder, projector),
                                            momentum=1.0 - self.momentum)
        for p in self.ema.parameters():
            p.grad = None  # deepcopy copies .grad; the key encoder never has one
        self.ema.update_parameters(self._pair(decoder, projector))  # steps 0 -> 1: a copy
        if self._pending_state is not None:
            self.ema.load_state_dict(self._pending_state)
            self._pending_state = None

    @torch.no_grad()
    def update(self, decoder: nn.Module, projector: nn.Module) -> None:
        """One momentum step from the online modules (made by :meth:`init` if needed)."""
        self.init(decoder, projector)
        self.ema.update_parameters(self._pair(decoder, projector))

    @torch.no_grad()
    def forward(self, graph_feats: Tensor, feats: List[Tensor], **decoder_kwargs: Any) -> Tensor:
        """Keys of a batch.

        Args:
            graph_feats: (B, 2, N0, C0) graph features (detached here).
            feats: the encoder's feature maps (detached here).

        Returns:
            (2B, D) unit keys, hands flattened as ``(B, 2) -> 2B``.
        """
        if self.ema is None:
            raise RuntimeError('MomentumKeyEncoder used before init(decoder, projector); '
                               'call dgcl.init_key_encoder(decoder) in the estimator')
        decoder = self.ema.module['decoder']
        out = decoder(graph_feats.detach(), [f.detach() for f in feats], **decoder_kwargs)
        return self.ema.module['projector'](
            mesh_node_feats(decoder, out['node_feats']).flatten(0, 1))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        if self.ema is None:
            p = prefix + 'ema.'
            pending = {k[len(p):]: v for k, v in state_dict.items() if k.startswith(p)}
            if pending:
                self._pending_state = pending
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return f'momentum={self.momentum}'
