"""InterHand26MDataset on a tiny hand-made fake release."""
import json
import os

import numpy as np
import pytest

from datasets_fakes import write_fake_release
from gclhand.datasets import (AnnotationError, InterHand26MDataset, load_interhand_release,
                              project_points)
from gclhand.datasets.interhand26m import describe_dropped, read_interhand_release
from gclhand.hand import build_hand_model


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp('ih26m')
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=False))
    meta = write_fake_release(str(root), hm, 'test')
    return str(root), meta


def test_selection_keeps_interacting_valid_with_both_fits(release):
    root, meta = release
    records = load_interhand_release(root, 'test')
    assert [r['image']['id'] for r in records] == meta['valid_ids']
    # the official set: + the right-only sample and the one with hand_type_valid = 0
    everything = load_interhand_release(root, 'test', interacting_only=False)
    assert [r['image']['id'] for r in everything] == [0, 1, 2, 3]
    assert everything[1]['mano']['left'] is None
    assert [r['hand_type_valid'] for r in everything] == [1, 1, 1, 0]


def test_selection_counts_what_it_drops(release):
    root, _ = release
    records, dropped = read_interhand_release(root, 'test')
    assert len(records) == 2
    assert dropped == {'not_interacting': 1, 'hand_type_invalid': 1}
    assert describe_dropped(dropped) == [
        "1: hand_type is 'left' or 'right' (IntagHand keeps interacting hands only)",
        "1: hand_type_valid is 0 (IntagHand's selection drops it)"]


def test_camera_conversion(release):
    root, meta = release
    r = load_interhand_release(root, 'test')[0]
    np.testing.assert_allclose(r['cam_R'], meta['camrot'], atol=1e-6)
    # the camera centre (mm in the file) maps to the origin of the camera frame (m)
    np.testing.assert_allclose(r['cam_R'] @ (meta['campos'] / 1000) + r['cam_t'], 0,
                               atol=1e-6)
    assert r['K'][0, 0] == 300 and r['K'][1, 1] == 310 and r['K'][0, 2] == 83


def test_dataset_labels_match_annotated_joints(release):
    root, _ = release
    ds = InterHand26MDataset(root, 'test', pipeline=[dict(type='LoadHandImage'),
                                                     dict(type='PackHandInputs')])
    assert len(ds) == 2
    info = ds.get_data_info(1)
    # the fake release's world joints are the hand model's joints: MANO-derived labels
    # (through camera extrinsics, mm -> m and joint reordering) must equal them
    np.testing.assert_allclose(info['gt_joints_3d'], info['gt_joints_3d_annot'], atol=1e-4)
    np.testing.assert_allclose(info['gt_joints_2d'],
                               project_points(info['gt_joints_3d'], info['cam_K']), atol=1e-3)
    assert (info['gt_joints_3d'][..., 2] > 0.4).all() and info['joints_valid'].shape == (2, 21)
    np.testing.assert_array_equal(info['hand_valid'], [1, 1])
    sample = ds[0]
    assert sample['inputs'].shape == (3, 240, 160)
    cropped = InterHand26MDataset(root, 'test', pipeline=[
        dict(type='LoadHandImage'), dict(type='CropHands', size=64),
        dict(type='PackHandInputs')])[1]
    assert cropped['inputs'].shape == (3, 64, 64)
    ds_ = cropped['data_samples']
    np.testing.assert_allclose(ds_.gt_joints_2d.numpy(),
                               project_points(ds_.gt_joints_3d.numpy(), ds_.cam_K.numpy()),
                               atol=1e-3)
    assert sample['data_samples'].gt_verts_3d.shape == (2, 778, 3)


