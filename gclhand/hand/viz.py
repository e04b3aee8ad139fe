"""Shaded matplotlib rendering of hand meshes (for docs and quick inspection)."""
from typing import Optional, Sequence

import numpy as np


def shade_faces(verts: np.ndarray, faces: np.ndarray, color: Sequence[float],
                light: Sequence[float] = (0.3, 0.5, 1.0)) -> np.ndarray:
    """Per-face RGBA with Lambert + ambient shading. verts (V, 3), faces (F, 3)."""
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    light = np.asarray(light, dtype=np.float64)
    lam = np.clip(n @ (light / np.linalg.norm(light)), 0, 1)
    rgb = np.asarray(color[:3])[None] * (0.35 + 0.65 * lam[:, None])
    return np.concatenate([rgb, np.ones((len(faces), 1))], 1)


def plot_hand_mesh(ax, verts: np.ndarray, faces: np.ndarray, color=(0.85, 0.65, 0.55),
                   joints: Optional[np.ndarray] = None, view=(-90, 90)) -> None:
    """Draw one mesh on a matplotlib 3D axis (``Poly3DCollection``), equal aspect.

    Args:
        ax: a ``projection='3d'`` axis. verts: (V, 3). faces: (F, 3), outward winding.
        joints: optional (21, 3) drawn as dots. view: (elev, azim) in degrees.
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    verts = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(faces)
    elev, azim = np.deg2rad(view[0]), np.deg2rad(view[1])
    eye = np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    coll = Poly3DCollection(verts[faces], facecolors=shade_faces(verts, faces, color, eye),
                            edgecolors=(0, 0, 0, 0.08), linewidths=0.2)
    ax.add_collection3d(coll)
    if joints is not None:
        ax.scatter(*np.asarray(joints).T, s=6, c='k', depthshade=False)
    centre, half = verts.mean(0), (verts.max(0) - verts.min(0)).max() / 2
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=view[0], azim=view[1])
    ax.set_axis_off()
