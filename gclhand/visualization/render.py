"""Draw two-hand predictions and ground truth over images.

All mesh drawing goes through the library's rasteriser
(:func:`~gclhand.datasets.synth.renderer.rasterize` and
:func:`~gclhand.datasets.synth.renderer.shade`);
this module only maps the two kinds of cameras the library uses onto it.

*View space.*  Every drawing function works on *view-space* vertices ``(V, 3)``: ``x, y`` in
pixels of the output image (pixel centres at integers, ``y`` down) and ``z`` pointing away from
the viewer in the same pixel unit.  Two cameras produce them:

* the model's **weak-perspective** camera (:func:`weak_perspective_to_view`): a hand's
  wrist-relative vertices ``X`` (metres) and its camera ``(s, t_x, t_y)`` give

  .. math::
      u = W \\big(s\\, X_x / L + t_x\\big), \\quad v = H \\big(s\\, X_y / L + t_y\\big),
      \\quad z = \\bar S\\, s\\, X_z / L

  with ``L`` the model's ``canonical_length`` (metres per normalised unit, see
  :class:`~gclhand.models.estimators.TwoHandEstimator`) and ``\\bar S = (W + H) / 2``; this is
  an orthographic render;
* a **pinhole** camera with intrinsics ``K`` (:func:`perspective_to_view`, used for ground
  truth): ``(u, v) = K X / X_z`` and ``z = f_x X_z``.

:func:`render_view` rasterises view-space meshes exactly at their ``(u, v)`` by handing the
rasteriser the points ``(u Z, v Z, Z)`` with ``Z = D + z`` for a large constant ``D`` and
identity intrinsics, so the perspective divide returns ``(u, v)`` unchanged and the depth test
orders fragments by ``z``; shading uses the view-space normals.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from gclhand.datasets.synth.renderer import rasterize, shade
from gclhand.hand.joints import BONES

__all__ = [
    'HAND_COLORS', 'GT_HAND_COLORS', 'weak_perspective_to_view', 'perspective_to_view',
    'render_view', 'render_overlay', 'render_side_view', 'draw_joints', 'hstack_images',
    'to_uint8_image'
]

ArrayLike = Union[np.ndarray, Tensor]

#: Albedo (RGB in [0, 1]) of the (left, right) predicted hands: blue and orange.
HAND_COLORS = ((0.30, 0.55, 0.95), (0.95, 0.55, 0.20))
#: Albedo of the (left, right) ground-truth hands: teal and magenta.
GT_HAND_COLORS = ((0.20, 0.80, 0.65), (0.85, 0.30, 0.75))


def _t(x: ArrayLike, dtype=torch.float32) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).to(dtype)


def to_uint8_image(image: ArrayLike) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from uint8, ``[0, 1]`` float, or a ``(3, H, W)`` tensor."""
    if isinstance(image, Tensor):
        image = image.detach().cpu()
        if image.dim() == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, -1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) RGB image, got shape {image.shape}')
    if image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(image)


def weak_perspective_to_view(verts: ArrayLike, cam: ArrayLike, image_size: Tuple[int, int],
                             canonical_length: float,
                             rel_root: Optional[ArrayLike] = None) -> Tensor:
    """Place wrist-relative hands in view space with the model's weak-perspective cameras.

    Args:
        verts: ``(2, V, 3)`` (left, right) vertices in metres, each relative to its own root
            (``pred_verts_3d``).
        cam: ``(2, 3)`` cameras ``(s, t_x, t_y)`` (``pred_cam``), image-size-normalised.
        image_size: ``(H, W)`` of the image the cameras refer to (any resolution of it).
        canonical_length: metres per normalised unit (``model.canonical_length``).
        rel_root: optional ``(3,)`` left root minus right root in metres
            (``pred_rel_root``); its ``z`` orders the hands in depth (the left hand's
            depth offset is ``\\bar S \\bar s\\, r_z / L``).  Without it both roots share
            one depth.

    Returns:
        ``(2, V, 3)`` view-space vertices (see the module docstring).
    """
    H, W = image_size
    v = _t(verts) / float(canonical_length)
    cam = _t(cam)
    s = cam[:, 0].view(2, 1)
    size = v.new_tensor([W, H])
    xy = (s[..., None] * v[..., :2] + cam[:, None, 1:]) * size
    mean_size = 0.5 * (H + W)
    z = mean_size * s * v[..., 2]
    if rel_root is not None:
        rz = float(_t(rel_root).reshape(-1)[2]) / float(canonical_length)
        z = z + torch.stack([mean_size * s.mean() * rz, z.new_zeros(())]).view(2, 1)
    return torch.cat([xy, z[..., None]], -1)