def test_official_protocol_fields(release):
    """Annotated joints in the camera frame, the *data file's* joint validity with the
    whole hand invalid when its wrist is, and the hand type as (left, right) flags."""
    root, meta = release
    ds = InterHand26MDataset(root, 'test', interacting_only=False)
    record = load_interhand_release(root, 'test', interacting_only=False)[2]
    info = ds.get_data_info(2)
    world_m = record['joints_world'] / 1000.0
    cam = world_m @ meta['camrot'].T - meta['camrot'] @ meta['campos'] / 1000.0
    right_to_library = [20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16]
    np.testing.assert_allclose(info['gt_joints_3d_annot'][1], cam[right_to_library], atol=1e-5)
    expected = np.ones((2, 21), np.float32)
    expected[0] = 0  # left wrist (41) not annotated -> the left hand
    expected[1, 1] = 0  # right thumb1 = InterHand joint 3
    np.testing.assert_array_equal(info['joints_valid'], expected)
    np.testing.assert_array_equal(info['gt_hand_type'], [1, 1])
    np.testing.assert_array_equal(ds.get_data_info(1)['gt_hand_type'], [0, 1])  # 'right'
    assert [ds.get_data_info(i)['hand_type_valid'] for i in range(4)] == [1, 1, 1, 0]
    packed = InterHand26MDataset(root, 'test', pipeline=[
        dict(type='LoadHandImage'), dict(type='CropHands', size=32),
        dict(type='PackHandInputs')])[1]['data_samples']
    np.testing.assert_array_equal(packed.joints_valid.numpy(), expected)
    assert packed.gt_joints_3d_annot.shape == (2, 21, 3) and float(packed.hand_type_valid) == 1


def test_labels_computed_per_sample_equal_precomputed(release):
    from mmengine.dataset import BaseDataset
    root, _ = release
    eager = InterHand26MDataset(root, 'test', interacting_only=False)
    lazy = InterHand26MDataset(root, 'test', interacting_only=False, precompute_gt=False)
    stored = BaseDataset.get_data_info(lazy, 0)  # what the dataset holds: fits, no meshes
    assert 'gt_verts_3d' not in stored and 'mano' in stored
    for i in range(len(eager)):
        a, b = eager.get_data_info(i), lazy.get_data_info(i)
        assert set(a) == set(b)
        for key in ('gt_verts_3d', 'gt_joints_3d', 'gt_joints_2d', 'gt_joints_3d_annot'):
            # float32 rounding of batched vs single products (pixels ~100: rtol)
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6)


def test_procedural_hand_on_interhand_warns_once(release, monkeypatch):
    import gclhand.datasets.provenance as provenance
    logs = []
    monkeypatch.setattr(provenance, 'print_log', lambda msg, **kw: logs.append(msg))
    monkeypatch.setattr(provenance, '_WARNED', set())
    root, _ = release
    InterHand26MDataset(root, 'test')
    InterHand26MDataset(root, 'test')
    assert len(logs) == 1 and 'procedural hand model' in logs[0]
    assert 'GCLHAND_MANO_DIR' in logs[0]


def test_single_hand_samples_are_masked(release):
    root, _ = release
    ds = InterHand26MDataset(root, 'test', interacting_only=False)
    info = ds.get_data_info(1)  # right-only
    np.testing.assert_array_equal(info['hand_valid'], [0, 1])
    assert not info['gt_verts_3d'][0].any() and info['gt_verts_3d'][1].any()


def test_missing_annotation_file(tmp_path):
    with pytest.raises(AnnotationError, match='InterHand2.6M_val_data.json: file not found'):
        InterHand26MDataset(str(tmp_path), 'val')


def _earlier_layout(release, tmp_path, subset):
    """The fake release with its annotations moved to ``annotations/{subset}/`` (the
    release's layout before June 2021, also mmpose's)."""
    import shutil
    root, _ = release
    os.makedirs(tmp_path / 'annotations')
    shutil.copytree(os.path.join(root, 'annotations', 'test'),
                    tmp_path / 'annotations' / subset)
    os.symlink(os.path.join(root, 'images'), tmp_path / 'images')
    return str(tmp_path)


