"""Random two-hand scenes: poses, shapes, relative placement, camera, colours, light.

Everything is drawn from one ``numpy.random.Generator`` so a scene is a pure function of
its seed.  The pieces, each a small class with a ``sample`` method:

* :class:`PoseSampler` - hand poses in the hand model's PCA space (45 coefficients, the
  IntagHand annotation format) with a per-component standard deviation, mapped to per-joint
  axis-angle, clamped to anatomical joint limits in each joint's (twist, flexion,
  abduction) frame, and mapped back to PCA coefficients.
* :func:`sample_shapes` - betas ``~ N(0, sigma^2)`` shared by both hands (one person) plus a
  small per-hand deviation.
* :class:`TwoHandPlacer` - relative rotation and translation of the two hands in one of
  four interaction modes (palms facing, fingers crossed, one hand over the other, free
  near-contact), rejecting placements whose interpenetration is large.
* :class:`CameraSampler` - camera rotation/distance, a full-frame focal length, and the
  square crop intrinsics that make both hands fill the output image.
* :class:`SkinSampler` - per-hand skin tone with low-frequency per-vertex variation and a
  lighter palmar side.

The world frame is the right hand's palm frame rotated by a uniform random rotation; the
hand model's ``global_orient``/``transl`` realise the placement, so every label is
reproducible from the annotation through the hand model.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from gclhand.datasets.geometry import crop_affine, matrix_to_axis_angle, to_homogeneous_affine
from gclhand.hand.joints import LIBRARY_TO_MANO, finger_joint
from gclhand.structures import HANDS
from .penetration import RigidHandProbe, placed_interpenetration
from .renderer import vertex_normals
from .rotations import orthonormal_frame, random_rotation, rotation_about, small_rotation

__all__ = ['HandParams', 'Scene', 'PoseSampler', 'sample_shapes', 'TwoHandPlacer',
           'CameraSampler', 'SkinSampler', 'SceneSampler', 'hand_forward', 'palm_frame',
           'palmar_weight', 'pca_basis']

#: Library indices of the wrist and the four finger MCPs (palm landmarks).
_PALM = (0, finger_joint('index', 1), finger_joint('middle', 1), finger_joint('ring', 1),
         finger_joint('pinky', 1))


@dataclass
class HandParams:
    """MANO parameters of one hand in the IntagHand annotation format.

    Attributes:
        R: (3, 3) global rotation.  pose: (45,) PCA coefficients.  shape: (10,) betas.
        trans: (3,) metres.
    """
    R: np.ndarray
    pose: np.ndarray
    shape: np.ndarray
    trans: np.ndarray

    def as_float32(self) -> 'HandParams':
        """Round to what the annotation stores (the generator renders from this)."""
        return HandParams(*(np.asarray(getattr(self, k), np.float32)
                            for k in ('R', 'pose', 'shape', 'trans')))


@dataclass
class Scene:
    """One sampled scene, everything needed to render it and write its annotation."""
    hands: Dict[str, HandParams]
    cam_R: np.ndarray            # (3, 3) world -> camera rotation
    cam_t: np.ndarray            # (3,) metres
    cam_K: np.ndarray            # (3, 3) intrinsics of the output crop
    colors: Dict[str, np.ndarray]  # side -> (778, 3) albedo in [0, 1]
    light_dir: np.ndarray        # (3,) camera frame, direction the light travels
    ambient: float
    diffuse: float
    interaction: str
    extra: Dict = field(default_factory=dict)
    #: side -> ``(verts (778, 3), joints (21, 3))`` world frame, the hand model's output for
    #: ``hands`` (rigid placements of the posed meshes; equal to a fresh hand-model forward of
    #: the float32 parameters to float rounding, which the generator relies on to skip it).
    world: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# hand model access
def pca_basis(hm, side: str) -> Tuple[np.ndarray, np.ndarray]:
    """The hand model's pose PCA basis of ``side``.

    Returns:
        ``(components, mean)``: (45, 45) rows = principal directions in axis-angle space and
        (45,) mean pose, so ``axis_angle = coeffs @ components + mean`` (MANO's
        ``flat_hand_mean=False`` convention of the IntagHand annotations).
    """
    if not getattr(hm, 'use_pca', False) or getattr(hm, 'num_pca_comps', 45) != 45:
        raise ValueError(f'the synthetic generator writes 45 PCA pose coefficients (IntagHand '
                         f"format); build the hand model with use_pca=True and "
                         f'num_pca_comps=45, got {hm!r}')
    if hasattr(hm, 'pca_basis'):
        comps, mean = hm.pca_basis(side)
    else:  # MANOHandModel keeps the MANO-layout arrays it was built from
        comps = hm.arrays[side]['hands_components']
        mean = (np.zeros(45) if getattr(hm, 'flat_hand_mean', False)
                else hm.arrays[side]['hands_mean'])
    return (np.asarray(torch.as_tensor(comps).detach().cpu(), np.float64),
            np.asarray(torch.as_tensor(mean).detach().cpu(), np.float64).reshape(45))


def hand_forward(hm, side: str, params: HandParams,
                 return_pivot: bool = False) -> Tuple[np.ndarray, ...]:
    """Run the hand model on one hand's annotation parameters.

    Exactly the reader's path (docs/internals.md): ``global_orient`` is the axis-angle of
    ``R``, ``hand_pose`` the PCA coefficients, then ``+ trans``.

    Returns:
        ``(verts (778, 3), joints (21, 3))`` world frame, float64; with ``return_pivot`` also
        the (3,) point ``global_orient`` rotates about (the skinning root joint, MANO joint
        0; not the regressed wrist of ``joints``, which moves slightly with the pose).
    """
    t = lambda a: torch.as_tensor(np.asarray(a, np.float32).reshape(1, -1))  # noqa: E731
    with torch.no_grad():
        out = hm(side=side, hand_pose=t(params.pose), betas=t(params.shape),
                 global_orient=t(matrix_to_axis_angle(params.R)), transl=t(params.trans))
    verts, joints = out.vertices[0].double().numpy(), out.joints[0].double().numpy()
    if return_pivot:
        return verts, joints, out.joints_mano[0, 0].double().numpy()
    return verts, joints


def palm_frame(joints: np.ndarray, side: str) -> Tuple[np.ndarray, np.ndarray]:
    """Palm frame of a hand from its library-order joints.

    ``y`` points from the wrist to the middle MCP, ``z`` out of the palm (the side the
    fingers curl towards), ``x = y x z``.  For a right hand
    ``n = (index MCP - pinky MCP) x (middle MCP - wrist)``; a left hand is the mirror image
    so its cross product flips.

    Args:
        joints: (21, 3) library order.
        side: 'left' or 'right'.

    Returns:
        ``(frame (3, 3) columns x, y, z; centre (3,) = mean of wrist and the four MCPs)``.
    """
    fwd = joints[finger_joint('middle', 1)] - joints[0]
    lat = joints[finger_joint('index', 1)] - joints[finger_joint('pinky', 1)]
    normal = np.cross(lat, fwd) if side == 'right' else np.cross(fwd, lat)
    return orthonormal_frame(fwd, normal), joints[list(_PALM)].mean(0)


# --------------------------------------------------------------------------------------
# poses and shapes
#: Joint limits (radians) as (min, max) of the (twist, flexion, abduction) components of
#: a finger joint's axis-angle, per joint level (MCP, PIP, DIP); positive flexion curls
#: towards the palm.  From the active ranges of motion in Hume et al., "Functional range of
#: motion of the joints of the hand", J Hand Surg 1990 (MCP 0-100 deg flexion, ~20 deg
#: hyperextension and +-20 deg abduction, PIP 0-105 deg, DIP 0-85 deg), slightly narrowed.
FINGER_LIMITS = {
    1: ((-0.2, 0.2), (-0.35, 1.6), (-0.35, 0.35)),
    2: ((-0.1, 0.1), (-0.05, 1.8), (-0.1, 0.1)),
    3: ((-0.1, 0.1), (-0.05, 1.4), (-0.1, 0.1)),
}
#: The thumb's joints move in oblique planes; they are limited by their rotation angle.
THUMB_MAX_ANGLE = {1: 1.0, 2: 0.9, 3: 1.4}


class PoseSampler:
    """Plausible random hand poses in PCA space, clamped to joint limits.

    ``coeffs_k ~ N(0, std_k^2)`` with ``std_k = std_max * decay^k`` (floored at
    ``std_min``): the leading principal directions carry most of the pose variance, as in
    MANO's PCA.  The pose ``coeffs @ components + mean`` is then clamped per joint (see
    :data:`FINGER_LIMITS`, :data:`THUMB_MAX_ANGLE`) and projected back to coefficients.

    Args:
        hm: the hand model (``use_pca=True``).
        std_max, decay, std_min: per-component standard deviations.
        clamp: apply the joint limits.
    """

    def __init__(self, hm, std_max: float = 1.5, decay: float = 0.9, std_min: float = 0.1,
                 clamp: bool = True):
        self.std = np.maximum(std_max * decay**np.arange(45), std_min)
        self.clamp = clamp
        self.basis = {side: pca_basis(hm, side) for side in HANDS}
        self.pinv = {side: np.linalg.pinv(self.basis[side][0]) for side in HANDS}
        self.frames = {side: self._joint_frames(hm, side) for side in HANDS}

    @staticmethod
    def _joint_frames(hm, side: str) -> np.ndarray:
        """(15, 3, 3) per MANO articulated joint: rows = twist (bone), flexion, abduction
        axes in the rest pose, where MANO's local joint frames coincide with the model's."""
        with torch.no_grad():
            j = hm.joints_from_vertices(hm.template(side)[None].float(), side)[0].double()
        j = j.numpy()
        frame, _ = palm_frame(j, side)
        normal = frame[:, 2]
        rows = []
        for m in range(1, 16):
            lib = int(LIBRARY_TO_MANO[m])
            bone = j[lib + 1] - j[lib]
            bone /= np.linalg.norm(bone)
            flex = np.cross(bone, normal)  # + rotation about it moves the child towards +n
            flex /= np.linalg.norm(flex)
            rows.append(np.stack([bone, flex, np.cross(bone, flex)]))
        return np.stack(rows)

    def clamp_pose(self, aa: np.ndarray, side: str) -> np.ndarray:
        """Clamp a (45,) axis-angle hand pose (MANO joint order) to the joint limits."""
        aa = aa.reshape(15, 3).copy()
        for m in range(15):
            lib = int(LIBRARY_TO_MANO[m + 1])
            level = (lib - 1) % 4 + 1          # 1 = MCP/CMC, 2 = PIP, 3 = DIP
            if lib <= 4:                       # thumb: limit the angle
                ang = np.linalg.norm(aa[m])
                if ang > THUMB_MAX_ANGLE[level]:
                    aa[m] *= THUMB_MAX_ANGLE[level] / ang
                continue
            R = self.frames[side][m]
            comp = R @ aa[m]
            lim = np.array(FINGER_LIMITS[level])
            aa[m] = R.T @ np.clip(comp, lim[:, 0], lim[:, 1])
        return aa.reshape(45)

    def sample(self, rng: np.random.Generator, side: str) -> np.ndarray:
        """(45,) PCA coefficients of one plausible pose of ``side``."""
        comps, mean = self.basis[side]
        coeffs = rng.normal(0, self.std)
        if not self.clamp:
            return coeffs
        aa = self.clamp_pose(coeffs @ comps + mean, side)
        return (aa - mean) @ self.pinv[side]


def sample_shapes(rng: np.random.Generator, std_range: Sequence[float] = (0.5, 1.0),
                  hand_std: float = 0.1, max_abs: float = 3.0) -> Dict[str, np.ndarray]:
    """Betas of both hands: one person ``~ N(0, s^2)``, ``s ~ U(std_range)``, plus a per-hand
    deviation ``~ N(0, hand_std^2)``; clipped to ``+-max_abs``."""
    base = rng.normal(0, rng.uniform(*std_range), 10)
    return {side: np.clip(base + rng.normal(0, hand_std, 10), -max_abs, max_abs)
            for side in HANDS}


# --------------------------------------------------------------------------------------
# relative placement
class TwoHandPlacer:
    """Place two posed hands in contact or near contact so they overlap in the image.

    Interaction modes, chosen with probabilities ``mode_probs`` (the second hand's palm
    frame relative to the first's, and its palm centre at ``(ox, oy, d)`` in that frame):

    * ``palms_facing``: opposite palm normals, fingers roughly parallel (+-30 deg),
      ``d`` 2-5 cm.
    * ``fingers_crossed``: opposite palm normals, fingers crossing at 50-130 deg,
      ``d`` 1.5-3.5 cm: the fingers lie over/between each other.
    * ``stacked``: equal palm normals, one palm on the back of the other hand, +-70 deg.
    * ``free``: a uniformly random relative rotation, centres 4-9 cm apart.

    The pair's orientation in the world (the camera looks along world ``+z`` with image
    ``y`` pointing down, up to the camera's small rotation) is set by ``orientation``:

    * ``'uniform'``: the right palm frame is a uniformly random rotation (any view,
      including upside-down hands);
    * ``'upright'``: like a multi-camera capture dome (InterHand2.6M): the right hand's
      fingers point up in the image (world ``-y``) and its palm faces the camera, then the
      pair turns about the vertical axis by a uniform yaw in ``[-yaw_deg, yaw_deg]`` (palm,
      side and back views) and tilts about a random axis by up to ``max_tilt_deg``.

    A placement is rejected when more than ``max_inside`` of either hand's (subsampled)
    vertices lie inside the other mesh or one lies deeper than ``max_depth`` metres
    (:func:`~.penetration.interpenetration`, answered by per-hand k-d trees:
    :func:`~.penetration.placed_interpenetration`); the hands are first pushed apart along the
    offset ``push_steps`` times by ``push`` metres, then the whole placement is redrawn
    (at most ``max_tries`` times; the least penetrating candidate is kept).

    Args:
        mode_probs: mode name -> probability.
        max_inside: tolerated interpenetration (vertex fraction).
        max_depth: tolerated penetration depth, metres.
        vertex_stride: query every n-th vertex in the inside test.
        push, push_steps, max_tries: see above.
        orientation: ``'uniform'`` or ``'upright'`` (see above).
        yaw_deg, max_tilt_deg: ranges of the ``'upright'`` orientation.
    """
    MODES = ('palms_facing', 'fingers_crossed', 'stacked', 'free')
    ORIENTATIONS = ('uniform', 'upright')
    #: right palm frame (columns x, y = fingers, z = palm normal) of an upright hand whose
    #: palm faces the camera: fingers along world -y (image up), normal along -z.
    _UPRIGHT = np.diag([1.0, -1.0, -1.0])

    def __init__(self, mode_probs: Optional[Dict[str, float]] = None, max_inside: float = 0.02,
                 max_depth: float = 0.006, vertex_stride: int = 2, push: float = 0.007,
                 push_steps: int = 8, max_tries: int = 8, orientation: str = 'uniform',
                 yaw_deg: float = 180.0, max_tilt_deg: float = 30.0):
        if orientation not in self.ORIENTATIONS:
            raise ValueError(f'unknown orientation {orientation!r}; choose from '
                             f'{self.ORIENTATIONS}')
        self.orientation, self.yaw_deg, self.max_tilt_deg = orientation, yaw_deg, max_tilt_deg
        probs = mode_probs or dict(palms_facing=0.3, fingers_crossed=0.2, stacked=0.25,
                                   free=0.25)
        unknown = set(probs) - set(self.MODES)
        if unknown:
            raise ValueError(f'unknown interaction modes {sorted(unknown)}; '
                             f'choose from {self.MODES}')
        self.modes = list(probs)
        p = np.array([probs[m] for m in self.modes], np.float64)
        self.probs = p / p.sum()
        self.max_inside, self.max_depth, self.stride = max_inside, max_depth, vertex_stride
        self.push, self.push_steps, self.max_tries = push, push_steps, max_tries

    def _world_rotation(self, rng: np.random.Generator) -> np.ndarray:
        """The right palm frame in the world (see ``orientation``), (3, 3)."""
        if self.orientation == 'uniform':
            return random_rotation(rng)
        yaw = rotation_about([0.0, 1.0, 0.0], np.deg2rad(rng.uniform(-self.yaw_deg,
                                                                      self.yaw_deg)))
        return small_rotation(rng, self.max_tilt_deg) @ yaw @ self._UPRIGHT

    def _relative(self, rng: np.random.Generator, mode: str) -> Tuple[np.ndarray, np.ndarray]:
        """Left palm frame (3, 3) and centre (3,) expressed in the right palm frame."""
        if mode == 'free':
            rel = random_rotation(rng)
            direction = rng.normal(size=3)
            return rel, direction / np.linalg.norm(direction) * rng.uniform(0.04, 0.09)
        if mode == 'palms_facing':
            theta, d = rng.uniform(-30, 30), rng.uniform(0.02, 0.05)
        elif mode == 'fingers_crossed':
            theta = rng.uniform(50, 130) * rng.choice([-1, 1])
            d = rng.uniform(0.015, 0.035)
        else:  # stacked: the left hand in front of the right palm or behind its back
            theta, d = rng.uniform(-70, 70), rng.uniform(0.025, 0.05) * rng.choice([-1, 1])
        th = np.deg2rad(theta)
        fwd = np.array([-np.sin(th), np.cos(th), 0.0])
        normal = np.array([0.0, 0.0, 1.0 if mode == 'stacked' else -1.0])
        rel = small_rotation(rng, 12) @ orthonormal_frame(fwd, normal)
        offset = np.array([rng.normal(0, 0.012), rng.normal(0, 0.012), d])
        return rel, offset

    def sample(self, rng: np.random.Generator, hm, poses: Dict[str, np.ndarray],
               shapes: Dict[str, np.ndarray]) -> Tuple[Dict[str, HandParams], str, Dict]:
        """Draw a placement of the two posed hands.

        The hand model runs once per hand (identity rotation); candidate placements are
        rigid transforms of that mesh about the skinning root, which is where a MANO-layout
        model applies ``global_orient`` (the final labels are recomputed from the stored
        parameters by the generator, so they never rely on this shortcut).

        Returns:
            ``(hands, mode, info)``: :class:`HandParams` per side (float32-rounded), the
            interaction mode, and ``info`` with ``inside`` (fraction of vertices inside the
            other hand), ``depth`` (deepest penetration, m), ``tries`` and ``world``: side ->
            placed world ``(verts, joints)``.
        """
        canon = {}
        for side in HANDS:
            p = HandParams(np.eye(3), poses[side], shapes[side], np.zeros(3))
            v, j, pivot = hand_forward(hm, side, p, return_pivot=True)
            frame, centre = palm_frame(j, side)
            normals = vertex_normals(torch.as_tensor(v), hm.faces(side).long()).numpy()
            canon[side] = dict(v=v, j=j, root=pivot, frame=frame, centre=centre,
                               probe=RigidHandProbe(v, normals))
        probes = [canon[s]['probe'] for s in HANDS]
        best = None
        for attempt in range(self.max_tries):
            mode = self.modes[rng.choice(len(self.modes), p=self.probs)]
            world_r = self._world_rotation(rng)
            rel, offset = self._relative(rng, mode)
            frames = {'right': world_r, 'left': world_r @ rel}
            placed = {}
            for s in HANDS:
                c = canon[s]
                R = (frames[s] @ c['frame'].T).astype(np.float32).astype(np.float64)
                about_root = lambda x: (x - c['root']) @ R.T + c['root']  # noqa: E731
                placed[s] = dict(R=R, v=about_root(c['v']), j=about_root(c['j']),
                                 centre=about_root(c['centre']))
            trans = {'right': -placed['right']['centre'],
                     'left': world_r @ offset - placed['left']['centre']}
            direction = world_r @ offset / np.linalg.norm(offset)
            for step in range(self.push_steps + 1):
                frac, depth = placed_interpenetration(
                    probes, [(placed[s]['R'], canon[s]['root'], trans[s]) for s in HANDS],
                    [placed[s]['v'] + trans[s] for s in HANDS], stride=self.stride)
                hands = {s: HandParams(placed[s]['R'], poses[s], shapes[s],
                                       trans[s]).as_float32() for s in HANDS}
                info = dict(inside=frac, depth=depth, tries=attempt + 1,
                            world={s: (placed[s]['v'] + hands[s].trans,
                                       placed[s]['j'] + hands[s].trans) for s in HANDS})
                if best is None or frac < best[2]['inside']:
                    best = (hands, mode, info)
                if frac <= self.max_inside and depth <= self.max_depth:
                    return hands, mode, info
                trans['left'] = trans['left'] + self.push * direction
        return best


# --------------------------------------------------------------------------------------
# camera
class CameraSampler:
    """Camera looking at the two hands, and the crop intrinsics framing them.

    The camera has a small random rotation (``max_rot_deg``) relative to the world axes,
    the hands' centre at depth ``distance`` (metres) with a small lateral offset, and a
    full-frame pinhole camera of focal ``focal`` px (principal point at the centre of a
    ``frame`` x ``frame`` image, jittered).  Like InterHand2.6M/IntagHand preprocessing, the
    stored image is a square crop around both hands: its side is ``crop_scale`` times the
    larger side of the hands' projected bounding box, its centre jittered by
    ``center_jitter`` of the side, and the stored ``K`` is the crop's intrinsics.

    Args:
        distance, focal, crop_scale: ``(min, max)`` uniform ranges.
        max_rot_deg: maximal camera rotation angle.
        frame: side of the virtual full frame, pixels.
    """

    def __init__(self, distance: Sequence[float] = (0.3, 0.6),
                 focal: Sequence[float] = (500.0, 1500.0), max_rot_deg: float = 10.0,
                 crop_scale: Sequence[float] = (1.1, 1.35), center_jitter: float = 0.04,
                 lateral: float = 0.02, frame: int = 1024):
        self.distance, self.focal, self.max_rot = distance, focal, max_rot_deg
        self.crop_scale, self.jitter, self.lateral, self.frame = (crop_scale, center_jitter,
                                                                  lateral, frame)

    def sample(self, rng: np.random.Generator, verts_world: np.ndarray,
               img_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Camera ``(R (3, 3), t (3,), K (3, 3))`` for the points ``verts_world`` (N, 3)."""
        R = small_rotation(rng, self.max_rot)
        centre = verts_world.mean(0)
        target = np.array([rng.uniform(-self.lateral, self.lateral),
                           rng.uniform(-self.lateral, self.lateral),
                           rng.uniform(*self.distance)])
        t = target - R @ centre
        f = rng.uniform(*self.focal)
        c = (self.frame - 1) / 2 + rng.normal(0, 0.01 * self.frame, 2)
        K_full = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])
        cam = verts_world @ R.T + t
        uv = cam[:, :2] / cam[:, 2:] * f + c
        lo, hi = uv.min(0), uv.max(0)
        side = (hi - lo).max() * rng.uniform(*self.crop_scale)
        slack = max(side - (hi - lo).max(), 0) / 2
        jitter = np.clip(rng.normal(0, self.jitter * side, 2), -slack, slack)
        A = to_homogeneous_affine(crop_affine((lo + hi) / 2 + jitter, side, img_size))
        return R, t, A @ K_full


