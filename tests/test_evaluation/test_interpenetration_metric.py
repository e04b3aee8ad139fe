import pytest
import torch
from eval_samples import octahedron

from gclhand.evaluation import InterpenetrationMetric


def _samples(rel_x, valid=(1., 1.)):
    verts, faces = octahedron(0.01)
    pv = torch.stack([verts, verts])  # each hand relative to its own wrist (at its centre)
    sample = dict(pred_verts_3d=pv, gt_verts_3d=pv, gt_joints_3d=torch.zeros(2, 21, 3),
                  pred_rel_root=torch.tensor([rel_x, 0., 0.]), hand_valid=torch.tensor(valid),
                  sample_idx=0, img_path='a.jpg')
    return [sample], faces


def test_overlapping_hands_known_depth():
    samples, faces = _samples(0.015)
    metric = InterpenetrationMetric(faces=dict(left=faces, right=faces.numpy()))
    metric.process(None, samples)
    res = metric.evaluate(1)
    assert res['penetration/max_depth_left'] == pytest.approx(5.)
    assert res['penetration/max_depth_right'] == pytest.approx(5.)
    assert res['penetration/mean_depth'] == pytest.approx(5. / 6)
    assert res['penetration/ratio'] == pytest.approx(100 / 6)
    assert res['penetration/num_evaluated'] == 1


def test_separated_hands_and_gt_placement():
    samples, faces = _samples(0.05)
    metric = InterpenetrationMetric(faces=dict(left=faces, right=faces), with_gt=True)
    metric.process(None, samples)
    res = metric.evaluate(1)
    assert res['penetration/max_depth'] == 0
    # the GT meshes sit on top of each other here: every vertex is on the other surface
    assert res['penetration/gt_max_depth'] == pytest.approx(0, abs=1e-12)
    # use_gt_rel_root: GT wrists coincide (zeros) -> identical octahedra, depth 0 too
    metric = InterpenetrationMetric(faces=dict(left=faces, right=faces), use_gt_rel_root=True)
    samples[0]['pred_verts_3d'] = samples[0]['pred_verts_3d'].clone()
    samples[0]['pred_verts_3d'][0] += torch.tensor([0.015, 0., 0.], dtype=torch.float64)
    metric.process(None, samples)
    assert metric.evaluate(1)['penetration/max_depth'] == pytest.approx(5.)


def test_samples_without_both_hands_are_not_evaluated():
    samples, faces = _samples(0.015, valid=(1., 0.))
    metric = InterpenetrationMetric(faces=dict(left=faces, right=faces))
    metric.process(None, samples)
    res = metric.evaluate(1)
    assert res['penetration/num_evaluated'] == 0


def test_faces_must_name_both_sides():
    _, faces = _samples(0.)
    with pytest.raises(ValueError, match='left'):
        InterpenetrationMetric(faces=dict(right=faces))