def test_earlier_release_layout_is_read(release, tmp_path):
    """annotations/all/ is found without being named; human_annot/ (or machine_annot/)
    only when named; the records are those of the current layout."""
    root, meta = release
    ref = load_interhand_release(root, 'test')
    old = _earlier_layout(release, tmp_path / 'a', 'all')
    got = load_interhand_release(old, 'test')
    assert [r['image']['id'] for r in got] == meta['valid_ids']
    assert got[0]['img_path'] == os.path.join(old, 'images', 'test', ref[0]['image'][
        'file_name'])
    np.testing.assert_array_equal(got[0]['joints_world'], ref[0]['joints_world'])
    assert len(InterHand26MDataset(old, 'test', pipeline=[dict(type='PackHandInputs')])) == 2

    human = _earlier_layout(release, tmp_path / 'h', 'human_annot')
    with pytest.raises(AnnotationError) as err:
        load_interhand_release(human, 'test')
    msg = str(err.value)
    assert os.path.join('annotations', 'test', 'InterHand2.6M_test_data.json') in msg
    assert os.path.join('annotations', 'all', 'InterHand2.6M_test_data.json') in msg
    assert 'annot_subset' in msg
    got = load_interhand_release(human, 'test', annot_subset='human_annot')
    assert [r['image']['id'] for r in got] == meta['valid_ids']
    ds = InterHand26MDataset(human, 'test', annot_subset='human_annot')
    assert len(ds) == 2
    with pytest.raises(ValueError, match="annot_subset must be one of .* got 'human'"):
        InterHand26MDataset(human, 'test', annot_subset='human')


def test_earlier_release_layout_val_is_read_from_machine_annot(tmp_path):
    """Before June 2021 ``val`` was released in ``annotations/machine_annot/`` only (the
    InterHand2.6M repository's tool/camera_visualize/camera_visualize.py, April 2021, skips
    val in ``all`` and ``human_annot``): it is found without naming a subset; for ``test``
    ``machine_annot/`` is not looked in."""
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=False))
    root = tmp_path / 'old'
    meta = write_fake_release(str(root), hm, 'val')
    os.rename(root / 'annotations' / 'val', root / 'annotations' / 'machine_annot')
    got = load_interhand_release(str(root), 'val')
    assert [r['image']['id'] for r in got] == meta['valid_ids']
    assert len(InterHand26MDataset(str(root), 'val', pipeline=[dict(type='PackHandInputs')])) \
        == len(meta['valid_ids'])
    for name in os.listdir(root / 'annotations' / 'machine_annot'):  # the same files as test
        os.rename(root / 'annotations' / 'machine_annot' / name,
                  root / 'annotations' / 'machine_annot' / name.replace('_val_', '_test_'))
    with pytest.raises(AnnotationError) as err:
        load_interhand_release(str(root), 'test')
    msg = str(err.value)
    assert os.path.join('annotations', 'all', 'InterHand2.6M_test_data.json') in msg
    assert 'machine_annot' + os.sep not in msg


def _edited_release(release, tmp_path, kind, edit):
    """A copy of the fake release (images linked) whose ``InterHand2.6M_test_{kind}.json``
    went through ``edit(obj)`` (in place); returns its root."""
    import shutil
    root, _ = release
    shutil.copytree(os.path.join(root, 'annotations'), tmp_path / 'annotations')
    os.symlink(os.path.join(root, 'images'), tmp_path / 'images')
    path = tmp_path / 'annotations' / 'test' / f'InterHand2.6M_test_{kind}.json'
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj))
    return str(tmp_path)


def test_malformed_camera_names_file(release, tmp_path):
    root = _edited_release(release, tmp_path, 'camera', lambda cams: cams['0'].pop('focal'))
    with pytest.raises(AnnotationError, match='camera.json: no usable parameters for capture 0'):
        load_interhand_release(root, 'test')


def test_first_release_joint_file_is_named(release, tmp_path):
    """The joint file of the first release (August 2020) held a bare 42x3 list per frame
    (the InterHand2.6M repository added ``world_coord`` on 2020-08-31): the error says so."""
    def first_release(joints):
        for frames in joints.values():
            for frame, entry in frames.items():
                frames[frame] = entry['world_coord']
    root = _edited_release(release, tmp_path, 'joint_3d', first_release)
    with pytest.raises(AnnotationError, match=r"joint_3d\.json: no usable joints at \[0\]\[\d+\] "
                       r"\(a bare list of joints: the format of the first release, August 2020"):
        load_interhand_release(root, 'test')
    broken = _edited_release(release, tmp_path / 'b', 'joint_3d',
                             lambda joints: joints['0'].clear())
    with pytest.raises(AnnotationError, match=r'no usable joints at \[0\]\[\d+\] \(KeyError'):
        load_interhand_release(broken, 'test')


