import pytest
import torch
from eval_samples import make_samples, random_hands

from gclhand.evaluation import PAMPJPEMetric
from gclhand.registry import METRICS


def evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def test_rotated_scaled_translated_copy_is_zero():
    gj, gv = random_hands()
    rot = torch.tensor([[0., -1., 0.], [1., 0., 0.], [0., 0., 1.]], dtype=torch.float64)
    shift = torch.tensor([1., 2., 3.], dtype=torch.float64)
    res = evaluate(PAMPJPEMetric(), make_samples(gj, gv, 0.8 * gj @ rot.T + shift,
                                                 1.2 * gv @ rot.T - shift))
    assert set(res) == {f'pa/{k}{s}' for k in ('mpjpe', 'mpvpe') for s in ('', '_left', '_right')}
    assert all(v == pytest.approx(0, abs=1e-8) for v in res.values())


def test_articulation_error_remains_and_left_right_split():
    gj, gv = random_hands(num=2)
    pj = gj.clone()
    pj[:, 1] = gj[:, 1].flip(-2)  # right hand: joints permuted, not a similarity transform
    res = evaluate(METRICS.build(dict(type='PAMPJPEMetric', with_verts=False)),
                   make_samples(gj, gv, pj, gv))
    assert res['pa/mpjpe_left'] == pytest.approx(0, abs=1e-8)
    assert res['pa/mpjpe_right'] > 5.
    assert res['pa/mpjpe'] == pytest.approx(res['pa/mpjpe_right'] / 2)
    assert 'pa/mpvpe' not in res
