"""DGCLNet: the disturbing graph contrastive module of HandDGCL (section 3.2-3.4).

Training only: the estimator routes its decoder call through :meth:`DGCLNet.decode`, takes
the losses of :meth:`DGCLNet.loss`, calls :meth:`DGCLNet.step` after each optimiser step,
and deletes the module at deploy, so the deployed network is exactly the baseline.
"""
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from gclhand.registry import CONTRAST_HEADS, DISTURBERS, MODELS
from gclhand.utils import ConfigError, build_component, fill_defaults
from gclhand.utils.build import class_name, require_scalar_tensor
from .contrast.projector import mesh_node_feats
from .disturbers import Graph, check_disturber_output

ConfigType = Union[dict, nn.Module]


class DGCLPair(NamedTuple):
    """The contrastive pair of one batch, from :meth:`DGCLNet.decode` to :meth:`DGCLNet.loss`.

    Attributes:
        graph_feats: G, (B, 2, N0, C0) clean graph features (the key encoder's input).
        graph_feats_hat: G_hat, (M, N0, C0) disturbed graph features, M = 2B.
        node_feats: G_k source, (M, R, C_f) the decoder's last level on G, at its R nodes
            that reach the mesh (:func:`~gclhand.models.contrast.mesh_node_feats`).
        node_feats_hat: G_hat_k source, (M, R, C_f) the same for the shared decoder on G_hat.
        feats: the encoder's feature maps (the key encoder's input).
    """
    graph_feats: Tensor
    graph_feats_hat: Tensor
    node_feats: Tensor
    node_feats_hat: Tensor
    feats: List[Tensor]


