"""Fast interpenetration measure between two hand meshes.

A point ``p`` is taken to be inside a mesh when it lies behind the tangent plane of the
mesh's nearest vertex ``v``: ``depth = (v - p) . n_v > 0`` with ``n_v`` the outward vertex
normal.  On a dense, smooth closed surface such as a MANO hand (778 vertices, ~4 mm
spacing) this is the usual collision proxy of hand-object and two-hand fitting code, and it
costs one (P, V) distance matrix, where the exact generalised winding number (Jacobson et
al., SIGGRAPH 2013) costs a (P, F) solid-angle sum - about 30x slower, too slow inside the
scene sampler's rejection loop.
"""
from typing import Sequence, Tuple

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

__all__ = ['penetration_depth', 'interpenetration', 'RigidHandProbe', 'placed_interpenetration']


def penetration_depth(points: Tensor, verts: Tensor, normals: Tensor) -> Tensor:
    """Depth of ``points`` below the surface ``(verts, normals)``, 0 for points outside.

    Args:
        points: (P, 3) query points.
        verts: (V, 3) surface vertices.
        normals: (V, 3) outward unit vertex normals.

    Returns:
        (P,) non-negative depths (same unit as the inputs).
    """
    nearest = torch.cdist(points.float(), verts.float()).argmin(1)
    depth = ((verts[nearest] - points) * normals[nearest]).sum(-1)
    return depth.clamp_min(0)


def interpenetration(verts_a: Tensor, normals_a: Tensor, verts_b: Tensor, normals_b: Tensor,
                     tol: float = 1e-3, stride: int = 1) -> Tuple[float, float]:
    """Symmetric interpenetration of two meshes.

    Args:
        verts_a, normals_a, verts_b, normals_b: (V, 3) vertices and outward unit normals.
        tol: depths up to ``tol`` count as touching, not penetrating.
        stride: query every ``stride``-th vertex.

    Returns:
        ``(fraction, max_depth)``: the larger over both directions of the fraction of one
        mesh's vertices inside the other deeper than ``tol``, and the largest depth.
    """
    frac, deepest = 0.0, 0.0
    for (pa, _), (vb, nb) in (((verts_a, normals_a), (verts_b, normals_b)),
                              ((verts_b, normals_b), (verts_a, normals_a))):
        pts = pa[::stride]
        lo, hi = vb.amin(0) - tol, vb.amax(0) + tol
        near = ((pts >= lo) & (pts <= hi)).all(1)   # outside the bounding box: outside
        if not near.any():
            continue
        d = penetration_depth(pts[near], vb, nb)
        frac = max(frac, float((d > tol).sum()) / len(pts))
        deepest = max(deepest, float(d.max()))
    return frac, deepest


class RigidHandProbe:
    """The nearest-vertex inside test of :func:`penetration_depth` against a mesh that only
    moves rigidly, answered by a k-d tree built once in the mesh's own frame.

    The scene sampler tries many rigid placements of the same two posed hands; a placement
    ``world(x) = (x - root) R^T + root + t`` changes no distance, so the nearest vertex of a
    query point is found in the mesh's frame (``local(p) = (p - root - t) R + root``) with
    :class:`scipy.spatial.cKDTree` instead of a fresh (P, V) distance matrix per try: the
    same vertices and depths (to float rounding) for a tenth of the time.

    Args:
        verts: (V, 3) vertices in the mesh's frame.  normals: (V, 3) outward unit normals.
    """

    def __init__(self, verts: np.ndarray, normals: np.ndarray):
        self.verts = np.asarray(verts, np.float64)
        self.normals = np.asarray(normals, np.float64)
        self.tree = cKDTree(self.verts)

    def depth(self, points: np.ndarray, R: np.ndarray, root: np.ndarray,
              t: np.ndarray) -> np.ndarray:
        """(P,) depths below the mesh placed by ``(R, root, t)`` of world ``points`` (P, 3)."""
        local = (np.asarray(points, np.float64) - root - t) @ R + root
        nearest = self.tree.query(local)[1]
        depth = ((self.verts[nearest] - local) * self.normals[nearest]).sum(-1)
        return np.clip(depth, 0.0, None)


def placed_interpenetration(probes: Sequence[RigidHandProbe], placements: Sequence[tuple],
                            world_verts: Sequence[np.ndarray], tol: float = 1e-3,
                            stride: int = 1) -> Tuple[float, float]:
    """:func:`interpenetration` of two rigidly placed meshes through their probes.

    Args:
        probes: the two meshes' :class:`RigidHandProbe`.
        placements: per mesh ``(R, root, t)`` (see :class:`RigidHandProbe`).
        world_verts: per mesh its placed (V, 3) vertices (queries and bounding boxes).
        tol, stride: as :func:`interpenetration`.

    Returns:
        ``(fraction, max_depth)`` as :func:`interpenetration`.
    """
    frac, deepest = 0.0, 0.0
    for a, b in ((0, 1), (1, 0)):
        pts = world_verts[a][::stride]
        vb = world_verts[b]
        near = ((pts >= vb.min(0) - tol) & (pts <= vb.max(0) + tol)).all(1)
        if not near.any():
            continue
        d = probes[b].depth(pts[near], *placements[b])
        frac = max(frac, float((d > tol).sum()) / len(pts))
        deepest = max(deepest, float(d.max()))
    return frac, deepest
