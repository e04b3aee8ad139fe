"""IntagHand-layout annotations of synthetic scenes, and their decoding through the hand model.

The written dict has exactly the keys of an IntagHand ``anno/{i}.pkl`` (DESIGN.md section 4,
docs/internals.md) and only plain types and numpy arrays, so the restricted unpickler of
:mod:`gclhand.datasets.io` reads it::

    {'image': {'id', 'file_name', 'height', 'width', 'synthetic', 'split', 'seed',
               'interaction', 'generator_version'},
     'annotation': {'id', 'image_id', 'hand_type': 'interacting', 'hand_type_valid': 1,
                    'bbox': (4,) x, y, w, h of both hands in the image, 'joint_valid': (42,)},
     'mano_params': {'left' | 'right': {'R': (1, 3, 3), 'pose': (1, 45) PCA coefficients,
                                        'shape': (1, 10), 'trans': (1, 3) metres}},
     'camera': {'R': (3, 3), 't': (3,), 'camera': (3, 3) K}}

:func:`decode_annotation` is the reference reading: world vertices
``MANO(global_orient=axis-angle(R), pose, shape) + trans`` and camera vertices
``world @ R_cam.T + t_cam``; the generator renders from exactly this.
"""
from typing import Dict

import numpy as np

from gclhand.datasets.geometry import project_points
from gclhand.structures import HANDS
from .sampler import HandParams, Scene, hand_forward

__all__ = ['make_annotation', 'decode_annotation', 'scene_hands_camera']


def scene_hands_camera(hm, hands: Dict[str, HandParams], cam_R: np.ndarray,
                       cam_t: np.ndarray) -> Dict[str, np.ndarray]:
    """Camera-frame vertices and joints of both hands.

    Returns:
        dict ``verts`` (2, 778, 3) and ``joints`` (2, 21, 3), float64, hand axis ``HANDS``.
    """
    R, t = np.asarray(cam_R, np.float64), np.asarray(cam_t, np.float64).reshape(3)
    verts, joints = [], []
    for side in HANDS:
        v, j = hand_forward(hm, side, hands[side])
        verts.append(v @ R.T + t)
        joints.append(j @ R.T + t)
    return dict(verts=np.stack(verts), joints=np.stack(joints))


def make_annotation(scene: Scene, index: int, split: str, seed: int, img_size: int,
                    bbox: np.ndarray, version: str) -> Dict:
    """The IntagHand-layout annotation dict of one synthetic sample (see module docstring).

    Args:
        scene: the sampled scene (its parameters are stored as float32).
        index: sample index (file stem).
        split, seed, version: provenance written into ``image``.
        img_size: side of the square image.
        bbox: (4,) x, y, w, h of both hands' projected vertices.
    """
    mano = {}
    for side in HANDS:
        p = scene.hands[side].as_float32()
        mano[side] = {'R': p.R.reshape(1, 3, 3), 'pose': p.pose.reshape(1, 45),
                      'shape': p.shape.reshape(1, 10), 'trans': p.trans.reshape(1, 3)}
    return {
        'image': {'id': int(index), 'file_name': f'img/{index}.jpg', 'height': int(img_size),
                  'width': int(img_size), 'synthetic': True, 'split': str(split),
                  'seed': int(seed), 'interaction': scene.interaction,
                  'generator_version': version},
        'annotation': {'id': int(index), 'image_id': int(index), 'hand_type': 'interacting',
                       'hand_type_valid': 1, 'bbox': np.asarray(bbox, np.float32),
                       'joint_valid': np.ones(42, np.float32)},
        'mano_params': mano,
        'camera': {'R': np.asarray(scene.cam_R, np.float32).reshape(3, 3),
                   't': np.asarray(scene.cam_t, np.float32).reshape(3),
                   'camera': np.asarray(scene.cam_K, np.float32).reshape(3, 3)},
    }


def decode_annotation(anno: Dict, hm) -> Dict[str, np.ndarray]:
    """Ground-truth geometry of an IntagHand-layout annotation through the hand model.

    Args:
        anno: annotation dict (``mano_params`` and ``camera`` are used).
        hm: hand model built with ``use_pca=True``.

    Returns:
        dict ``verts`` (2, 778, 3), ``joints`` (2, 21, 3) camera frame (metres),
        ``verts_2d`` (2, 778, 2), ``joints_2d`` (2, 21, 2) pixels, hand axis ``HANDS``.
    """
    hands = {}
    for side in HANDS:
        p = anno['mano_params'][side]
        hands[side] = HandParams(*(np.asarray(p[k], np.float32).reshape(-1)
                                   for k in ('R', 'pose', 'shape', 'trans')))
        hands[side].R = hands[side].R.reshape(3, 3)
    cam = anno['camera']
    out = scene_hands_camera(hm, hands, cam['R'], cam['t'])
    K = np.asarray(cam['camera'], np.float64)
    out['verts_2d'] = project_points(out['verts'], K)
    out['joints_2d'] = project_points(out['joints'], K)
    return out
