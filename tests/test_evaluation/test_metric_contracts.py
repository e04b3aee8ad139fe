"""What every metric promises: errors naming the metric and the field, float64 arithmetic,
identifying keys in the per-sample results, the table and the JSON file."""
import json

import numpy as np
import pytest
import torch
from eval_samples import make_samples, octahedron, random_hands, wrist_relative

from gclhand.evaluation import (IntagHandMetric, InterHandMetric, InterpenetrationMetric,
                                PAMPJPEMetric, relative_root)

F64 = dict(dtype=torch.float64)
_, OCTA_FACES = octahedron()
FACES = dict(left=OCTA_FACES, right=OCTA_FACES)

#: metric -> the fields it reads from a sample (all of them are checked)
READS = [
    (lambda: IntagHandMetric(), ['pred_joints_3d', 'gt_joints_3d', 'pred_verts_3d',
                                 'gt_verts_3d']),
    (lambda: InterHandMetric(), ['pred_joints_3d', 'gt_joints_3d_annot', 'joints_valid',
                                 'pred_rel_root', 'gt_hand_type', 'hand_type_valid',
                                 'pred_hand_type']),
    (lambda: InterHandMetric(gt_source='mesh'), ['gt_joints_3d']),
    (lambda: PAMPJPEMetric(), ['pred_joints_3d', 'gt_joints_3d', 'pred_verts_3d',
                               'gt_verts_3d']),
    (lambda: InterpenetrationMetric(faces=FACES, with_gt=True),
     ['pred_verts_3d', 'pred_rel_root', 'gt_verts_3d']),
    (lambda: InterpenetrationMetric(faces=FACES, use_gt_rel_root=True),
     ['pred_verts_3d', 'gt_joints_3d']),
]
CASES = [(make, field) for make, fields in READS for field in fields]


def _samples(num=2, seed=0, dtype=torch.float64, **kw):
    gj, gv = random_hands(num=num, num_verts=6, seed=seed)
    pj, pv = random_hands(num=num, num_verts=6, seed=seed + 1)
    gj, gv, pj, pv = (x.to(dtype) for x in (gj, gv, pj, pv))
    extra = dict(gt_joints_3d_annot=gj + 0.001, joints_valid=torch.ones(num, 2, 21),
                 gt_hand_type=torch.ones(num, 2), hand_type_valid=torch.ones(num),
                 pred_hand_type=torch.full((num, 2), 0.9))
    return make_samples(gj, gv, pj, pv, relative_root(pj) + 0.01, as_dict=True, **extra,
                        **kw)


@pytest.mark.parametrize('make, field', CASES)
def test_missing_field_names_metric_and_field(make, field):
    metric = make()
    samples = _samples()
    del samples[1][field]
    with pytest.raises(KeyError, match=f"{type(metric).__name__}: data sample 1 has no "
                                       f"'{field}'"):
        metric.process(None, samples)


@pytest.mark.parametrize('make, field', CASES)
def test_wrong_shape_names_metric_and_field(make, field):
    metric = make()
    samples = _samples()
    samples[0][field] = samples[0][field][..., None]  # one axis too many
    with pytest.raises(ValueError, match=f"{type(metric).__name__}: '{field}' of data "
                                         'sample 0 has shape'):
        metric.process(None, samples)


PRED_CASES = [(make, field) for make, field in CASES if field.startswith('pred_')]


