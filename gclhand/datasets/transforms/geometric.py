"""Geometric transforms of the crop that keep 2D labels, 3D labels and camera consistent.

Every transform here maps pixels by an affine ``A`` (2x3, pixel-centre convention) and may
rotate the camera about its optical axis by ``R_z``.  Labels follow the rule

    X' = R_z X,     K' = A_h K R_z^T,     u' = A u,

so that ``project(K', X') == A project(K, X)`` holds exactly for every 3D point
(``A_h`` is ``A`` with a last row (0, 0, 1)).  For square pixels without skew and an
in-plane rotation by the same angle as ``R_z`` (``A``'s linear part ``s Rot(theta)``),
``K'`` stays a pinhole matrix ``diag(s f, s f, 1)`` plus principal point: rotating the
image in-plane *is* rotating the camera about its optical axis.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from gclhand.registry import TRANSFORMS
from ..geometry import (INTAGHAND_HAND_RATIO, apply_affine_2d, crop_affine,
                        intaghand_crop_affine, project_points, rotation_z,
                        to_homogeneous_affine)

#: Keys holding camera-frame 3D points ``(2, K, 3)`` that rotate with the camera.
KEYS_3D = ('gt_joints_3d', 'gt_verts_3d', 'gt_joints_3d_annot')
#: Keys holding pixel coordinates ``(2, K, 2)``.
KEYS_2D = ('gt_joints_2d', )
#: Keys with a leading hand axis that left/right swapping permutes.
KEYS_PER_HAND = KEYS_3D + KEYS_2D + ('hand_valid', 'joints_valid', 'gt_hand_type')
#: Auxiliary HWC maps (:mod:`gclhand.datasets.aux_maps`) warped with the image, each at its
#: own resolution; the value says how a left/right swap permutes its channels (``None``:
#: it does not).
AUX_MAP_SWAP = {'gt_mask': 'halves', 'gt_heatmaps': 'halves', 'gt_dense': None}

_INTERP = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
           'area': cv2.INTER_AREA, 'bicubic': cv2.INTER_CUBIC}


def update_labels(results: dict, A: np.ndarray, rot: Optional[np.ndarray] = None) -> None:
    """Apply pixel map ``A`` (2, 3) and camera rotation ``rot`` (3, 3) to the labels."""
    K = to_homogeneous_affine(A) @ np.asarray(results['cam_K'], np.float64) \
        if 'cam_K' in results else None
    if rot is not None:
        if K is not None:
            K = K @ rot.T
        rot_t = rot.T.astype(np.float32)  # labels are float32; exact enough for metres
        for key in KEYS_3D:
            if key in results:
                results[key] = np.asarray(results[key], np.float32) @ rot_t
    if K is not None:
        results['cam_K'] = K.astype(np.float32)
    for key in KEYS_2D:
        if key in results:
            results[key] = apply_affine_2d(results[key], A)


def _resize_affine(sx: float, sy: float) -> np.ndarray:
    """(2, 3) pixel map of a resize by ``(sx, sy)`` (pixel centres at integers:
    ``u' + 0.5 = (u + 0.5) s``, i.e. ``u' = s u + (s - 1) / 2``; :func:`cv2.resize`'s)."""
    return np.array([[sx, 0., (sx - 1) / 2.], [0., sy, (sy - 1) / 2.]])


def _pixel_scale(r: float) -> np.ndarray:
    """(3, 3) map from image pixels to pixels of a map ``r`` times as large."""
    return to_homogeneous_affine(_resize_affine(r, r))


def warp_aux_maps(results: dict, A: np.ndarray, in_wh: Tuple[int, int],
                  out_wh: Tuple[int, int], interpolation: int = cv2.INTER_LINEAR,
                  swap_hands: bool = False) -> None:
    """Apply the image's pixel map ``A`` (2, 3), ``in_wh -> out_wh``, to every auxiliary map
    in ``results`` at the map's own resolution (``A_m = S A S^-1`` with ``S`` the scale from
    image to map pixels), and swap left/right channels when ``swap_hands``.

    ``cv2.INTER_AREA`` (what :class:`ResizeHand` uses to shrink) averages each output
    pixel's footprint when ``A_m`` is the pure scale of a resize of the map to its output
    size (``u' + 0.5 = (u + 0.5) s``, :func:`cv2.resize`'s convention); any other map falls
    back to bilinear sampling, which is also what ``cv2.warpAffine`` does with that flag."""
    for key, swap in AUX_MAP_SWAP.items():
        if key not in results:
            continue
        m = results[key]
        r = m.shape[1] / in_wh[0]
        S = _pixel_scale(r)
        Am = (S @ to_homogeneous_affine(A) @ np.linalg.inv(S))[:2]
        size = (max(1, int(round(out_wh[0] * r))), max(1, int(round(out_wh[1] * r))))
        if interpolation == cv2.INTER_AREA and _is_resize(Am, m.shape[1::-1], size):
            warped = cv2.resize(m, size, interpolation=cv2.INTER_AREA)
        else:
            flags = cv2.INTER_LINEAR if interpolation == cv2.INTER_AREA else interpolation
            warped = cv2.warpAffine(m, Am, size, flags=flags,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if warped.ndim == 2:  # OpenCV drops a single channel
            warped = warped[..., None]
        if swap_hands and swap == 'halves':
            half = warped.shape[-1] // 2
            warped = np.concatenate([warped[..., half:], warped[..., :half]], axis=-1)
        results[key] = np.ascontiguousarray(warped)


def _is_resize(A: np.ndarray, in_wh: Tuple[int, int], out_wh: Tuple[int, int]) -> bool:
    """Whether pixel map ``A`` (2, 3) is exactly the resize ``in_wh -> out_wh``."""
    resize = _resize_affine(out_wh[0] / in_wh[0], out_wh[1] / in_wh[1])
    return bool(np.allclose(A, resize, rtol=0., atol=1e-9))


def _size_hw(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    w, h = size
    return int(h), int(w)


@TRANSFORMS.register_module()
class RandomHandAffine(BaseTransform):
    """Random scale, in-plane rotation and translation of the crop.

    The output crop (same size as the input unless ``out_size`` is given) shows the input
    scaled by ``s ~ U(scale_range)`` and rotated by ``theta ~ U(-rot, rot)`` about its
    centre, shifted by ``U(-shift, shift) * size`` px per axis.  3D labels are rotated by
    ``R_z(theta)`` and ``cam_K`` updated (module docstring), so projections stay exact.

    Required keys: ``img``; optional ``cam_K``, ``gt_joints_2d`` and the 3D keys.
    Modified keys: those, ``img_shape``.

    Args:
        scale_range: (min, max) zoom factor (> 1 zooms in).
        rotate_range: max absolute rotation in degrees.
        shift_range: max absolute shift as a fraction of the output size.
        prob: probability of applying the transform.
        out_size: output size, int or (w, h); ``None`` keeps the input size.
        interpolation: ``'bilinear'``, ``'nearest'``, ``'bicubic'`` or ``'area'``.
        border_value: fill value outside the input image.
    """

    def __init__(self, scale_range: Sequence[float] = (0.9, 1.1), rotate_range: float = 30.,
                 shift_range: float = 0.1, prob: float = 1.0,
                 out_size: Optional[Union[int, Sequence[int]]] = None,
                 interpolation: str = 'bilinear', border_value: int = 0):
        if not (0 < scale_range[0] <= scale_range[1]):
            raise ValueError(f'RandomHandAffine: scale_range must be 0 < min <= max, '
                             f'got {scale_range}')
        self.scale_range = tuple(scale_range)
        self.rotate_range = float(rotate_range)
        self.shift_range = float(shift_range)
        self.prob = prob
        self.out_size = out_size
        self.interpolation = interpolation
        self.border_value = border_value

    @cache_randomness
    def _sample(self):
        if np.random.rand() >= self.prob:
            return None
        scale = np.random.uniform(*self.scale_range)
        theta = np.deg2rad(np.random.uniform(-self.rotate_range, self.rotate_range))
        shift = np.random.uniform(-self.shift_range, self.shift_range, size=2)
        return scale, theta, shift

    def transform(self, results: dict) -> dict:
        params = self._sample()
        if params is None:
            return results
        scale, theta, shift = params
        img = results['img']
        h, w = img.shape[:2]
        out_h, out_w = (h, w) if self.out_size is None else _size_hw(self.out_size)
        A = affine_about_centre((w, h), (out_w, out_h), scale, theta, shift)
        results['img'] = cv2.warpAffine(
            img, A, (out_w, out_h), flags=_INTERP[self.interpolation],
            borderMode=cv2.BORDER_CONSTANT, borderValue=(self.border_value, ) * 3)
        results['img_shape'] = (out_h, out_w)
        update_labels(results, A, rotation_z(theta))
        warp_aux_maps(results, A, (w, h), (out_w, out_h))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale_range={self.scale_range}, rotate_range='
                f'{self.rotate_range}, shift_range={self.shift_range}, prob={self.prob})')


def affine_about_centre(in_wh: Tuple[int, int], out_wh: Tuple[int, int], scale: float,
                        theta: float, shift: Sequence[float] = (0., 0.)) -> np.ndarray:
    """``(2, 3)`` map: scale by ``scale * out/in`` and rotate by ``theta`` about the input
    centre, put it at the output centre, then shift by ``shift * out`` px."""
    in_w, in_h = in_wh
    out_w, out_h = out_wh
    if in_w != in_h or out_w != out_h:
        # Non-square crops: scale x and y separately, rotation still about the centre.
        lin = np.diag([out_w / in_w, out_h / in_h]) * scale
        c, s = np.cos(theta), np.sin(theta)
        lin = lin @ np.array([[c, -s], [s, c]])
        src_c = np.array([(in_w - 1) / 2., (in_h - 1) / 2.])
        dst_c = np.array([(out_w - 1) / 2., (out_h - 1) / 2.])
        A = np.concatenate([lin, (dst_c - lin @ src_c)[:, None]], axis=1)
    else:
        A = crop_affine(((in_w - 1) / 2., (in_h - 1) / 2.), in_w / scale, out_w, theta)
    A[:, 2] += np.asarray(shift) * np.array([out_w, out_h])
    return A


@TRANSFORMS.register_module()
class RandomHandFlip(BaseTransform):
    """Horizontal flip that turns the left hand into the right one and vice versa.

    Pixels ``u' = W - 1 - u``; 3D points ``X' = diag(-1, 1, 1) X`` (a mirror of the camera
    frame, so ``K' = F K diag(-1, 1, 1)`` with ``F`` the pixel flip: the principal point
    becomes ``W - 1 - c_x``); then the hand axis is swapped so that index 0 stays the left
    hand (the mirror image of a right hand is a left hand).  ``flip`` is toggled.

    Required keys: ``img``; optional ``cam_K`` and every per-hand label.

    Args:
        prob: flip probability.
    """

    def __init__(self, prob: float = 0.5):
        self.prob = prob

    @cache_randomness
    def _do_flip(self) -> bool:
        return np.random.rand() < self.prob

    def transform(self, results: dict) -> dict:
        if not self._do_flip():
            results.setdefault('flip', False)
            return results
        img = results['img']
        h, w = img.shape[:2]
        results['img'] = cv2.flip(img, 1)
        A = np.array([[-1., 0., w - 1.], [0., 1., 0.]])
        update_labels(results, A, np.diag([-1., 1., 1.]))
        warp_aux_maps(results, A, (w, h), (w, h), cv2.INTER_NEAREST, swap_hands=True)
        for key in KEYS_PER_HAND:
            if key in results:
                results[key] = np.ascontiguousarray(np.asarray(results[key])[::-1])
        results['flip'] = not results.get('flip', False)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class ResizeHand(BaseTransform):
    """Resize the crop to the network input size and update ``cam_K`` and 2D labels.

    Pixel-centre convention: ``u' + 0.5 = (u + 0.5) * s``.  Uses area interpolation when
    shrinking (anti-aliasing) and bilinear when enlarging unless ``interpolation`` is set;
    auxiliary maps (``gt_mask``, ``gt_heatmaps``, ``gt_dense``) are resized with the image
    at their own resolution, by the same interpolation (:func:`warp_aux_maps`).

    Args:
        size: output size, int or (w, h).
        interpolation: ``None`` (auto), ``'area'``, ``'bilinear'``, ``'bicubic'``, ``'nearest'``.
    """

    def __init__(self, size: Union[int, Sequence[int]] = 256,
                 interpolation: Optional[str] = None):
        self.size = size
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        out_h, out_w = _size_hw(self.size)
        if (h, w) == (out_h, out_w):
            results['img_shape'] = (h, w)
            return results
        sx, sy = out_w / w, out_h / h
        interp = self.interpolation or ('area' if sx * sy < 1 else 'bilinear')
        results['img'] = cv2.resize(img, (out_w, out_h), interpolation=_INTERP[interp])
        results['img_shape'] = (out_h, out_w)
        A = _resize_affine(sx, sy)
        update_labels(results, A)
        warp_aux_maps(results, A, (w, h), (out_w, out_h), _INTERP[interp])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, interpolation={self.interpolation})'


@TRANSFORMS.register_module()
class CropHands(BaseTransform):
    """IntagHand's square crop around both hands, resized to ``size``.

    The crop of IntagHand's preprocessing (:func:`~gclhand.datasets.geometry.
    intaghand_crop_affine`, its ``cut_img``): centred on the 2D bounding box of the valid
    hands' projected mesh vertices (``gt_verts_3d`` through ``cam_K``; the 2D joints
    ``gt_joints_2d`` when either is missing), side = the box's longer side /
    ``hand_ratio``, bilinear, black borders; ``cam_K`` and the 2D labels follow (no 3D
    change).  Used to read the official InterHand2.6M images
    (:class:`~gclhand.datasets.InterHand26MDataset`) like the prepared crops.

    Required keys: ``img``, ``gt_joints_2d``; optional ``hand_valid``, ``cam_K``,
    ``gt_verts_3d``.

    Args:
        size: output side in pixels.
        hand_ratio: fraction of the crop side spanned by the hands (IntagHand's
            ``HAND_BBOX_RATIO``: 0.8).
    """

    def __init__(self, size: int = 256, hand_ratio: float = INTAGHAND_HAND_RATIO):
        self.size = int(size)
        self.hand_ratio = float(hand_ratio)

    def transform(self, results: dict) -> dict:
        joints = np.asarray(results['gt_joints_2d'], np.float64)
        valid = np.asarray(results.get('hand_valid', np.ones(len(joints)))) > 0
        keep = valid if valid.any() else np.ones_like(valid)
        if results.get('gt_verts_3d') is not None and results.get('cam_K') is not None:
            pts = project_points(np.asarray(results['gt_verts_3d'], np.float64)[keep],
                                 np.asarray(results['cam_K'], np.float64))
        else:
            pts = joints[keep]
        A = intaghand_crop_affine(pts.reshape(-1, 2), self.size, self.hand_ratio)
        h, w = results['img'].shape[:2]
        results['img'] = cv2.warpAffine(
            results['img'], A, (self.size, self.size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        results['img_shape'] = (self.size, self.size)
        update_labels(results, A)
        warp_aux_maps(results, A, (w, h), (self.size, self.size))
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, hand_ratio={self.hand_ratio})'
