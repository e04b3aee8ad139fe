import numpy as np
import pytest
import torch
from eval_samples import make_samples, random_hands, wrist_relative

from gclhand.evaluation import InterHandMetric, relative_root


def evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def _gt_rel(gj):
    return relative_root(gj)


def test_identical_and_translated_copies_are_zero():
    gj, gv = random_hands()
    shifted = gj + torch.tensor([0.3, 0.2, 0.1], dtype=torch.float64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, shifted, gv, _gt_rel(gj)))
    for key in ('mpjpe_left', 'mpjpe_right', 'mpjpe_all', 'mpjpe_interacting', 'mrrpe'):
        assert res[f'interhand/{key}'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/num_skipped_hands'] == 0
    assert np.isnan(res['interhand/mpjpe_single'])


def test_no_scaling_one_joint_and_mrrpe_known_values():
    gj, gv = random_hands(num=2)
    pj, pv = wrist_relative(gj, gv)
    pj[:, 1, 7] += torch.tensor([0.003, 0.004, 0.], dtype=torch.float64)  # right index joint
    rel = _gt_rel(gj) + torch.tensor([0., 0.012, 0.], dtype=torch.float64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, rel))
    assert res['interhand/mpjpe_right'] == pytest.approx(5 / 21)
    assert res['interhand/mpjpe_left'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/mpjpe_all'] == pytest.approx(5 / 42)
    assert res['interhand/mrrpe'] == pytest.approx(12.)
    # a scaled copy is an error under this protocol: mean |x_k - wrist| * (s - 1)
    pj2 = 2 * wrist_relative(gj, gv)[0]
    res = evaluate(InterHandMetric(with_mrrpe=False), make_samples(gj, gv, pj2, pv))
    expected = 1000 * (gj - gj[..., :1, :]).norm(dim=-1).mean().item()
    assert res['interhand/mpjpe_all'] == pytest.approx(expected)
    assert 'interhand/mrrpe' not in res


def test_skipped_hands_are_counted_and_split_single_interacting():
    gj, gv = random_hands(num=3)
    pj, pv = wrist_relative(gj, gv)
    pj[:, :, 5] += torch.tensor([0.021, 0., 0.], dtype=torch.float64)  # 1 mm per hand
    pj[0, 0, 5] += torch.tensor([0.021, 0., 0.], dtype=torch.float64)  # sample 0 left: 2 mm
    valid = torch.tensor([[1., 1.], [0., 1.], [0., 1.]])
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(gj), valid))
    assert res['interhand/num_skipped_hands'] == 2
    assert res['interhand/mpjpe_left'] == pytest.approx(2.)
    assert res['interhand/mpjpe_right'] == pytest.approx(1.)
    assert res['interhand/mpjpe_all'] == pytest.approx(5 / 4)
    assert res['interhand/mpjpe_interacting'] == pytest.approx(1.5)
    assert res['interhand/mpjpe_single'] == pytest.approx(1.)
    assert res['interhand/mrrpe'] == pytest.approx(0, abs=1e-9)  # only sample 0 counts


def test_matches_mmpose_keypoint_mpjpe():
    functional = pytest.importorskip('mmpose.evaluation.functional')
    gj, gv = random_hands(num=4, seed=3)
    pj, pv = random_hands(num=4, seed=4)
    valid = torch.tensor([[1., 1.], [0., 1.], [1., 0.], [1., 1.]])
    res = evaluate(InterHandMetric(with_mrrpe=False),
                   make_samples(gj, gv, pj, pv, hand_valid=valid))
    pred = (pj - pj[..., :1, :]).reshape(-1, 21, 3).numpy()
    gt = (gj - gj[..., :1, :]).reshape(-1, 21, 3).numpy()
    mask = np.repeat(valid.reshape(-1, 1).numpy() > 0, 21, axis=1)
    ref = functional.keypoint_mpjpe(pred, gt, mask) * 1000
    assert res['interhand/mpjpe_all'] == pytest.approx(ref)


def test_missing_rel_root_names_the_key():
    gj, gv = random_hands(num=1)
    with pytest.raises(KeyError, match='pred_rel_root'):
        InterHandMetric().process(None, make_samples(gj, gv, gj, gv))
