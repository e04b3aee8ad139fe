"""Ground-truth meshes and joints of two hands from MANO parameters, in camera space.

The hand-model forward pass is the expensive part of building a sample's labels, so it is
run here in batches over many samples at once (datasets call it once at initialisation).
"""
from typing import Dict, Tuple

import numpy as np
import torch

from gclhand.structures import HANDS, NUM_HAND_JOINTS, NUM_HAND_VERTS


def build_dataset_hand_model(cfg: dict):
    """Build (memoised) the hand model a dataset uses for its labels.

    Imported lazily so that reading annotations never needs the hand package.
    """
    from gclhand.hand import build_hand_model
    return build_hand_model(cfg)


def check_pose_format(hand_model, pca: bool, owner: str) -> None:
    """Refuse a hand model whose finger-pose format is not the data's.

    Both formats have 45 numbers per hand (IntagHand's layout: 45 PCA coefficients;
    InterHand2.6M's NeuralAnnot fits: 45 axis-angle values), so a model of the other format
    would accept the data and compute wrong labels without a word.  A hand model without a
    ``use_pca`` attribute (a plugin) is not checked.

    Raises:
        ConfigError: naming ``owner``'s ``hand_model.use_pca``.
    """
    use_pca = getattr(hand_model, 'use_pca', None)
    if use_pca is None or bool(use_pca) == pca:
        return
    from gclhand.utils.build import ConfigError
    data = ('holds the finger pose as 45 PCA coefficients (IntagHand\'s layout)' if pca else
            'holds the finger pose as 45 axis-angle values (the NeuralAnnot MANO fits)')
    raise ConfigError(
        f'{owner}: the data {data}, but hand_model.use_pca={use_pca}: the labels would be '
        f'another pose. Set hand_model.use_pca={pca}.')


@torch.no_grad()
def two_hand_gt(hand_model, params: Dict[str, Dict[str, np.ndarray]], cam_R: np.ndarray,
                cam_t: np.ndarray, batch_size: int = 512) -> Tuple[np.ndarray, np.ndarray]:
    """Camera-space vertices and joints of both hands of ``N`` samples.

    ``X_cam = (MANO(global_orient, hand_pose, betas) + transl) @ cam_R.T + cam_t``
    (docs/internals.md, IntagHand's convention).

    Args:
        hand_model: a gclhand hand model (``hand_model(side=..., hand_pose=..., betas=...,
            global_orient=..., transl=...)`` returning ``.vertices`` / ``.joints``).
        params: ``{side: {'global_orient' (N, 3) axis-angle, 'hand_pose' (N, P) in the
            hand model's pose format, 'betas' (N, 10), 'transl' (N, 3) metres}}`` for each
            side in :data:`HANDS`; a side may be missing (its outputs are zeros).
        cam_R: ``(N, 3, 3)`` world-to-camera rotations.
        cam_t: ``(N, 3)`` world-to-camera translations, metres.
        batch_size: samples per hand-model call.

    Returns:
        ``verts (N, 2, 778, 3)`` and ``joints (N, 2, 21, 3)``, float32 metres, library joint
        order, hand axis ordered as :data:`HANDS`.
    """
    n = len(cam_R)
    verts = np.zeros((n, 2, NUM_HAND_VERTS, 3), np.float32)
    joints = np.zeros((n, 2, NUM_HAND_JOINTS, 3), np.float32)
    cam_R = torch.as_tensor(np.asarray(cam_R), dtype=torch.float32)
    cam_t = torch.as_tensor(np.asarray(cam_t), dtype=torch.float32)
    for h, side in enumerate(HANDS):
        if side not in params:
            continue
        p = {k: torch.as_tensor(np.asarray(v), dtype=torch.float32).reshape(n, -1)
             for k, v in params[side].items()}
        for start in range(0, n, batch_size):
            sl = slice(start, min(start + batch_size, n))
            out = hand_model(side=side, hand_pose=p['hand_pose'][sl], betas=p['betas'][sl],
                             global_orient=p['global_orient'][sl], transl=p['transl'][sl])
            rot_t = cam_R[sl].transpose(1, 2)
            shift = cam_t[sl, None, :]
            verts[sl, h] = (torch.bmm(out.vertices.float(), rot_t) + shift).numpy()
            joints[sl, h] = (torch.bmm(out.joints.float(), rot_t) + shift).numpy()
    return verts, joints


class HandLabelsMixin:
    """Mesh labels of a two-hand ``BaseDataset``, computed once or per sample.

    A dataset using it sets ``self.precompute_gt`` and implements ``_labels(infos) -> dict``
    of ``(N, ...)`` arrays (``gt_verts_3d``, ``gt_joints_3d``, ``gt_joints_2d``) from infos
    holding :attr:`LABEL_SOURCE_KEYS`.  With ``precompute_gt`` the arrays are stored in the
    data list (about 19 KB per sample); without, only the sources are stored and
    :meth:`get_data_info` computes one sample's labels when it is loaded.
    """

    #: What :meth:`_labels` reads: the MANO parameters and the world -> camera transform.
    LABEL_SOURCE_KEYS = ('mano', 'cam_R', 'cam_t')

    def _attach_labels(self, items: list, sources: list) -> list:
        """Add the labels of ``sources`` (precomputed) or the sources themselves to
        ``items`` (one dict per sample, in place); returns ``items``."""
        labels = self._labels(sources) if self.precompute_gt else None
        for n, (item, source) in enumerate(zip(items, sources)):
            if labels is not None:
                item.update({k: v[n] for k, v in labels.items()})
            else:
                item.update({k: source[k] for k in self.LABEL_SOURCE_KEYS})
        return items

    def get_data_info(self, idx: int) -> dict:
        """The ``idx``-th sample's info; computes its labels when not precomputed."""
        info = super().get_data_info(idx)
        return info if 'gt_verts_3d' in info else self._label_one(info)

    def _label_one(self, info: dict) -> dict:
        """Replace one sample's label sources by its labels (in place); returns ``info``."""
        info.update({k: v[0] for k, v in self._labels([info]).items()})
        for key in self.LABEL_SOURCE_KEYS:
            info.pop(key)
        return info
