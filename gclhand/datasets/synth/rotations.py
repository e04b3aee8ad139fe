"""Random rotations and small rotation helpers (numpy, float64) for the scene sampler."""
import numpy as np

from gclhand.datasets.geometry import axis_angle_to_matrix

__all__ = ['random_rotation', 'small_rotation', 'rotation_about', 'orthonormal_frame']


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation drawn uniformly from SO(3) (normalised Gaussian quaternion), (3, 3)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about ``axis`` (any length), (3, 3)."""
    axis = np.asarray(axis, np.float64)
    return axis_angle_to_matrix(axis / np.linalg.norm(axis) * angle)[0]


def small_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """A rotation about a uniformly random axis by an angle uniform in ``[0, max_deg]``."""
    axis = rng.normal(size=3)
    return rotation_about(axis, np.deg2rad(rng.uniform(0, max_deg)))


def orthonormal_frame(forward: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Right-handed frame ``[x, y, z]`` (columns) with ``z`` along ``normal`` and ``y`` the
    part of ``forward`` orthogonal to it; ``x = y x z``.  (3, 3) rotation matrix."""
    z = normal / np.linalg.norm(normal)
    y = forward - (forward @ z) * z
    y = y / np.linalg.norm(y)
    return np.stack([np.cross(y, z), y, z], axis=1)
