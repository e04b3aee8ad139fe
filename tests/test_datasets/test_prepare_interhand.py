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


def test_workers_give_same_output(release, tmp_path, monkeypatch):
    import gclhand.datasets.interhand_prepare as prep
    pools = []
    real_context = prep.mp.get_context
    monkeypatch.setattr(prep.mp, 'get_context',
                        lambda method: pools.append(method) or real_context(method))
    _run_tool(release, str(tmp_path / 'a'), '--split', 'test', '--img-size', '32',
              '--chunk', '1')
    _run_tool(release, str(tmp_path / 'c'), '--split', 'test', '--img-size', '32',
              '--workers', '2')
    assert pools == []  # one worker, or one work item: converted in this process
    _run_tool(release, str(tmp_path / 'b'), '--split', 'test', '--img-size', '32',
              '--workers', '2', '--chunk', '1')
    assert len(pools) == 1  # two work items, two workers: a process pool
    _run_tool(release, str(tmp_path / 'd'), '--split', 'test', '--img-size', '32',
              '--workers', '2', '--chunk', '1', '--min-image-mean', '256', '--no-aux-maps')
    record = json.load(open(tmp_path / 'd' / 'test' / 'conversion.json'))
    assert len(pools) == 2 and record['dropped_by_conversion'] == {'dark_image': 2}
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
    with pytest.raises(HandModelMismatchError) as err:
        _run_tool(release, out, '--split', 'test', '--img-size', '32', '--mano-dir', other)
    assert (f'partly converted with the procedural hand model {procedural.content_hash}, not '
            'with the ') in str(err.value)
    assert str(err.value).endswith('resume with the same --mano-dir, or delete the split '
                                   'folder to start over')


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
    with pytest.raises(ConfigError, match=r'other settings \(annotations=annotations/'
                       r'human_annot\); resume with the same options, or delete the split '
                       r'folder to start over$'):
        _run_tool(str(old), out, '--split', 'test', '--img-size', '32')


def test_converter_defaults_are_intaghands():
    """The converter's defaults are IntagHand's preprocessing settings, the same in the
    batch function and the entry point: 256 px crops at HAND_BBOX_RATIO 0.8, JPEG quality
    95, frames darker than 10/255 dropped, every auxiliary map, bad images an error."""
    import inspect

    from gclhand.datasets.aux_maps import AUX_KINDS
    from gclhand.datasets.interhand_prepare import convert_records, prepare_interhand
    expected = dict(img_size=256, hand_ratio=0.8, jpeg_quality=95, min_image_mean=10.0,
                    skip_bad_images=False, aux_maps=AUX_KINDS)
    for fn in (convert_records, prepare_interhand):
        params = inspect.signature(fn).parameters
        assert {k: params[k].default for k in expected} == expected, fn.__name__
    from gclhand.cli.prepare_interhand import parse_args
    args = vars(parse_args(['release', 'out', '--split', 'test']))
    assert {k: args[k] for k in ('img_size', 'hand_ratio', 'jpeg_quality', 'min_image_mean',
                                 'skip_bad_images', 'no_aux_maps', 'workers')} == dict(
        img_size=256, hand_ratio=0.8, jpeg_quality=95, min_image_mean=10.0,
        skip_bad_images=False, no_aux_maps=False, workers=1)


def test_pca_coefficients_solve_the_basis_in_float32(hand_model_pca_basis):
    from gclhand.datasets.interhand_prepare import pca_from_axis_angle
    comps = hand_model_pca_basis
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.4, size=(3, 45))
    coeffs = pca_from_axis_angle(pose, comps)
    assert coeffs.dtype == np.float32 and coeffs.shape == (3, 45)
    np.testing.assert_allclose(coeffs @ comps, pose, atol=1e-5)
    few = pca_from_axis_angle(pose, comps[:6])  # least squares in the first 6 components
    assert few.shape == (3, 6)
    np.testing.assert_allclose(few, pose @ np.linalg.pinv(comps[:6]), atol=1e-5)


@pytest.fixture
def hand_model_pca_basis():
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=False))
    return np.asarray(hm.arrays['right']['hands_components'], dtype=np.float64)


