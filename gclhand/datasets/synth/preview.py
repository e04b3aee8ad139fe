"""Contact sheets of IntagHand-layout samples with their ground truth drawn on.

The joints are recomputed from each annotation through the hand model
(:func:`~.labels.decode_annotation`), not read from any cache, so a sheet whose skeletons sit
on the rendered hands proves that the stored parameters reproduce the image.
"""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np

from gclhand.datasets.io import load_pickle_restricted
from gclhand.hand.joints import BONES
from .labels import decode_annotation

__all__ = ['draw_joints', 'contact_sheet']

#: BGR colours of the two hands (left, right) and of the finger bones.
_HAND_COLORS = ((255, 128, 0), (0, 64, 255))


def draw_joints(img: np.ndarray, joints_2d: np.ndarray, scale: int = 1) -> np.ndarray:
    """Draw the 21-joint skeletons of both hands (library order) on a BGR image.

    Args:
        img: (H, W, 3) uint8 BGR image (drawn on a copy, upscaled by ``scale``).
        joints_2d: (2, 21, 2) pixel coordinates, hand axis ``(left, right)``.
        scale: integer upscaling of the image before drawing (thin lines stay visible).
    """
    out = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    shift = 4  # sub-pixel precision of cv2 drawing
    for h, color in enumerate(_HAND_COLORS):
        # pixel centres at integers: upscaled centre of pixel u is at u * s + (s - 1) / 2
        pts = np.round((joints_2d[h] * scale + (scale - 1) / 2) * (1 << shift)).astype(np.int64)
        for a, b in BONES:
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), color, 1,
                     cv2.LINE_AA, shift)
        for p in pts:
            cv2.circle(out, tuple(map(int, p)), 2 << shift, (255, 255, 255), -1, cv2.LINE_AA,
                       shift)
    return out


def contact_sheet(split_dir: str, hm, out_path: Optional[str] = None,
                  indices: Sequence[int] = tuple(range(16)), cols: int = 4,
                  scale: int = 1) -> np.ndarray:
    """Tile images of a split with their decoded GT joints.

    Args:
        split_dir: folder with ``img/{i}.jpg`` and ``anno/{i}.pkl``.
        hm: hand model the annotations belong to (``use_pca=True``).
        out_path: write the sheet there (PNG) when given.
        indices: samples to show.
        cols: tiles per row.
        scale: upscaling of each tile.

    Returns:
        the sheet, (rows * H * scale, cols * W * scale, 3) uint8 BGR.
    """
    tiles = []
    for i in indices:
        img = cv2.imread(osp.join(split_dir, 'img', f'{i}.jpg'), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image '{osp.join(split_dir, 'img', f'{i}.jpg')}'")
        anno = load_pickle_restricted(osp.join(split_dir, 'anno', f'{i}.pkl'))
        tiles.append(draw_joints(img, decode_annotation(anno, hm)['joints_2d'], scale))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r:r + cols], axis=1) for r in range(0, len(tiles), cols)]
    sheet = np.concatenate(rows, axis=0)
    if out_path:
        cv2.imwrite(out_path, sheet)
    return sheet
