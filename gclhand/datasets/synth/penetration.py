"""Fast interpenetration measure between two hand meshes.

A point ``p`` is taken to be inside a mesh when it lies behind the tangent plane of the
mesh's nearest vertex ``v``: ``depth = (v - p) . n_v > 0`` with ``n_v`` the outward vertex
normal.  On a dense, smooth closed surface such as a MANO hand (778 vertices, ~4 mm
spacing) this is the usual collision proxy of hand-object and two-hand fitting code, and it
costs one (P, V) distance matrix, where the exact generalised winding number (Jacobson et
al., SIGGRAPH 2013) costs a (P, F) solid-angle sum - about 30x slower, too slow inside the
scene sampler's rejection loop.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = ['penetration_depth', 'interpenetration']


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
