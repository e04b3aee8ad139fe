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


def test_scale_align_uses_the_given_bone_and_keeps_a_zero_gt_bone():
    gt = F.align_root(_points(3, 21, 3, seed=4), 0)
    pred = gt.clone()
    pred[:, 5] *= 3.0  # only the wrist -> index1 bone is 3x too long
    # bone (0, 5): scaled down by 3; the default bone (0, 9) would leave it unchanged
    assert torch.allclose(F.scale_align(pred, gt, bone=(0, 5)), pred / 3.0)
    assert torch.allclose(F.scale_align(pred, gt), pred)
    # a GT hand of zero size (missing) scales the prediction to exactly zero
    assert torch.equal(F.scale_align(pred, torch.zeros_like(gt)), torch.zeros_like(pred))


@pytest.mark.parametrize('batch', [(), (4, ), (2, 3)])
def test_procrustes_any_number_of_batch_dims(batch):
    gt = _points(*batch, 21, 3, seed=5)
    pred = 0.6 * gt @ _rotation(7).T + torch.tensor([0.3, 0.1, -1.0], dtype=torch.float64)
    assert torch.allclose(F.procrustes_align(pred, gt), gt, atol=1e-9)
    noisy = pred + 0.05 * _points(*batch, 21, 3, seed=6)
    aligned = F.procrustes_align(noisy, gt)
    # the optimum: a slightly other scale, shift or rotation of the result fits worse
    centre = aligned.mean(-2, keepdim=True)
    tilt = torch.linalg.matrix_exp(torch.tensor([[0., -0.02, 0.], [0.02, 0., 0.], [0., 0., 0.]],
                                                dtype=torch.float64))
    for other in ((aligned - centre) * 1.01 + centre, aligned + 0.001,
                  (aligned - centre) @ tilt.T + centre):
        assert ((aligned - gt) ** 2).sum() < ((other - gt) ** 2).sum()


def test_mrrpe_over_leading_dims():
    pred = torch.zeros(2, 2, 3, dtype=torch.float64)
    gt = torch.tensor([3., 4., 0.], dtype=torch.float64).expand(2, 2, 3)
    assert torch.equal(F.mrrpe(pred, gt), torch.full((2, 2), 5., dtype=torch.float64))
