"""tools/prepare_interhand.py on the fake release: output layout, label equality with the
direct reader, resumability."""
import json
import os
import runpy

import cv2
import numpy as np
import pytest

from datasets_fakes import write_fake_release
from gclhand.datasets import InterHand26MDataset, InterHandIntagDataset, read_intag_annotation
from gclhand.datasets.geometry import project_points
from gclhand.datasets.io import load_pickle_restricted
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
        # ... and IntagHand's crop (cut_img): the projected vertices' box spans 0.8 of the
        # crop side (HAND_BBOX_RATIO) and its centre lands on (S/2, S/2) = (32, 32)
        uv = project_points(a['gt_verts_3d'], a['cam_K']).reshape(-1, 2)
        lo, hi = uv.min(0), uv.max(0)
        assert abs((hi - lo).max() - 0.8 * 64) < 1e-3
        np.testing.assert_allclose((lo + hi) / 2, [32, 32], atol=1e-3)
        assert load_pickle_restricted(
            os.path.join(out, 'test', 'anno', f'{i}.pkl'))['inter_idx'] == i
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
        # one hand-model call per chunk: float32 rounding of batched products may differ
        np.testing.assert_allclose(a['cam_K'], b['cam_K'], rtol=1e-6)
        img_a, img_b = (cv2.imread(str(tmp_path / d / 'test' / 'img' / f'{i}.jpg')).astype(int)
                        for d in 'ab')
        assert np.abs(img_a - img_b).max() <= 1


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


def test_converted_split_keeps_the_official_protocol_fields(release, tmp_path):
    out = str(tmp_path / 'intag')
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    prepared = InterHandIntagDataset(out, 'test')
    direct = InterHand26MDataset(release, 'test')
    for i in range(2):
        a, b = prepared.get_data_info(i), direct.get_data_info(i)
        for key in ('gt_joints_3d_annot', 'joints_valid', 'gt_hand_type', 'hand_type_valid'):
            np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
    assert not prepared.get_data_info(1)['joints_valid'][0].any()  # left wrist missing


def test_report_counts_drops_per_reason(release, tmp_path, capsys):
    import cv2
    dark = os.path.join(release, 'images', 'test', 'Capture0', 'ROM01', 'cam400262',
                        'image102.jpg')
    cv2.imwrite(dark, np.full((240, 160, 3), 4, np.uint8))  # a blank frame
    out = str(tmp_path / 'intag')
    capsys.readouterr()
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    text = capsys.readouterr().out
    assert '2 interacting samples selected, 0 already converted, 1 converted now' in text
    assert 'dropped 3 annotation(s):' in text
    for line in ("1: hand_type is 'left' or 'right' (IntagHand keeps interacting hands only)",
                 "1: hand_type_valid is 0 (IntagHand's selection drops it)",
                 '1: image darker than min_image_mean'):
        assert line in text
    assert os.listdir(os.path.join(out, 'test', 'anno')) == ['0.pkl']
    record = json.load(open(os.path.join(out, 'test', 'conversion.json')))
    assert record['dropped'] == {'not_interacting': 1, 'hand_type_invalid': 1, 'dark_image': 1}
    _run_tool(release, str(tmp_path / 'all'), '--split', 'test', '--img-size', '32',
              '--min-image-mean', '0')
    assert len(os.listdir(tmp_path / 'all' / 'test' / 'anno')) == 2


def _reordered_pca_model(tmp_path, hm):
    """The same hand with its PCA basis reversed: a different MANO-format model whose
    axis-angle poses agree but whose PCA coefficients do not."""
    from gclhand.hand.mano_io import MANO_FILES, save_mano_arrays
    folder = tmp_path / 'other_mano'
    for side, name in MANO_FILES.items():
        arrays = dict(hm.arrays[side])
        arrays['hands_components'] = arrays['hands_components'][::-1].copy()
        save_mano_arrays(arrays, str(folder / name))
    return str(folder)