def perspective_to_view(verts: ArrayLike, K: ArrayLike) -> Tensor:
    """Pinhole-project camera-space points: ``(..., V, 3)`` metres -> view space.

    ``(u, v) = (K X)_{xy} / X_z`` and ``z = f_x X_z`` (depth in pixel units of the focal
    length, which keeps view-space normals close to the camera-space ones near the centre).
    """
    X, K = _t(verts), _t(K)
    uvw = X @ K.transpose(-1, -2)
    uv = uvw[..., :2] / uvw[..., 2:].clamp_min(1e-8)
    return torch.cat([uv, X[..., 2:] * K[0, 0]], -1)


def render_view(view_verts: Sequence[ArrayLike], faces: Sequence[ArrayLike],
                colors: Sequence[Sequence[float]], image_size: Tuple[int, int],
                background: Optional[ArrayLike] = None, alpha: float = 1.0,
                mode: str = 'smooth') -> Tuple[np.ndarray, np.ndarray]:
    """Rasterise view-space meshes together (one z-buffer) and blend them over a background.

    Args:
        view_verts: meshes, each ``(V_i, 3)`` in view space.
        faces: their ``(F_i, 3)`` faces.
        colors: one RGB albedo in ``[0, 1]`` per mesh.
        image_size: ``(H, W)`` of the output.
        background: ``(H, W, 3)`` image (uint8 or float in [0, 1]); black when ``None``.
        alpha: opacity of the meshes over the background.
        mode: shading mode of :func:`~gclhand.datasets.synth.renderer.shade`.

    Returns:
        ``(image, mesh_index)``: ``(H, W, 3)`` uint8 RGB and ``(H, W)`` int64 index of the
        mesh visible at each pixel (``-1`` on background).
    """
    H, W = image_size
    if not (len(view_verts) == len(faces) == len(colors)):
        raise ValueError(f'render_view: got {len(view_verts)} meshes, {len(faces)} face '
                         f'arrays and {len(colors)} colours; give one of each per mesh')
    if background is None:
        bg = torch.zeros(H, W, 3)
    else:
        bg = torch.from_numpy(to_uint8_image(background).astype(np.float32) / 255.0)
        if tuple(bg.shape[:2]) != (H, W):
            raise ValueError(f'background is {tuple(bg.shape[:2])}, image_size is {(H, W)}')
    verts = [_t(v) for v in view_verts]
    if not verts:
        return to_uint8_image(bg), np.full((H, W), -1, np.int64)
    offsets = np.cumsum([0] + [v.shape[0] for v in verts])
    all_v = torch.cat(verts)
    all_f = torch.cat([_t(f, torch.long) + int(o) for f, o in zip(faces, offsets[:-1])])
    face_mesh = torch.cat([torch.full((len(f), ), i, dtype=torch.long)
                           for i, f in enumerate(faces)])
    face_color = _t(colors)[face_mesh]
    # exact screen positions (u, v), depth-ordered by z: points (u Z, v Z, Z), K = I
    z = all_v[:, 2]
    depth = z - z.min() + 1e4 * (1.0 + float((z.max() - z.min()).abs()))
    cam_pts = torch.stack([all_v[:, 0] * depth, all_v[:, 1] * depth, depth], -1)
    frags = rasterize(cam_pts, all_f, torch.eye(3), (H, W))
    rendered = shade(frags, all_v, all_f, face_color, background=None, mode=mode)
    mask = frags.mask
    out = bg.clone()
    out[mask] = alpha * rendered[mask] + (1 - alpha) * bg[mask]
    mesh_index = torch.where(mask, face_mesh[frags.face_idx.clamp_min(0)], -1)
    return to_uint8_image(out), mesh_index.numpy()


