"""tools/reference_errors.py on a tiny generated split."""
import numpy as np
import pytest

from gclhand.datasets.hand_gt import two_hand_gt
from gclhand.datasets.synth import generate_synthetic_dataset
from gclhand.hand import build_hand_model

from gclhand.cli import reference_errors as ref


@pytest.fixture(scope='module')
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth_ref')
    generate_synthetic_dataset(str(root), dict(val=4), splits='val', seed=0, img_size=32,
                               progress=False)
    return str(root / 'val')


def test_reference_predictors_order(split, capsys):
    params, cam_R, cam_t = ref.load_split(split, 4)
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    joints = lambda p: two_hand_gt(hm, p, cam_R, cam_t)[1]  # noqa: E731
    gt = joints(params)
    assert ref.intaghand_mpjpe(joints(ref.perturbed(params)), gt) < 1e-3  # unchanged = GT
    mean = ref.intaghand_mpjpe(joints(ref.perturbed(params, mean_pose=True)), gt)
    errs = [ref.intaghand_mpjpe(joints(ref.perturbed(
        params, degrees=d, rng=np.random.default_rng(0))), gt) for d in (5, 20, 60)]
    assert mean > 5 and errs[0] < errs[1] < errs[2]
    assert ref.main([split, '--num', '4', '--degrees', '20']) == 0
    out = capsys.readouterr().out
    assert '| mean articulation, true orientation |' in out and 'off by 20 deg' in out
    assert '| constant pose (image ignored), median of' in out


def test_constant_prediction_is_the_normalised_median(split):
    params, cam_R, cam_t = ref.load_split(split, 4)
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    gt = np.asarray(two_hand_gt(hm, params, cam_R, cam_t)[1])  # (4, 2, 21, 3) metres
    norm = ref.normalised_joints(gt)
    assert np.allclose(norm[:, :, 9], 0)                               # root = middle MCP
    assert np.allclose(np.linalg.norm(norm[:, :, 9] - norm[:, :, 0], axis=-1), 1)
    # three copies of sample 0 and one other: the median is sample 0, which scores 0 on it
    const = ref.constant_prediction(gt[[0, 0, 0, 1]], 2)
    assert const.shape == (2, 2, 21, 3) and np.allclose(const[1], norm[0])
    assert ref.intaghand_mpjpe(const[:1], gt[:1]) < 1e-3  # mm (float32 GT)
    assert ref.intaghand_mpjpe(const[:1], gt[1:2]) > 1.0


def test_missing_constant_split_is_named(split, tmp_path):
    with pytest.raises(SystemExit, match='--constant-from: no annotations in'):
        ref.main([split, '--num', '4', '--degrees', '20', '--constant-from', str(tmp_path)])


def test_missing_split_is_named(tmp_path):
    with pytest.raises(SystemExit, match='no annotations in'):
        ref.main([str(tmp_path)])