def test_source_image_errors_name_the_file(tmp_path):
    from gclhand.datasets.errors import ImageError
    from gclhand.datasets.interhand_prepare import read_image
    with pytest.raises(ImageError, match=r'missing\.jpg: image file not found \(is the '
                       r'images/ folder of the release extracted\?\)'):
        read_image(str(tmp_path / 'missing.jpg'))
    junk = tmp_path / 'junk.jpg'
    junk.write_bytes(b'not an image at all')
    with pytest.raises(ImageError, match=r'junk\.jpg: cannot decode image \(corrupt or not '
                       r'an image\)'):
        read_image(str(junk))
    bgr = np.zeros((6, 8, 3), np.uint8)
    bgr[..., 0], bgr[..., 2] = 200, 30  # blue, red: a grey decode would mix them
    full = cv2.imencode('.png', bgr)[1].tobytes()
    (tmp_path / 'ok.png').write_bytes(full)
    np.testing.assert_array_equal(read_image(str(tmp_path / 'ok.png')), bgr)
    (tmp_path / 'cut.png').write_bytes(full[:-20])
    with pytest.raises(ImageError, match=r'cut\.png: truncated PNG'):
        read_image(str(tmp_path / 'cut.png'))


def test_conversion_uses_the_given_hand_models(release, tmp_path, monkeypatch):
    """The fits are evaluated with the ``hand_model`` passed (its ``model_dir`` kept), and
    the PCA coefficients are for the same model with ``use_pca=True`` unless another is
    given."""
    import gclhand.datasets.interhand_prepare as prep
    from gclhand.datasets.interhand26m import read_interhand_release
    built = []
    real_build = prep.build_dataset_hand_model
    monkeypatch.setattr(prep, 'build_dataset_hand_model',
                        lambda cfg: built.append(cfg) or real_build(cfg))
    records, _ = read_interhand_release(release, 'test')
    axis_angle = dict(type='MANOHandModel', use_pca=False, model_dir=None,
                      num_pca_comps=45)
    counts = prep.convert_records(records, [0, 1], str(tmp_path / 'a'), img_size=32,
                                  hand_model=axis_angle, aux_maps=())
    assert counts == {'written': 2}
    assert built == [axis_angle, dict(axis_angle, use_pca=True)]
    built.clear()
    pca = dict(type='MANOHandModel', use_pca=True, num_pca_comps=12)
    prep.convert_records(records, [0, 1], str(tmp_path / 'b'), img_size=32,
                         pca_hand_model=pca, aux_maps=())
    assert built == [prep.AXIS_ANGLE_HAND_MODEL, pca]
    pose = load_pickle_restricted(str(tmp_path / 'b' / 'anno' / '0.pkl'))['mano_params']
    assert pose['left']['pose'].shape == (1, 12)


def test_written_annotation_keys_dtypes_and_crop_ratio(release, tmp_path):
    """``convert_records`` itself (before any renumbering) writes sample ``i`` with
    ``inter_idx = i``, IntagHand's keys plus ``joint_3d``, the release's image and
    annotation entries, float32 matrices, and a crop scaled by ``hand_ratio``."""
    from gclhand.datasets.interhand26m import read_interhand_release
    from gclhand.datasets.interhand_prepare import convert_records
    records, _ = read_interhand_release(release, 'test')
    scales = {}
    for ratio in (0.8, 0.5):
        split_dir = tmp_path / f'ratio{ratio}'
        assert convert_records(records, [5, 7], str(split_dir), img_size=48,
                               hand_ratio=ratio, aux_maps=()) == {'written': 2}
        assert sorted(os.listdir(split_dir / 'anno')) == ['5.pkl', '7.pkl']
        for r, i in zip(records, (5, 7)):
            anno = load_pickle_restricted(str(split_dir / 'anno' / f'{i}.pkl'))
            assert set(anno) == {'inter_idx', 'image', 'annotation', 'mano_params', 'camera',
                                 'joint_3d'}
            assert anno['inter_idx'] == i and anno['annotation'] == dict(r['annotation'])
            assert set(anno['image']) == set(r['image']) | {'crop_affine'}
            assert all(anno['image'][k] == v for k, v in r['image'].items())
            matrices = [anno['image']['crop_affine'], anno['camera']['camera']] + [
                anno['mano_params'][s][k] for s in ('left', 'right')
                for k in ('R', 'pose', 'shape', 'trans')]
            assert all(m.dtype == np.float32 for m in matrices)
            A = anno['image']['crop_affine'].astype(np.float64)
            scales.setdefault(i, []).append(np.sqrt(abs(np.linalg.det(A[:, :2]))))
            np.testing.assert_allclose(anno['camera']['camera'],
                                       np.vstack([A, [0, 0, 1]]) @ r['K'], rtol=1e-5)
            assert cv2.imread(str(split_dir / 'img' / f'{i}.jpg')).shape == (48, 48, 3)
    for i, (at_08, at_05) in scales.items():
        assert abs(at_05 / at_08 - 0.5 / 0.8) < 1e-5, i