def render_overlay(image: ArrayLike, view_verts: Sequence[ArrayLike],
                   faces: Sequence[ArrayLike],
                   colors: Sequence[Sequence[float]] = HAND_COLORS,
                   alpha: float = 0.8) -> np.ndarray:
    """Meshes rendered over ``image`` (``(H, W, 3)``) at their view-space positions.

    Returns an ``(H, W, 3)`` uint8 RGB image.
    """
    image = to_uint8_image(image)
    return render_view(view_verts, faces, colors, image.shape[:2], image, alpha)[0]


def render_side_view(view_verts: Sequence[ArrayLike], faces: Sequence[ArrayLike],
                     image_size: Tuple[int, int],
                     colors: Sequence[Sequence[float]] = HAND_COLORS, angle: float = 90.0,
                     background: Sequence[float] = (0.93, 0.93, 0.93),
                     margin: float = 0.1) -> np.ndarray:
    """The meshes seen from the side: rotated by ``angle`` degrees about the vertical axis.

    The scene (all meshes together) is rotated about its centre, then scaled uniformly and
    centred so that it fills the image up to ``margin`` on each side.

    Returns an ``(H, W, 3)`` uint8 RGB image.
    """
    H, W = image_size
    verts = [_t(v) for v in view_verts]
    allv = torch.cat(verts)
    centre = 0.5 * (allv.amin(0) + allv.amax(0))
    a = np.deg2rad(angle)
    c, s = float(np.cos(a)), float(np.sin(a))
    R = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    rotated = [(v - centre) @ R.T for v in verts]
    allr = torch.cat(rotated)
    lo, hi = allr.amin(0), allr.amax(0)
    extent = float(torch.maximum((hi[0] - lo[0]) / W, (hi[1] - lo[1]) / H).clamp_min(1e-8))
    scale = (1 - 2 * margin) / extent
    mid = 0.5 * (lo + hi)
    shift = torch.tensor([(W - 1) / 2, (H - 1) / 2, 0.0])
    placed = [(v - mid) * scale + shift for v in rotated]
    bg = np.broadcast_to(np.asarray(background, np.float32), (H, W, 3))
    return render_view(placed, faces, colors, (H, W), bg)[0]


def draw_joints(image: np.ndarray, joints_2d: ArrayLike,
                colors: Sequence[Sequence[float]] = HAND_COLORS,
                valid: Optional[ArrayLike] = None, radius: int = 2,
                thickness: int = 1) -> np.ndarray:
    """Draw ``(2, 21, 2)`` pixel joints and their bones on a copy of ``image`` (uint8 RGB)."""
    out = to_uint8_image(image).copy()
    joints = np.asarray(_t(joints_2d).numpy(), np.float64)
    valid = np.ones(len(joints)) if valid is None else np.asarray(_t(valid).numpy())
    for h, hand in enumerate(joints):
        if valid[h] <= 0 or not np.isfinite(hand).all():
            continue
        color = tuple(int(255 * c) for c in colors[h])
        pts = np.round(hand).astype(np.int64)
        for p, c in BONES:
            cv2.line(out, tuple(map(int, pts[p])), tuple(map(int, pts[c])), color, thickness,
                     cv2.LINE_AA)
        for pt in pts:
            cv2.circle(out, tuple(map(int, pt)), radius, color, -1, cv2.LINE_AA)
    return out


def hstack_images(images: Sequence[np.ndarray], labels: Optional[Sequence[str]] = None,
                  gap: int = 2) -> np.ndarray:
    """Concatenate equally tall uint8 images left to right, optionally with a label on each."""
    tiles = []
    for i, img in enumerate(images):
        img = to_uint8_image(img).copy()
        if labels is not None and labels[i]:
            scale = max(img.shape[0] / 256.0, 0.3)
            cv2.putText(img, labels[i], (4, int(14 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45 * scale, (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(img, labels[i], (4, int(14 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45 * scale, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(img)
        if gap and i < len(images) - 1:
            tiles.append(np.full((img.shape[0], gap, 3), 255, np.uint8))
    return np.concatenate(tiles, 1)
