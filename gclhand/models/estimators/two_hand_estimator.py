"""TwoHandEstimator: image -> two MANO-topology meshes, joints, cameras (HandDGCL Fig. 2).

Pipeline (``docs/internals.md``, "Model")::

    feats = encoder(images)              # fine -> coarse maps
    G = hand_split(feats)                # (B, 2, N0, C0) graph features
    out = decoder(G, feats)              # verts (B, 2, 778, 3), node_feats
    cam = camera_head(feats)             # weak-perspective cameras, rel. root translation
    [training with DGCL: out, pair = dgcl.decode(G, feats, decoder, coarse graph), one
     batched decoder call on G and the disturbed G_hat; dgcl.loss(pair, ...) after the
     main losses; dgcl.step(decoder) after each optimiser step]

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

from gclhand.models.losses.base import MissingLossInput
from gclhand.registry import DECODERS, ENCODERS, HEADS, LOSSES, MODELS, NECKS
from gclhand.structures.hand_data_sample import HANDS, HandDataSample
from gclhand.utils.build import (ConfigError, build_component, class_name, fill_defaults,
                                  require_scalar_tensor)
from gclhand.utils.nonfinite import NonFiniteTracer

#: joints (library order) that define the normalising length: wrist -> middle MCP.
WRIST, MIDDLE_MCP = 0, 9


@MODELS.register_module()
class TwoHandEstimator(BaseModel):
    """The GCN baseline (IntagHand-style) with an optional training-only DGCL module.

    Args:
        encoder: ``ENCODERS`` config (ResNet-50 in the paper).
        hand_split: ``NECKS`` config of :class:`~gclhand.models.necks.HandSplit`;
            ``in_channels``, ``num_nodes`` and ``out_channels`` default to the encoder's and
            decoder's sizes.
        decoder: ``DECODERS`` config of :class:`~gclhand.models.decoders.ChebGCNDecoder`;
            ``graph`` and ``feat_channels`` default to the built hierarchy and the encoder.
        camera_head: ``HEADS`` config of :class:`~gclhand.models.heads.CameraHead`.
        hand_model: config for :func:`gclhand.hand.build_hand_model`.
        graph: keyword arguments of :func:`gclhand.hand.build_graph_hierarchy`
            (``num_nodes``, ``cache_dir``).
        losses: mapping ``name -> LOSSES config`` (:class:`~gclhand.models.losses.HandLoss`);
            every entry is computed and summed, logged as ``loss_<name>``. Each loss names
            the prediction and the target it compares (``pred=``, ``target=``; keys in
            :meth:`loss` and ``docs/internals.md``); weights come from the configs.  An
            entry set to ``None`` is left out (``--cfg-options model.losses.mask=None``).
        aux_heads: optional mapping ``name -> HEADS config`` of training-only heads on the
            encoder's feature maps (e.g. IntagHand's 2D heatmap / mask / dense-correspondence
            supervision); each returns a dict of predictions that the losses can name.
            :meth:`deploy` removes them with the DGCL module.
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
                 aux_heads: Optional[dict] = None,
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
        if not hasattr(self.encoder, 'out_channels'):
            raise ConfigError(f'model.encoder ({class_name(self.encoder)}) has no out_channels: '
                              'an encoder lists the channels of the maps it returns, fine -> '
                              'coarse (docs/plugins.md, Encoders)')
        enc_channels = tuple(self.encoder.out_channels)
        self.decoder = build_component(DECODERS, decoder, 'model.decoder',
                                       graph=graph_hierarchy, feat_channels=enc_channels,
                                       template=self._normalised_template())
        self.hand_split = build_component(NECKS, hand_split, 'model.hand_split',
                                          in_channels=enc_channels[-1],
                                          num_nodes=self.decoder.num_nodes[0],
                                          out_channels=self.decoder.in_channels)
        self.camera_head = build_component(HEADS, camera_head, 'model.camera_head',
                                           in_channels=enc_channels[-1])
        self.aux_heads = None if not aux_heads else torch.nn.ModuleDict({
            name: build_component(HEADS, fill_defaults(HEADS, cfg, in_channels=enc_channels,
                                                       num_joints=21),
                                  f'model.aux_heads.{name}')
            for name, cfg in aux_heads.items()})
        self.losses = torch.nn.ModuleDict({  # an entry set to None is switched off
            name: build_component(LOSSES, cfg, f'model.losses.{name}')
            for name, cfg in (losses or {}).items() if cfg is not None
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
        """``(B, 2, 778, 3)`` -> ``(B, 2, 21, 3)`` with each side's regressor + tip vertices,
        as one product with :meth:`joint_matrix` for both hands."""
        return torch.matmul(self.joint_matrix(verts.shape[-2], verts.device, verts.dtype),
                            verts)

    def joint_matrix(self, num_verts: int, device: torch.device,
                     dtype: torch.dtype) -> torch.Tensor:
        """``(2, 21, V)``: joint ``j`` of hand ``h`` (library order) as a weighted sum of the
        hand's vertices - the hand model's regressor rows and one-hot fingertip rows.

        ``hand_model.joints_from_vertices`` is linear in the vertices, so it is evaluated
        once on the identity (each vertex a unit vector) and cached per device / dtype.
        """
        cache = self.__dict__.setdefault('_joint_matrices', {})
        key = (num_verts, device, dtype)
        if key not in cache:
            eye = torch.eye(num_verts, dtype=torch.float64)[None]  # (1, V, V): V "coordinates"
            rows = [self.hand_model.joints_from_vertices(eye, side)[0] for side in HANDS]
            cache[key] = torch.stack(rows).to(device=device, dtype=dtype)
        return cache[key]

    def _forward_net(self, inputs: torch.Tensor,
                     with_dgcl: bool = False) -> Tuple[dict, list, Optional[tuple]]:
        """``(out, feats, pair)``; with ``with_dgcl`` the decoder runs through
        ``dgcl.decode`` (the main pass together with the disturbed one) and ``pair`` is what
        ``dgcl.loss`` takes, else ``pair`` is ``None``."""
        feats = self.encoder(inputs)
        G = self.hand_split(feats)
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            self._check_shapes(inputs, feats, G)
        if with_dgcl:
            out, pair = self.dgcl.decode(G, feats, self.decoder, self.decoder.graph(0))
        else:
            out, pair = self.decoder(G, feats), None
        out.update(self.camera_head(feats))
        joints = self.joints_from_vertices(out['verts'])
        root = joints[:, :, self.root_index:self.root_index + 1]
        out['joints'] = joints - root  # root-relative, normalised units
        out['verts'] = out['verts'] - root
        # weak perspective: u = s * X_xy + t, u in image-size-normalised coordinates
        cam = out['cam']
        out['joints_2d'] = cam[..., None, :1] * out['joints'][..., :2] + cam[..., None, 1:]
        return out, feats, pair

    def _check_shapes(self, inputs: torch.Tensor, feats, G) -> None:
        """One line naming the component when the encoder's maps or the neck's graph
        features are not what the decoder reads (plugins, docs/plugins.md)."""
        channels = tuple(self.encoder.out_channels)
        maps = [tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
                for f in feats] if isinstance(feats, (list, tuple)) else type(feats).__name__
        if not isinstance(maps, list) or len(maps) != len(channels) or any(
                not isinstance(m, tuple) or len(m) != 4 or m[1] != c
                for m, c in zip(maps, channels)) or any(
                a[2] < b[2] for a, b in zip(maps, maps[1:])):
            raise ConfigError(f'model.encoder ({class_name(self.encoder)}) returned {maps}; '
                              f'expected a list of {len(channels)} (B, C, H, W) maps, fine -> '
                              f'coarse (H not growing), with C = out_channels {channels}')
        expected = (inputs.shape[0], 2, self.decoder.num_nodes[0], self.decoder.in_channels)
        if not isinstance(G, torch.Tensor) or tuple(G.shape) != expected:
            got = tuple(G.shape) if isinstance(G, torch.Tensor) else type(G).__name__
            raise ConfigError(f'model.hand_split ({class_name(self.hand_split)}) returned '
                              f'{got}; expected graph features (B, 2, N0, C0) = {expected}')

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

    def loss_targets(self, inputs: torch.Tensor,
                     data_samples: List[HandDataSample]) -> Dict[str, torch.Tensor]:
        """The batch's targets, by name (``docs/internals.md``, "Losses").

        - ``joints_3d`` (B, 2, 21, 3), ``verts_3d`` (B, 2, 778, 3): relative to the root joint
          (``root_index``) and divided by each GT hand's wrist-to-middle-MCP length
          (HandDGCL section 3.4), the units the decoder predicts in;
        - ``joints_3d_metric`` (B, 2, 21, 3): camera-frame metres as annotated;
        - ``joints_2d`` (B, 2, 21, 2): input-image pixels; ``image_size``: (W, H);
        - ``rel_root`` (B, 3): left wrist minus right wrist, metres;
        - ``hand_valid`` (B, 2): 1 where the hand is annotated;
        - every other ``gt_<name>`` field of the data samples as ``<name>`` (e.g. the
          auxiliary ``heatmaps``, ``mask``, ``dense`` targets).
        """
        device = inputs.device
        fields = set(data_samples[0].keys()) if data_samples else set()
        targets = {key[3:]: self._stack(data_samples, key).to(device)
                   for key in sorted(fields) if key.startswith('gt_')}
        for key in ('joints_3d', 'verts_3d', 'joints_2d'):
            if key not in targets:
                self._stack(data_samples, f'gt_{key}')  # raises the message above
        gt_joints, gt_verts = targets['joints_3d'], targets['verts_3d']
        root = gt_joints[:, :, self.root_index:self.root_index + 1]
        length = (gt_joints[:, :, MIDDLE_MCP] - gt_joints[:, :, WRIST]).norm(dim=-1)
        length = length.clamp_min(1e-6)[..., None, None]  # (B, 2, 1, 1)
        targets.update(
            joints_3d_metric=gt_joints,
            joints_3d=(gt_joints - root) / length,
            verts_3d=(gt_verts - root) / length,
            rel_root=gt_joints[:, 0, WRIST] - gt_joints[:, 1, WRIST],
            hand_valid=self._stack(data_samples, 'hand_valid').to(device),
            image_size=(inputs.shape[-1], inputs.shape[-2]))
        return targets

    def loss_predictions(self, out: dict, feats: List[torch.Tensor],
                         inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The network's outputs under the target names (same units), plus aux heads'.

        ``joints_3d``, ``verts_3d`` (normalised, root-relative), ``joints_2d`` (pixels),
        ``rel_root`` (metres), ``cam`` (B, 2, 3), and every output of ``aux_heads``.
        """
        wh = (inputs.shape[-1], inputs.shape[-2])
        preds = dict(joints_3d=out['joints'], verts_3d=out['verts'],
                     joints_2d=out['joints_2d'] * out['joints_2d'].new_tensor(wh),
                     rel_root=out['rel_root'] * self.canonical_length, cam=out['cam'])
        for name, head in (self.aux_heads or {}).items():
            aux = head(feats)
            where = f'model.aux_heads.{name} ({class_name(head)})'
            if not isinstance(aux, dict) or not all(
                    isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in aux.items()):
                raise ConfigError(f'{where} returned {type(aux).__name__}; an auxiliary head '
                                  'returns a dict of named tensors, e.g. dict(mask=...)')
            taken = sorted(set(aux) & set(preds))
            if taken:  # would silently replace what the losses compare
                raise ConfigError(f'{where} returned {taken}, which the model already '
                                  f'predicts; give the head\'s outputs other names')
            preds.update(aux)
        return preds

    def loss(self, inputs: torch.Tensor,
             data_samples: List[HandDataSample]) -> Dict[str, torch.Tensor]:
        """Weighted loss terms: every entry of ``model.losses`` (HandDGCL eq. 7-9) and the
        DGCL terms (eq. 10-13) from ``self.dgcl``."""
        out, feats, pair = self._forward_net(inputs, with_dgcl=self.dgcl is not None)
        targets = self.loss_targets(inputs, data_samples)
        preds = self.loss_predictions(out, feats, inputs)
        losses = OrderedDict()
        for name, loss_fn in self.losses.items():
            try:
                kwargs = loss_fn.select(preds, targets)
            except MissingLossInput as e:  # named like the other contract errors
                message, owner = e.args[0], f'{type(loss_fn).__name__}: '
                raise ConfigError(f'model.losses.{name} ({class_name(loss_fn)}): '
                                  f'{message.removeprefix(owner)}') from None
            value = loss_fn(**kwargs)
            require_scalar_tensor(value, f'model.losses.{name} ({class_name(loss_fn)})',
                                  'a loss returns a scalar tensor (its weighted mean)')
            losses[f'loss_{name}'] = value

        if self.dgcl is not None:
            # wrist-relative, in units of each hand's wrist-to-middle-MCP length (the
            # normalisation of the main 3D losses, section 3.4)
            joints = targets['joints_3d']
            losses.update(self.dgcl.loss(pair, gt_joints=joints - joints[:, :, WRIST:WRIST + 1],
                                         hand_valid=targets['hand_valid']))
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
        """Drop the training-only parts (DGCL module, auxiliary heads): the result is exactly
        the baseline model that ``predict`` runs."""
        for name in ('dgcl', 'aux_heads'):
            if getattr(self, name) is not None:
                delattr(self, name)
                setattr(self, name, None)
        return self

    def _drop_dgcl_keys(self, module, state_dict, prefix, *args) -> None:
        """Load-state-dict pre-hook: a checkpoint with training-only parts (``dgcl.``,
        ``aux_heads.``) loads into a model without them."""
        for name in ('dgcl', 'aux_heads'):
            if getattr(self, name) is not None:
                continue
            dropped = [k for k in state_dict if k.startswith(f'{prefix}{name}.')]
            for k in dropped:
                del state_dict[k]
            if dropped:
                print_log(f'TwoHandEstimator: dropped {len(dropped)} training-only "{name}." '
                          f'checkpoint entries (model has no such module)', 'current')

    # -- non-finite guard --------------------------------------------------------------
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """MMEngine's ``train_step`` plus :meth:`update_or_skip` (skips non-finite steps).

        The forward pass runs under a :class:`~gclhand.utils.nonfinite.NonFiniteTracer`
        (per-component finiteness flags, read only when the loss is non-finite).
        """
        tracer = self.__dict__.get('_nonfinite_tracer')
        if tracer is None:  # made on first use: not a sub-module, not in the state dict
            tracer = self.__dict__['_nonfinite_tracer'] = NonFiniteTracer(self)
        with optim_wrapper.optim_context(self), tracer.tracing():
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        return self.update_or_skip(parsed, log_vars, losses, data, optim_wrapper)

    def update_or_skip(self, parsed: torch.Tensor, log_vars: dict, losses: dict, data: dict,
                       optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Update parameters, or skip the step when the loss is NaN/Inf on any rank.

        Ranks agree through an all-reduce of a finite flag, so under DDP either all of them
        step or none does.  The warning names the non-finite loss terms, the batch's
        ``sample_idx`` and where the first NaN/Inf appeared (input, labels, parameters or
        the first component whose output was non-finite, e.g. ``dgcl.disturber``).  Raises
        :class:`FloatingPointError` after ``max_consecutive_nonfinite`` skipped steps in a
        row.  After a parameter update (``optim_wrapper.should_update()``: once per
        gradient-accumulation window) the DGCL module advances its momentum encoder and
        queues (``dgcl.step``); a skipped step discards the window's queue entries
        (``dgcl.discard_step``).
        """
        finite = torch.isfinite(parsed.detach()).float().reshape(1)
        if is_distributed():
            torch_dist.all_reduce(finite, op=torch_dist.ReduceOp.MIN)
        if bool(finite.item()):
            optim_wrapper.update_params(parsed)
            self._nonfinite_steps = 0
            if self.dgcl is not None and optim_wrapper.should_update():
                self.dgcl.step(self.decoder)  # once per optimiser step (MoCo update, queues)
            return log_vars
        optim_wrapper.zero_grad()
        if self.dgcl is not None:
            self.dgcl.discard_step()
        self._nonfinite_steps += 1
        bad = [k for k, v in losses.items() if not torch.isfinite(v.detach()).all()]
        samples = data.get('data_samples') or []
        ids = [s.metainfo.get('sample_idx') for s in samples]
        tracer = self.__dict__.get('_nonfinite_tracer')
        origin = 'on another rank'
        if bad and tracer is not None:
            labels = {f'{k} of sample_idx {s.metainfo.get("sample_idx")}': v
                      for s in samples for k, v in s.items()
                      if k.startswith('gt_') and isinstance(v, torch.Tensor)}
            origin = tracer.describe(data.get('inputs'), labels)
        msg = (f'non-finite loss (terms {bad or "on another rank"}, sample_idx {ids}); first '
               f'non-finite: {origin}; skipped the update ({self._nonfinite_steps} in a row)')
        self.last_nonfinite = msg  # NonFiniteGuardHook quotes it if no update ever succeeds
        if self._nonfinite_steps >= self.max_consecutive_nonfinite:
            raise FloatingPointError(f'{msg}; reached model.max_consecutive_nonfinite='
                                     f'{self.max_consecutive_nonfinite}')
        print_log(msg, 'current', level=30)
        return OrderedDict(nonfinite_skipped=finite.new_ones(()))
