"""InterHandMetric: InterHand2.6M's official protocol, checked against hand-computed values
and against a reference written from the release's ``Dataset.evaluate`` description."""
import logging

import numpy as np
import pytest
import torch
from eval_samples import hand_type_flags, make_samples, random_hands, wrist_relative

from gclhand.evaluation import InterHandMetric, relative_root
from gclhand.hand.joints import library_to_interhand

F64 = dict(dtype=torch.float64)


def evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def _gt_rel(gj):
    return relative_root(gj)


def _annotated(num, seed=0, types=None, valid=None):
    """Mesh GT, *different* annotated GT, hand types and validity for ``num`` samples."""
    gj, gv = random_hands(num=num, seed=seed)
    annot = gj + 0.01 * torch.randn(gj.shape, generator=torch.Generator().manual_seed(seed + 7),
                                    **F64)
    types = types or ['interacting'] * num
    extra = dict(gt_joints_3d_annot=annot,
                 joints_valid=torch.ones(num, 2, 21) if valid is None else valid,
                 gt_hand_type=hand_type_flags(types), hand_type_valid=torch.ones(num))
    return gj, gv, annot, extra


# ------------------------------------------------------------------ mesh-joint fallback
def test_identical_and_translated_copies_are_zero():
    gj, gv = random_hands()
    shifted = gj + torch.tensor([0.3, 0.2, 0.1], **F64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, shifted, gv, _gt_rel(gj)))
    for key in ('mpjpe_left', 'mpjpe_right', 'mpjpe_all', 'mpjpe_interacting', 'mrrpe'):
        assert res[f'interhand/{key}'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/num_invalid_hands'] == 0
    assert np.isnan(res['interhand/mpjpe_single'])


def test_no_scaling_one_joint_and_mrrpe_known_values():
    gj, gv = random_hands(num=2)
    pj, pv = wrist_relative(gj, gv)
    pj[:, 1, 7] += torch.tensor([0.003, 0.004, 0.], **F64)  # right index joint: 5 mm
    rel = _gt_rel(gj) + torch.tensor([0., 0.012, 0.], **F64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, rel))
    assert res['interhand/mpjpe_right'] == pytest.approx(5 / 21)
    assert res['interhand/mpjpe_left'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/mpjpe_all'] == pytest.approx(5 / 42)
    assert res['interhand/mrrpe'] == pytest.approx(12.)
    # a scaled copy is an error under this protocol: mean |x_k - wrist| * (s - 1)
    pj2 = 2 * wrist_relative(gj, gv)[0]
    res = evaluate(InterHandMetric(with_mrrpe=False), make_samples(gj, gv, pj2, pv))
    per_joint = 1000 * (gj - gj[..., :1, :]).norm(dim=-1).mean(0)  # (2, 21) over samples
    assert res['interhand/mpjpe_all'] == pytest.approx(per_joint.mean().item())
    assert 'interhand/mrrpe' not in res


def test_fallback_uses_hand_valid_and_splits_by_it():
    """Without annotated joints: every joint of an annotated hand counts, and the hand type
    follows ``hand_valid`` (both hands: interacting)."""
    gj, gv = random_hands(num=3)
    pj, pv = wrist_relative(gj, gv)
    pj[:, :, 5] += torch.tensor([0.021, 0., 0.], **F64)  # 21 mm at joint 5 of each hand
    pj[0, 0, 5] += torch.tensor([0.021, 0., 0.], **F64)  # sample 0 left: 42 mm
    valid = torch.tensor([[1., 1.], [0., 1.], [0., 1.]])
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(gj), valid))
    assert res['interhand/num_invalid_hands'] == 2
    assert res['interhand/mpjpe_left'] == pytest.approx(42 / 21)
    assert res['interhand/mpjpe_right'] == pytest.approx(21 / 21)
    assert res['interhand/mpjpe_all'] == pytest.approx((42 + 21) / 42)
    assert res['interhand/mpjpe_interacting'] == pytest.approx((42 + 21) / 42)
    assert res['interhand/mpjpe_single'] == pytest.approx(21 / 21)  # right joints only
    assert res['interhand/mrrpe'] == pytest.approx(0, abs=1e-9)  # only sample 0 counts


