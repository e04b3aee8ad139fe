"""Schema of an IntagHand-layout annotation (``anno/{i}.pkl``) and its validation.

One file holds (DESIGN.md section 4, docs/internals.md)::

    {
      'mano_params': {'left' | 'right': {'R': (1, 3, 3) global rotation,
                                          'pose': (1, 45) PCA coefficients,
                                          'shape': (1, 10) betas,
                                          'trans': (1, 3) metres}},
      'camera': {'R': (3, 3), 't': (3,) metres, 'camera': (3, 3) intrinsics K},
      'image': ...,                      # optional, source-image info (free form)
      'annotation': {'hand_type': 'interacting', 'hand_type_valid': 1, ...},   # optional
      'joint_3d': {'world_coord': (42, 3) mm, 'joint_valid': (42,)},  # optional
    }

Hand vertices in camera space are ``(MANO(R, pose, shape) + trans) @ R_cam.T + t_cam``.
``joint_3d`` holds InterHand2.6M's annotated joints (world frame, millimetres, the release's
42-joint order) with the per-joint validity of the release's data file; gclhand's
conversion writes it, and the official protocol scores against it
(:func:`annotated_joints`).
"""
from typing import Dict, Sequence

import numpy as np

from gclhand.structures import HANDS
from .errors import AnnotationError

#: Expected shape of each MANO parameter of one hand (a leading batch axis of 1).
MANO_PARAM_SHAPES = {'R': (1, 3, 3), 'pose': (1, 45), 'shape': (1, 10), 'trans': (1, 3)}
#: Expected shape of each camera entry.
CAMERA_SHAPES = {'R': (3, 3), 't': (3, ), 'camera': (3, 3)}
#: Hand types of InterHand2.6M annotations.
KNOWN_HAND_TYPES = ('interacting', 'left', 'right')
#: Which hands each hand type shows, in the library's (left, right) order.
HAND_TYPE_FLAGS = {'left': (1., 0.), 'right': (0., 1.), 'interacting': (1., 1.)}
#: Shapes of the optional annotated joints (InterHand2.6M's 42-joint order).
JOINT_3D_SHAPES = {'world_coord': (42, 3), 'joint_valid': (42, )}
_ROT_TOL = 1e-3


def hand_type_flags(hand_type: str) -> np.ndarray:
    """``'left'`` / ``'right'`` / ``'interacting'`` -> ``(2,)`` float32 (left, right) flags."""
    return np.asarray(HAND_TYPE_FLAGS[hand_type], np.float32)


def annotated_joints(world_mm: np.ndarray, joint_valid: np.ndarray, cam_R: np.ndarray,
                     cam_t: np.ndarray):
    """InterHand2.6M's annotated joints in the library's camera-frame layout.

    ``X_cam = cam_R X_world / 1000 + cam_t`` (millimetres to metres), reordered to
    ``(2, 21)`` (left, right; :func:`gclhand.hand.joints.interhand_to_library`).  As in the
    release's evaluation, a hand whose wrist is not annotated is marked not annotated at
    all: its root-relative pose is undefined.

    Args:
        world_mm: ``(42, 3)`` world coordinates in mm (InterHand2.6M order).
        joint_valid: ``(42,)`` 1 where the joint is annotated.
        cam_R: ``(3, 3)``; cam_t: ``(3,)`` metres (world metres -> camera metres).

    Returns:
        ``joints (2, 21, 3)`` float32 metres and ``valid (2, 21)`` float32.
    """
    from gclhand.hand.joints import interhand_to_library
    cam = np.asarray(world_mm, np.float64) @ np.asarray(cam_R, np.float64).T / 1000.0 \
        + np.asarray(cam_t, np.float64)
    valid = interhand_to_library(np.asarray(joint_valid, np.float32).reshape(42) > 0)
    valid = valid & valid[:, :1]  # library joint 0 is the wrist
    return interhand_to_library(cam.astype(np.float32)), valid.astype(np.float32)



def _as_array(value, where: str, path: str, shape: Sequence[int]) -> np.ndarray:
    """Check ``value`` is a finite real array of ``shape`` and return it as float32."""
    if isinstance(value, (list, tuple)):
        # Accept nested lists of numbers (e.g. JSON-derived files), nothing else.
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise AnnotationError(path, f"'{where}' is a {type(value).__name__} that is not "
                                  'a numeric array') from None
    if not isinstance(value, np.ndarray):
        raise AnnotationError(path, f"'{where}' must be a numpy array of shape {tuple(shape)}, "
                              f'got {type(value).__name__}')
    if value.dtype.kind not in 'fiu':
        raise AnnotationError(path, f"'{where}' must hold real numbers, got dtype {value.dtype}")
    if value.shape != tuple(shape):
        raise AnnotationError(path, f"'{where}' must have shape {tuple(shape)}, "
                              f'got {value.shape}')
    if not np.isfinite(value).all():
        raise AnnotationError(path, f"'{where}' contains NaN or inf")
    return value.astype(np.float32)


def _check_rotation(rot: np.ndarray, where: str, path: str) -> None:
    if not (np.abs(rot @ rot.T - np.eye(3)).max() < _ROT_TOL
            and abs(np.linalg.det(rot) - 1) < _ROT_TOL):
        raise AnnotationError(path, f"'{where}' is not a rotation matrix (R R^T != I or "
                              'det != 1)')


