import pytest
import torch
from eval_samples import make_samples, random_hands, wrist_relative
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from gclhand.evaluation import relative_root
from gclhand.registry import EVALUATOR


def test_all_metrics_through_mmengine_evaluator(tmp_path):
    """Evaluator turns HandDataSample into dicts (to_dict) before the metrics see them."""
    gj, gv = random_hands(num=4, num_verts=6)
    pj, pv = wrist_relative(gj, gv)
    pj[:, :, 4] += torch.tensor([0.003, 0.004, 0.], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 5]])
    with DefaultScope.overwrite_default_scope('gclhand'):  # what the Runner sets up
        evaluator = EVALUATOR.build(dict(type='Evaluator', metrics=[
            dict(type='IntagHandMetric'),
            dict(type='InterHandMetric', outfile_prefix=str(tmp_path / 'out')),
            dict(type='PAMPJPEMetric'),
            dict(type='InterpenetrationMetric', faces=dict(left=faces, right=faces)),
        ]))
    assert isinstance(evaluator, Evaluator)
    for start in (0, 2):
        batch = make_samples(gj[start:start + 2], gv[start:start + 2], pj[start:start + 2],
                             pv[start:start + 2], relative_root(gj[start:start + 2]))
        evaluator.process(batch)
    res = evaluator.evaluate(4)
    assert res['intaghand/mpjpe'] == pytest.approx(5 / 21)
    assert res['interhand/mpjpe_all'] == pytest.approx(5 / 21)
    assert res['interhand/mrrpe'] == pytest.approx(0, abs=1e-9)
    # least squares spreads the one displaced joint over all joints: nonzero, and the mean
    # Euclidean error may even exceed the unaligned 5/21 mm
    assert res['pa/mpjpe'] > 0.05
    assert res['pa/mpvpe'] == pytest.approx(0, abs=1e-8)
    assert res['penetration/num_evaluated'] == 4
    assert (tmp_path / 'out.interhand.json').exists()