@MODELS.register_module()
class DGCLNet(BaseModule):
    r"""Disturbing graph contrastive learning network (HandDGCL Fig. 2, eq. 1-6, 10-13).

    Each hand is one contrastive sample: with graph features ``G`` of shape (B, 2, N0, C0)
    the batch holds M = 2B samples (left and right hands of every image).

    :meth:`decode` (replaces the estimator's decoder call in training):

    1. disturbs ``G`` (eq. 1): ``G_hat = disturber(G)``, checked against the disturber
       contract (:func:`~gclhand.models.disturbers.check_disturber_output`) and, as "all G
       are normalized before use" (3.2), L2-normalised per node (``normalize='l2'``; the
       hand split normalises ``G`` itself, see ``HandSplit.normalize``); an edge
       disturber returns a new coarse graph (edges only between real nodes: the graph's
       padding nodes are its isolated ones, docs/internals.md), passed to the decoder as
       ``graph_override``;
    2. runs the **shared** decoder on ``G`` and ``G_hat`` (eq. 2): one batched call of 2B
       images when the disturber kept the graph (feature disturbers, the graph U-Net; the
       decoder treats samples independently, so this equals two calls up to float rounding),
       two calls otherwise.

    :meth:`loss`:

    3. reads out and projects ``G_k`` and ``G_hat_k`` to unit vectors ``q`` and ``k_hat``
       (``projector``); self contrast (eq. 3, 13): InfoNCE of ``q`` against ``k_hat``, the
       negatives being the batch's other ``k_hat`` and, with ``self_queue``, the
       ``k_hat`` of earlier batches;
    4. consistency (eq. 4, 10, with ``consistency``): joints regressed linearly from
       ``G_hat``, compared with the normalised root-relative GT joints;
    5. similarity distinguish (eq. 5, 6, 12, with ``pool`` + ``cross_contrast``): a
       momentum key encoder (EMA of decoder + projector) makes keys of the clean ``G``;
       ``S_p = q . keys^T`` over the batch's keys and the pool is fitted to the pose
       similarities ``S_g`` of their poses.

    :meth:`step` (once per optimiser step): momentum update of the key encoder, then the
    step's ``k_hat`` go to ``self_queue`` and its keys and poses to ``pool``. With gradient
    accumulation the queues therefore stay fixed within an optimiser step and the key
    encoder moves once per parameter update, as in MoCo.

    **Which encoder makes the self-contrast negatives (section 3.2-3.4).** Eq. 2 feeds
    both members of the pair through the *same* online GCN, and the self contrast
    "maximis[es] the similarity of input and output of the graph u-net" (3.4), so ``k_hat``
    must come from the online decoder on ``G_hat`` with gradient reaching the disturber.
    MoCo requires the negatives to come from the encoder of the positive; a momentum
    encoder for both would cut the disturber's gradient from this loss. So the self-contrast
    dictionary ("save the graph features of recent batches", 3.4) is a queue of earlier
    ``k_hat`` (detached), a separate switch from the feature-*pose* pool of 3.3, whose
    entries are momentum keys of the clean ``G`` as in MoCo.

    **Signs (eq. 11).** ``-λ7 L_self`` with eq. 13's log softmax is the usual minimised
    InfoNCE; ``-λ7 L_cross`` would maximise the mismatch of eq. 12. Both terms are returned
    as minimised quantities with weight ``+λ7`` (see the heads' docstrings).

    Losses are returned weighted: ``loss_self_contrast`` and ``loss_cross_contrast`` by λ7
    (``lambda_contrast``), ``loss_consistent`` by λ5 (``lambda_consistent``); eq. 9, 11.

    Every effect is its own switch (``disturber``, ``self_queue``, ``consistency``, and the
    similarity distinguish: ``pool``, ``key_encoder``, ``cross_contrast``, which go
    together).  From the first EGD row on, each Table 2 row differs from the previous one
    in exactly the component it names (the disturber up to DGCLNet, then the similarity
    distinguish); the first EGD row adds the whole module to the baseline (disturber,
    projector, self contrast and its queue, consistency), as the paper's rows do.

    Args:
        disturber: ``DISTURBERS`` config (required), e.g. ``GraphUNetDisturber``.
        projector: ``MODELS`` config of the readout projector (``GraphReadoutProjector``),
            whose ``in_channels`` are the decoder's last-level channels.
        self_contrast: ``CONTRAST_HEADS`` config of the self-contrast head.
        self_queue: ``MODELS`` config of the self-contrast queue (``FeatureQueue``), or
            ``None`` (negatives from the batch only). ``feat_dim`` defaults to the
            projector's ``out_channels``.
        consistency: ``CONTRAST_HEADS`` config of the consistency head, or ``None``.
        pool: ``MODELS`` config of the feature-pose pool (``FeaturePosePool``), or ``None``
            (no similarity distinguish). Needs ``cross_contrast``.
        cross_contrast: ``CONTRAST_HEADS`` config of the cross-contrast head, or ``None``.
            Needs ``pool``.
        key_encoder: ``MODELS`` config of the momentum key encoder (built with ``pool``).
        lambda_consistent: λ5 (paper: 1).
        lambda_contrast: λ7 (paper: 1e-2).
        normalize: ``'l2'`` (paper) normalises each node of ``G_hat``; ``None`` does not.
        graph_channels, node_channels, num_nodes: C0, C_f and N0, filled in by the
            estimator from its decoder.
        init_cfg: MMEngine init config.
    """

    def __init__(self,
                 disturber: ConfigType,
                 projector: ConfigType,
                 self_contrast: ConfigType = dict(type='SelfContrastHead', tau=0.1),
                 self_queue: Optional[ConfigType] = None,
                 consistency: Optional[ConfigType] = None,
                 pool: Optional[ConfigType] = None,
                 cross_contrast: Optional[ConfigType] = None,
                 key_encoder: ConfigType = dict(type='MomentumKeyEncoder', momentum=0.999),
                 lambda_consistent: float = 1.0,
                 lambda_contrast: float = 1e-2,
                 normalize: Optional[str] = 'l2',
                 graph_channels: Optional[int] = None,
                 node_channels: Optional[int] = None,
                 num_nodes: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        # sizes the estimator knows from its decoder fill the sub-configs' missing keys, so
        # one DGCL config serves decoders of any width (configs/_base_/models/dgcl/)
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
        if (cross_contrast is None) != (pool is None):
            raise ConfigError('model.dgcl.pool and model.dgcl.cross_contrast go together (the '
                              "similarity distinguish), e.g. pool=dict(type='FeaturePosePool', "
                              "size=2048), cross_contrast=dict(type='CrossContrastHead')")
        self.disturber = build_component(DISTURBERS, disturber, key='model.dgcl.disturber')
        self.projector = build_component(MODELS, projector, key='model.dgcl.projector')
        feat_dim = getattr(self.projector, 'out_channels', 64)
        self.self_contrast = build_component(CONTRAST_HEADS, self_contrast,
                                             key='model.dgcl.self_contrast')
        self.self_queue = build_component(MODELS, self_queue, key='model.dgcl.self_queue',
                                          feat_dim=feat_dim)
        self.consistency = build_component(CONTRAST_HEADS, consistency,
                                           key='model.dgcl.consistency')
        self.pool = build_component(MODELS, pool, key='model.dgcl.pool', feat_dim=feat_dim)
        self.cross_contrast = build_component(CONTRAST_HEADS, cross_contrast,
                                              key='model.dgcl.cross_contrast')
        self.key_encoder = None if self.pool is None else build_component(
            MODELS, key_encoder, key='model.dgcl.key_encoder')
        if normalize not in ('l2', None):
            raise ConfigError(f"model.dgcl.normalize must be 'l2' or None, got {normalize!r}")
        self.lambda_consistent = lambda_consistent
        self.lambda_contrast = lambda_contrast
        self.normalize = normalize
        self._pending: List[Dict[str, Tensor]] = []  # entries of the current optimiser step
        self._override_checked = False  # see _check_decoder_reads_override
        self._mask_key: Optional[Tuple[Tensor, int]] = None
        self._node_mask: Optional[Tensor] = None

    def init_key_encoder(self, decoder: nn.Module) -> None:
        """Make the momentum copy of ``decoder`` (+ projector) now rather than at first use.

        Call it from the estimator's ``__init__`` so the copy exists before a checkpoint is
        loaded (a lazily created copy also resumes exactly, see ``MomentumKeyEncoder``).
        """
        if self.key_encoder is not None:
            self.key_encoder.init(decoder, self.projector)

    # -- training forward ----------------------------------------------------------------
    def real_node_mask(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """(N0,) bool: the nodes with an edge in the clean coarse graph.

        The graph hierarchy's padding (fake) nodes are exactly its isolated nodes and its
        real nodes are connected (``gclhand.hand.graph``), so this is the real-node mask.
        Cached while the graph tensor is the same object.
        """
        if self._mask_key is None or self._mask_key[0] is not edge_index \
                or self._mask_key[1] != num_nodes:
            mask = torch.zeros(num_nodes, dtype=torch.bool, device=edge_index.device)
            mask[edge_index.flatten()] = True
            self._mask_key, self._node_mask = (edge_index, num_nodes), mask
        return self._node_mask

    def decode(self, graph_feats: Tensor, feats: List[Tensor], decoder: nn.Module,
               coarse_graph: Tuple[Tensor, Optional[Tensor]]) -> Tuple[dict, DGCLPair]:
        """The decoder's output on ``G`` and the disturbed branch (eq. 1, 2).

        Args:
            graph_feats: G, (B, 2, N0, C0) graph features of the coarsest level.
            feats: the encoder's feature maps (passed on to the decoder).
            decoder: the shared decoder, ``decoder(G, feats, graph_override=None)``
                returning a dict of (B, ...) tensors with ``node_feats`` (B, 2, N_f, C_f).
            coarse_graph: ``(edge_index (2, E), edge_weight (E,) or None)`` of level 0.

        Returns:
            ``(out, pair)``: ``out`` is what ``decoder(G, feats)`` returns (the main
            pass), ``pair`` the :class:`DGCLPair` for :meth:`loss`.
        """
        if graph_feats.dim() != 4:
            raise ValueError('DGCLNet.decode expects graph_feats (B, 2, N0, C0), got '
                             f'{tuple(graph_feats.shape)}')
        b = graph_feats.size(0)
        edge_index, edge_weight = coarse_graph
        g = Graph(graph_feats.flatten(0, 1), edge_index, edge_weight,
                  self.real_node_mask(edge_index, graph_feats.size(2)))
        g_hat = self.disturber(*g)  # eq. 1: G_hat = F_gen(G)
        check_disturber_output(self.disturber, g_hat, g)
        if self.normalize == 'l2':
            g_hat = g_hat._replace(x=F.normalize(g_hat.x, dim=-1))
        x_hat = g_hat.x.view_as(graph_feats)
        # eq. 2: G_k = GCN(G), G_hat_k = GCN(G_hat) through the shared decoder
        if g_hat.edge_index is edge_index and g_hat.edge_weight is edge_weight:
            both = decoder(torch.cat([graph_feats, x_hat]), [torch.cat([f, f]) for f in feats])
            out = {k: v[:b] for k, v in both.items()}
            node_feats_hat = both['node_feats'][b:]
        else:
            out = decoder(graph_feats, feats)
            override = (g_hat.edge_index, g_hat.edge_weight)
            node_feats_hat = decoder(x_hat, feats, graph_override=override)['node_feats']
            if not self._override_checked:
                self._check_decoder_reads_override(decoder, x_hat, feats, coarse_graph,
                                                   override)
        pair = DGCLPair(graph_feats, g_hat.x,
                        mesh_node_feats(decoder, out['node_feats']).flatten(0, 1),
                        mesh_node_feats(decoder, node_feats_hat).flatten(0, 1), feats)
        return out, pair

    @torch.no_grad()
    def _check_decoder_reads_override(self, decoder: nn.Module, x_hat: Tensor,
                                      feats: List[Tensor], graph, override) -> None:
        """Once per run: a decoder whose output ignores ``graph_override`` makes an edge
        disturber do nothing, and the experiment would silently mean nothing.  Probed in
        eval mode (no dropout draws, no batch-norm statistics), on the first batch whose
        disturbed graph differs from the clean one."""
        (ei, ew), (ei_hat, ew_hat) = graph, override
        same = ei.shape == ei_hat.shape and torch.equal(ei, ei_hat) and (
            (ew is None and ew_hat is None) or (ew is not None and ew_hat is not None
                                                and torch.equal(ew, ew_hat)))
        if same:
            return
        was_training = decoder.training
        decoder.train(False)
        try:
            with_override = decoder(x_hat, feats, graph_override=override)['node_feats']
            without = decoder(x_hat, feats)['node_feats']
        finally:
            decoder.train(was_training)
        self._override_checked = True
        if torch.equal(with_override, without):
            raise ConfigError(
                f'model.decoder ({class_name(decoder)}) gives the same node_feats with and '
                'without graph_override, so the edge disturber model.dgcl.disturber '
                f'({class_name(self.disturber)}) changes nothing and the contrast compares a '
                'graph with itself: a decoder must run its coarsest graph convolutions on '
                'graph_override=(edge_index, edge_weight) when it is given (docs/plugins.md, '
                'decoders), or use a feature disturber')

    def loss(self, pair: DGCLPair, gt_joints: Optional[Tensor] = None,
             hand_valid: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """DGCL losses of one training batch (eq. 3-6, 10-13).

        Args:
            pair: what :meth:`decode` returned.
            gt_joints: (B, 2, 21, 3) GT joints relative to the wrist and divided by each
                hand's wrist-to-middle-MCP length (the main 3D losses' normalisation,
                section 3.4); required by the consistency and cross-contrast terms.
            hand_valid: (B, 2) annotated-hand mask, or ``None`` (all annotated).

        Returns:
            dict with ``loss_self_contrast`` and, when configured, ``loss_consistent`` and
            ``loss_cross_contrast`` (weighted scalars). The step's queue entries are kept
            until :meth:`step`.
        """
        needs_gt = self.consistency is not None or self.cross_contrast is not None
        if needs_gt and gt_joints is None:
            raise ValueError('DGCLNet.loss needs gt_joints (B, 2, 21, 3) for the '
                             'consistency / cross-contrast terms')
        waiting = sum(e['k_hat'].size(0) for e in self._pending) + pair.node_feats.size(0)
        if waiting > self._capacity():
            raise RuntimeError(f'DGCLNet.loss: {waiting} hands wait for the queues, which hold '
                               f'{self._capacity()}; call model.dgcl.step(decoder) after every '
                               'optimiser step (TwoHandEstimator.train_step and DGCLStepHook '
                               'do) or raise the queue sizes')
        joints = None if gt_joints is None else gt_joints.flatten(0, 1)
        valid = None if hand_valid is None else hand_valid.flatten().bool()
        q = self.projector(pair.node_feats)
        k_hat = self.projector(pair.node_feats_hat)
        pending = dict(k_hat=k_hat.detach())

        losses = dict()
        # eq. 3, 13 (negatives() and the torch.cat below return copies, so the graph does
        # not hold the queues' buffers, which step() overwrites in place)
        queue = None if self.self_queue is None else self.self_queue.negatives()
        losses['loss_self_contrast'] = self.lambda_contrast * self.self_contrast.loss(
            q, k_hat, queue)
        # eq. 4, 10
        if self.consistency is not None:
            losses['loss_consistent'] = self.lambda_consistent * self.consistency.loss(
                pair.graph_feats_hat, joints, valid)
        # eq. 5, 6, 12
        if self.pool is not None:
            pool_keys, pool_poses, pool_valid = self.pool.entries()
            keys = self.key_encoder(pair.graph_feats, pair.feats)
            if valid is None:
                valid = torch.ones(keys.size(0), dtype=torch.bool, device=keys.device)
            losses['loss_cross_contrast'] = self.lambda_contrast * self.cross_contrast.loss(
                q, torch.cat([keys, pool_keys]), joints, torch.cat([joints, pool_poses]),
                valid_q=valid, valid_k=torch.cat([valid, pool_valid]))
            pending.update(keys=keys, poses=joints.detach(), valid=valid)
        for key, name in (('loss_self_contrast', 'self_contrast'),
                          ('loss_consistent', 'consistency'),
                          ('loss_cross_contrast', 'cross_contrast')):
            if key in losses:
                require_scalar_tensor(
                    losses[key], f'model.dgcl.{name} ({class_name(getattr(self, name))}).loss()',
                    'a contrastive head returns its loss as a scalar tensor (the mean over the '
                    'valid hands)')
        if self.self_queue is not None or self.pool is not None:
            self._pending.append(pending)
        return losses

    # -- once per optimiser step -----------------------------------------------------------
    def _capacity(self) -> float:
        sizes = [q.size for q in (self.self_queue, self.pool) if q is not None]
        return min(sizes) if sizes else float('inf')

    @torch.no_grad()
    def step(self, decoder: nn.Module) -> None:
        """After an optimiser step: momentum-update the key encoder, enqueue the step's entries.

        Does nothing when no :meth:`loss` ran since the last call, so calling it twice for
        one optimiser step (the estimator's ``train_step`` and ``DGCLStepHook``) is safe.

        Args:
            decoder: the online decoder the key encoder follows.
        """
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if self.self_queue is not None:
            self.self_queue.enqueue(torch.cat([e['k_hat'] for e in pending]))
        if self.pool is not None:
            self.key_encoder.update(decoder, self.projector)
            self.pool.enqueue(*(torch.cat([e[k] for e in pending])
                                for k in ('keys', 'poses', 'valid')))

    def discard_step(self) -> None:
        """Forget the entries of an optimiser step that was skipped (non-finite loss)."""
        self._pending = []