def _get(mapping, key: str, where: str, path: str):
    if not isinstance(mapping, dict):
        raise AnnotationError(path, f"'{where}' must be a dict, got {type(mapping).__name__}")
    if key not in mapping:
        sub = f"'{where}.{key}'" if where else f"'{key}'"
        raise AnnotationError(path, f'missing key {sub} (IntagHand layout, see docs/data.md)')
    return mapping[key]


def validate_intag_annotation(anno, path: str,
                              allowed_hand_types: Sequence[str] = ('interacting', )) -> Dict:
    """Check one annotation against the schema and return its arrays.

    Args:
        anno: the unpickled annotation.
        path: its file path (for error messages).
        allowed_hand_types: accepted values of ``annotation['hand_type']`` when present.

    Returns:
        dict with ``mano`` ``{side: {R (1,3,3), pose (1,45), shape (1,10), trans (1,3)}}``,
        ``cam_R`` (3, 3), ``cam_t`` (3,), ``cam_K`` (3, 3), all float32, ``hand_type``,
        ``hand_type_valid`` (float) and, when the file has ``joint_3d``,
        ``joint_3d_world_coord`` (42, 3) mm and ``joint_3d_joint_valid`` (42,).

    Raises:
        AnnotationError: naming ``path`` and the first problem found.
    """
    if not isinstance(anno, dict):
        raise AnnotationError(path, f'annotation must be a dict, got {type(anno).__name__}')
    out = {'mano': {}}
    mano_params = _get(anno, 'mano_params', '', path)
    for side in HANDS:
        params = _get(mano_params, side, 'mano_params', path)
        if params is None:
            raise AnnotationError(path, f"'mano_params.{side}' is None: the IntagHand layout "
                                  'needs MANO fits of both hands')
        out['mano'][side] = {}
        for key, shape in MANO_PARAM_SHAPES.items():
            where = f'mano_params.{side}.{key}'
            value = _as_array(_get(params, key, f'mano_params.{side}', path), where, path, shape)
            out['mano'][side][key] = value
        _check_rotation(out['mano'][side]['R'][0], f'mano_params.{side}.R', path)

    camera = _get(anno, 'camera', '', path)
    for key, shape in CAMERA_SHAPES.items():
        out['cam_' + ('K' if key == 'camera' else key)] = _as_array(
            _get(camera, key, 'camera', path), f'camera.{key}', path, shape)
    _check_rotation(out['cam_R'], 'camera.R', path)
    K = out['cam_K']
    if not (K[0, 0] > 0 and K[1, 1] > 0 and np.allclose(K[2], (0, 0, 1))
            and np.allclose(K[1, 0], 0)):
        raise AnnotationError(path, "'camera.camera' is not an intrinsics matrix "
                              '(need fx, fy > 0 and last row (0, 0, 1))')

    hand_type, hand_type_valid = 'interacting', 1.0
    info = anno.get('annotation')
    if info is not None:
        if not isinstance(info, dict):
            raise AnnotationError(path, f"'annotation' must be a dict, got "
                                  f'{type(info).__name__}')
        hand_type = info.get('hand_type', hand_type)
        if not isinstance(hand_type, str) or hand_type not in KNOWN_HAND_TYPES:
            raise AnnotationError(path, f"invalid 'annotation.hand_type' {hand_type!r}; "
                                  f'expected one of {KNOWN_HAND_TYPES}')
        if hand_type not in allowed_hand_types:
            raise AnnotationError(path, f"'annotation.hand_type' is {hand_type!r} but this "
                                  f'dataset accepts only {tuple(allowed_hand_types)}')
        hand_type_valid = info.get('hand_type_valid', 1)
        if not isinstance(hand_type_valid, (bool, int, float, np.number)):
            raise AnnotationError(path, "'annotation.hand_type_valid' must be 0 or 1, got "
                                  f'{hand_type_valid!r}')
        hand_type_valid = float(hand_type_valid)
    out['hand_type'] = hand_type
    out['hand_type_valid'] = hand_type_valid
    if anno.get('joint_3d') is not None:
        joint_3d = anno['joint_3d']
        for key, shape in JOINT_3D_SHAPES.items():
            out['joint_3d_' + key] = _as_array(_get(joint_3d, key, 'joint_3d', path),
                                               f'joint_3d.{key}', path, shape)
    return out


def read_intag_annotation(path: str,
                          allowed_hand_types: Sequence[str] = ('interacting', )) -> Dict:
    """Load ``path`` with the restricted unpickler and validate it.

    Returns:
        see :func:`validate_intag_annotation`.

    Raises:
        AnnotationError: unreadable/unsafe pickle or schema violation, naming ``path``.
    """
    from .io import load_pickle_restricted
    try:
        anno = load_pickle_restricted(path)
    except Exception as e:  # any unreadable file becomes one clear error naming it
        raise AnnotationError(path, f'cannot read annotation pickle ({type(e).__name__}: '
                              f'{e})') from e
    return validate_intag_annotation(anno, path, allowed_hand_types)
