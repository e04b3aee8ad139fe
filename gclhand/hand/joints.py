"""Joint-order conventions and conversions between them.

Three orders meet in gclhand:

* **library** (21 joints, used everywhere inside gclhand)::

      0 wrist, 1-4 thumb1..thumb4, 5-8 index1..4, 9-12 middle1..4,
      13-16 ring1..4, 17-20 pinky1..4          (x1 = MCP/CMC, x4 = tip)

* **MANO** (21 = the 16 joints MANO regresses, in its kinematic-tree order, followed by
  the 5 fingertip vertices)::

      0 wrist, 1-3 index, 4-6 middle, 7-9 pinky, 10-12 ring, 13-15 thumb,
      16 thumb tip, 17 index tip, 18 middle tip, 19 ring tip, 20 pinky tip

* **InterHand2.6M** (42 = right hand 0-20, then left hand 21-41; per hand)::

      0 thumb tip, 1 thumb3, 2 thumb2, 3 thumb1, 4-7 index tip..index1,
      8-11 middle, 12-15 ring, 16-19 pinky, 20 wrist

Every conversion is a fixed index permutation (a bijection); ``X_TO_Y[k]`` is the index in
order ``X`` of the joint that sits at position ``k`` of order ``Y``, so
``joints_y = joints_x[..., X_TO_Y, :]``.
"""
from typing import Sequence, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

NUM_JOINTS = 21
NUM_MANO_JOINTS = 16
FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')

#: Names of the library's 21 joints.
JOINT_NAMES = ('wrist', ) + tuple(f'{f}{k}' for f in FINGERS for k in range(1, 5))

#: Parent of each library joint (-1 for the wrist); bones are ``(PARENTS[k], k)``, k >= 1.
LIBRARY_PARENTS = (-1, ) + tuple(0 if k == 0 else 1 + 4 * f + k - 1
                                 for f in range(5) for k in range(4))
BONES = tuple((p, c) for c, p in enumerate(LIBRARY_PARENTS) if p >= 0)

#: MANO's kinematic tree (parents of its 16 regressed joints, root = -1).
MANO_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
#: MANO's 16 regressed joints: the finger each chain belongs to.
MANO_CHAIN_FINGERS = ('index', 'middle', 'pinky', 'ring', 'thumb')

#: Position in the MANO-21 order of each library joint.
MANO_TO_LIBRARY = np.array(
    [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20], dtype=np.int64)
LIBRARY_TO_MANO = np.argsort(MANO_TO_LIBRARY)


def _interhand_hand_to_library() -> np.ndarray:
    idx = np.zeros(NUM_JOINTS, dtype=np.int64)
    idx[0] = 20  # wrist
    for f in range(5):
        for k in range(4):  # library k: 0 = MCP/CMC .. 3 = tip; InterHand: tip first
            idx[1 + 4 * f + k] = 4 * f + (3 - k)
    return idx


#: Position in one InterHand2.6M hand (21) of each library joint.
INTERHAND_HAND_TO_LIBRARY = _interhand_hand_to_library()
LIBRARY_TO_INTERHAND_HAND = np.argsort(INTERHAND_HAND_TO_LIBRARY)
#: InterHand2.6M 42 -> library (2, 21) with the hand axis ordered ``HANDS = (left, right)``,
#: flattened: entry ``h * 21 + k`` is the InterHand index of hand ``h``'s library joint ``k``.
INTERHAND_TO_LIBRARY = np.concatenate([INTERHAND_HAND_TO_LIBRARY + 21,  # left = 21..41
                                       INTERHAND_HAND_TO_LIBRARY])      # right = 0..20
LIBRARY_TO_INTERHAND = np.argsort(INTERHAND_TO_LIBRARY)


def _take(x: ArrayLike, index: np.ndarray, axis: int) -> ArrayLike:
    if isinstance(x, torch.Tensor):
        return x.index_select(axis, torch.as_tensor(index, device=x.device))
    return np.take(x, index, axis=axis)


def _check(x: ArrayLike, axis: int, size: int, name: str) -> None:
    if x.shape[axis] != size:
        raise ValueError(f'{name}: expected {size} joints on axis {axis}, got shape '
                         f'{tuple(x.shape)}')


def mano_to_library(joints: ArrayLike) -> ArrayLike:
    """MANO-21 order -> library order. ``joints``: (..., 21, D)."""
    _check(joints, -2, NUM_JOINTS, 'mano_to_library')
    return _take(joints, MANO_TO_LIBRARY, joints.ndim - 2)


def library_to_mano(joints: ArrayLike) -> ArrayLike:
    """Library order -> MANO-21 order (16 regressed + 5 tips). ``joints``: (..., 21, D)."""
    _check(joints, -2, NUM_JOINTS, 'library_to_mano')
    return _take(joints, LIBRARY_TO_MANO, joints.ndim - 2)


def interhand_to_library(joints: ArrayLike) -> ArrayLike:
    """InterHand2.6M 42 joints -> library ``(..., 2, 21, D)`` ordered ``(left, right)``.

    Works on coordinates ``(..., 42, D)`` and on per-joint flags ``(..., 42)`` (then the
    result is ``(..., 2, 21)``).
    """
    vector = joints.ndim >= 2 and joints.shape[-1] != 42
    axis = joints.ndim - 2 if vector else joints.ndim - 1
    _check(joints, axis, 42, 'interhand_to_library')
    out = _take(joints, INTERHAND_TO_LIBRARY, axis)
    shape = tuple(out.shape[:axis]) + (2, NUM_JOINTS) + tuple(out.shape[axis + 1:])
    return out.reshape(shape)


def library_to_interhand(joints: ArrayLike) -> ArrayLike:
    """Library ``(..., 2, 21, D)`` (or flags ``(..., 2, 21)``) -> InterHand2.6M 42 order."""
    vector = joints.shape[-1] != NUM_JOINTS
    axis = joints.ndim - 3 if vector else joints.ndim - 2
    if tuple(joints.shape[axis:axis + 2]) != (2, NUM_JOINTS):
        raise ValueError(f'library_to_interhand: expected (..., 2, 21[, D]), got '
                         f'{tuple(joints.shape)}')
    flat = joints.reshape(tuple(joints.shape[:axis]) + (42, ) + tuple(joints.shape[axis + 2:]))
    return _take(flat, LIBRARY_TO_INTERHAND, axis)


def finger_joint(finger: str, k: int) -> int:
    """Library index of ``finger`` joint ``k`` (1 = MCP/CMC .. 4 = tip)."""
    return 1 + 4 * FINGERS.index(finger) + (k - 1)


__all__: Sequence[str] = [
    'NUM_JOINTS', 'NUM_MANO_JOINTS', 'FINGERS', 'JOINT_NAMES', 'LIBRARY_PARENTS', 'BONES',
    'MANO_PARENTS', 'MANO_TO_LIBRARY', 'LIBRARY_TO_MANO', 'INTERHAND_HAND_TO_LIBRARY',
    'LIBRARY_TO_INTERHAND_HAND', 'INTERHAND_TO_LIBRARY', 'LIBRARY_TO_INTERHAND',
    'mano_to_library', 'library_to_mano', 'interhand_to_library', 'library_to_interhand',
    'finger_joint'
]