def test_fallback_warns_once_and_strict_mode_refuses(monkeypatch):
    import gclhand.evaluation.metrics.interhand_metric as module
    logs = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logs.append(msg) or kwargs.append(
        kw), raising=False)
    kwargs = []
    gj, gv = random_hands(num=2)
    metric = InterHandMetric()
    for _ in range(2):
        metric.process(None, make_samples(gj, gv, gj, gv, _gt_rel(gj)))
    metric.evaluate(4)
    assert logs == [
        "InterHandMetric: the samples carry no 'gt_joints_3d_annot'; scoring against the "
        "mesh-regressed 'gt_joints_3d' with 'hand_valid' instead. InterHand2.6M numbers need "
        'the annotated joints: convert with gclhand prepare-interhand or read the release '
        'with InterHand26MDataset (docs/data.md)']
    with pytest.raises(KeyError, match="InterHandMetric: data sample 0 has no "
                                       "'gt_joints_3d_annot'"):
        InterHandMetric(gt_source='annotated').process(
            None, make_samples(gj, gv, gj, gv, _gt_rel(gj)))
    assert kwargs == [dict(logger='current', level=logging.WARNING)]


# ------------------------------------------------------------------ official protocol
def test_scores_against_annotated_joints_not_mesh_joints():
    gj, gv, annot, extra = _annotated(2)
    pj, pv = wrist_relative(annot, gv)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    for key in ('mpjpe_all', 'mpjpe_left', 'mpjpe_right', 'mpjpe_interacting', 'mrrpe'):
        assert res[f'interhand/{key}'] == pytest.approx(0, abs=1e-9)
    # the mesh joints are ~10 mm away from the annotation: scoring them is an error
    pj_mesh = wrist_relative(gj, gv)[0]
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj_mesh, pv, _gt_rel(gj), **extra))
    assert res['interhand/mpjpe_all'] > 5 and res['interhand/mrrpe'] > 1


