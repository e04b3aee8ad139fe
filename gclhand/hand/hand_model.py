"""The MANO hand model (real or procedural) behind one library-facing API."""
import contextlib
import copy
import io
import os
import os.path as osp
import threading
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
import smplx
import torch
from torch import Tensor

from gclhand.registry import HAND_MODELS
from gclhand.utils.build import ConfigError, build_component
from .joints import mano_to_library
from .mano_io import MANO_FILES, hash_arrays, load_mano_pair, resolve_mano_dir, \
    save_mano_arrays
from .procedural import PROCEDURAL_VERSION, generate_procedural_hand

SIDES = ('left', 'right')
#: Fingertip vertices of the real MANO mesh (thumb, index, middle, ring, pinky), the set
#: used by IntagHand and InterHand2.6M evaluation code.
MANO_FINGERTIP_IDS = (745, 317, 444, 556, 673)


def default_cache_dir() -> str:
    """``$GCLHAND_CACHE`` or ``~/.cache/gclhand``."""
    return osp.expanduser(os.environ.get('GCLHAND_CACHE') or osp.join('~', '.cache', 'gclhand'))


def procedural_model_dir(cache_dir: Optional[str] = None) -> str:
    """Directory holding the procedural ``MANO_{RIGHT,LEFT}.pkl``; generated on first use.

    Generation is deterministic and takes about a second; the files are written atomically
    so concurrent processes (data workers, distributed ranks) never read a partial file.
    """
    root = osp.join(cache_dir or default_cache_dir(), f'procedural_hand_v{PROCEDURAL_VERSION}')
    if not all(osp.isfile(osp.join(root, fn)) for fn in MANO_FILES.values()):
        for side, arrays in generate_procedural_hand().items():
            save_mano_arrays(arrays, osp.join(root, MANO_FILES[side]))
    return root


@dataclass
class HandModelOutput:
    """Output of :meth:`MANOHandModel.forward`.

    Attributes:
        vertices: (B, 778, 3) metres.
        joints: (B, 21, 3) metres, library joint order (:mod:`gclhand.hand.joints`),
            regressed from the *posed* ``vertices`` (+ 5 fingertip vertices), i.e.
            ``joints_from_vertices(vertices)`` -- the same operator the evaluation applies to
            predicted meshes (IntagHand protocol), so labels and predictions agree.
        joints_mano: (B, 16, 3) smplx's kinematic joints (regressed from the shaped rest
            mesh, then posed) in MANO's kinematic-tree order; they differ from the
            mesh-regressed ones by up to a few mm in strong poses.
    """
    vertices: Tensor
    joints: Tensor
    joints_mano: Tensor


