"""Interpenetration between two hand meshes.

Definition (used by :class:`~gclhand.evaluation.metrics.InterpenetrationMetric`): a query
point ``p`` is *inside* a mesh when the mesh's generalized winding number at ``p``
(Jacobson et al., SIGGRAPH 2013: the sum of the signed solid angles of the faces, over
``4 pi``) exceeds 0.5 — exact for a closed mesh and robust to MANO's open wrist.  The
penetration depth of an inside point is its distance to the nearest *vertex* of the mesh
(an upper bound of the distance to the surface, tight to about half an edge, 2-3 mm on
MANO's 778-vertex mesh); outside points have depth 0.  A nearest-vertex-normal sign test
alone is cheaper but marks points far from the mesh as inside where a tangent plane is
nearly parallel to the direction of the point (a quarter of a hand translated 1 m away, on
the procedural hand), so it is not used.  Written by hand because the exact alternatives
(trimesh ray tests, pytorch3d, kaolin) are not dependencies of gclhand.
"""
import math
from typing import Dict

import torch
from torch import Tensor


def winding_number(points: Tensor, verts: Tensor, faces: Tensor, chunk: int = 256) -> Tensor:
    """Generalized winding number of a triangle mesh at query points.

    Solid angle per face from van Oosterom & Strackee (1983):
    ``tan(O / 2) = a.(b x c) / (|a||b||c| + (a.b)|c| + (a.c)|b| + (b.c)|a|)`` with
    ``a, b, c`` the face corners relative to the point.

    Args:
        points: ``(P, 3)`` query points.
        verts: ``(V, 3)`` mesh vertices.
        faces: ``(F, 3)`` faces, counter-clockwise seen from outside.
        chunk: query points per step (memory ``chunk * F * 9`` numbers).

    Returns:
        ``(P,)``: about 1 inside a closed outward-wound mesh, 0 outside.
    """
    tri = verts[faces.to(device=verts.device, dtype=torch.long)]  # (F, 3, 3)
    out = []
    for start in range(0, points.shape[0], chunk):
        rel = tri[None] - points[start:start + chunk, None, None, :]  # (p, F, 3, 3)
        a, b, c = rel.unbind(dim=-2)
        la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
        num = (a * torch.cross(b, c, dim=-1)).sum(-1)
        den = la * lb * lc + (a * b).sum(-1) * lc + (a * c).sum(-1) * lb + (b * c).sum(-1) * la
        out.append(2 * torch.atan2(num, den).sum(dim=-1) / (4 * math.pi))
    return torch.cat(out)


def penetration_depth(points: Tensor, verts: Tensor, faces: Tensor) -> Tensor:
    """Depth of each query point inside a mesh (0 outside), see the module docstring.

    Args:
        points: ``(P, 3)`` query points (e.g. the other hand's vertices).
        verts: ``(V, 3)`` mesh vertices in the same frame and unit.
        faces: ``(F, 3)`` mesh faces.

    Returns:
        ``(P,)`` penetration depth, same unit as the inputs.
    """
    nearest = torch.cdist(points, verts).amin(dim=-1)
    # only points inside the mesh's bounding box can be inside the mesh: the winding number
    # (P x F solid angles) is computed for those alone, in float32 (a 0.5 threshold needs
    # no more precision)
    in_box = ((points >= verts.amin(dim=0)) & (points <= verts.amax(dim=0))).all(dim=-1)
    inside = torch.zeros_like(in_box)
    if in_box.any():
        inside[in_box] = winding_number(points[in_box].float(), verts.float(), faces) > 0.5
    return torch.where(inside, nearest, torch.zeros_like(nearest))


def two_hand_penetration(verts: Tensor, faces_left: Tensor, faces_right: Tensor,
                         threshold: float = 0.) -> Dict[str, Tensor]:
    """Penetration of each hand into the other.

    Args:
        verts: ``(2, V, 3)`` both hands in one frame, hand axis (left, right).
        faces_left: ``(F, 3)`` faces of the left mesh.
        faces_right: ``(F, 3)`` faces of the right mesh.
        threshold: depths up to this value count as touching, not penetrating.

    Returns:
        dict of ``(2,)`` tensors, index 0 = left-hand vertices inside the right mesh,
        index 1 = right-hand vertices inside the left mesh:
        ``max_depth`` (deepest vertex), ``mean_depth`` (mean over all the hand's vertices,
        0 for those outside) and ``ratio`` (fraction of the hand's vertices deeper than
        ``threshold``).
    """
    left, right = verts[0], verts[1]
    depth = torch.stack([penetration_depth(left, right, faces_right),
                         penetration_depth(right, left, faces_left)], dim=0)  # (2, V)
    depth = torch.where(depth > threshold, depth, torch.zeros_like(depth))
    return dict(max_depth=depth.amax(dim=-1), mean_depth=depth.mean(dim=-1),
                ratio=(depth > 0).to(verts.dtype).mean(dim=-1))