def test_annotated_joints_without_the_release_regressor_warn_once(monkeypatch, tmp_path):
    """The model's own joints against InterHand2.6M's annotation mix in the offset between
    two joint definitions: said once; with ``joint_regressor`` nothing is said."""
    import gclhand.evaluation.metrics.interhand_metric as module
    logs = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logs.append((msg, kw)),
                        raising=False)
    gj, gv, annot, extra = _annotated(2)
    pj, pv = wrist_relative(annot, gv)
    metric = InterHandMetric()
    for _ in range(2):
        metric.process(None, make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert len(logs) == 1 and 'J_regressor_mano_ih26m.npy' in logs[0][0]
    assert "'pred_joints_3d'" in logs[0][0]
    assert logs[0][1] == dict(logger='current', level=logging.WARNING)
    # ... and the table of those numbers says so in its title
    assert 'not comparable with published numbers' in metric.table_note()
    path = tmp_path / 'reg.npy'
    np.save(path, np.eye(21, gv.shape[-2]))
    with_regressor = InterHandMetric(joint_regressor=str(path))
    with_regressor.process(None, make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert len(logs) == 1 and with_regressor.table_note() == ''
    mesh_only = InterHandMetric()  # synthetic data: no annotation, no caveat on the table
    mesh_only.process(None, make_samples(gj, gv, pj, pv, _gt_rel(gj)))
    assert mesh_only.table_note() == ''


def test_invalid_joints_and_invalid_roots_are_left_out():
    valid = torch.ones(2, 2, 21)
    valid[0, 1, 7] = 0   # sample 0: right index joint not annotated
    valid[1, 0, 0] = 0   # sample 1: left wrist not annotated -> the whole left hand
    gj, gv, annot, extra = _annotated(2, valid=valid)
    pj, pv = wrist_relative(annot, gv)
    pj[0, 1, 7] += torch.tensor([0.1, 0., 0.], **F64)   # 100 mm, but not annotated
    pj[1, 0, 3] += torch.tensor([0.1, 0., 0.], **F64)   # 100 mm, hand without root
    pj[0, 1, 5] += torch.tensor([0., 0.006, 0.], **F64)  # 6 mm, counted
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    # per joint: right joint 5 = mean(6, 0) = 3 mm, every other joint 0
    assert res['interhand/mpjpe_all'] == pytest.approx(3 / 42)
    assert res['interhand/mpjpe_right'] == pytest.approx(3 / 21)
    assert res['interhand/mpjpe_left'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/num_invalid_hands'] == 1
    # MRRPE needs both roots: sample 1 is left out
    rel = _gt_rel(annot)
    rel[0] += torch.tensor([0., 0., 0.004], **F64)
    rel[1] += torch.tensor([0.5, 0., 0.], **F64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, rel, **extra))
    assert res['interhand/mrrpe'] == pytest.approx(4.)


def test_mean_over_joints_of_per_joint_means():
    """InterHand2.6M averages each joint over the samples where it is annotated, then the
    42 joints (not one pooled mean over all valid joints, as mmpose's keypoint_mpjpe)."""
    valid = torch.ones(2, 2, 21)
    valid[1, 1] = 0  # sample 1: right hand not annotated
    gj, gv, annot, extra = _annotated(2, valid=valid)
    pj, pv = wrist_relative(annot, gv)
    pj[0, 1, 5] += torch.tensor([0.006, 0., 0.], **F64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert res['interhand/mpjpe_all'] == pytest.approx(6 / 42)  # pooled would be 6 / 63


def test_single_and_interacting_split_by_hand_type():
    types = ['interacting', 'right', 'left']
    gj, gv, annot, extra = _annotated(3, types=types)  # every joint annotated
    pj, pv = wrist_relative(annot, gv)
    pj[0, :, 9] += torch.tensor([0.004, 0., 0.], **F64)  # interacting: 4 mm, both hands
    pj[1, :, 9] += torch.tensor([0.008, 0., 0.], **F64)  # 'right' sample: 8 mm
    pj[2, :, 9] += torch.tensor([0.002, 0., 0.], **F64)  # 'left' sample: 2 mm
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert res['interhand/mpjpe_interacting'] == pytest.approx(2 * 4 / 42)
    # single: joint 9 of each hand = mean(8, 2) = 5 mm over the two single-hand samples
    assert res['interhand/mpjpe_single'] == pytest.approx(2 * 5 / 42)
    assert res['interhand/mpjpe_all'] == pytest.approx(2 * (4 + 8 + 2) / 3 / 42)
    # MRRPE only on interacting samples
    rel = _gt_rel(annot) + torch.tensor([[0., 0.003, 0.], [1., 0., 0.], [1., 0., 0.]], **F64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, rel, **extra))
    assert res['interhand/mrrpe'] == pytest.approx(3.)


@pytest.mark.parametrize('pred_hand_type, expected', [
    (None, 2 / 3),  # gclhand's estimator always outputs both hands: 'interacting'
    ([[0.9, 0.8], [0.2, 0.7], [0.9, 0.1], [0.6, 0.9]], 1.0),
    ([[0.4, 0.8], [0.6, 0.7], [0.1, 0.1], [0.6, 0.9]], 1 / 3),
])
def test_handedness_accuracy(pred_hand_type, expected):
    types = ['interacting', 'right', 'left', 'interacting']
    gj, gv, annot, extra = _annotated(4, types=types)
    extra['hand_type_valid'] = torch.tensor([1., 1., 0., 1.])  # sample 2 does not count
    if pred_hand_type is not None:
        extra['pred_hand_type'] = torch.tensor(pred_hand_type)
    pj, pv = wrist_relative(annot, gv)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert res['interhand/handedness_acc'] == pytest.approx(expected)


def _official_reference(pred, gt, valid, types, pred_rel):
    """InterHand2.6M's evaluation, restated on the 42-joint layout (right 0-20 with the wrist
    at 20, left 21-41 with the wrist at 41), in mm, for predictions already in camera space."""
    pred, gt = library_to_interhand(pred).numpy() * 1000, library_to_interhand(gt).numpy() * 1000
    valid = library_to_interhand(valid).numpy().copy()
    roots, parts = {'right': 20, 'left': 41}, {'right': slice(0, 21), 'left': slice(21, 42)}
    single, inter, mrrpe = [[] for _ in range(42)], [[] for _ in range(42)], []
    for n in range(len(pred)):
        for h in ('right', 'left'):
            valid[n, parts[h]] *= valid[n, roots[h]]
        if types[n] == 'interacting' and valid[n, 20] and valid[n, 41]:
            gt_rel = gt[n, 41] - gt[n, 20]
            mrrpe.append(np.linalg.norm(pred_rel[n].numpy() * 1000 - gt_rel))
        p, g = pred[n].copy(), gt[n].copy()
        for h in ('right', 'left'):
            p[parts[h]] -= p[roots[h]]
            g[parts[h]] -= g[roots[h]]
        for j in range(42):
            if valid[n, j]:
                (inter if types[n] == 'interacting' else single)[j].append(
                    np.linalg.norm(p[j] - g[j]))
    return dict(mpjpe_all=np.mean([np.mean(s + i) for s, i in zip(single, inter)]),
                mpjpe_single=np.mean([np.mean(s) for s in single]),
                mpjpe_interacting=np.mean([np.mean(i) for i in inter]),
                mrrpe=np.mean(mrrpe))


def test_matches_the_official_evaluation_on_random_data():
    num = 12
    types = ['interacting', 'right', 'left', 'interacting'] * 3
    g = torch.Generator().manual_seed(5)
    valid = (torch.rand(num, 2, 21, generator=g) > 0.2).float()
    valid[:4] = 1  # every joint annotated somewhere in both subsets
    presence = hand_type_flags(types)
    valid *= presence[:, :, None]  # single-hand samples: the other hand is not annotated
    gj, gv, annot, extra = _annotated(num, seed=2, types=types, valid=valid)
    pj = random_hands(num=num, seed=9)[0]  # arbitrary predictions (not root-relative)
    rel = 0.1 * torch.randn(num, 3, generator=g, **F64)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, gv, rel, **extra))
    ref = _official_reference(pj, annot, valid, types, rel)
    for key, value in ref.items():
        assert res[f'interhand/{key}'] == pytest.approx(value, rel=1e-9), key