@HAND_MODELS.register_module()
class MANOHandModel:
    """Both hands of a MANO-format model (real MANO or the procedural hand) via ``smplx.MANO``.

    The model files are read by :func:`~gclhand.hand.mano_io.load_mano_pair` (restricted
    unpickler; no chumpy/scipy needed; MANO_LEFT's ``shapedirs[:, 0, :]`` sign bug fixed)
    and handed to ``smplx.MANO`` as a ``smplx.utils.Struct`` so smplx never unpickles a user
    file. ``smplx.MANO.forward`` returns the 16 regressed joints; the 5 fingertip vertices are
    appended and the 21 joints put in the library order here.

    This is deliberately *not* an ``nn.Module``: one memoised instance is shared by
    datasets, decoder and losses, and must neither move with ``model.to(device)`` nor add
    buffers/parameters to checkpoints. Device copies of the smplx layers are made lazily, one
    per (device, dtype), and every method is differentiable w.r.t. its tensor inputs.

    Args:
        model_dir: directory with ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` (real MANO, from
            https://mano.is.tue.mpg.de). ``None``: ``$GCLHAND_MANO_DIR`` if set, else the
            licence-free procedural model (generated into ``cache_dir`` on first use).
        use_pca: ``hand_pose`` holds PCA coefficients (``num_pca_comps``) instead of 45
            axis-angle values. IntagHand's annotations use 45 PCA coefficients.
        num_pca_comps: number of PCA coefficients when ``use_pca``.
        flat_hand_mean: if False, ``hands_mean`` is added to the pose (MANO's default).
        fingertip_ids: override the 5 fingertip vertices (thumb, index, middle, ring, pinky);
            default: the ids the procedural file declares, or :data:`MANO_FINGERTIP_IDS`.
        cache_dir: where the procedural model is cached (default ``$GCLHAND_CACHE`` or
            ``~/.cache/gclhand``).
    """

    def __init__(self, model_dir: Optional[str] = None, use_pca: bool = True,
                 num_pca_comps: int = 45, flat_hand_mean: bool = False,
                 fingertip_ids: Optional[Sequence[int]] = None,
                 cache_dir: Optional[str] = None) -> None:
        mano_dir = resolve_mano_dir(model_dir)
        self.is_procedural = mano_dir is None
        if self.is_procedural:
            mano_dir = procedural_model_dir(cache_dir)
        self.model_dir = mano_dir
        if not 1 <= num_pca_comps <= 45:
            raise ConfigError(f'MANOHandModel: num_pca_comps must be in [1, 45], got '
                              f'{num_pca_comps}')
        self.use_pca = use_pca
        self.num_pca_comps = num_pca_comps
        self.flat_hand_mean = flat_hand_mean
        # MANO_LEFT's shapedirs sign bug is fixed here (mano_io.load_mano_pair)
        self.arrays: Dict[str, dict] = load_mano_pair(mano_dir)
        tips = fingertip_ids if fingertip_ids is not None else self.arrays['right'].get(
            'fingertip_vertex_ids', MANO_FINGERTIP_IDS)
        self.fingertip_ids = torch.as_tensor(np.asarray(tips), dtype=torch.long)
        num_verts = self.arrays['right']['v_template'].shape[0]
        if self.fingertip_ids.numel() != 5 or int(self.fingertip_ids.max()) >= num_verts:
            raise ConfigError(f'MANOHandModel: fingertip_ids must be 5 vertex ids < {num_verts}'
                              f', got {self.fingertip_ids.tolist()}')
        self.content_hash = hash_arrays(self.arrays['left'], self.arrays['right'],
                                        {'fingertip_vertex_ids': self.fingertip_ids.numpy()})
        self._faces = {side: self._outward_faces(side) for side in SIDES}
        self._layers: Dict[tuple, Dict[str, smplx.MANO]] = {}
        self._lock = threading.Lock()
        self._layers[(torch.device('cpu'), torch.float32)] = {
            side: self._make_layer(side) for side in SIDES}

    # ------------------------------------------------------------------ construction
    def _make_layer(self, side: str) -> smplx.MANO:
        arr = self.arrays[side]
        struct = smplx.utils.Struct(**arr)
        # PCA is applied here (see forward): smplx silently disables PCA for 45 components.
        # smplx prints a warning about having only 10 shape components; that is MANO's size.
        with contextlib.redirect_stdout(io.StringIO()):
            return smplx.MANO(model_path=self.model_dir, data_struct=struct,
                              is_rhand=side == 'right', use_pca=False,
                              flat_hand_mean=self.flat_hand_mean,
                              num_betas=arr['shapedirs'].shape[-1], create_global_orient=False,
                              create_hand_pose=False, create_betas=False, create_transl=False,
                              create_body_pose=False)

    def _outward_faces(self, side: str) -> Tensor:
        """Faces with outward normals.

        Real MANO's left file repeats the right hand's winding, which makes its normals
        point inwards.  The sign of the volume summed over the cones from the template's
        centroid to every face tells (the open wrist only leaves out one small cone), and
        the winding is flipped if needed.
        """
        v = self.arrays[side]['v_template']
        f = self.arrays[side]['f']
        vol = np.einsum('ij,ij->i', v[f[:, 0]] - v.mean(0),
                        np.cross(v[f[:, 1]] - v.mean(0), v[f[:, 2]] - v.mean(0))).sum()
        return torch.as_tensor(f if vol > 0 else f[:, [0, 2, 1]], dtype=torch.long)

    def _layer(self, side: str, device: torch.device, dtype: torch.dtype) -> smplx.MANO:
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got '{side}'")
        key = (torch.device(device), dtype)
        if key not in self._layers:
            with self._lock:
                if key not in self._layers:
                    base = self._layers[(torch.device('cpu'), torch.float32)]
                    self._layers[key] = {s: copy.deepcopy(m).to(device=device, dtype=dtype)
                                         for s, m in base.items()}
        return self._layers[key][side]

    # ------------------------------------------------------------------ API
    @property
    def num_verts(self) -> int:
        return int(self.arrays['right']['v_template'].shape[0])

    def __call__(self, *args, **kwargs) -> HandModelOutput:
        return self.forward(*args, **kwargs)

    def forward(self, side: str, hand_pose: Tensor, betas: Optional[Tensor] = None,
                global_orient: Optional[Tensor] = None,
                transl: Optional[Tensor] = None) -> HandModelOutput:
        """Posed, shaped mesh and joints of one side.

        Args:
            side: ``'left'`` or ``'right'``.
            hand_pose: (B, num_pca_comps) PCA coefficients if ``use_pca`` else (B, 45)
                axis-angle of MANO joints 1..15 (added to ``hands_mean`` unless
                ``flat_hand_mean``).
            betas: (B, 10) shape coefficients (zeros if None).
            global_orient: (B, 3) axis-angle of the wrist (zeros if None).
            transl: (B, 3) metres (zeros if None).

        Returns:
            :class:`HandModelOutput` with ``vertices`` (B, 778, 3) and ``joints`` (B, 21, 3).
        """
        hand_pose = torch.as_tensor(hand_pose)
        if not hand_pose.is_floating_point():
            hand_pose = hand_pose.float()
        b, device, dtype = hand_pose.shape[0], hand_pose.device, hand_pose.dtype
        layer = self._layer(side, device, dtype)
        expect = self.num_pca_comps if self.use_pca else 45
        if hand_pose.ndim != 2 or hand_pose.shape[1] != expect:
            raise ValueError(f'MANOHandModel({side}): hand_pose must be (B, {expect}) '
                             f"({'PCA coefficients' if self.use_pca else 'axis-angle'}), got "
                             f'{tuple(hand_pose.shape)}')
        if self.use_pca:
            comps = torch.as_tensor(self.arrays[side]['hands_components'][:self.num_pca_comps],
                                    dtype=dtype, device=device)
            hand_pose = hand_pose @ comps
        zeros = lambda n: hand_pose.new_zeros(b, n)  # noqa: E731
        betas = zeros(layer.num_betas) if betas is None else betas.to(dtype)
        global_orient = zeros(3) if global_orient is None else global_orient.to(dtype)
        transl = zeros(3) if transl is None else transl.to(dtype)
        out = layer(betas=betas, global_orient=global_orient, hand_pose=hand_pose,
                    transl=transl)
        joints = self.joints_from_vertices(out.vertices, side)
        return HandModelOutput(vertices=out.vertices, joints=joints, joints_mano=out.joints)

    def faces(self, side: str) -> Tensor:
        """(F, 3) LongTensor, counter-clockwise seen from outside for either side."""
        return self._faces[side]

    def template(self, side: str) -> Tensor:
        """(778, 3) float32 rest-pose vertices (zero pose, zero shape, flat hand)."""
        return torch.as_tensor(self.arrays[side]['v_template'], dtype=torch.float32)

    def joint_regressor(self, side: str) -> Tensor:
        """(16, 778) float32 ``J_regressor``."""
        return torch.as_tensor(self.arrays[side]['J_regressor'], dtype=torch.float32)

    def joints_from_vertices(self, vertices: Tensor, side: str) -> Tensor:
        """(B, 778, 3) -> (B, 21, 3) library-order joints: regressor + 5 fingertip vertices.

        The same regressor is used for ground truth and predictions (IntagHand protocol).
        """
        reg = self.joint_regressor(side).to(device=vertices.device, dtype=vertices.dtype)
        mano16 = torch.einsum('jv,bvc->bjc', reg, vertices)
        tips = vertices[:, self.fingertip_ids.to(vertices.device)]
        return mano_to_library(torch.cat([mano16, tips], dim=1))

    # ------------------------------------------------------------------ copying
    def __deepcopy__(self, memo: dict) -> 'MANOHandModel':
        """The instance itself: it is a shared, read-only resource (see the class note).

        ``copy.deepcopy(model)`` (an EMA or SWA copy of the network, MMEngine's
        ``EMAHook``) then shares the hand model instead of duplicating its arrays and
        smplx layers, as every other holder of the memoised instance does.
        """
        return self

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state['_lock']  # a lock cannot be pickled; a fresh one is made on unpickling
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        kind = 'procedural' if self.is_procedural else f'MANO from {self.model_dir}'
        return (f'{type(self).__name__}({kind}, use_pca={self.use_pca}, '
                f'num_pca_comps={self.num_pca_comps}, flat_hand_mean={self.flat_hand_mean}, '
                f'hash={self.content_hash})')


_MEMO: Dict[str, object] = {}
_MEMO_LOCK = threading.Lock()


def build_hand_model(cfg: Optional[dict] = None):
    """Build a hand model from ``HAND_MODELS``, memoised per config (one shared instance).

    The memo key includes the resolved model directory and cache directory, so changing
    ``GCLHAND_MANO_DIR`` / ``GCLHAND_CACHE`` gives a new instance.

    Args:
        cfg: e.g. ``dict(type='MANOHandModel', model_dir=None)``; ``None`` is that default.
    """
    cfg = dict(cfg or dict(type='MANOHandModel'))
    cfg.setdefault('type', 'MANOHandModel')
    key = repr(sorted(cfg.items(), key=lambda kv: kv[0])) + '|' + str(
        resolve_mano_dir(cfg.get('model_dir'))) + '|' + str(cfg.get('cache_dir') or
                                                           default_cache_dir())
    with _MEMO_LOCK:
        if key not in _MEMO:
            _MEMO[key] = build_component(HAND_MODELS, cfg, key='hand_model')
        return _MEMO[key]