def _with_fits_removed(release, tmp_path, removed):
    """A copy of the fake release with the MANO fits ``{frame: [sides]}`` set to null (the
    NeuralAnnot file's entry for a hand it did not fit)."""
    def remove(manos):
        for frame, sides in removed.items():
            for side in sides:
                manos['0'][str(frame)][side] = None
    return _edited_release(release, tmp_path, 'MANO_NeuralAnnot', remove)


def test_frames_without_both_fits_are_dropped_and_counted(release, tmp_path):
    """IntagHand's selection needs both hands' fits: a frame with none is dropped as
    'no_mano_fit', an interacting frame with one as 'one_mano_fit'; every later annotation
    is still read, and each reason is counted once per annotation."""
    root = _with_fits_removed(release, tmp_path, {100: ('left', 'right'), 101: ('right', ),
                                                  102: ('right', )})
    records, dropped = read_interhand_release(root, 'test')
    assert records == []
    assert dropped == {'no_mano_fit': 1, 'one_mano_fit': 1, 'not_interacting': 1,
                       'hand_type_invalid': 1}
    with pytest.raises(AnnotationError, match=r'test_data\.json: no annotation passes the '
                                              r'selection'):
        InterHand26MDataset(root, 'test')
    # the official evaluation set keeps a one-fit frame (the other hand is masked), never
    # a frame without fits
    records, dropped = read_interhand_release(root, 'test', interacting_only=False)
    assert [r['image']['id'] for r in records] == [2, 3]
    assert dropped == {'no_mano_fit': 2}
    assert records[0]['mano']['right'] is None and records[0]['mano']['left'] is not None


def test_drop_counts_add_up(release, tmp_path):
    """Two annotations dropped for the same reason count 2 (data file with image 1's
    annotation repeated under a new id)."""
    root = _edited_release(release, tmp_path, 'data', lambda data: data['annotations'].append(
        dict(data['annotations'][1], id=9)))
    _, dropped = read_interhand_release(root, 'test')
    assert dropped == {'not_interacting': 2, 'hand_type_invalid': 1}


def test_intrinsics_are_exactly_focal_and_principal_point(release):
    root, _ = release
    for r in load_interhand_release(root, 'test', interacting_only=False):
        np.testing.assert_array_equal(r['K'], [[300, 0, 83], [0, 310, 118], [0, 0, 1]])
        assert r['K'].dtype == np.float32


def test_max_samples_and_record_fields(release):
    root, meta = release
    ds = InterHand26MDataset(root, 'test', interacting_only=False, max_samples=3)
    assert len(ds) == 3
    info = ds.get_data_info(1)
    assert info['image_id'] == 1 and info['hand_type'] == 'right'
    assert [r['image']['id'] for r in load_interhand_release(root, 'test', max_samples=1)] \
        == meta['valid_ids'][:1]


def test_missing_hand_labels_are_zero_not_nan(release):
    """A hand without a fit has all-zero labels (masked by hand_valid), never NaN/inf."""
    root, _ = release
    for precompute in (True, False):
        info = InterHand26MDataset(root, 'test', interacting_only=False,
                                   precompute_gt=precompute).get_data_info(1)  # right only
        for key in ('gt_verts_3d', 'gt_joints_3d', 'gt_joints_2d'):
            assert np.isfinite(info[key]).all(), key
            assert not info[key][0].any() and info[key][1].any(), key


