"""ImageBlindMetric: the model against the best image-blind constant, by hand."""
import pytest
import torch

from gclhand.evaluation import IntagHandMetric
from gclhand.evaluation.metrics import ImageBlindMetric


def samples(pred, gt, valid=None):
    out = []
    for i in range(len(gt)):
        s = dict(pred_joints_3d=pred[i], gt_joints_3d=gt[i], sample_idx=i,
                 pred_verts_3d=torch.zeros(2, 778, 3), gt_verts_3d=torch.zeros(2, 778, 3))
        if valid is not None:
            s['hand_valid'] = valid[i]
        out.append(s)
    return out


def run(metric, data):
    metric.process(None, data)
    return metric.compute_metrics(metric.results)


def hands(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 21, 3, generator=g, dtype=torch.float64) * 0.03


def test_constant_is_the_median_pose_and_scores_like_a_prediction():
    gt = hands(7)
    const = ImageBlindMetric.constant(gt, torch.ones(7, 2, dtype=torch.bool))
    # by hand: aligned at joint 9, divided by |j9 - j0|, median over samples
    rel = gt - gt[..., 9:10, :]
    norm = rel / (gt[..., 9, :] - gt[..., 0, :]).norm(dim=-1)[..., None, None]
    torch.testing.assert_close(const, norm.median(dim=0).values)
    # a model that always predicts that constant scores exactly the constant: ratio 1
    pred = const.expand_as(gt).clone()
    m = run(ImageBlindMetric(), samples(pred, gt))
    assert m['model_to_constant'] == pytest.approx(1.0)
    # and its model MPJPE is IntagHandMetric's number
    ref = run(IntagHandMetric(with_verts=False), samples(pred, gt))
    assert m['model_mpjpe'] == pytest.approx(ref['mpjpe'])
    assert m['constant_mpjpe'] > 0


def test_perfect_model_scores_zero_ratio_and_invalid_hands_are_skipped():
    gt = hands(5, seed=1)
    m = run(ImageBlindMetric(), samples(gt.clone(), gt))
    assert m['model_mpjpe'] == pytest.approx(0.0, abs=1e-9) and m['model_to_constant'] == 0
    # a wrong prediction on an unannotated hand changes nothing
    pred = gt.clone()
    pred[0, 1] += 1.0
    valid = torch.ones(5, 2)
    valid[0, 1] = 0
    m2 = run(ImageBlindMetric(), samples(pred, gt, valid))
    assert m2['model_mpjpe'] == pytest.approx(0.0, abs=1e-9)
    # ... but the constant is computed without that hand too
    keep = torch.ones(5, 2, dtype=torch.bool)
    keep[0, 1] = False
    assert not torch.allclose(ImageBlindMetric.constant(gt, keep),
                              ImageBlindMetric.constant(gt, torch.ones_like(keep)))
