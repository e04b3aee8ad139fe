"""TwoHandEstimator: image -> two MANO-topology meshes, joints, cameras (HandDGCL Fig. 2).

Pipeline (``docs/internals.md``, "Model")::

    feats = encoder(images)              # fine -> coarse maps
    G = hand_split(feats)                # (B, 2, N0, C0) graph features
    out = decoder(G, feats)              # verts (B, 2, 778, 3), node_feats
    cam = camera_head(feats)             # weak-perspective cameras, rel. root translation
    [training only] dgcl.loss(G, out['node_feats'], feats, decoder, ...)

Units.  The decoder predicts root-relative vertices in a *normalised* scale: the 3D losses
compare them with ground truth made root-relative and divided by the hand's own
wrist-to-middle-MCP length (HandDGCL section 3.4, "aligned with a root joint and scaled by a
length parameter"), so one unit is that bone.  ``predict`` returns metres by multiplying with
``canonical_length``: the wrist-to-middle-MCP length of the hand model's template (or a config
value).  The IntagHand protocol rescales predictions anyway; the official InterHand2.6M
protocol sees the template hand size.  The relative root translation is predicted in units of
``canonical_length`` too.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from gclhand.registry import DECODERS, ENCODERS, LOSSES, MODELS
from gclhand.structures.hand_data_sample import HANDS, HandDataSample
from gclhand.utils.build import build_component, fill_defaults

#: joints (library order) that define the normalising length: wrist -> middle MCP.
WRIST, MIDDLE_MCP = 0, 9


@MODELS.register_module()
class TwoHandEstimator(BaseModel):
    """The GCN baseline (IntagHand-style) with an optional training-only DGCL module.

    Args:
        encoder: ``ENCODERS`` config (ResNet-50 in the paper).
        hand_split: ``DECODERS`` config of :class:`~gclhand.models.decoders.HandSplit`;
            ``in_channels``, ``num_nodes`` and ``out_channels`` default to the encoder's and
            decoder's sizes.
        decoder: ``DECODERS`` config of :class:`~gclhand.models.decoders.ChebGCNDecoder`;
            ``graph`` and ``feat_channels`` default to the built hierarchy and the encoder.
        camera_head: ``DECODERS`` config of :class:`~gclhand.models.decoders.CameraHead`.
        hand_model: config for :func:`gclhand.hand.build_hand_model`.
        graph: keyword arguments of :func:`gclhand.hand.build_graph_hierarchy`
            (``num_nodes``, ``cache_dir``).
        losses: mapping ``name -> LOSSES config``; the names used are ``joints_3d``,
            ``verts_3d``, ``joints_2d``, ``bone_length``, ``transition`` (any may be left
            out), each logged as ``loss_<name>``; weights come from the configs.
        dgcl: optional ``MODELS`` config of the training-only DGCL module (e.g. ``DGCLNet``).
        root_index: joint the 3D losses and the weak-perspective projection are relative to
            (0 = wrist).
        canonical_length: metres per normalised unit; ``None`` takes the template's
            wrist-to-middle-MCP length.
        max_consecutive_nonfinite: raise after this many skipped (non-finite) steps in a row.
        data_preprocessor: ``MODELS`` config, ``HandDataPreprocessor`` by default.
    """

    def __init__(self,
                 encoder: dict,
                 hand_split: dict,
                 decoder: dict,
                 camera_head: dict,
                 hand_model: dict = dict(type='MANOHandModel'),
                 graph: dict = dict(num_nodes=(63, 126, 252)),
                 losses: Optional[dict] = None,
                 dgcl: Optional[dict] = None,
                 root_index: int = WRIST,
                 canonical_length: Optional[float] = None,
                 max_consecutive_nonfinite: int = 10,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='HandDataPreprocessor')
        # built from gclhand's registry here: MMEngine's BaseModel would look the type up in
        # its root registry, which only finds it under default_scope='gclhand'
        data_preprocessor = build_component(MODELS, data_preprocessor,
                                            'model.data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from gclhand.hand import build_graph_hierarchy, build_hand_model
        # the hand model is a fixed, shared (memoised) asset, not a sub-module: kept out of
        # the state dict so checkpoints do not depend on which hand model files were used
        self.__dict__['hand_model'] = build_hand_model(hand_model)
        graph_hierarchy = build_graph_hierarchy(self.hand_model, **graph)

        self.root_index = root_index
        if canonical_length is None:
            tmpl = self.hand_model.template('right').float()[None]
            joints = self.hand_model.joints_from_vertices(tmpl, 'right')[0]
            canonical_length = float((joints[MIDDLE_MCP] - joints[WRIST]).norm())
        self.canonical_length = float(canonical_length)

        self.encoder = build_component(ENCODERS, encoder, 'model.encoder')
        enc_channels = tuple(self.encoder.out_channels)
        self.decoder = build_component(DECODERS, decoder, 'model.decoder',
                                       graph=graph_hierarchy, feat_channels=enc_channels,
                                       template=self._normalised_template())
        self.hand_split = build_component(DECODERS, hand_split, 'model.hand_split',
                                          in_channels=enc_channels[-1],
                                          num_nodes=self.decoder.num_nodes[0],
                                          out_channels=self.decoder.in_channels)
        self.camera_head = build_component(DECODERS, camera_head, 'model.camera_head',
                                           in_channels=enc_channels[-1])
        self.losses = torch.nn.ModuleDict({
            name: build_component(LOSSES, cfg, f'model.losses.{name}')
            for name, cfg in (losses or {}).items()
        })
        # the DGCL module's sub-components take their sizes from this decoder
        dgcl = fill_defaults(MODELS, dgcl, graph_channels=self.decoder.in_channels,
                             node_channels=self.decoder.out_channels,
                             num_nodes=self.decoder.num_nodes[0])
        self.dgcl = build_component(MODELS, dgcl, 'model.dgcl')
        if self.dgcl is not None and hasattr(self.dgcl, 'init_key_encoder'):
            # momentum copy made now, so a resumed checkpoint finds its keys
            self.dgcl.init_key_encoder(self.decoder)
        self.max_consecutive_nonfinite = max_consecutive_nonfinite
        self._nonfinite_steps = 0
        self.register_load_state_dict_pre_hook(self._drop_dgcl_keys)

    def _normalised_template(self) -> torch.Tensor:
        """Rest-pose vertices (2, 778, 3) of (left, right), root-relative, normalised units."""
        out = []
        for side in HANDS:
            v = torch.as_tensor(self.hand_model.template(side)).float()[None]
            root = self.hand_model.joints_from_vertices(v, side)[0, self.root_index]
            out.append((v[0] - root) / self.canonical_length)
        return torch.stack(out)

    # -- network -----------------------------------------------------------------------
    def joints_from_vertices(self, verts: torch.Tensor) -> torch.Tensor:
        """``(B, 2, 778, 3)`` -> ``(B, 2, 21, 3)`` with each side's regressor + tip vertices."""
        return torch.stack([self.hand_model.joints_from_vertices(verts[:, h], side)
                            for h, side in enumerate(HANDS)], 1)

    def _forward_net(self, inputs: torch.Tensor) -> Tuple[dict, list, torch.Tensor]:
        feats = self.encoder(inputs)
        G = self.hand_split(feats)
        out = self.decoder(G, feats)
        out.update(self.camera_head(feats))
        joints = self.joints_from_vertices(out['verts'])
        root = joints[:, :, self.root_index:self.root_index + 1]
        out['joints'] = joints - root  # root-relative, normalised units
        out['verts'] = out['verts'] - root
        # weak perspective: u = s * X_xy + t, u in image-size-normalised coordinates
        cam = out['cam']
        out['joints_2d'] = cam[..., None, :1] * out['joints'][..., :2] + cam[..., None, 1:]
        return out, feats, G

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> Dict[str, torch.Tensor]:
        """``tensor`` mode: the raw outputs (normalised units, see the module docstring)."""
        return self._forward_net(inputs)[0]

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[HandDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"TwoHandEstimator.forward: unknown mode '{mode}' "
                         f"(use 'loss', 'predict' or 'tensor')")

    # -- training ----------------------------------------------------------------------
    @staticmethod
    def _stack(data_samples: List[HandDataSample], key: str) -> torch.Tensor:
        try:
            return torch.stack([torch.as_tensor(getattr(s, key)) for s in data_samples]).float()
        except AttributeError as e:
            raise KeyError(f"data sample has no '{key}': the training pipeline must end in "
                           f"PackHandInputs with 3D/2D hand labels") from e

    def loss(self, inputs: torch.Tensor,
             data_samples: List[HandDataSample]) -> Dict[str, torch.Tensor]:
        """Weighted loss terms (HandDGCL eq. 7-9; DGCL terms from ``self.dgcl``)."""
        out, feats, G = self._forward_net(inputs)
        gt_joints = self._stack(data_samples, 'gt_joints_3d').to(inputs.device)  # (B,2,21,3) m
        gt_verts = self._stack(data_samples, 'gt_verts_3d').to(inputs.device)
        gt_2d = self._stack(data_samples, 'gt_joints_2d').to(inputs.device)
        valid = self._stack(data_samples, 'hand_valid').to(inputs.device)  # (B, 2)

        root = gt_joints[:, :, self.root_index:self.root_index + 1]
        length = (gt_joints[:, :, MIDDLE_MCP] - gt_joints[:, :, WRIST]).norm(dim=-1)
        length = length.clamp_min(1e-6)[..., None, None]  # (B, 2, 1, 1)
        gt_joints_n = (gt_joints - root) / length
        gt_verts_n = (gt_verts - root) / length
        wh = (inputs.shape[-1], inputs.shape[-2])
        pred_2d = out['joints_2d'] * out['joints_2d'].new_tensor(wh)  # -> pixels

        # LOSSES align roots and divide by the GT reference bone themselves; the targets
        # handed to them are already normalised (reference bone = 1), so that is a no-op and
        # predictions and targets share the decoder's normalised unit.
        losses = OrderedDict()
        for name, loss_fn in self.losses.items():
            key = f'loss_{name}'
            if name == 'joints_3d' or name == 'bone_length':
                losses[key] = loss_fn(out['joints'], gt_joints_n, valid)
            elif name == 'verts_3d':
                losses[key] = loss_fn(out['verts'], gt_verts_n, valid, pred_joints=out['joints'],
                                      target_joints=gt_joints_n)
            elif name == 'joints_2d':
                losses[key] = loss_fn(pred_2d, gt_2d, valid, image_size=wh)
            elif name == 'transition':  # metres, left wrist - right wrist
                gt_rel = gt_joints[:, 0, WRIST] - gt_joints[:, 1, WRIST]
                losses[key] = loss_fn(out['rel_root'] * self.canonical_length, gt_rel, valid)
            else:
                raise KeyError(f"model.losses.{name}: unknown loss slot; use joints_3d, "
                               f"verts_3d, joints_2d, bone_length or transition")

        if self.dgcl is not None:
            gt_joints_rel = gt_joints - gt_joints[:, :, WRIST:WRIST + 1]
            losses.update(self.dgcl.loss(G, out['node_feats'], feats, self.decoder,
                                         coarse_graph=self.decoder.graph(0),
                                         gt_joints_rel=gt_joints_rel, hand_valid=valid))
        return losses

    # -- inference ---------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[HandDataSample]] = None) -> List[HandDataSample]:
        """Fill ``pred_*`` fields (metres, wrist-relative; 2D in input-image pixels)."""
        out = self._forward_net(inputs)[0]
        scale = self.canonical_length
        wrist = out['joints'][:, :, WRIST:WRIST + 1]
        joints = (out['joints'] - wrist) * scale
        verts = (out['verts'] - wrist) * scale
        rel_root = out['rel_root'] * scale
        h, w = inputs.shape[-2:]
        joints_2d = out['joints_2d'] * out['joints_2d'].new_tensor([w, h])
        if data_samples is None:
            data_samples = [HandDataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            sample.set_field(joints[i], 'pred_joints_3d')
            sample.set_field(verts[i], 'pred_verts_3d')
            sample.set_field(rel_root[i], 'pred_rel_root')
            sample.set_field(out['cam'][i], 'pred_cam')
            sample.set_field(joints_2d[i], 'pred_joints_2d')
        return data_samples

    # -- deployment / checkpoints ------------------------------------------------------
    def deploy(self) -> 'TwoHandEstimator':
        """Drop the training-only DGCL module: the result is exactly the baseline model."""
        if self.dgcl is not None:
            del self.dgcl
            self.dgcl = None
        return self

    def _drop_dgcl_keys(self, module, state_dict, prefix, *args) -> None:
        """Load-state-dict pre-hook: a DGCL checkpoint loads into a model without DGCL."""
        if self.dgcl is not None:
            return
        dropped = [k for k in state_dict if k.startswith(prefix + 'dgcl.')]
        for k in dropped:
            del state_dict[k]
        if dropped:
            print_log(f'TwoHandEstimator: dropped {len(dropped)} training-only "dgcl." '
                      f'checkpoint entries (model has no DGCL module)', 'current')

    # -- non-finite guard --------------------------------------------------------------
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """MMEngine's ``train_step`` plus :meth:`update_or_skip` (skips non-finite steps)."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        return self.update_or_skip(parsed, log_vars, losses, data, optim_wrapper)

    def update_or_skip(self, parsed: torch.Tensor, log_vars: dict, losses: dict, data: dict,
                       optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Update parameters, or skip the step when the loss is NaN/Inf on any rank.

        Ranks agree through an all-reduce of a finite flag, so under DDP either all of them
        step or none does.  Raises :class:`FloatingPointError` after
        ``max_consecutive_nonfinite`` skipped steps in a row.
        """
        finite = torch.isfinite(parsed.detach()).float().reshape(1)
        if is_distributed():
            torch_dist.all_reduce(finite, op=torch_dist.ReduceOp.MIN)
        if bool(finite.item()):
            optim_wrapper.update_params(parsed)
            self._nonfinite_steps = 0
            return log_vars
        optim_wrapper.zero_grad()
        self._nonfinite_steps += 1
        bad = [k for k, v in losses.items() if not torch.isfinite(v.detach()).all()]
        ids = [s.metainfo.get('sample_idx') for s in data.get('data_samples') or []]
        msg = (f'non-finite loss (terms {bad or "on another rank"}, sample_idx {ids}); '
               f'skipped the update ({self._nonfinite_steps} in a row)')
        if self._nonfinite_steps >= self.max_consecutive_nonfinite:
            raise FloatingPointError(f'{msg}; reached model.max_consecutive_nonfinite='
                                     f'{self.max_consecutive_nonfinite}: lower the learning '
                                     f'rate or check the data')
        print_log(msg, 'current', level=30)
        return OrderedDict(nonfinite_skipped=finite.new_ones(()))