def test_missing_rel_root_names_the_key():
    gj, gv = random_hands(num=1)
    with pytest.raises(KeyError, match='pred_rel_root'):
        InterHandMetric().process(None, make_samples(gj, gv, gj, gv))


def test_bad_gt_source_is_refused():
    with pytest.raises(ValueError, match="gt_source must be one of"):
        InterHandMetric(gt_source='mano')


def test_mesh_source_ignores_the_annotation():
    gj, gv, annot, extra = _annotated(2)
    pj, pv = wrist_relative(gj, gv)  # exact mesh joints
    res = evaluate(InterHandMetric(gt_source='mesh'),
                   make_samples(gj, gv, pj, pv, _gt_rel(gj), **extra))
    assert res['interhand/mpjpe_all'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/mrrpe'] == pytest.approx(0, abs=1e-9)


def test_per_sample_results_rows_and_hand_counts():
    valid = torch.ones(3, 2, 21)
    valid[0, 0] = 0          # sample 0: left hand not annotated
    valid[1, :, 0] = 0       # sample 1: neither wrist -> neither hand
    valid[2, 1, 4] = 0       # sample 2: right thumb tip missing
    gj, gv, annot, extra = _annotated(3, valid=valid, types=['right', 'interacting', 'left'])
    extra['gt_hand_type'][1] = 0  # no hand type at all for sample 1
    pj, pv = wrist_relative(annot, gv)
    pj[2, 1, 5] += torch.tensor([0., 0., 0.004], **F64)  # 4 mm at right index1
    metric = InterHandMetric()
    metric.process(None, make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    results = metric.results
    assert [r['hand_type'] for r in results] == ['right', 'none', 'left']
    assert results[0]['mpjpe'][0] is None and results[0]['mpjpe'][1] == pytest.approx(0)
    assert results[1]['mpjpe'] == [None, None]
    assert results[2]['mpjpe'] == pytest.approx([0., 4 / 20])  # 20 annotated right joints
    metrics, rows = metric.summarize(results)
    assert list(rows) == ['MPJPE', 'MPJPE single', 'MPJPE interacting', 'MRRPE',
                          'handedness acc. (0-1)', 'hands without annotation']
    assert rows['hands without annotation'] == (2, 1, 3)
    assert metrics['num_invalid_hands'] == 3
    assert rows['MPJPE'] == (metrics['mpjpe_left'], metrics['mpjpe_right'],
                             metrics['mpjpe_all'])


def test_per_joint_mean_of_a_joint_without_entries_is_nan():
    from gclhand.evaluation.metrics.interhand_metric import per_joint_mean
    out = per_joint_mean(np.array([[1., np.nan], [3., np.nan]]))
    assert out.dtype == np.float64 and out[0] == 2. and np.isnan(out[1])


def test_handedness_threshold_is_strict_and_empty_is_nan():
    gj, gv, annot, extra = _annotated(2, types=['interacting', 'interacting'])
    extra['pred_hand_type'] = torch.tensor([[0.5, 0.9], [0.9, 0.9]])  # 0.5: not present
    pj, pv = wrist_relative(annot, gv)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert res['interhand/handedness_acc'] == pytest.approx(0.5)
    extra['hand_type_valid'] = torch.zeros(2)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert np.isnan(res['interhand/handedness_acc'])
    # ... nor absent: the release wants the absent hand's score < 0.5 ('right' sample with
    # a left score of 0.5 is wrong; 0.49 is right)
    gj, gv, annot, extra = _annotated(3, types=['right', 'right', 'left'])
    extra['pred_hand_type'] = torch.tensor([[0.5, 0.9], [0.49, 0.9], [0.9, 0.5]])
    pj, pv = wrist_relative(annot, gv)
    res = evaluate(InterHandMetric(), make_samples(gj, gv, pj, pv, _gt_rel(annot), **extra))
    assert res['interhand/handedness_acc'] == pytest.approx(1 / 3)


def test_joint_regressor_regresses_the_predicted_mesh(tmp_path):
    """With the release's mesh-to-joint regressor (21 x V, InterHand2.6M's joint order) the
    predicted joints come from ``pred_verts_3d``: a regressor that averages two vertices per
    joint, on a mesh whose vertex pairs average to the annotated joints, scores 0; moving
    the right wrist's two vertices by 6 mm scores 6/21 mm on the right hand.  The model's own
    joints are then ignored."""
    from gclhand.hand.joints import INTERHAND_HAND_TO_LIBRARY
    num, V = 2, 50
    gj, gv, annot, extra = _annotated(num)
    g = torch.Generator().manual_seed(3)
    reg = np.zeros((21, V))
    verts = torch.zeros(num, 2, V, 3, **F64)
    for lib in range(21):
        ih = INTERHAND_HAND_TO_LIBRARY[lib]              # row of library joint `lib`
        a, b = 2 * ih, 2 * ih + 1
        reg[ih, [a, b]] = 0.5
        d = 0.01 * torch.randn(num, 2, 3, generator=g, **F64)
        verts[:, :, a] = annot[:, :, lib] + d
        verts[:, :, b] = annot[:, :, lib] - d
    wrist = annot[:, :, :1]
    verts = verts - wrist                                # wrist-relative, like predictions
    path = tmp_path / 'J_regressor_mano_ih26m.npy'
    np.save(path, reg)
    garbage = torch.randn(num, 2, 21, 3, generator=g, **F64)
    metric = InterHandMetric(joint_regressor=str(path), with_mrrpe=False)
    res = evaluate(metric, make_samples(gj, gv, garbage, verts, **extra))
    assert res['interhand/mpjpe_all'] == pytest.approx(0, abs=1e-9)
    wrist_ih = INTERHAND_HAND_TO_LIBRARY[0]
    verts[:, 1, [2 * wrist_ih, 2 * wrist_ih + 1]] += torch.tensor([0., 0.006, 0.], **F64)
    res = evaluate(InterHandMetric(joint_regressor=str(path), with_mrrpe=False),
                   make_samples(gj, gv, garbage, verts, **extra))
    # the wrist is the root: moving it moves the 20 others by -6 mm relative to it
    assert res['interhand/mpjpe_right'] == pytest.approx(6 * 20 / 21)
    assert res['interhand/mpjpe_left'] == pytest.approx(0, abs=1e-9)
    with pytest.raises(FileNotFoundError, match='J_regressor_mano_ih26m.npy of the InterHand'):
        InterHandMetric(joint_regressor=str(tmp_path / 'missing.npy'))
    np.save(tmp_path / 'bad.npy', np.zeros((16, V)))
    with pytest.raises(ValueError, match=r'shape \(16, 50\); expected a finite \(21, '):
        InterHandMetric(joint_regressor=str(tmp_path / 'bad.npy'))


def test_mrrpe_with_the_joint_regressor_uses_the_regressed_wrists(tmp_path):
    """``pred_rel_root`` joins the model's own wrists; with the release's regressor the MPJPE
    scores the regressed wrists, so MRRPE must too (the release takes both from one
    prediction).  A perfect prediction whose model wrists sit 4-9 mm away from the regressed
    ones scores 0, not the 13 mm between the two offsets; moving the regressed left wrist by
    5 mm then moves MRRPE by exactly 5 mm."""
    from gclhand.hand.joints import INTERHAND_HAND_TO_LIBRARY
    num, V = 2, 42
    gj, gv, annot, extra = _annotated(num)
    reg = np.zeros((21, V))
    for lib in range(21):
        reg[INTERHAND_HAND_TO_LIBRARY[lib], lib] = 1.  # vertex `lib` is library joint `lib`
    path = tmp_path / 'J_regressor_mano_ih26m.npy'
    np.save(path, reg)
    offset = torch.tensor([[0.004, 0., 0.], [0., -0.009, 0.]], **F64)  # model wrist, L / R
    verts = torch.zeros(num, 2, V, 3, **F64)
    verts[:, :, :21] = annot - annot[:, :, :1] - offset[:, None]  # model wrist at the origin
    model_joints = torch.zeros(num, 2, 21, 3, **F64)  # only their wrists (origin) matter
    world_model_wrists = annot[:, :, 0] + offset  # where the model's wrists are
    rel = world_model_wrists[:, 0] - world_model_wrists[:, 1]
    res = evaluate(InterHandMetric(joint_regressor=str(path)),
                   make_samples(gj, gv, model_joints, verts, rel, **extra))
    assert res['interhand/mpjpe_all'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/mrrpe'] == pytest.approx(0, abs=1e-9)
    verts[:, 0, :21] += torch.tensor([0., 0., 0.005], **F64)  # the whole left hand
    res = evaluate(InterHandMetric(joint_regressor=str(path)),
                   make_samples(gj, gv, model_joints, verts, rel, **extra))
    assert res['interhand/mpjpe_all'] == pytest.approx(0, abs=1e-9)
    assert res['interhand/mrrpe'] == pytest.approx(5.)