# --------------------------------------------------------------------------------------
# appearance
#: sRGB skin albedos from light to dark (approximately the Monk skin tone scale).
SKIN_TONES = np.array([[0.96, 0.84, 0.76], [0.93, 0.77, 0.66], [0.86, 0.67, 0.54],
                       [0.76, 0.56, 0.42], [0.62, 0.43, 0.31], [0.47, 0.32, 0.23],
                       [0.36, 0.24, 0.17], [0.25, 0.17, 0.13]])


#: sRGB albedo that palmar skin tends towards: the palm and the finger pads carry far less
#: melanin than the back of the hand (most visibly on dark skin) and look lighter and pinker.
PALM_TONE = np.array([0.93, 0.74, 0.64])


def palmar_weight(template: np.ndarray, faces: np.ndarray, joints: np.ndarray, side: str,
                  ramp: Tuple[float, float] = (-0.15, 0.45)) -> np.ndarray:
    """How much each rest-pose vertex lies on the palmar side of the hand, in ``[0, 1]``.

    ``w_v = smoothstep(ramp[0], ramp[1], n_v . z)`` with ``n_v`` the outward unit normal of
    vertex ``v`` on the rest mesh and ``z`` the palm normal of :func:`palm_frame` (the side
    the fingers curl towards).  The ramp makes a soft boundary along the sides of the palm
    and the fingers.  Computed once on the template: the colours move with the skinned mesh.

    Args:
        template: (V, 3) rest vertices.  faces: (F, 3) outward-oriented faces.
        joints: (21, 3) rest joints, library order.  side: 'left' or 'right'.
        ramp: cosines (to the palm normal) where the weight leaves 0 and reaches 1.

    Returns:
        (V,) float64 array.
    """
    normals = vertex_normals(torch.as_tensor(template, dtype=torch.float64),
                             torch.as_tensor(np.asarray(faces), dtype=torch.long)).numpy()
    cos = normals @ palm_frame(np.asarray(joints, np.float64), side)[0][:, 2]
    t = np.clip((cos - ramp[0]) / (ramp[1] - ramp[0]), 0.0, 1.0)
    return t * t * (3 - 2 * t)