def test_loading_with_another_hand_model_is_refused(release, tmp_path):
    from gclhand.datasets.provenance import HandModelMismatchError
    out = str(tmp_path / 'intag')
    _run_tool(release, out, '--split', 'test', '--img-size', '32')  # procedural hand
    record = json.load(open(os.path.join(out, 'test', 'conversion.json')))
    procedural = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    assert record['hand_model_hash'] == procedural.content_hash
    assert record['hand_model_kind'] == 'procedural' and record['source'] == 'InterHand2.6M'
    other = _reordered_pca_model(tmp_path, procedural)
    with pytest.raises(HandModelMismatchError) as err:
        InterHandIntagDataset(out, 'test', hand_model=dict(type='MANOHandModel', use_pca=True,
                                                           model_dir=other))
    message = str(err.value)
    assert '\n' not in message and 'conversion.json' in message
    assert f"made with the procedural hand model {procedural.content_hash}" in message
    assert 'loads the MANO hand model' in message and other in message
    assert 'GCLHAND_MANO_DIR' in message
    # resuming the conversion with the other model is refused as well
    os.remove(os.path.join(out, 'test', 'anno', '1.pkl'))
    with pytest.raises(HandModelMismatchError, match='resume with the same --mano-dir'):
        _run_tool(release, out, '--split', 'test', '--img-size', '32', '--mano-dir', other)


def test_procedural_conversion_warns_once_when_loaded(release, tmp_path, monkeypatch):
    import gclhand.datasets.provenance as provenance
    logs = []
    monkeypatch.setattr(provenance, 'print_log', lambda msg, **kw: logs.append(msg))
    monkeypatch.setattr(provenance, '_WARNED', set())
    out = str(tmp_path / 'intag')
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    InterHandIntagDataset(out, 'test')
    assert len(logs) == 1 and 'procedural hand model' in logs[0]


def test_docs_and_configs_agree_on_the_data_root():
    """Every documented conversion writes where the InterHand2.6M configs read."""
    import glob
    import re
    repo = os.path.join(os.path.dirname(__file__), '..', '..')
    base = open(os.path.join(repo, 'configs', '_base_', 'datasets', 'interhand_intag.py')).read()
    root = re.search(r"data_root = '\{\{\$GCLHAND_INTERHAND_ROOT:([^}]+)\}\}'", base).group(1)
    commands = []
    for path in [os.path.join(repo, 'README.md'), os.path.join(repo, 'tools',
                                                                'prepare_interhand.py'),
                 os.path.join(repo, 'gclhand', 'cli', 'prepare_interhand.py')] + \
            glob.glob(os.path.join(repo, 'docs', '*.md')):
        text = open(path).read().replace('\\\n', ' ')
        commands += [(path, m.group(1)) for m in re.finditer(
            r'prepare[-_]interhand(?:\.py)?\s+(?!-)\S+\s+(\S+)\s+--split', text)]
    assert len(commands) >= 4
    assert {out for _, out in commands} == {root}, commands


