"""Random procedural backgrounds for the synthetic two-hand images.

Three generators, mixed at random so that a network cannot find the hands by a constant
background colour: a linear colour gradient, smooth value noise (random low-resolution
colour field upsampled bicubically), and Gaussian colour blobs.  All draws come from the
``numpy.random.Generator`` that is passed in, so a background is a pure function of it.
"""
from typing import Callable, Dict

import cv2
import numpy as np

__all__ = ['BACKGROUND_KINDS', 'gradient_background', 'noise_background', 'blob_background',
           'random_background']


def _random_color(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in [0, 1]; mostly muted, sometimes saturated."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0, 255) * rng.choice([0.3, 1.0]),
                      rng.uniform(30, 255)]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255


def gradient_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Linear gradient between two random colours along a random direction.

    Returns:
        (size, size, 3) float32 image in [0, 1].
    """
    c0, c1 = _random_color(rng), _random_color(rng)
    ang = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    t = (xs - 0.5) * np.cos(ang) + (ys - 0.5) * np.sin(ang)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (c0 * (1 - t[..., None]) + c1 * t[..., None]).astype(np.float32)


def noise_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth colour value noise: a random ``g x g`` colour grid upsampled bicubically.

    Returns:
        (size, size, 3) float32 image in [0, 1].
    """
    grid = int(rng.integers(2, 9))
    base = _random_color(rng)
    field = base + rng.normal(0, rng.uniform(0.05, 0.3), (grid, grid, 3)).astype(np.float32)
    img = cv2.resize(field, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(img, 0, 1).astype(np.float32)


def blob_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random base colour with 3-10 anisotropic Gaussian colour blobs alpha-blended on it.

    Returns:
        (size, size, 3) float32 image in [0, 1].
    """
    low = max(8, size // 4)  # blobs are smooth: draw at a quarter resolution, upsample
    img = np.broadcast_to(_random_color(rng), (low, low, 3)).copy()
    ys, xs = np.mgrid[0:low, 0:low].astype(np.float32) / (low - 1)
    for _ in range(int(rng.integers(3, 11))):
        cx, cy = rng.uniform(-0.1, 1.1, 2)
        sx, sy = rng.uniform(0.05, 0.4, 2)
        ang = rng.uniform(0, np.pi)
        dx, dy = xs - cx, ys - cy
        u = dx * np.cos(ang) + dy * np.sin(ang)
        v = -dx * np.sin(ang) + dy * np.cos(ang)
        alpha = np.exp(-0.5 * ((u / sx)**2 + (v / sy)**2))[..., None] * rng.uniform(0.5, 1)
        img = img * (1 - alpha) + _random_color(rng) * alpha
    return cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


#: name -> generator ``fn(rng, size) -> (size, size, 3) float32``.
BACKGROUND_KINDS: Dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    'gradient': gradient_background,
    'noise': noise_background,
    'blobs': blob_background,
}


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """One background of a random kind, blended with a second one half of the time, plus
    fine pixel noise of random strength.

    Args:
        rng: source of all randomness.
        size: side of the square image in pixels.

    Returns:
        (size, size, 3) float32 image in [0, 1].
    """
    kinds = list(BACKGROUND_KINDS)
    img = BACKGROUND_KINDS[kinds[rng.integers(len(kinds))]](rng, size)
    if rng.random() < 0.5:
        other = BACKGROUND_KINDS[kinds[rng.integers(len(kinds))]](rng, size)
        w = rng.uniform(0.2, 0.8)
        img = img * w + other * (1 - w)
    img = img + rng.normal(0, rng.uniform(0, 0.04), img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)
