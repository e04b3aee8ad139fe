"""Small camera/rotation helpers shared by the datasets, transforms and preparation tool.

Conventions (docs/internals.md): camera frame x right, y down, z forward; pixel
coordinates have the centre of pixel (0, 0) at (0, 0) (OpenCV's convention), so an image
of width W spans x in [-0.5, W - 0.5].
"""
import cv2
import numpy as np


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues' formula, ``(N, 3)`` axis-angle -> ``(N, 3, 3)`` rotation matrices."""
    aa = np.asarray(aa, dtype=np.float64).reshape(-1, 3)
    # cv2.Rodrigues is exact and robust near 0 and pi; one call per rotation is cheap.
    return np.stack([cv2.Rodrigues(a)[0] for a in aa]) if len(aa) else np.zeros((0, 3, 3))


def matrix_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """Inverse Rodrigues, ``(N, 3, 3)`` rotation matrices -> ``(N, 3)`` axis-angle."""
    rot = np.asarray(rot, dtype=np.float64).reshape(-1, 3, 3)
    return np.stack([cv2.Rodrigues(r)[0][:, 0] for r in rot]) if len(rot) else np.zeros((0, 3))


def project_points(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection ``u = (K X)_{xy} / (K X)_z``.

    Args:
        points: ``(..., 3)`` camera-frame points (z > 0).
        K: ``(3, 3)`` intrinsics.

    Returns:
        ``(..., 2)`` pixel coordinates, float32.
    """
    p = np.asarray(points, dtype=np.float64) @ np.asarray(K, dtype=np.float64).T
    z = p[..., 2:]
    z = np.where(np.abs(z) < 1e-9, 1e-9, z)  # points on the camera plane: avoid inf/NaN
    return (p[..., :2] / z).astype(np.float32)


def to_homogeneous_affine(A: np.ndarray) -> np.ndarray:
    """``(2, 3)`` affine pixel transform -> ``(3, 3)`` with last row (0, 0, 1)."""
    return np.concatenate([np.asarray(A, np.float64), [[0., 0., 1.]]], axis=0)


def apply_affine_2d(points: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine transform to ``(..., 2)`` pixel coordinates."""
    A = np.asarray(A, np.float64)
    return (np.asarray(points, np.float64) @ A[:, :2].T + A[:, 2]).astype(np.float32)


def rotation_z(theta: float) -> np.ndarray:
    """``(3, 3)`` rotation by ``theta`` radians about the optical (z) axis.

    In pixel terms (x right, y down) it turns x towards y, like
    ``[[cos, -sin], [sin, cos]]`` applied to pixel offsets.
    """
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.], [s, c, 0.], [0., 0., 1.]])


#: IntagHand's ``HAND_BBOX_RATIO`` (its ``dataset/dataset_utils.py``): the hands' 2D extent
#: spans this fraction of the crop side.
INTAGHAND_HAND_RATIO = 0.8


def intaghand_crop_affine(points: np.ndarray, out_size: int,
                          hand_ratio: float = INTAGHAND_HAND_RATIO) -> np.ndarray:
    r"""IntagHand's crop (its ``cut_img``): the affine map of a square around ``points``.

    With the points' box ``[lo, hi]``, its centre ``m = (lo + hi) / 2`` and half side
    ``L = max(hi - lo) / (2 r)`` (``r = hand_ratio``), the map is

    .. math::
        A = \frac{S}{2L} \begin{pmatrix} 1 & 0 & L - m_x \\ 0 & 1 & L - m_y \end{pmatrix}

    for an ``S x S`` output: ``m`` lands on ``(S/2, S/2)`` (IntagHand's convention, half a
    pixel from the pixel-centre one of :func:`crop_affine`), no rotation.  IntagHand's
    preprocessing passes both hands' projected **mesh vertices** as ``points``.  A box
    smaller than one pixel is taken as one pixel (IntagHand would divide by zero).

    Args:
        points: ``(N, 2)`` pixel coordinates.
        out_size: ``S``.
        hand_ratio: ``r``.

    Returns:
        ``(2, 3)`` matrix for :func:`cv2.warpAffine` (source -> destination).
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    mid = (lo + hi) / 2.0
    half = max(float((hi - lo).max()), 1.0) / 2.0 / float(hand_ratio)
    return out_size / 2.0 / half * np.array([[1.0, 0.0, half - mid[0]],
                                              [0.0, 1.0, half - mid[1]]])


def crop_affine(center, size: float, out_size: int, rot: float = 0.0) -> np.ndarray:
    """Affine map taking a square of side ``size`` px centred at ``center`` to an
    ``out_size`` x ``out_size`` image (pixel-centre convention), optionally rotating
    the content by ``rot`` radians about the square's centre.

    Returns:
        ``(2, 3)`` matrix for :func:`cv2.warpAffine` (source -> destination).
    """
    s = out_size / float(size)
    c, sn = np.cos(rot), np.sin(rot)
    lin = s * np.array([[c, -sn], [sn, c]])
    dst_c = np.array([(out_size - 1) / 2.0, (out_size - 1) / 2.0])
    t = dst_c - lin @ np.asarray(center, np.float64)
    return np.concatenate([lin, t[:, None]], axis=1)