def test_bad_and_dark_source_images_are_counted_per_sample(release, tmp_path):
    from gclhand.datasets.errors import ImageError
    from gclhand.datasets.interhand26m import read_interhand_release
    from gclhand.datasets.interhand_prepare import convert_records, read_image
    records, _ = read_interhand_release(release, 'test')
    missing = [dict(r, img_path=str(tmp_path / f'gone{k}.jpg')) for k, r in enumerate(records)]
    mixed = missing + records[:1]
    counts = convert_records(mixed, [0, 1, 2], str(tmp_path / 'skip'), img_size=32,
                             skip_bad_images=True, aux_maps=())
    assert counts == {'bad_image': 2, 'written': 1}
    with pytest.raises(ImageError, match='gone0.jpg'):
        convert_records(mixed, [0, 1, 2], str(tmp_path / 'raise'), img_size=32, aux_maps=())
    means = [read_image(r['img_path']).mean() for r in records]
    # a frame exactly at the threshold is kept (dropped only when darker)
    counts = convert_records(records, [0, 1], str(tmp_path / 'edge'), img_size=32,
                             min_image_mean=min(means), aux_maps=())
    assert counts == {'written': 2}
    counts = convert_records(records, [0, 1], str(tmp_path / 'dark'), img_size=32,
                             min_image_mean=max(means) + 1, aux_maps=())
    assert counts == {'dark_image': 2}


def _sparse_split(split_dir, positions):
    """Samples at record ``positions`` whose files say which record they are."""
    from gclhand.datasets.io import dump_pickle_atomic
    for sub in ('img', 'anno'):
        os.makedirs(os.path.join(split_dir, sub), exist_ok=True)
    for p in positions:
        with open(os.path.join(split_dir, 'img', f'{p}.jpg'), 'wb') as f:
            f.write(f'record {p}'.encode())
        dump_pickle_atomic(dict(inter_idx=p, record=p),
                           os.path.join(split_dir, 'anno', f'{p}.pkl'))


def _numbered(split_dir):
    """``{number: (record named by the image, record and inter_idx of the annotation)}``."""
    out = {}
    for name in os.listdir(os.path.join(split_dir, 'anno')):
        i = int(name[:-4])
        anno = load_pickle_restricted(os.path.join(split_dir, 'anno', name))
        img = open(os.path.join(split_dir, 'img', f'{i}.jpg'), 'rb').read().decode()
        out[i] = (int(img.split()[1]), anno['record'], anno['inter_idx'])
    return out