def _copy_release(release, tmp_path, edit_data=None, images=True):
    """The fake release's annotations copied to ``tmp_path`` (the data file edited by
    ``edit_data``), with its images linked at ``images`` (or not at all)."""
    import shutil
    root, _ = release
    shutil.copytree(os.path.join(root, 'annotations'), tmp_path / 'annotations')
    if edit_data is not None:
        path = tmp_path / 'annotations' / 'test' / 'InterHand2.6M_test_data.json'
        data = json.load(open(path))
        edit_data(data)
        json.dump(data, open(path, 'w'))
    if images:
        os.symlink(os.path.join(root, 'images'), tmp_path / images if isinstance(images, str)
                   else tmp_path / 'images')
    return str(tmp_path)


def test_a_fit_of_a_hand_the_annotation_calls_absent_is_no_label(release, tmp_path):
    """A 'right' frame whose MANO file also fits the left hand: the left hand is not a
    label (hand_valid 0, zero mesh), as the annotation's hand_type says it is absent."""
    def make_right(data):
        data['annotations'][0]['hand_type'] = 'right'
    root = _copy_release(release, tmp_path, make_right)
    ds = InterHand26MDataset(root, 'test', interacting_only=False)
    info = ds.get_data_info(0)
    assert info['hand_type'] == 'right'
    np.testing.assert_array_equal(info['hand_valid'], [0, 1])
    assert not info['gt_verts_3d'][0].any() and info['gt_verts_3d'][1].any()
    lazy = InterHand26MDataset(root, 'test', interacting_only=False, precompute_gt=False)
    np.testing.assert_allclose(lazy.get_data_info(0)['gt_verts_3d'], info['gt_verts_3d'],
                               atol=1e-7)
    assert not lazy.get_data_info(0)['gt_verts_3d'][0].any()


@pytest.mark.parametrize('use_pca', [True, None])  # None: MANOHandModel's default (PCA)
def test_a_pca_hand_model_is_refused_for_axis_angle_fits(release, use_pca):
    from gclhand.utils.build import ConfigError
    root, _ = release
    cfg = dict(type='MANOHandModel') if use_pca is None else dict(type='MANOHandModel',
                                                                   use_pca=use_pca)
    with pytest.raises(ConfigError, match=r'InterHand26MDataset: the data holds the finger '
                       r'pose as 45 axis-angle values .* hand_model.use_pca=True: .* Set '
                       r'hand_model.use_pca=False'):
        InterHand26MDataset(root, 'test', hand_model=cfg)


def test_images_where_the_archives_extract_are_found(release, tmp_path):
    """The image archives extract to ``InterHand2.6M_5fps_batch1/images/``: read there
    when ``images/`` is absent; with neither, the error names both and what to do."""
    root = _copy_release(release, tmp_path / 'a', images='InterHand2.6M_5fps_batch1')
    os.makedirs(os.path.join(root, 'x'))
    os.rename(os.path.join(root, 'InterHand2.6M_5fps_batch1'), os.path.join(root, 'x', 'images'))
    os.rename(os.path.join(root, 'x'), os.path.join(root, 'InterHand2.6M_5fps_batch1'))
    ds = InterHand26MDataset(root, 'test')
    assert ds.get_data_info(0)['img_path'].startswith(
        os.path.join(root, 'InterHand2.6M_5fps_batch1', 'images', 'test', 'Capture0'))
    assert os.path.isfile(ds.get_data_info(0)['img_path'])
    bare = _copy_release(release, tmp_path / 'b', images=False)
    with pytest.raises(AnnotationError, match=r"images/test: no such folder; nor does .*"
                       r"InterHand2.6M_\*/images/test .* link their images/ folder"):
        InterHand26MDataset(bare, 'test')


def test_the_superseded_mano_file_is_named(release, tmp_path):
    root = _copy_release(release, tmp_path)
    ann = os.path.join(root, 'annotations', 'test')
    os.rename(os.path.join(ann, 'InterHand2.6M_test_MANO_NeuralAnnot.json'),
              os.path.join(ann, 'InterHand2.6M_test_MANO.json'))
    with pytest.raises(AnnotationError, match=r'_MANO_NeuralAnnot.json: file not found; .*'
                       r'InterHand2.6M_test_MANO.json is there, the earlier per-camera MANO '
                       r'fits .* download InterHand2.6M_test_MANO_NeuralAnnot.json'):
        InterHand26MDataset(root, 'test')
