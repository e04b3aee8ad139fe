"""tools/prepare_interhand.py on the fake release: output layout, label equality with the
direct reader, resumability."""
import os
import runpy

import numpy as np
import pytest

from datasets_fakes import write_fake_release
from gclhand.datasets import InterHand26MDataset, InterHandIntagDataset, read_intag_annotation
from gclhand.datasets.geometry import project_points
from gclhand.hand import build_hand_model

TOOL = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'prepare_interhand.py')


def _run_tool(*args):
    main = runpy.run_path(TOOL)['main']
    return main(list(args))


@pytest.fixture
def release(tmp_path):
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=False))
    write_fake_release(str(tmp_path / 'release'), hm, 'test')
    return str(tmp_path / 'release')


def test_prepare_and_read_back(release, tmp_path, capsys):
    out = str(tmp_path / 'intag')
    assert _run_tool(release, out, '--split', 'test', '--img-size', '64') == 0
    assert sorted(os.listdir(os.path.join(out, 'test', 'anno'))) == ['0.pkl', '1.pkl']
    assert sorted(os.listdir(os.path.join(out, 'test', 'img'))) == ['0.jpg', '1.jpg']
    anno = read_intag_annotation(os.path.join(out, 'test', 'anno', '1.pkl'))
    assert anno['mano']['left']['pose'].shape == (1, 45)

    prepared = InterHandIntagDataset(out, 'test', pipeline=[dict(type='LoadHandImage'),
                                                            dict(type='PackHandInputs')])
    direct = InterHand26MDataset(release, 'test')
    assert len(prepared) == len(direct) == 2
    for i in range(2):
        a, b = prepared.get_data_info(i), direct.get_data_info(i)
        # same 3D labels (PCA round trip of the pose, same extrinsics) ...
        np.testing.assert_allclose(a['gt_joints_3d'], b['gt_joints_3d'], atol=2e-4)
        np.testing.assert_allclose(a['gt_verts_3d'], b['gt_verts_3d'], atol=2e-4)
        # ... and the crop holds both hands with margin
        uv = project_points(a['gt_joints_3d'], a['cam_K'])
        assert uv.min() > 64 * 0.1 and uv.max() < 64 * 0.9
        side = max(np.ptp(uv[..., 0]), np.ptp(uv[..., 1]))
        assert abs(side - 0.7 * 64) < 0.5  # hands span hand_ratio of the crop
    sample = prepared[0]
    assert sample['inputs'].shape == (3, 64, 64)


def test_resume_skips_finished_samples(release, tmp_path, capsys):
    out = str(tmp_path / 'intag')
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    img0 = os.path.join(out, 'test', 'img', '0.jpg')
    anno1 = os.path.join(out, 'test', 'anno', '1.pkl')
    mtime0 = os.stat(img0).st_mtime_ns
    os.remove(anno1)  # interrupted before sample 1 finished
    capsys.readouterr()
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    text = capsys.readouterr().out
    assert '2 interacting samples selected, 1 already converted, 1 converted now' in text
    assert os.stat(img0).st_mtime_ns == mtime0 and os.path.isfile(anno1)
    assert not [f for f in os.listdir(os.path.join(out, 'test', 'anno')) if f.endswith('.tmp')]


def test_workers_give_same_output(release, tmp_path):
    _run_tool(release, str(tmp_path / 'a'), '--split', 'test', '--img-size', '32')
    _run_tool(release, str(tmp_path / 'b'), '--split', 'test', '--img-size', '32',
              '--workers', '2', '--chunk', '1')
    for i in range(2):
        a = read_intag_annotation(str(tmp_path / 'a' / 'test' / 'anno' / f'{i}.pkl'))
        b = read_intag_annotation(str(tmp_path / 'b' / 'test' / 'anno' / f'{i}.pkl'))
        np.testing.assert_array_equal(a['cam_K'], b['cam_K'])
        assert (tmp_path / 'a' / 'test' / 'img' / f'{i}.jpg').read_bytes() == \
            (tmp_path / 'b' / 'test' / 'img' / f'{i}.jpg').read_bytes()


def test_missing_source_image(release, tmp_path):
    from gclhand.datasets import ImageError
    img = os.path.join(release, 'images', 'test', 'Capture0', 'ROM01', 'cam400262',
                       'image102.jpg')
    os.remove(img)
    with pytest.raises(ImageError, match='image102.jpg: image file not found'):
        _run_tool(release, str(tmp_path / 'o'), '--split', 'test', '--img-size', '32')
    _run_tool(release, str(tmp_path / 'o'), '--split', 'test', '--img-size', '32',
              '--skip-bad-images')
    assert os.listdir(tmp_path / 'o' / 'test' / 'anno') == ['0.pkl']
