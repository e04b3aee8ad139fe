import math

import pytest
import torch

from gclhand.evaluation import functional as F


def _rotation(seed):
    q, r = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64,
                                       generator=torch.Generator().manual_seed(seed)))
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _points(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_bone_lengths_default_library_tree():
    joints = _points(2, 21, 3)
    lengths = F.bone_lengths(joints)
    assert lengths.shape == (2, 20)
    # bone 0 = wrist -> thumb1, bone 7 = index3 -> index4, bone 8 = wrist -> middle1
    assert torch.allclose(lengths[:, 0], (joints[:, 1] - joints[:, 0]).norm(dim=-1))
    assert torch.allclose(lengths[:, 7], (joints[:, 8] - joints[:, 7]).norm(dim=-1))
    assert torch.allclose(lengths[:, 8], (joints[:, 9] - joints[:, 0]).norm(dim=-1))


def test_bone_lengths_hand_computed_and_wrong_parents():
    joints = torch.tensor([[0., 0., 0.], [3., 4., 0.], [3., 4., 2.]])
    assert torch.allclose(F.bone_lengths(joints, parents=(-1, 0, 1)), torch.tensor([5., 2.]))
    with pytest.raises(ValueError, match='3 joints'):
        F.bone_lengths(joints, parents=(-1, 0))


def test_align_root_index_and_tensor():
    pts = _points(4, 21, 3)
    by_index = F.align_root(pts, 9)
    assert torch.allclose(by_index[:, 9], torch.zeros(4, 3, dtype=torch.float64))
    assert torch.allclose(by_index, F.align_root(pts, pts[:, 9]))


def test_reference_length_and_scale_align():
    gt = F.align_root(_points(3, 21, 3), 9)
    assert torch.allclose(F.reference_length(gt), (gt[:, 9] - gt[:, 0]).norm(dim=-1))
    assert F.reference_length(torch.zeros(21, 3), eps=1e-4) == pytest.approx(1e-4)
    pred = 2.5 * gt
    assert torch.allclose(F.scale_align(pred, gt), gt)
    verts = _points(3, 50, 3, seed=1)
    # vertices take the factor of the joints: |gt_ref| / |pred_ref| = 1 / 2.5
    assert torch.allclose(F.scale_align(verts, gt, pred_joints=pred), verts / 2.5)


def test_procrustes_recovers_similarity_transform():
    gt = _points(5, 2, 21, 3)
    pred = 1.7 * gt @ _rotation(3).T + torch.tensor([0.1, -2.0, 0.5], dtype=torch.float64)
    aligned = F.procrustes_align(pred, gt)
    assert aligned.shape == gt.shape
    assert F.mpjpe(aligned, gt) < 1e-10
    assert torch.allclose(F.procrustes_align(gt, gt), gt)


def test_procrustes_excludes_reflection():
    gt = _points(1, 21, 3, seed=4)
    mirrored = gt * torch.tensor([-1., 1., 1.], dtype=torch.float64)
    aligned = F.procrustes_align(mirrored, gt)
    # a mirror image of a non-planar set cannot be reached by a proper rotation
    assert F.mpjpe(aligned, gt) > 1e-2

    def handedness(p):
        return torch.sign(torch.linalg.det(p[..., 1:4, :] - p[..., :1, :]))
    assert torch.equal(handedness(aligned), handedness(mirrored))


def test_mpjpe_hand_computed_with_mask():
    gt = torch.zeros(1, 3, 3)
    pred = torch.tensor([[[3., 4., 0.], [0., 0., 0.], [0., 0., 12.]]])
    assert F.mpjpe(pred, gt).item() == pytest.approx(17 / 3)
    mask = torch.tensor([[True, True, False]])
    assert F.mpjpe(pred, gt, mask).item() == pytest.approx(2.5)
    assert math.isnan(F.mpjpe(pred, gt, torch.zeros(1, 3)).item())


def test_relative_root_and_mrrpe():
    joints = torch.zeros(1, 2, 21, 3)
    joints[0, 0, 0] = torch.tensor([1., 2., 3.])  # left wrist
    joints[0, 1, 0] = torch.tensor([1., 0., 3.])  # right wrist
    rel = F.relative_root(joints)
    assert torch.equal(rel, torch.tensor([[0., 2., 0.]]))
    assert F.mrrpe(rel + torch.tensor([3., 0., 4.]), rel).item() == pytest.approx(5.)