def test_auxiliary_maps_are_written_in_intaghands_layout(release, tmp_path):
    """mask/{i}.jpg, dense/{i}.jpg and hms/{i}_{k}_{left|right}.jpg (k = 0..6), rendered
    from the MANO fits into the crop: heatmap peaks at the projected joints, each hand's
    silhouette in its own mask channel under its projected vertices."""
    from gclhand.datasets.aux_maps import HEATMAP_SIZE, read_aux_map
    out = str(tmp_path / 'intag')
    _run_tool(release, out, '--split', 'test', '--img-size', '64')
    split = os.path.join(out, 'test')
    assert sorted(os.listdir(os.path.join(split, 'mask'))) == ['0.jpg', '1.jpg']
    assert sorted(os.listdir(os.path.join(split, 'dense'))) == ['0.jpg', '1.jpg']
    assert sorted(os.listdir(os.path.join(split, 'hms'))) == sorted(
        f'{i}_{k}_{side}.jpg' for i in range(2) for k in range(7) for side in ('left', 'right'))
    info = InterHandIntagDataset(out, 'test').get_data_info(0)
    uv = project_points(info['gt_joints_3d'], info['cam_K'])                 # (2, 21, 2)
    hms = read_aux_map(split, 0, 'hms').astype(float)                       # (64, 64, 42)
    expected = (uv.reshape(-1, 2) + 0.5) * HEATMAP_SIZE / 64 - 0.5
    peaks = np.array([np.unravel_index(np.argmax(hms[..., j]), hms.shape[:2])[::-1]
                      for j in range(42)])
    assert np.abs(peaks - expected).max() <= 1.0
    import cv2
    mask = read_aux_map(split, 0, 'mask')                                   # (64, 64, 2)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # vertices on the outline: 1 px
    verts_uv = np.rint(project_points(info['gt_verts_3d'], info['cam_K'])).astype(int)
    for h in range(2):
        inside = (verts_uv[h] >= 0).all(-1) & (verts_uv[h] < 64).all(-1)
        u, v = verts_uv[h][inside].T
        assert (mask[v, u].max(-1) > 0).mean() > 0.98  # the hand's pixels are masked ...
        own = (mask[v, u, h] > 0).mean()
        assert own > 0.5 and own > (mask[v, u, 1 - h] > 0).mean()  # ... mostly as itself
    dense = read_aux_map(split, 0, 'dense')
    hand = read_aux_map(split, 0, 'mask').max(-1) > 0
    background = dense[cv2.dilate(hand.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0]
    assert dense[hand].mean() > 40 and background.mean() < 5  # JPEG rings a few pixels
    # off: no folders; resuming with the other setting is refused
    _run_tool(release, str(tmp_path / 'plain'), '--split', 'test', '--img-size', '64',
              '--no-aux-maps')
    assert sorted(os.listdir(tmp_path / 'plain' / 'test')) == ['anno', 'conversion.json', 'img',
                                                                 'numbering.json']
    from gclhand.utils.build import ConfigError
    with pytest.raises(ConfigError, match='aux_maps'):
        _run_tool(release, str(tmp_path / 'plain'), '--split', 'test', '--img-size', '64')


def _darken(release, frame):
    import cv2
    path = os.path.join(release, 'images', 'test', 'Capture0', 'ROM01', 'cam400262',
                        f'image{frame}.jpg')
    cv2.imwrite(path, np.full((240, 160, 3), 4, np.uint8))  # a blank frame


def _files(split_dir):
    return {sub: sorted(os.listdir(os.path.join(split_dir, sub)))
            if os.path.isdir(os.path.join(split_dir, sub)) else []
            for sub in ('img', 'anno', 'mask', 'dense', 'hms')}


def test_samples_are_numbered_contiguously_like_intaghand(release, tmp_path, capsys):
    """IntagHand numbers the samples it writes 0..N-1 (its reader counts anno/*.pkl and
    reads range(count)): when the first selected record is dropped (a blank frame), the
    second becomes sample 0, with all its files, ``inter_idx`` 0 and its record position
    kept in numbering.json; a re-run does nothing, and a run that selects more records
    first puts the samples back at their positions."""
    from gclhand.datasets.interhand_prepare import read_numbering
    _darken(release, 100)                                  # record 0 of the selection
    out = str(tmp_path / 'intag')
    split_dir = os.path.join(out, 'test')
    _run_tool(release, out, '--split', 'test', '--img-size', '32', '--max-samples', '1')
    assert _files(split_dir)['anno'] == [] and read_numbering(split_dir)['source_index'] == []
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    files = _files(split_dir)
    assert files['img'] == ['0.jpg'] and files['anno'] == ['0.pkl']
    assert files['mask'] == ['0.jpg'] and files['dense'] == ['0.jpg']
    assert len(files['hms']) == 14 and all(f.startswith('0_') for f in files['hms'])
    assert read_numbering(split_dir) == dict(state='contiguous', source_index=[1])
    assert load_pickle_restricted(os.path.join(split_dir, 'anno', '0.pkl'))['inter_idx'] == 0
    prepared = InterHandIntagDataset(out, 'test')
    direct = InterHand26MDataset(release, 'test')
    assert len(prepared) == 1
    np.testing.assert_allclose(prepared.get_data_info(0)['gt_joints_3d'],
                               direct.get_data_info(1)['gt_joints_3d'], atol=2e-4)
    mtime = os.stat(os.path.join(split_dir, 'img', '0.jpg')).st_mtime_ns
    capsys.readouterr()
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    assert '2 interacting samples selected, 1 already converted, 0 converted now' in \
        capsys.readouterr().out
    assert os.stat(os.path.join(split_dir, 'img', '0.jpg')).st_mtime_ns == mtime
    record = json.load(open(os.path.join(split_dir, 'conversion.json')))
    assert record['dropped']['dark_image'] == 1 and record['selected'] == 2
    assert '_path' not in record


def test_an_interrupted_renumbering_finishes(release, tmp_path):
    """Every move is idempotent and the plan is written first: a renumbering stopped after
    any file resumes to the same files; expanding and compacting again gives them back."""
    from gclhand.datasets.interhand_prepare import (_write_numbering, expand_to_positions,
                                                    read_numbering, renumber_contiguous)
    _darken(release, 100)
    out = str(tmp_path / 'intag')
    split_dir = os.path.join(out, 'test')
    _run_tool(release, out, '--split', 'test', '--img-size', '32')
    before = {p: open(os.path.join(split_dir, 'img', p), 'rb').read()
              for p in _files(split_dir)['img']}
    expand_to_positions(split_dir)
    assert read_numbering(split_dir) is None
    files = _files(split_dir)
    assert files['img'] == ['1.jpg'] and files['anno'] == ['1.pkl']
    assert load_pickle_restricted(os.path.join(split_dir, 'anno', '1.pkl'))['inter_idx'] == 1
    # stopped after moving the image and the mask, before the heatmaps and the annotation
    _write_numbering(split_dir, 'compacting', [1])
    for sub in ('img', 'mask'):
        os.replace(os.path.join(split_dir, sub, '1.jpg'), os.path.join(split_dir, sub, '0.jpg'))
    assert renumber_contiguous(split_dir) == 1
    files = _files(split_dir)
    assert files['img'] == files['mask'] == files['dense'] == ['0.jpg']
    assert files['anno'] == ['0.pkl'] and all(f.startswith('0_') for f in files['hms'])
    assert load_pickle_restricted(os.path.join(split_dir, 'anno', '0.pkl'))['inter_idx'] == 0
    assert {p: open(os.path.join(split_dir, 'img', p), 'rb').read()
            for p in files['img']} == before


def test_an_earlier_layout_subset_is_converted_and_recorded(release, tmp_path):
    """--annot-subset reads annotations/{subset}/ of a release before June 2021; the
    folder is recorded, and resuming the split from another folder is refused."""
    import shutil
    from gclhand.utils import ConfigError
    old = tmp_path / 'old'
    shutil.copytree(os.path.join(release, 'annotations', 'test'),
                    old / 'annotations' / 'human_annot')
    os.symlink(os.path.join(release, 'images'), old / 'images')
    out = str(tmp_path / 'intag')
    assert _run_tool(str(old), out, '--split', 'test', '--img-size', '32',
                     '--annot-subset', 'human_annot') == 0
    record = json.loads(open(os.path.join(out, 'test', 'conversion.json')).read())
    assert record['annotations'] == os.path.join('annotations', 'human_annot')
    os.remove(os.path.join(out, 'test', 'anno', '1.pkl'))  # an interrupted conversion
    shutil.copytree(old / 'annotations' / 'human_annot', old / 'annotations' / 'all')
    with pytest.raises(ConfigError, match=r'annotations=annotations/human_annot'):
        _run_tool(str(old), out, '--split', 'test', '--img-size', '32')