def test_renumbering_state_machine_resumes_from_every_state(tmp_path):
    """Compaction follows the plan written first, not a fresh listing (which an interrupted
    compaction has already changed); an interrupted expansion is finished before a
    compaction, and an interrupted compaction before an expansion."""
    from gclhand.datasets.interhand_prepare import (NUMBERING_FILE, _move_sample,
                                                    _write_numbering, expand_to_positions,
                                                    read_numbering, renumber_contiguous)
    split_dir = str(tmp_path / 'split')
    positions = [2, 5, 9]
    contiguous = {j: (p, p, j) for j, p in enumerate(positions)}
    at_positions = {p: (p, p, p) for p in positions}
    _sparse_split(split_dir, positions)
    strays = ('notes.pkl', '12.tmp')  # not samples: neither counted nor moved
    for name in strays:
        open(os.path.join(split_dir, 'anno', name), 'w').close()
    assert renumber_contiguous(split_dir, aux_maps=()) == 3
    for name in strays:
        os.remove(os.path.join(split_dir, 'anno', name))
    assert _numbered(split_dir) == contiguous
    assert read_numbering(split_dir) == dict(state='contiguous', source_index=positions)
    assert renumber_contiguous(split_dir, aux_maps=()) == 3  # finished: nothing moves

    # a compaction stopped after its first move: the listing now reads [0, 5, 9]
    expand_to_positions(split_dir, aux_maps=())
    assert _numbered(split_dir) == at_positions
    assert not os.path.exists(os.path.join(split_dir, NUMBERING_FILE))
    _write_numbering(split_dir, 'compacting', positions)
    _move_sample(split_dir, 2, 0, aux_maps=())
    assert renumber_contiguous(split_dir, aux_maps=()) == 3
    assert _numbered(split_dir) == contiguous
    assert read_numbering(split_dir)['source_index'] == positions

    # an expansion stopped after its first move (9 is back, 0 and 1 are not)
    _write_numbering(split_dir, 'expanding', positions)
    _move_sample(split_dir, 2, 9, aux_maps=())
    assert renumber_contiguous(split_dir, aux_maps=()) == 3
    assert _numbered(split_dir) == contiguous
    assert read_numbering(split_dir) == dict(state='contiguous', source_index=positions)

    # an expansion asked for while a compaction was stopped: the compaction ends first
    expand_to_positions(split_dir, aux_maps=())
    _write_numbering(split_dir, 'compacting', positions)
    _move_sample(split_dir, 2, 0, aux_maps=())
    expand_to_positions(split_dir, aux_maps=())
    assert _numbered(split_dir) == at_positions and read_numbering(split_dir) is None

    # the same expansion stopped after writing its plan, before any move
    renumber_contiguous(split_dir, aux_maps=())
    _write_numbering(split_dir, 'expanding', positions)
    expand_to_positions(split_dir, aux_maps=())
    assert _numbered(split_dir) == at_positions and read_numbering(split_dir) is None


@pytest.mark.parametrize('stop_after', [1, 2])
def test_a_crash_inside_a_renumbering_leaves_a_resumable_plan(tmp_path, monkeypatch,
                                                              stop_after):
    """A compaction or expansion that dies after ``stop_after`` moves has its plan on disk
    (written before the first move), so the next renumbering restores the record
    positions in numbering.json instead of trusting the half-moved listing."""
    import gclhand.datasets.interhand_prepare as prep
    split_dir = str(tmp_path / 'split')
    positions = [2, 5, 9]
    _sparse_split(split_dir, positions)
    real_move, moves = prep._move_sample, []

    def crashing_move(*args, **kwargs):
        if len(moves) == stop_after:
            raise KeyboardInterrupt
        moves.append(args[1:3])
        return real_move(*args, **kwargs)

    for renumbering, state in [(prep.renumber_contiguous, 'compacting'),
                               (prep.expand_to_positions, 'expanding')]:
        moves.clear()
        monkeypatch.setattr(prep, '_move_sample', crashing_move)
        with pytest.raises(KeyboardInterrupt):
            renumbering(split_dir, aux_maps=())
        assert prep.read_numbering(split_dir) == dict(state=state, source_index=positions)
        monkeypatch.setattr(prep, '_move_sample', real_move)
        assert prep.renumber_contiguous(split_dir, aux_maps=()) == 3
        assert prep.read_numbering(split_dir) == dict(state='contiguous',
                                                      source_index=positions)
        assert _numbered(split_dir) == {j: (p, p, j) for j, p in enumerate(positions)}


@pytest.mark.parametrize('changed', [('--img-size', '40'), ('--hand-ratio', '0.7'),
                                     ('--min-image-mean', '5'), ('--no-aux-maps', )])
