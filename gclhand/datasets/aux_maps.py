"""IntagHand's auxiliary encoder targets: hand masks, dense correspondence and joint heatmaps.

IntagHand (Li et al., CVPR 2022) supervises its image encoder with three dense maps and its
preprocessing (``dataset/interhand.py``) stores them beside ``anno/`` in the IntagHand layout:

* ``{split}/mask/{i}.jpg``: both hands' silhouettes, one per channel: in the array that
  OpenCV writes and reads (B, G, R order) channel 1 is the left hand, channel 2 the right
  hand, channel 0 is empty; 255 = hand (IntagHand's loader keeps ``mask[..., 1:]`` and
  thresholds at 127).
* ``{split}/dense/{i}.jpg``: a rendered dense-correspondence image: every visible surface
  point coloured by a fixed colour of the mesh vertex it belongs to (interpolated).
  gclhand colours vertex ``v`` by its rest-pose (template) position normalised to the
  template's bounding box (:func:`dense_vertex_colors`), the same code for both hands
  (vertex ``v`` of a left hand is the mirror of vertex ``v`` of a right hand), so a
  horizontally mirrored image keeps valid colours. Data prepared by IntagHand's own code
  carries its own colour table; the dense loss only compares a prediction with the stored
  image, so each dataset is consistent with itself.
* ``{split}/hms/{i}_{k}_{left|right}.jpg``, ``k = 0..6``: each hand's 21 joint heatmaps
  (Gaussian, peak 1 -> 255), three per file in channel order (channel ``c`` of file ``k`` is
  joint ``3k + c``), joints in gclhand's library order (wrist, thumb1..4, ..., pinky1..4,
  the order of IntagHand's MANO layer), drawn on a ``HEATMAP_SIZE`` square covering the crop
  with ``HEATMAP_SIGMA`` (IntagHand: 64 px, sigma 2).

In a pipeline the maps are HWC ``uint8`` arrays under ``gt_mask`` (H, W, 2),
``gt_dense`` (H, W, 3) and ``gt_heatmaps`` (h, w, 42) (left hand's 21 first); the
geometric transforms warp them with the image at their own resolution and
``PackHandInputs`` turns them into ``(C, s, s)`` float targets in [0, 1].
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from gclhand.structures import HANDS

__all__ = ['AUX_KINDS', 'AUX_KEYS', 'HEATMAP_SIZE', 'HEATMAP_SIGMA', 'HEATMAPS_PER_FILE',
           'aux_map_paths', 'joint_heatmaps', 'mask_image', 'dense_vertex_colors',
           'write_aux_maps', 'read_aux_map']

#: Folder names of the auxiliary maps in the IntagHand layout.
AUX_KINDS = ('mask', 'dense', 'hms')
#: Pipeline key of each kind.
AUX_KEYS = {'mask': 'gt_mask', 'dense': 'gt_dense', 'hms': 'gt_heatmaps'}
#: IntagHand's heatmap side and Gaussian sigma (``dataset/dataset_utils.py``).
HEATMAP_SIZE, HEATMAP_SIGMA = 64, 2.0
HEATMAPS_PER_FILE = 3
_NUM_FILES = 21 // HEATMAPS_PER_FILE


def aux_map_paths(split_dir: str, idx: int, kind: str):
    """Path of a mask/dense image, or the 14 heatmap paths ``[(left k=0..6), (right ...)]``."""
    if kind in ('mask', 'dense'):
        return osp.join(split_dir, kind, f'{idx}.jpg')
    if kind == 'hms':
        return [osp.join(split_dir, 'hms', f'{idx}_{k}_{side}.jpg')
                for side in HANDS for k in range(_NUM_FILES)]
    raise ValueError(f'unknown auxiliary map kind {kind!r}; choose from {AUX_KINDS}')


def joint_heatmaps(joints_2d: np.ndarray, image_wh: Tuple[int, int], size: int,
                   sigma: float = HEATMAP_SIGMA) -> np.ndarray:
    """Gaussian joint heatmaps with peak 1 on a ``size`` square covering the image.

    Pixel centres are at integer coordinates in both the image and the heatmap, so image
    pixel ``u`` maps to heatmap coordinate ``(u + 0.5) * size / W - 0.5``.

    Args:
        joints_2d: (2, 21, 2) pixels of the image, hand axis ``HANDS``.
        image_wh: ``(W, H)`` of that image.
        size: heatmap side.
        sigma: Gaussian standard deviation in heatmap pixels.

    Returns:
        (size, size, 42) float32, channels left hand's 21 joints then the right hand's.
    """
    pts = np.asarray(joints_2d, np.float64).reshape(-1, 2)
    scale = np.array([size / image_wh[0], size / image_wh[1]])
    c = (pts + 0.5) * scale - 0.5                                  # (42, 2)
    grid = np.arange(size, dtype=np.float64)
    gx = np.exp(-(grid[None, :] - c[:, :1]) ** 2 / (2 * sigma ** 2))  # (42, size)
    gy = np.exp(-(grid[None, :] - c[:, 1:]) ** 2 / (2 * sigma ** 2))
    return np.einsum('jy,jx->yxj', gy, gx).astype(np.float32)


def mask_image(face_idx: np.ndarray, num_left_faces: int) -> np.ndarray:
    """(H, W, 3) uint8 IntagHand mask image from a rasteriser's face index map.

    Args:
        face_idx: (H, W) visible face per pixel, -1 on background; faces of the left hand
            first (``num_left_faces`` of them), then the right hand's.
    """
    out = np.zeros(face_idx.shape + (3, ), np.uint8)
    out[..., 1] = np.where((face_idx >= 0) & (face_idx < num_left_faces), 255, 0)
    out[..., 2] = np.where(face_idx >= num_left_faces, 255, 0)
    return out


def dense_vertex_colors(template: np.ndarray) -> np.ndarray:
    """(V, 3) colours in [0, 1]: the rest-pose vertex positions normalised to their box."""
    t = np.asarray(template, np.float64)
    lo, hi = t.min(0), t.max(0)
    return ((t - lo) / np.maximum(hi - lo, 1e-12)).astype(np.float32)


def _imwrite(path: str, img: np.ndarray, quality: int) -> None:
    from gclhand.datasets.io import write_bytes_atomic
    # 4:4:4 chroma: the channels of a heatmap/mask file are separate signals, not colour
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                         cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                         cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
    if not ok:
        raise RuntimeError(f'OpenCV failed to encode {path}')
    write_bytes_atomic(buf.tobytes(), path)


def write_aux_maps(split_dir: str, idx: int, mask: Optional[np.ndarray] = None,
                   dense: Optional[np.ndarray] = None, heatmaps: Optional[np.ndarray] = None,
                   quality: int = 95) -> None:
    """Write sample ``idx``'s maps in the IntagHand layout (each file atomically).

    Args:
        mask: (H, W, 3) uint8 from :func:`mask_image`.
        dense: (H, W, 3) float in [0, 1] (array channel order as stored).
        heatmaps: (h, w, 42) float in [0, 1] from :func:`joint_heatmaps`.
    """
    if mask is not None:
        _imwrite(aux_map_paths(split_dir, idx, 'mask'), mask, quality)
    if dense is not None:
        _imwrite(aux_map_paths(split_dir, idx, 'dense'),
                 (np.clip(dense, 0, 1) * 255 + 0.5).astype(np.uint8), quality)
    if heatmaps is not None:
        hm = (np.clip(heatmaps, 0, 1) * 255 + 0.5).astype(np.uint8)
        for n, path in enumerate(aux_map_paths(split_dir, idx, 'hms')):
            _imwrite(path, np.ascontiguousarray(hm[..., 3 * n:3 * n + 3]), quality)


def _imread(path: str) -> np.ndarray:
    from .errors import ImageError
    from .transforms.loading import check_image_complete
    if not osp.isfile(path):
        raise ImageError(path, 'auxiliary map not found')
    with open(path, 'rb') as f:
        data = f.read()
    check_image_complete(data, path)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # no BGR->RGB swap
    if img is None:
        raise ImageError(path, 'cannot decode auxiliary map (corrupt or not an image)')
    return img


def read_aux_map(split_dir: str, idx: int, kind: str) -> np.ndarray:
    """One kind of sample ``idx``'s maps as its pipeline array (see the module docstring):
    ``mask`` (H, W, 2) uint8 {0, 255} (left, right), ``dense`` (H, W, 3) uint8,
    ``hms`` (h, w, 42) uint8 (left hand's joints first). Raises ``ImageError`` naming a
    missing or broken file."""
    if kind == 'mask':
        m = _imread(aux_map_paths(split_dir, idx, 'mask'))[..., 1:]
        return np.where(m > 127, 255, 0).astype(np.uint8)
    if kind == 'dense':
        return _imread(aux_map_paths(split_dir, idx, 'dense'))
    files = [_imread(p) for p in aux_map_paths(split_dir, idx, 'hms')]
    shapes = {f.shape for f in files}
    if len(shapes) != 1:
        from .errors import ImageError
        raise ImageError(aux_map_paths(split_dir, idx, 'hms')[0],
                         f'heatmap files of sample {idx} differ in size: {sorted(shapes)}')
    return np.concatenate(files, axis=-1)


def available_aux_kinds(split_dir: str, kinds: Sequence[str] = AUX_KINDS) -> Dict[str, bool]:
    """Which kinds have a folder in ``split_dir``."""
    return {k: osp.isdir(osp.join(split_dir, k)) for k in kinds}