class SkinSampler:
    """Per-vertex skin albedo of both hands.

    One tone per image (one person) with probability ``same_person``, else one per hand;
    each hand gets a multiplicative per-channel jitter and a smooth per-vertex variation
    ``1 + a * sin(w . v_template + phase)`` (veins, redness) that moves with the mesh.
    Where a palmar weight ``w_v`` (:func:`palmar_weight`) is given, the palmar side is
    lightened towards :data:`PALM_TONE`: ``albedo = (1 - k w_v) tone + k w_v PALM_TONE``
    with ``k ~ U(palm_lightening)`` per hand.  As in real images this tells the palm from
    the back of the hand; without it a hand seen from the back and the mirror-image hand
    seen from the palm have the same silhouette and nearly the same shading, and the two
    readings (left/right swapped, yaw off by 180 deg) cannot be told apart.

    Args:
        same_person: probability that both hands share one tone.
        channel_jitter: half-range of the multiplicative per-channel jitter.
        variation: amplitude ``a`` of the per-vertex variation.
        palm_lightening: ``(low, high)`` range of ``k``; ``(0, 0)`` turns it off.
    """

    def __init__(self, same_person: float = 0.7, channel_jitter: float = 0.06,
                 variation: float = 0.08, palm_lightening: Sequence[float] = (0.35, 0.7)):
        self.same, self.jitter, self.var = same_person, channel_jitter, variation
        lo, hi = (float(x) for x in palm_lightening)
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f'SkinSampler.palm_lightening must satisfy 0 <= low <= high <= 1, '
                             f'got {tuple(palm_lightening)}')
        self.palm_lightening = (lo, hi)

    def sample(self, rng: np.random.Generator, templates: Dict[str, np.ndarray],
               palmar: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
        """``templates``: side -> (V, 3) rest vertices; ``palmar``: side -> (V,) weights.

        Returns side -> (V, 3) albedo in [0, 1].
        """
        tone = SKIN_TONES[rng.integers(len(SKIN_TONES))]
        out = {}
        for side in HANDS:
            if rng.random() > self.same:
                tone = SKIN_TONES[rng.integers(len(SKIN_TONES))]
            base = tone * rng.uniform(1 - self.jitter, 1 + self.jitter, 3)
            w = rng.normal(0, 60.0, (3, 3))          # ~ 1/(1.7 cm) spatial frequencies
            phase = rng.uniform(0, 2 * np.pi, 3)
            mod = 1 + self.var * np.sin(templates[side] @ w + phase).mean(1, keepdims=True)
            albedo = np.broadcast_to(base, templates[side].shape)
            if palmar is not None:
                k = rng.uniform(*self.palm_lightening) * palmar[side][:, None]
                albedo = (1 - k) * albedo + k * PALM_TONE
            out[side] = np.clip(albedo * mod, 0, 1).astype(np.float32)
        return out


class SceneSampler:
    """Draws a complete :class:`Scene` from a generator (see the module docstring).

    Args:
        hm: hand model built with ``use_pca=True``.
        img_size: side of the output crop.
        pose, placement, camera, skin: keyword arguments of :class:`PoseSampler`,
            :class:`TwoHandPlacer`, :class:`CameraSampler`, :class:`SkinSampler`.
        shape: keyword arguments of :func:`sample_shapes`.
    """

    def __init__(self, hm, img_size: int = 256, pose: Optional[dict] = None,
                 shape: Optional[dict] = None, placement: Optional[dict] = None,
                 camera: Optional[dict] = None, skin: Optional[dict] = None):
        self.hm, self.img_size = hm, img_size
        self.poses = PoseSampler(hm, **(pose or {}))
        self.shape_cfg = shape or {}
        self.placer = TwoHandPlacer(**(placement or {}))
        self.camera = CameraSampler(**(camera or {}))
        self.skin = SkinSampler(**(skin or {}))
        self.templates = {s: hm.template(s).double().numpy() for s in HANDS}
        self.palmar = {
            s: palmar_weight(self.templates[s], hm.faces(s).numpy(),
                             hm.joints_from_vertices(hm.template(s)[None], s)[0].double().numpy(), s)
            for s in HANDS}

    def sample(self, rng: np.random.Generator) -> Scene:
        poses = {side: self.poses.sample(rng, side) for side in HANDS}
        shapes = sample_shapes(rng, **self.shape_cfg)
        hands, mode, info = self.placer.sample(rng, self.hm, poses, shapes)
        world = info.pop('world')
        verts = np.concatenate([world[s][0] for s in HANDS])
        R, t, K = self.camera.sample(rng, verts, self.img_size)
        light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-0.7, 0.7), 1.0])
        return Scene(hands=hands, cam_R=R.astype(np.float32), cam_t=t.astype(np.float32),
                     cam_K=K.astype(np.float32), colors=self.skin.sample(rng, self.templates, self.palmar),
                     light_dir=light / np.linalg.norm(light),
                     ambient=float(rng.uniform(0.25, 0.5)),
                     diffuse=float(rng.uniform(0.5, 0.8)), interaction=mode, extra=info,
                     world=world)
