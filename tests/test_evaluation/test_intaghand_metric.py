import json
import math

import pytest
import torch
from eval_samples import make_samples, random_hands, wrist_relative

from gclhand.evaluation import IntagHandMetric
from gclhand.registry import METRICS


def evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def test_identical_prediction_is_zero():
    gj, gv = random_hands()
    res = evaluate(IntagHandMetric(), make_samples(gj, gv, *wrist_relative(gj, gv)))
    assert set(res) == {f'intaghand/{k}{s}' for k in ('mpjpe', 'mpvpe')
                        for s in ('', '_left', '_right')}
    assert all(v == pytest.approx(0, abs=1e-9) for v in res.values())


def test_scaled_translated_copy_is_zero():
    gj, gv = random_hands()
    scale = torch.tensor([1.3, 0.7], dtype=torch.float64)[None, :, None, None]
    shift = torch.tensor([0.2, -0.1, 0.05], dtype=torch.float64)
    res = evaluate(IntagHandMetric(), make_samples(gj, gv, gj * scale + shift, gv * scale + shift))
    assert res['intaghand/mpjpe'] == pytest.approx(0, abs=1e-9)
    assert res['intaghand/mpvpe'] == pytest.approx(0, abs=1e-9)


def test_one_joint_moved_by_3_4_0_mm():
    gj, gv = random_hands()
    pj, pv = wrist_relative(gj, gv)
    pj[:, 0, 4] += torch.tensor([0.003, 0.004, 0.], dtype=torch.float64)  # left thumb tip
    res = evaluate(IntagHandMetric(), make_samples(gj, gv, pj, pv))
    assert res['intaghand/mpjpe_left'] == pytest.approx(5 / 21)
    assert res['intaghand/mpjpe_right'] == pytest.approx(0, abs=1e-9)
    assert res['intaghand/mpjpe'] == pytest.approx(5 / 42)
    assert res['intaghand/mpvpe'] == pytest.approx(0, abs=1e-9)


def test_dicts_arrays_and_data_samples_agree():
    gj, gv = random_hands(seed=1)
    pj, pv = random_hands(seed=2)
    a = evaluate(IntagHandMetric(), make_samples(gj, gv, pj, pv))
    b = evaluate(IntagHandMetric(), make_samples(gj, gv, pj, pv, as_dict=True, as_numpy=True))
    assert a == pytest.approx(b)
    assert a['intaghand/mpjpe'] > 1.


def test_invalid_hand_is_skipped_and_dumped(tmp_path):
    gj, gv = random_hands(num=2)
    pj, pv = wrist_relative(gj, gv)
    pj[:, 0] += 1.0  # a wildly wrong left hand ...
    pj[:, 0, 4] += 1.0
    valid = torch.tensor([[0., 1.], [0., 1.]])  # ... that is not annotated
    metric = IntagHandMetric(outfile_prefix=str(tmp_path / 'res'))
    res = evaluate(metric, make_samples(gj, gv, pj, pv, hand_valid=valid))
    assert math.isnan(res['intaghand/mpjpe_left'])
    assert res['intaghand/mpjpe'] == pytest.approx(0, abs=1e-9)
    with open(tmp_path / 'res.intaghand.json') as f:
        dumped = json.load(f)
    assert dumped['metrics']['intaghand/mpjpe_left'] is None
    assert dumped['per_sample'][1]['sample_idx'] == 1
    assert dumped['per_sample'][1]['img_path'] == 'img/1.jpg'
    assert dumped['per_sample'][1]['mpjpe'][0] is None


def test_missing_field_names_the_key():
    gj, gv = random_hands(num=1)
    sample = make_samples(gj, gv, gj, gv, as_dict=True)[0]
    del sample['pred_verts_3d']
    with pytest.raises(KeyError, match='pred_verts_3d'):
        IntagHandMetric().process(None, [sample])
    IntagHandMetric(with_verts=False).process(None, [sample])  # joints only: fine


def test_wrong_shape_is_reported():
    gj, gv = random_hands(num=1)
    sample = make_samples(gj, gv, gj, gv, as_dict=True)[0]
    sample['pred_joints_3d'] = sample['pred_joints_3d'][0]
    with pytest.raises(ValueError, match='pred_joints_3d'):
        IntagHandMetric().process(None, [sample])


def test_built_from_registry_with_options():
    metric = METRICS.build(dict(type='IntagHandMetric', root_index=0, prefix='ih'))
    assert isinstance(metric, IntagHandMetric) and metric.root_index == 0
    assert metric.prefix == 'ih'


def test_compute_metrics_logs_left_right_all_table(monkeypatch):
    from gclhand.evaluation.metrics import base_hand_metric

    logged = []

    class FakeLogger:
        def info(self, msg):
            logged.append(msg)

    monkeypatch.setattr(base_hand_metric.MMLogger, 'get_current_instance',
                        staticmethod(lambda: FakeLogger()))
    gj, gv = random_hands(num=2)
    pj, pv = wrist_relative(gj, gv)
    pj[:, 0, 4] += torch.tensor([0.003, 0.004, 0.], dtype=torch.float64)
    evaluate(IntagHandMetric(), make_samples(gj, gv, pj, pv))
    table = logged[0]
    assert 'IntagHandMetric (2 samples, mm)' in table
    assert 'left' in table and 'right' in table and 'all' in table
    row = next(line for line in table.splitlines() if 'MPJPE' in line)
    assert [c.strip() for c in row.strip('|').split('|')] == ['MPJPE', '0.24', '0.00', '0.12']