@pytest.mark.parametrize('make, field', PRED_CASES)
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_a_prediction_that_is_not_a_number_is_refused(make, field, bad):
    """A diverged prediction must not be averaged away: ``nan`` also marks a hand that is
    not evaluated, so dropping it would make the means better than the model is (IntagHand's
    and InterHand2.6M's scripts print NaN).  The error names the metric, field and sample."""
    metric = make()
    samples = _samples(num=3)
    samples[2][field] = samples[2][field].clone()
    samples[2][field].view(-1)[0] = bad
    with pytest.raises(ValueError, match=f"{type(metric).__name__}: '{field}' of data "
                                         r"sample 2 \({'sample_idx': 2, 'img_path': "
                                         r"'img/2.jpg'}\) holds 1 NaN/inf value") as exc:
        metric.process(None, samples)
    # ... a FloatingPointError too, which the command line prints as one line
    from gclhand.cli.errors import format_known_error
    assert format_known_error(exc.value).startswith(f"{type(metric).__name__}: '{field}'")


def _run(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('make', [m for m, _ in READS[:3]])
@pytest.mark.parametrize('as_numpy', [False, True])
def test_float32_inputs_are_computed_in_float64(make, as_numpy):
    """float32 values give exactly the float64 result of the same values."""
    low = _samples(dtype=torch.float32)
    high = [{k: v.to(torch.float64) if torch.is_tensor(v) and v.is_floating_point() else v
             for k, v in s.items()} for s in low]
    if as_numpy:
        low = [{k: v.numpy() if torch.is_tensor(v) else v for k, v in s.items()} for s in low]
    a, b = _run(make(), low), _run(make(), high)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-13, abs=1e-13, nan_ok=True), key


@pytest.mark.parametrize('make', [m for m, _ in READS])
def test_samples_without_hand_valid_count_both_hands(make):
    with_flag = _samples()
    without = [{k: v for k, v in s.items() if k != 'hand_valid'} for s in _samples()]
    a, b = _run(make(), with_flag), _run(make(), without)
    assert a == pytest.approx(b, nan_ok=True)


@pytest.mark.parametrize('make', [m for m, _ in READS])
def test_per_sample_results_identify_the_sample(make, tmp_path):
    metric = make()
    metric.outfile_prefix = str(tmp_path / 'out')
    _run(metric, _samples(num=3))
    dumped = json.load(open(tmp_path / f'out.{metric.prefix}.json'))
    assert [(r['sample_idx'], r['img_path']) for r in dumped['per_sample']] == [
        (i, f'img/{i}.jpg') for i in range(3)]
    assert set(dumped['metrics']) == {f'{metric.prefix}/{k}' for k in
                                      metric.summarize(metric_results(make))[0]}


def metric_results(make):
    metric = make()
    metric.process(None, _samples(num=3))
    return metric.results


def test_base_options_reach_mmengine(tmp_path):
    metric = IntagHandMetric(collect_dir=str(tmp_path), prefix='x')
    assert (metric.collect_device, metric.collect_dir, metric.prefix) == (
        'cpu', str(tmp_path), 'x')
    assert IntagHandMetric(collect_device='gpu').collect_device == 'gpu'


def test_compute_metrics_logs_table_then_file(tmp_path, monkeypatch):
    from gclhand.evaluation.metrics import base_hand_metric
    logged = []
    monkeypatch.setattr(base_hand_metric.MMLogger, 'get_current_instance',
                        staticmethod(lambda: type('L', (), {'info': lambda s, m:
                                                            logged.append(m)})()))
    path = tmp_path / 'r'
    _run(PAMPJPEMetric(outfile_prefix=str(path)), _samples())
    assert logged[0].startswith('\nPAMPJPEMetric (2 samples, mm)\n+')
    assert logged[1] == f'PAMPJPEMetric: wrote {path}.pa.json'
    # a metric whose rows name their units (mm, %) puts none in the title
    metric = _nested_octahedra()
    metric.compute_metrics(metric.results)
    assert logged[2].startswith('\nInterpenetrationMetric (1 samples)\n+')