def test_conversion_record_and_resuming_with_other_settings(release, tmp_path, monkeypatch,
                                                           capsys, changed):
    """conversion.json records the split, the release, the crop settings and the
    converter (with the hand model's identity); resuming with any crop setting changed is
    refused naming it.  The first conversion logs that the labels come from the
    procedural hand."""
    import gclhand.datasets.provenance as provenance
    from gclhand.utils import ConfigError
    logs = []
    monkeypatch.setattr(provenance, '_WARNED', set())
    monkeypatch.setattr(provenance, 'print_log', lambda msg, **kw: logs.append(msg))
    out = str(tmp_path / 'intag')
    base = ('--split', 'test', '--img-size', '32', '--no-progress')
    capsys.readouterr()
    _run_tool(release, out, *base)
    assert capsys.readouterr().err == ''  # --no-progress: no bar
    assert len(logs) == 1 and logs[0].startswith(
        'InterHand2.6M test (gclhand prepare-interhand) is labelled with the licence-free '
        'procedural hand model')
    record = json.load(open(os.path.join(out, 'test', 'conversion.json')))
    procedural = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    assert {k: record[k] for k in (
        'split', 'release_root', 'annotations', 'img_size', 'hand_ratio', 'crop',
        'min_image_mean', 'aux_maps', 'converter', 'hand_model_hash', 'hand_model_kind')} == dict(
        split='test', release_root=os.path.abspath(release),
        annotations=os.path.join('annotations', 'test'), img_size=32, hand_ratio=0.8,
        crop='intaghand_vertices', min_image_mean=10.0, aux_maps=['dense', 'hms', 'mask'],
        converter='gclhand.datasets.interhand_prepare',
        hand_model_hash=procedural.content_hash, hand_model_kind='procedural')
    from gclhand.datasets.aux_maps import AUX_MAPS_FORMAT
    assert record['aux_maps_format'] == AUX_MAPS_FORMAT
    os.remove(os.path.join(out, 'test', 'anno', '1.pkl'))  # an interrupted conversion
    key = changed[0][2:].replace('-', '_').replace('no_', '')
    with pytest.raises(ConfigError, match=rf'other settings \({key}='):
        _run_tool(release, out, *base, *changed)


def test_a_finished_split_is_not_converted_again(release, tmp_path, capsys):
    """Re-running a finished conversion reads no source image and moves no file (the
    dropped blank frame is not even opened again), and reports the drops recorded by the
    run that made it."""
    from gclhand.datasets.interhand_prepare import prepare_interhand
    _darken(release, 100)                                  # record 0: dropped as dark
    out = str(tmp_path / 'intag')
    split_dir = os.path.join(out, 'test')
    keys = ('selected', 'skipped_existing', 'converted', 'missing', 'out_dir')
    stats = prepare_interhand(release, out, 'test', img_size=32, aux_maps=(), progress=False)
    assert {k: stats[k] for k in keys} == dict(selected=2, skipped_existing=0, converted=1,
                                               missing=1, out_dir=split_dir)
    assert stats['dropped']['dark_image'] == 1
    record = json.load(open(os.path.join(split_dir, 'conversion.json')))
    assert record['converted_total'] == 1 and record['selected'] == 2
    assert record['numbering'].startswith('contiguous')
    anno = os.path.join(split_dir, 'anno', '0.pkl')
    mtime = os.stat(anno).st_mtime_ns
    os.remove(os.path.join(release, 'images', 'test', 'Capture0', 'ROM01', 'cam400262',
                           'image100.jpg'))
    capsys.readouterr()
    assert _run_tool(release, out, '--split', 'test', '--img-size', '32', '--no-aux-maps') == 0
    text = capsys.readouterr().out
    assert (f'2 interacting samples selected, 1 already converted, 0 converted now -> '
            f'{split_dir} (hand model: procedural') in text
    assert '\n  1: image darker than min_image_mean (blank frame' in text
    assert os.stat(anno).st_mtime_ns == mtime
    # the same release seen at another path: the record is refreshed, nothing converted
    moved = str(tmp_path / 'moved_release')
    os.symlink(release, moved)
    stats = prepare_interhand(moved, out, 'test', img_size=32, aux_maps=(), progress=False)
    assert {k: stats[k] for k in keys} == dict(selected=2, skipped_existing=1, converted=0,
                                               missing=1, out_dir=split_dir)
    record = json.load(open(os.path.join(split_dir, 'conversion.json')))
    assert record['release_root'] == os.path.abspath(moved)
    assert record['dropped_by_conversion'] == {'dark_image': 1}


