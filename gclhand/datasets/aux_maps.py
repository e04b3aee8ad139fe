"""IntagHand's auxiliary encoder targets: hand masks, dense correspondence and joint heatmaps.

IntagHand (Li et al., CVPR 2022) supervises its image encoder with three dense maps and its
preprocessing (``dataset/interhand.py``) stores them beside ``anno/`` in the IntagHand layout:

* ``{split}/mask/{i}.jpg``: both hands' silhouettes, one per channel: in the array that
  OpenCV writes and reads (B, G, R order) channel 1 is the **right** hand, channel 2 the
  **left** hand, channel 0 is empty; 255 = hand.  This is what IntagHand's preprocessing
  writes: its ``render_mask`` colours the left hand's vertices in the rendered RGB
  array's channel 2 and the right hand's in channel 1, and ``cv.imwrite`` stores that
  array as it is (its loader keeps ``mask[..., 1:]`` and thresholds at 127).  gclhand's
  files follow it since :data:`AUX_MAPS_FORMAT` 2 (format 1 had the two swapped; data
  made with it is regenerated or refused, never read swapped).
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
  with ``HEATMAP_SIGMA`` (IntagHand: 64 px, sigma 2) the way IntagHand's
  ``HeatmapGenerator`` draws them (:func:`joint_heatmaps`).

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

__all__ = ['AUX_KINDS', 'AUX_KEYS', 'AUX_MAPS_FORMAT', 'HEATMAP_SIZE', 'HEATMAP_SIGMA',
           'HEATMAPS_PER_FILE',
           'aux_map_paths', 'joint_heatmaps', 'mask_image', 'dense_vertex_colors',
           'write_aux_maps', 'read_aux_map', 'AuxMapRenderer']

#: Folder names of the auxiliary maps in the IntagHand layout.
AUX_KINDS = ('mask', 'dense', 'hms')
#: Pipeline key of each kind.
AUX_KEYS = {'mask': 'gt_mask', 'dense': 'gt_dense', 'hms': 'gt_heatmaps'}
#: IntagHand's heatmap side and Gaussian sigma (``dataset/dataset_utils.py``).
HEATMAP_SIZE, HEATMAP_SIGMA = 64, 2.0
HEATMAPS_PER_FILE = 3
_NUM_FILES = 21 // HEATMAPS_PER_FILE
#: Version of the files' conventions, recorded by the writers (the synthetic generator's
#: settings, the conversion's ``conversion.json``): 2 = IntagHand's mask channels
#: (right in channel 1, left in 2) and heatmap coordinates; 1 (before) had the mask
#: channels swapped and pixel-centre heatmap coordinates.
AUX_MAPS_FORMAT = 2


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
    r"""Gaussian joint heatmaps with peak 1 on a ``size`` square covering the image.

    As IntagHand draws them (its ``HeatmapGenerator`` on ``joints_2d * size / W``): image
    coordinate ``u`` maps to heatmap coordinate ``x = u * size / W`` (``y`` likewise), the
    map of a joint is :math:`\exp(-((i - x)^2 + (j - y)^2) / 2\sigma^2)` at heatmap pixel
    ``(i, j)``, and a joint whose ``x`` or ``y`` falls outside ``[0, size)`` leaves its map
    empty.

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
    c = pts * scale                                                # (42, 2)
    grid = np.arange(size, dtype=np.float64)
    gx = np.exp(-(grid[None, :] - c[:, :1]) ** 2 / (2 * sigma ** 2))  # (42, size)
    gy = np.exp(-(grid[None, :] - c[:, 1:]) ** 2 / (2 * sigma ** 2))
    inside = ((c >= 0) & (c < size)).all(1)
    return np.einsum('jy,jx->yxj', gy, gx * inside[:, None]).astype(np.float32)


def mask_image(face_idx: np.ndarray, num_left_faces: int) -> np.ndarray:
    """(H, W, 3) uint8 IntagHand mask image from a rasteriser's face index map.

    Args:
        face_idx: (H, W) visible face per pixel, -1 on background; faces of the left hand
            first (``num_left_faces`` of them), then the right hand's.
    """
    out = np.zeros(face_idx.shape + (3, ), np.uint8)
    out[..., 1] = np.where(face_idx >= num_left_faces, 255, 0)                      # right
    out[..., 2] = np.where((face_idx >= 0) & (face_idx < num_left_faces), 255, 0)   # left
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
    if kind == 'mask':  # the file's channels 2 (left) and 1 (right)
        m = _imread(aux_map_paths(split_dir, idx, 'mask'))[..., [2, 1]]
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


class AuxMapRenderer:
    """IntagHand's auxiliary maps of one sample from its two posed hands (camera frame).

    Renders the meshes with gclhand's rasteriser (:mod:`gclhand.datasets.synth.renderer`)
    into the crop: the mask from the visible face of every pixel (:func:`mask_image`), the
    dense-correspondence image as the unlit interpolation of :func:`dense_vertex_colors`
    (the same colour table for both hands), and the joint heatmaps from the projected joints
    (:func:`joint_heatmaps`, ``HEATMAP_SIZE`` / ``HEATMAP_SIGMA``).  Used by
    :func:`gclhand.datasets.interhand_prepare.convert_records` for InterHand2.6M's MANO fits.

    Args:
        hand_model: the hand model whose meshes are drawn (faces, template).
        kinds: which of ``('mask', 'dense', 'hms')`` to render.
    """

    def __init__(self, hand_model, kinds: Sequence[str] = AUX_KINDS):
        import torch
        unknown = set(kinds) - set(AUX_KINDS)
        if unknown:
            raise ValueError(f'AuxMapRenderer: unknown kinds {sorted(unknown)}; choose from '
                             f'{AUX_KINDS}')
        self.kinds = tuple(kinds)
        num_left_verts = hand_model.template('left').shape[0]
        self.num_left_faces = int(hand_model.faces('left').shape[0])
        self.faces = torch.cat([hand_model.faces('left').long(),
                                hand_model.faces('right').long() + num_left_verts])
        colors = torch.as_tensor(dense_vertex_colors(hand_model.template('right').numpy()))
        self.colors = torch.cat([colors, colors])

    def __call__(self, verts: np.ndarray, joints: np.ndarray, K: np.ndarray,
                 img_size: int) -> dict:
        """Maps of one sample as :func:`write_aux_maps` keyword arguments.

        Args:
            verts: (2, V, 3) camera-frame vertices (left, right), metres.
            joints: (2, 21, 3) camera-frame joints, library order.
            K: (3, 3) intrinsics of the ``img_size`` square crop.
        """
        import torch

        from .synth.renderer import rasterize, shade
        out = {}
        if 'mask' in self.kinds or 'dense' in self.kinds:
            v = torch.as_tensor(np.asarray(verts, np.float32).reshape(-1, 3))
            frags = rasterize(v, self.faces, torch.as_tensor(np.asarray(K, np.float32)),
                              img_size)
            if 'mask' in self.kinds:
                out['mask'] = mask_image(frags.face_idx.numpy(), self.num_left_faces)
            if 'dense' in self.kinds:
                dense = shade(frags, v, self.faces, self.colors, mode='none')
                out['dense'] = dense.numpy()[..., ::-1]  # stored in OpenCV's array order
        if 'hms' in self.kinds:
            from .geometry import project_points
            uv = project_points(np.asarray(joints, np.float64), np.asarray(K, np.float64))
            out['heatmaps'] = joint_heatmaps(uv, (img_size, img_size), HEATMAP_SIZE,
                                             HEATMAP_SIGMA)
        return out
