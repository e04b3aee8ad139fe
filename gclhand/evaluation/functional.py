"""Functional core of gclhand's 3D hand errors: alignment and distances.

Every function works on ``torch.Tensor`` with arbitrary leading (batch) dimensions, is
differentiable, and is used by both the metrics (:mod:`gclhand.evaluation.metrics`) and the
training losses (:mod:`gclhand.models.losses`) so that root alignment and scale
normalisation are defined in exactly one place.  Points are ``(..., K, 3)``; joint indices
follow the library order (wrist 0, thumb 1-4, index 5-8, middle 9-12, ring 13-16,
pinky 17-20; ``docs/internals.md``).

Conventions of the two evaluation protocols (DESIGN.md section 5):

- IntagHand protocol (the paper's Tables 1-2): root = middle MCP (joint 9), the prediction is
  scaled so that its wrist-to-middle-MCP length (bone ``(0, 9)``) equals the ground truth's.
- InterHand2.6M official protocol: root = wrist (joint 0), no scaling.
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from gclhand.hand.joints import LIBRARY_PARENTS

#: Root joint of the IntagHand protocol (middle-finger MCP).
INTAGHAND_ROOT = 9
#: Root joint of the InterHand2.6M official protocol (wrist).
INTERHAND_ROOT = 0
#: Reference bone (wrist -> middle MCP) whose length defines the hand's scale.
REFERENCE_BONE = (0, 9)


def align_root(points: Tensor, root: Union[int, Tensor]) -> Tensor:
    """Translate points so that the root is at the origin.

    Args:
        points: ``(..., K, 3)``.
        root: an index into the ``K`` axis of ``points`` (e.g. 9 for the IntagHand protocol),
            or the root position itself, ``(..., 3)`` — used for vertices, whose root is a
            joint.

    Returns:
        ``(..., K, 3)`` root-relative points.
    """
    if isinstance(root, int):
        return points - points[..., root:root + 1, :]
    return points - root.unsqueeze(-2)


def bone_lengths(joints: Tensor, parents: Optional[Sequence[int]] = None) -> Tensor:
    """Lengths of the bones ``(parents[j], j)`` for every joint ``j`` with ``parents[j] >= 0``.

    Args:
        joints: ``(..., K, 3)``.
        parents: parent index per joint, ``-1`` for roots; defaults to the library's tree
            :data:`gclhand.hand.joints.LIBRARY_PARENTS` (21 joints, 20 bones).

    Returns:
        ``(..., num_bones)``.
    """
    parents = LIBRARY_PARENTS if parents is None else tuple(parents)
    if len(parents) != joints.shape[-2]:
        raise ValueError(f'bone_lengths: {len(parents)} parents given for '
                         f'{joints.shape[-2]} joints; pass one parent per joint')
    child = [j for j, p in enumerate(parents) if p >= 0]
    parent = [parents[j] for j in child]
    return (joints[..., child, :] - joints[..., parent, :]).norm(dim=-1)


def reference_length(joints: Tensor, bone: Sequence[int] = REFERENCE_BONE,
                     eps: float = 1e-8) -> Tensor:
    """Length of the reference bone, clamped to ``eps`` so that dividing by it is safe.

    Args:
        joints: ``(..., K, 3)``.
        bone: ``(start, end)`` joint indices; wrist -> middle MCP by default.
        eps: lower bound (an all-zero, i.e. missing, hand gives ``eps``, not 0).

    Returns:
        ``(...,)``.
    """
    start, end = bone
    return (joints[..., end, :] - joints[..., start, :]).norm(dim=-1).clamp(min=eps)


def scale_align(pred: Tensor, gt_joints: Tensor, pred_joints: Optional[Tensor] = None,
                bone: Sequence[int] = REFERENCE_BONE, eps: float = 1e-8) -> Tensor:
    """Scale root-relative predictions so that the reference bone has the GT's length.

    ``pred * |gt_joints[end] - gt_joints[start]| / |pred_joints[end] - pred_joints[start]|``
    (IntagHand protocol).  Scaling is about the origin, so root-align first.

    Args:
        pred: ``(..., K, 3)`` root-relative points to scale (joints or vertices).
        gt_joints: ``(..., J, 3)`` ground-truth joints that define the target length.
        pred_joints: ``(..., J, 3)`` predicted joints that define the current length;
            ``None`` means ``pred`` itself (when ``pred`` are the joints).
        bone: the reference bone, wrist -> middle MCP by default.
        eps: lower bound of the predicted length.

    Returns:
        ``(..., K, 3)``.
    """
    pred_joints = pred if pred_joints is None else pred_joints
    factor = reference_length(gt_joints, bone, eps=0.) / reference_length(pred_joints, bone, eps)
    return pred * factor[..., None, None]


def procrustes_align(pred: Tensor, gt: Tensor, eps: float = 1e-12) -> Tensor:
    """Similarity-align ``pred`` to ``gt`` (Umeyama 1991), batched over leading dimensions.

    Finds ``s, R, t`` minimising ``sum_k |s R p_k + t - g_k|^2`` with ``R`` a proper rotation
    (``det R = +1``: the reflection that an unconstrained SVD solution may return is removed
    by flipping the sign of the smallest singular direction).  Written with
    ``torch.linalg.svd`` because it must run batched and differentiably on tensors; mmpose's
    ``batch_compute_similarity_transform`` is NumPy-only and not a dependency.

    Args:
        pred: ``(..., K, 3)``.
        gt: ``(..., K, 3)``.
        eps: lower bound of the prediction's variance (a collapsed prediction stays finite).

    Returns:
        ``(..., K, 3)``: ``s R pred + t``.
    """
    mu_p = pred.mean(dim=-2, keepdim=True)
    mu_g = gt.mean(dim=-2, keepdim=True)
    p0, g0 = pred - mu_p, gt - mu_g
    # K = sum_k p_k g_k^T = U S V^T  ->  R = V diag(1, 1, d) U^T, d = det(V U^T)
    cov = p0.transpose(-1, -2) @ g0
    u, sing, vh = torch.linalg.svd(cov)
    v = vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    z = torch.ones_like(sing)
    z = torch.cat([z[..., :-1], d[..., None]], dim=-1)
    rot = v @ (z[..., :, None] * u.transpose(-1, -2))
    scale = (sing * z).sum(dim=-1) / (p0 ** 2).sum(dim=(-2, -1)).clamp(min=eps)
    return scale[..., None, None] * p0 @ rot.transpose(-1, -2) + mu_g


def point_errors(pred: Tensor, gt: Tensor) -> Tensor:
    """Euclidean distance per point: ``(..., K, D) -> (..., K)``."""
    return (pred - gt).norm(dim=-1)


def mpjpe(pred: Tensor, gt: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    """Mean per-point position error (MPJPE for joints, MPVPE for vertices).

    Same definition as mmpose's ``keypoint_mpjpe(..., alignment='none')``: the mean of the
    Euclidean distances over all valid points, pooled over the batch.  Align first
    (:func:`align_root`, :func:`scale_align`, :func:`procrustes_align`) as the protocol says.

    Args:
        pred: ``(..., K, D)``.
        gt: ``(..., K, D)``.
        mask: optional, broadcastable to ``(..., K)``; nonzero where the point counts.

    Returns:
        scalar tensor, in the unit of the inputs (``nan`` when no point is valid).
    """
    err = point_errors(pred, gt)
    if mask is None:
        return err.mean()
    mask = torch.broadcast_to(mask.to(torch.bool), err.shape)
    return err[mask].mean()


def relative_root(joints: Tensor, root: int = INTERHAND_ROOT) -> Tensor:
    """Left root minus right root of a two-hand array (the vector MRRPE compares).

    Args:
        joints: ``(..., 2, K, 3)`` with the hand axis ordered (left, right).
        root: root joint index (the wrist for the InterHand2.6M protocol).

    Returns:
        ``(..., 3)``.
    """
    return joints[..., 0, root, :] - joints[..., 1, root, :]


def mrrpe(pred_rel_root: Tensor, gt_rel_root: Tensor) -> Tensor:
    """Mean relative-root position error per sample (Moon et al., ECCV 2020).

    Args:
        pred_rel_root: ``(..., 3)`` predicted left-root minus right-root vector.
        gt_rel_root: ``(..., 3)`` the same from ground truth (see :func:`relative_root`).

    Returns:
        ``(...,)`` Euclidean error of the relative vector; average it over the valid samples.
    """
    return (pred_rel_root - gt_rel_root).norm(dim=-1)
