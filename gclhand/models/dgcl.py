"""DGCLNet: the disturbing graph contrastive module of HandDGCL (section 3.2-3.4).

Training only: the estimator calls :meth:`DGCLNet.loss` from its loss and deletes the
module at deploy, so the deployed network is exactly the baseline.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from gclhand.registry import CONTRAST_HEADS, DISTURBERS, MODELS
from gclhand.utils import ConfigError, build_component, fill_defaults

ConfigType = Union[dict, nn.Module]


@MODELS.register_module()
class DGCLNet(BaseModule):
    r"""Disturbing graph contrastive learning network (HandDGCL Fig. 2, eq. 1-6, 10-13).

    Each hand is one contrastive sample: with graph features ``G`` of shape (B, 2, N0, C0)
    the batch holds M = 2B samples (left and right hands of every image). One call of
    :meth:`loss`:

    1. disturbs ``G`` (eq. 1): ``G_hat = disturber(G)``; an edge disturber returns a new
       coarse graph, passed to the decoder as ``graph_override``;
    2. runs the **shared** decoder on ``G_hat`` (eq. 2) for ``G_hat_k``; ``G_k`` is the main
       pass's ``node_feats``; both are read out and projected to unit vectors
       (``projector``);
    3. self contrast (eq. 3, 13): InfoNCE of ``G_k`` against ``G_hat_k``, negatives from the
       batch and, with a pool, the queue;
    4. consistency (eq. 4, 10, optional): joints regressed linearly from ``G_hat``;
    5. with a pool: a momentum key encoder (EMA of decoder + projector) makes keys of the
       clean ``G``; cross contrast (eq. 5, 6, 12, optional) fits ``S_p = q . keys^T`` to
       pose similarities ``S_g``; then the keys and their poses are enqueued.

    Losses are returned weighted: ``loss_self_contrast`` and ``loss_cross_contrast`` by λ7
    (``lambda_contrast``), ``loss_consistent`` by λ5 (``lambda_consistent``); eq. 9, 11.

    Args:
        disturber: ``DISTURBERS`` config (required), e.g. ``GraphUNetDisturber``.
        projector: ``MODELS`` config of the readout projector (``GraphReadoutProjector``),
            whose ``in_channels`` are the decoder's last-level channels.
        self_contrast: ``CONTRAST_HEADS`` config of the self-contrast head.
        consistency: ``CONTRAST_HEADS`` config of the consistency head, or ``None``.
        pool: ``MODELS`` config of the feature-pose pool, or ``None`` (no queue, no key
            encoder). Its ``feat_dim`` defaults to the projector's ``out_channels``.
        cross_contrast: ``CONTRAST_HEADS`` config of the cross-contrast head (needs
            ``pool``), or ``None``.
        key_encoder: ``MODELS`` config of the momentum key encoder (used with ``pool``).
        lambda_consistent: λ5 (paper: 1).
        lambda_contrast: λ7 (paper: 1e-2).
        init_cfg: MMEngine init config.
    """

    def __init__(self,
                 disturber: ConfigType,
                 projector: ConfigType,
                 self_contrast: ConfigType = dict(type='SelfContrastHead', tau=0.1),
                 consistency: Optional[ConfigType] = None,
                 pool: Optional[ConfigType] = None,
                 cross_contrast: Optional[ConfigType] = None,
                 key_encoder: ConfigType = dict(type='MomentumKeyEncoder', momentum=0.999),
                 lambda_consistent: float = 1.0,
                 lambda_contrast: float = 1e-2,
                 graph_channels: Optional[int] = None,
                 node_channels: Optional[int] = None,
                 num_nodes: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        # sizes the estimator knows from its decoder fill the sub-configs' missing keys, so
        # one DGCL config serves decoders of any width (configs/_base_/models/dgcl_variants.py)
        disturber = fill_defaults(DISTURBERS, disturber, channels=graph_channels,
                                  in_channels=graph_channels)
        projector = fill_defaults(MODELS, projector, in_channels=node_channels)
        consistency = fill_defaults(CONTRAST_HEADS, consistency, in_channels=graph_channels,
                                    num_nodes=num_nodes)
        if disturber is None:
            raise ConfigError("model.dgcl.disturber is required, e.g. "
                              "dict(type='GraphUNetDisturber', channels=C0)")
        if self_contrast is None:
            raise ConfigError("model.dgcl.self_contrast is required, e.g. "
                              "dict(type='SelfContrastHead', tau=0.1)")
        if cross_contrast is not None and pool is None:
            raise ConfigError('model.dgcl.cross_contrast needs model.dgcl.pool, e.g. '
                              "dict(type='FeaturePosePool', size=2048)")
        self.disturber = build_component(DISTURBERS, disturber, key='model.dgcl.disturber')
        self.projector = build_component(MODELS, projector, key='model.dgcl.projector')
        self.self_contrast = build_component(CONTRAST_HEADS, self_contrast,
                                             key='model.dgcl.self_contrast')
        self.consistency = build_component(CONTRAST_HEADS, consistency,
                                           key='model.dgcl.consistency')
        self.pool = build_component(MODELS, pool, key='model.dgcl.pool',
                                    feat_dim=getattr(self.projector, 'out_channels', 64))
        self.cross_contrast = build_component(CONTRAST_HEADS, cross_contrast,
                                              key='model.dgcl.cross_contrast')
        self.key_encoder = None if self.pool is None else build_component(
            MODELS, key_encoder, key='model.dgcl.key_encoder')
        self.lambda_consistent = lambda_consistent
        self.lambda_contrast = lambda_contrast

    def init_key_encoder(self, decoder: nn.Module) -> None:
        """Make the momentum copy of ``decoder`` (+ projector) now rather than at first use.

        Call it from the estimator's ``__init__`` so the copy exists before a checkpoint is
        loaded (a lazily created copy also resumes exactly, see ``MomentumKeyEncoder``).
        """
        if self.key_encoder is not None:
            self.key_encoder.init(decoder, self.projector)

    def loss(self,
             graph_feats: Tensor,
             node_feats: Tensor,
             feats: List[Tensor],
             decoder: nn.Module,
             coarse_graph: Tuple[Tensor, Optional[Tensor]],
             gt_joints_rel: Optional[Tensor] = None,
             hand_valid: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """DGCL losses of one training batch.

        Args:
            graph_feats: G, (B, 2, N0, C0) graph features of the coarsest level.
            node_feats: G_k source, (B, 2, N_f, C_f) the decoder's last-level features
                from the main pass.
            feats: the encoder's feature maps (passed on to the decoder).
            decoder: the shared decoder, ``decoder(G, feats, graph_override=...)`` returning
                ``dict(verts, node_feats)``.
            coarse_graph: ``(edge_index (2, E), edge_weight (E,) or None)`` of level 0.
            gt_joints_rel: (B, 2, 21, 3) root-relative GT joints in metres; required by the
                consistency and cross-contrast terms.
            hand_valid: (B, 2) annotated-hand mask, or ``None`` (all annotated).

        Returns:
            dict with ``loss_self_contrast`` and, when configured, ``loss_consistent`` and
            ``loss_cross_contrast`` (weighted scalars).
        """
        if graph_feats.dim() != 4 or node_feats.dim() != 4:
            raise ValueError('DGCLNet.loss expects graph_feats (B, 2, N0, C0) and node_feats '
                             f'(B, 2, N_f, C_f), got {tuple(graph_feats.shape)} and '
                             f'{tuple(node_feats.shape)}')
        needs_gt = self.consistency is not None or self.cross_contrast is not None
        if needs_gt and gt_joints_rel is None:
            raise ValueError('DGCLNet.loss needs gt_joints_rel (B, 2, 21, 3) for the '
                             'consistency / cross-contrast terms')
        edge_index, edge_weight = coarse_graph
        joints = None if gt_joints_rel is None else gt_joints_rel.flatten(0, 1)
        valid = None if hand_valid is None else hand_valid.flatten().bool()

        # eq. 1: G_hat = F_gen(G); M = 2B hands share the coarse graph
        g_hat = self.disturber(graph_feats.flatten(0, 1), edge_index, edge_weight)
        override = None
        if g_hat.edge_index is not edge_index or g_hat.edge_weight is not edge_weight:
            override = (g_hat.edge_index, g_hat.edge_weight)
        # eq. 2: G_hat_k = GCN(G_hat) through the shared decoder
        out_hat = decoder(g_hat.x.view_as(graph_feats), feats, graph_override=override)
        q = self.projector(node_feats.flatten(0, 1))
        k_hat = self.projector(out_hat['node_feats'].flatten(0, 1))

        queue = pool_poses = pool_valid = None
        if self.pool is not None:
            # cloned: the buffers are overwritten by enqueue before backward runs
            queue, pool_poses, pool_valid = (t.clone() for t in self.pool.entries())

        losses = dict()
        # eq. 3, 13
        losses['loss_self_contrast'] = self.lambda_contrast * self.self_contrast.loss(
            q, k_hat, queue)
        # eq. 4, 10
        if self.consistency is not None:
            losses['loss_consistent'] = self.lambda_consistent * self.consistency.loss(
                g_hat.x, joints, valid)
        if self.pool is not None:
            self.key_encoder.update(decoder, self.projector)
            keys = self.key_encoder(graph_feats, feats)
            if joints is None:
                joints = keys.new_zeros(keys.size(0), *self.pool.poses.shape[1:])
                valid = torch.zeros(keys.size(0), dtype=torch.bool, device=keys.device)
            if valid is None:
                valid = torch.ones(keys.size(0), dtype=torch.bool, device=keys.device)
            # eq. 5, 6, 12
            if self.cross_contrast is not None:
                losses['loss_cross_contrast'] = self.lambda_contrast * self.cross_contrast.loss(
                    q, torch.cat([keys, queue]), joints, torch.cat([joints, pool_poses]),
                    valid_q=valid, valid_k=torch.cat([valid, pool_valid]))
            self.pool.enqueue(keys, joints, valid)
        return losses