def test_missing_annotations_are_a_one_line_error(tmp_path, capsys, monkeypatch):
    """``gclhand prepare-interhand`` on a root without annotations: exit status 2 and one
    line naming the files looked for (no traceback)."""
    from gclhand.cli import main
    monkeypatch.delenv('GCLHAND_DEBUG', raising=False)
    (tmp_path / 'root' / 'images').mkdir(parents=True)
    status = main(['prepare-interhand', str(tmp_path / 'root'), str(tmp_path / 'out'),
                   '--split', 'val', '--no-progress'])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert err[0].startswith('error: ' + os.path.join(
        str(tmp_path / 'root'), 'annotations', 'val', 'InterHand2.6M_val_data.json'))
    assert os.path.join('annotations', 'machine_annot', 'InterHand2.6M_val_data.json') in err[0]


def test_images_skipped_as_bad_are_named_and_retried_when_back(release, tmp_path, capsys):
    """``--skip-bad-images`` names each dropped image (report and conversion.json); a later
    run converts it once it is back, instead of replaying the old drop as finished."""
    import shutil
    out = str(tmp_path / 'intag')
    img = os.path.join(release, 'images', 'test', 'Capture0', 'ROM01', 'cam400262',
                       'image102.jpg')
    shutil.move(img, str(tmp_path / 'kept.jpg'))
    assert _run_tool(release, out, '--split', 'test', '--img-size', '32', '--no-aux-maps',
                     '--skip-bad-images', '--no-progress') == 0
    text = capsys.readouterr().out
    rel = os.path.join('images', 'test', 'Capture0', 'ROM01', 'cam400262', 'image102.jpg')
    assert f'\n  {rel} (bad_image)' in text
    record = json.load(open(os.path.join(out, 'test', 'conversion.json')))
    assert record['dropped_images'] == [dict(record=1, image=rel, reason='bad_image')]
    assert record['converted_total'] == 1
    shutil.move(str(tmp_path / 'kept.jpg'), img)
    assert _run_tool(release, out, '--split', 'test', '--img-size', '32', '--no-aux-maps',
                     '--no-progress') == 0
    text = capsys.readouterr().out
    assert '2 interacting samples selected, 1 already converted, 1 converted now' in text
    assert 'bad_image' not in text and 'missing or corrupt' not in text
    record = json.load(open(os.path.join(out, 'test', 'conversion.json')))
    assert record['converted_total'] == 2 and record['dropped_images'] == []
    assert sorted(os.listdir(os.path.join(out, 'test', 'anno'))) == ['0.pkl', '1.pkl']


def test_a_conversion_that_converts_nothing_fails(release, tmp_path, capsys):
    """Every image unreadable with --skip-bad-images: exit status 1 and an error line, not
    an empty split reported as done."""
    for name in os.listdir(os.path.join(release, 'images', 'test', 'Capture0', 'ROM01',
                                        'cam400262')):
        path = os.path.join(release, 'images', 'test', 'Capture0', 'ROM01', 'cam400262', name)
        open(path, 'wb').write(b'not a jpeg')
    assert _run_tool(release, str(tmp_path / 'o'), '--split', 'test', '--img-size', '32',
                     '--no-aux-maps', '--skip-bad-images', '--no-progress') == 1
    assert 'error: none of the 2 selected samples was converted' in capsys.readouterr().out


def test_images_under_the_archive_folder_are_converted(release, tmp_path):
    """The image archives extract to InterHand2.6M_5fps_batch1/images/: found there."""
    from gclhand.datasets.interhand_prepare import prepare_interhand
    batch = os.path.join(release, 'InterHand2.6M_5fps_batch1')
    os.makedirs(batch)
    os.rename(os.path.join(release, 'images'), os.path.join(batch, 'images'))
    stats = prepare_interhand(release, str(tmp_path / 'o'), 'test', img_size=32, aux_maps=(),
                              progress=False)
    assert stats['converted'] == 2


def test_intag_layout_refuses_an_axis_angle_hand_model(release, tmp_path):
    from gclhand.utils.build import ConfigError
    out = str(tmp_path / 'intag')
    assert _run_tool(release, out, '--split', 'test', '--img-size', '32', '--no-aux-maps',
                     '--no-progress') == 0
    with pytest.raises(ConfigError, match=r'InterHandIntagDataset: the data holds the finger '
                       r"pose as 45 PCA coefficients \(IntagHand's layout\), but "
                       r'hand_model.use_pca=False'):
        InterHandIntagDataset(out, 'test', hand_model=dict(type='MANOHandModel',
                                                           use_pca=False))