# ------------------------------------------------------------------ IntagHand protocol
def test_intaghand_mpvpe_hand_computed_per_hand():
    gj, gv = random_hands(num=2, num_verts=30)
    pj, pv = wrist_relative(gj, gv)
    pv[:, 1, 7] += torch.tensor([0., 0.006, 0.008], **F64)  # right hand, one vertex: 10 mm
    res = _run(IntagHandMetric(), make_samples(gj, gv, pj, pv))
    assert res['intaghand/mpvpe_right'] == pytest.approx(10 / 30)
    assert res['intaghand/mpvpe_left'] == pytest.approx(0, abs=1e-9)
    assert res['intaghand/mpvpe'] == pytest.approx(5 / 30)
    res = _run(IntagHandMetric(with_verts=False), make_samples(gj, gv, pj, pv))
    assert set(res) == {'intaghand/mpjpe', 'intaghand/mpjpe_left', 'intaghand/mpjpe_right'}


def test_intaghand_reference_bone_scales_joints_and_vertices():
    gj, gv = random_hands(num=1, num_verts=10)
    pj, pv = wrist_relative(gj, gv)
    pj[..., 5, :] = pj[..., 0, :] + 2 * (pj[..., 5, :] - pj[..., 0, :])  # index1 bone 2x
    res = _run(IntagHandMetric(ref_bone=(0, 5)), make_samples(gj, gv, pj, pv))
    # every point is scaled by 1/2 about the middle MCP (joint 9) before comparing
    rj, gjr = pj - pj[..., 9:10, :], gj - gj[..., 9:10, :]
    expected_j = 1000 * (0.5 * rj - gjr).norm(dim=-1).mean(-1)  # (1, 2)
    rv, gvr = pv - pj[..., 9:10, :], gv - gj[..., 9:10, :]
    expected_v = 1000 * (0.5 * rv - gvr).norm(dim=-1).mean(-1)
    assert res['intaghand/mpjpe'] == pytest.approx(expected_j.mean().item())
    assert res['intaghand/mpvpe'] == pytest.approx(expected_v.mean().item())
    assert res['intaghand/mpvpe'] > 1


# ------------------------------------------------------------------ PA-MPJPE
def _umeyama(p, g):
    """Similarity transform of ``p`` onto ``g`` (numpy, one point set)."""
    mp, mg = p.mean(0), g.mean(0)
    u, s, vt = np.linalg.svd((p - mp).T @ (g - mg))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    z = np.diag([1, 1, d])
    rot = vt.T @ z @ u.T
    scale = (s * np.diag(z)).sum() / ((p - mp) ** 2).sum()
    return scale * (p - mp) @ rot.T + mg


def test_pa_mpjpe_equals_an_independent_alignment():
    gj, gv = random_hands(num=2, num_verts=12, seed=3)
    pj, pv = random_hands(num=2, num_verts=12, seed=4)
    metric = PAMPJPEMetric()
    res = _run(metric, make_samples(gj, gv, pj, pv))
    for key, pred, gt in (('mpjpe', pj, gj), ('mpvpe', pv, gv)):
        err = np.array([[np.linalg.norm(_umeyama(pred[n, h].numpy(), gt[n, h].numpy()) -
                                        gt[n, h].numpy(), axis=-1).mean() for h in range(2)]
                        for n in range(2)]) * 1000
        assert res[f'pa/{key}_left'] == pytest.approx(err[:, 0].mean(), rel=1e-9)
        assert res[f'pa/{key}_right'] == pytest.approx(err[:, 1].mean(), rel=1e-9)
        assert res[f'pa/{key}'] == pytest.approx(err.mean(), rel=1e-9)
    rows = PAMPJPEMetric().summarize(metric_results(lambda: PAMPJPEMetric()))[1]
    assert list(rows) == ['PA-MPJPE', 'PA-MPVPE']


# ------------------------------------------------------------------ interpenetration
def _nested_octahedra(with_gt=False, **kwargs):
    """A small right octahedron (1 cm) inside a large left one (3 cm), same centre: every
    right vertex is 2 cm inside the left mesh, no left vertex is inside the right one."""
    big, faces = octahedron(0.03)
    small, _ = octahedron(0.01)
    sample = dict(pred_verts_3d=torch.stack([big, small]), gt_verts_3d=torch.stack([big, big]),
                  gt_joints_3d=torch.zeros(2, 21, 3), pred_rel_root=torch.zeros(3),
                  hand_valid=torch.ones(2), sample_idx=0, img_path='a.jpg')
    metric = InterpenetrationMetric(faces=dict(left=faces, right=faces), with_gt=with_gt,
                                    **kwargs)
    metric.process(None, [sample])
    return metric


def test_interpenetration_left_right_and_rows():
    metric = _nested_octahedra()
    metrics, rows = metric.summarize(metric.results)
    assert metrics['max_depth_left'] == 0 and metrics['ratio_left'] == 0
    assert metrics['max_depth_right'] == pytest.approx(20.)
    assert metrics['mean_depth_right'] == pytest.approx(20.)
    assert metrics['ratio_right'] == pytest.approx(100.)
    assert metrics['max_depth'] == pytest.approx(10.)
    assert list(rows) == ['max depth (mm)', 'mean depth (mm)', 'ratio (%)']
    assert rows['ratio (%)'] == pytest.approx((0., 100., 50.))
    metric = _nested_octahedra(with_gt=True)
    metrics, rows = metric.summarize(metric.results)
    assert list(rows)[3:] == ['GT max depth (mm)', 'GT mean depth (mm)', 'GT ratio (%)']
    assert metrics['gt_max_depth'] == pytest.approx(0, abs=1e-12)  # identical GT meshes
    assert not any(k.startswith('gt_') for k in _nested_octahedra().summarize(
        _nested_octahedra().results)[0])


def test_interpenetration_threshold_is_strict():
    depth = 0.02  # every right vertex is exactly this deep (see _nested_octahedra)
    metric = _nested_octahedra(threshold=depth * (1 - 1e-9))
    assert metric.summarize(metric.results)[0]['max_depth_right'] == pytest.approx(20.)
    metric = _nested_octahedra(threshold=depth * (1 + 1e-9))
    assert metric.summarize(metric.results)[0]['max_depth_right'] == 0


def test_interpenetration_moves_the_left_hand_by_the_relative_root():
    big, faces = octahedron(0.03)
    small, _ = octahedron(0.01)
    # the left (big) mesh predicted 10 cm to the left of its place: pred_rel_root brings it
    # back onto the right hand; the opposite sign would move it 20 cm away
    sample = dict(pred_verts_3d=torch.stack([big - torch.tensor([0.1, 0., 0.], **F64), small]),
                  pred_rel_root=torch.tensor([0.1, 0., 0.], **F64), hand_valid=torch.ones(2))
    metric = InterpenetrationMetric(faces=dict(left=faces, right=faces))
    metric.process(None, [sample])
    assert metric.summarize(metric.results)[0]['max_depth_right'] == pytest.approx(20.)


def test_interpenetration_faces_are_long_tensors_and_hand_model_is_kept():
    metric = InterpenetrationMetric(faces=dict(left=OCTA_FACES.int().tolist(),
                                               right=OCTA_FACES.numpy().astype(np.int32)))
    assert all(f.dtype == torch.long for f in metric.faces.values())
    cfg = dict(type='MANOHandModel', use_pca=False)
    assert InterpenetrationMetric(hand_model=cfg).hand_model == cfg
    assert InterpenetrationMetric().with_gt is False


def test_stack_field_default_owner_and_shape_wildcard():
    from gclhand.evaluation.metrics.base_hand_metric import stack_field
    with pytest.raises(KeyError, match="^\"metric: data sample 0 has no 'x'"):
        stack_field([{}], 'x')
    out = stack_field([{'x': np.zeros((2, 5))}, {'x': torch.ones(2, 5)}], 'x', shape=(2, -1))
    assert out.shape == (2, 2, 5) and out.dtype == torch.float64
