"""InterHandIntagDataset on a hand-written fixture (and on synthetic data)."""
import logging
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger

from datasets_fakes import make_annotation, write_intag_split
from gclhand.datasets import AnnotationError, InterHandIntagDataset, project_points
from gclhand.hand import build_hand_model
from gclhand.registry import DATASETS

PIPELINE = [dict(type='LoadHandImage'), dict(type='ResizeHand', size=64),
            dict(type='PackHandInputs')]


def _expected_labels(anno):
    """Reference labels computed sample by sample with the hand model (no batching)."""
    import cv2
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    verts, joints = [], []
    cam = anno['camera']
    for side in ('left', 'right'):
        p = anno['mano_params'][side]
        out = hm(side=side, hand_pose=torch.from_numpy(p['pose']),
                 betas=torch.from_numpy(p['shape']),
                 global_orient=torch.from_numpy(cv2.Rodrigues(p['R'][0].astype(np.float64))[0]
                                                .reshape(1, 3).astype(np.float32)),
                 transl=torch.from_numpy(p['trans']))
        verts.append(out.vertices[0].numpy() @ cam['R'].T + cam['t'])
        joints.append(out.joints[0].numpy() @ cam['R'].T + cam['t'])
    return np.stack(verts), np.stack(joints)


def test_reads_fixture_and_labels(tmp_path):
    write_intag_split(str(tmp_path), 'train', num=3)
    ds = DATASETS.build(dict(type='InterHandIntagDataset', data_root=str(tmp_path),
                             split='train', pipeline=PIPELINE, gt_batch_size=2))
    assert len(ds) == 3
    with open(tmp_path / 'train' / 'anno' / '2.pkl', 'rb') as f:
        anno = pickle.load(f)  # test-owned file
    verts, joints = _expected_labels(anno)
    info = ds.get_data_info(2)
    np.testing.assert_allclose(info['gt_verts_3d'], verts, atol=1e-5)
    np.testing.assert_allclose(info['gt_joints_3d'], joints, atol=1e-5)
    np.testing.assert_allclose(info['gt_joints_2d'],
                               project_points(joints, anno['camera']['camera']), atol=1e-3)
    assert (info['gt_joints_3d'][..., 2] > 0.3).all()  # in front of the camera
    sample = ds[2]
    ds_ = sample['data_samples']
    assert sample['inputs'].shape == (3, 64, 64) and sample['inputs'].dtype == torch.uint8
    # 256 -> 64: u' = u / 4 - 0.375 (pixel-centre convention)
    np.testing.assert_allclose(ds_.gt_joints_2d.numpy(), info['gt_joints_2d'] / 4 - 0.375,
                               atol=1e-3)
    np.testing.assert_allclose(ds_.gt_verts_3d.numpy(), verts, atol=1e-5)
    assert ds_.img_path.endswith('train/img/2.jpg') and ds_.sample_idx == 2
    batch = pseudo_collate([ds[0], ds[1]])
    assert len(batch['inputs']) == 2 and len(batch['data_samples']) == 2


def test_on_the_fly_labels_match_precomputed(tmp_path):
    write_intag_split(str(tmp_path), 'val', num=2)
    a = InterHandIntagDataset(str(tmp_path), 'val', precompute_gt=True)
    b = InterHandIntagDataset(str(tmp_path), 'val', precompute_gt=False, serialize_data=False)
    for key in ('gt_verts_3d', 'gt_joints_3d', 'gt_joints_2d'):
        np.testing.assert_allclose(a.get_data_info(1)[key], b.get_data_info(1)[key], atol=1e-5)


def test_max_samples_and_lazy_init(tmp_path):
    write_intag_split(str(tmp_path), 'train', num=3)
    ds = InterHandIntagDataset(str(tmp_path), 'train', max_samples=2, lazy_init=True)
    assert not ds._fully_initialized
    assert len(ds) == 2


def test_missing_split_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match='prepare_interhand.py.*synthetic'):
        InterHandIntagDataset(str(tmp_path), 'test')


def _corrupt(tmp_path):
    """3 samples; sample 1 misses a key, sample 2 has a bad hand type."""
    split = write_intag_split(str(tmp_path), 'train', num=4)
    rng = np.random.default_rng(5)
    bad = make_annotation(rng)
    del bad['camera']['t']
    with open(os.path.join(split, 'anno', '1.pkl'), 'wb') as f:
        pickle.dump(bad, f)
    bad = make_annotation(rng, hand_type='two')
    with open(os.path.join(split, 'anno', '2.pkl'), 'wb') as f:
        pickle.dump(bad, f)
    os.remove(os.path.join(split, 'img', '3.jpg'))
    return split


def test_bad_samples_raise_naming_file_and_problem(tmp_path):
    split = _corrupt(tmp_path)
    with pytest.raises(AnnotationError, match=r"anno/1\.pkl: missing key 'camera.t'"):
        InterHandIntagDataset(str(tmp_path), 'train')
    os.remove(os.path.join(split, 'anno', '1.pkl'))
    with pytest.raises(AnnotationError, match=r"anno/2\.pkl: invalid 'annotation.hand_type'"):
        InterHandIntagDataset(str(tmp_path), 'train')
    os.remove(os.path.join(split, 'anno', '2.pkl'))
    with pytest.raises(AnnotationError, match=r"anno/3\.pkl: its image .*img/3\.jpg"):
        InterHandIntagDataset(str(tmp_path), 'train')


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_skip_invalid_counts_and_logs(tmp_path):
    _corrupt(tmp_path)
    logger, handler = MMLogger.get_current_instance(), _ListHandler()
    logger.addHandler(handler)
    try:
        ds = InterHandIntagDataset(str(tmp_path), 'train', skip_invalid=True)
    finally:
        logger.removeHandler(handler)
    assert len(ds) == 1 and ds.num_skipped == 3
    log = '\n'.join(handler.messages)
    assert 'skipped 3 invalid sample' in log
    assert "1.pkl: missing key 'camera.t'" in log and '3.jpg' in log


def test_all_invalid_is_an_error(tmp_path):
    split = write_intag_split(str(tmp_path), 'train', num=1)
    (tmp_path / 'train' / 'anno' / '0.pkl').write_bytes(b'garbage')
    with pytest.raises(AnnotationError, match='no valid annotation'):
        InterHandIntagDataset(str(tmp_path), 'train', skip_invalid=True)
    assert os.path.isdir(split)


def test_truncated_image_raises_when_loaded(tmp_path):
    from gclhand.datasets import ImageError
    split = write_intag_split(str(tmp_path), 'train', num=1)
    path = os.path.join(split, 'img', '0.jpg')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    ds = InterHandIntagDataset(str(tmp_path), 'train', pipeline=PIPELINE, serialize_data=False)
    with pytest.raises(ImageError, match=r'img/0\.jpg: truncated JPEG'):
        ds[0]


def test_synthetic_data_generated_on_demand(tmp_path):
    from gclhand.datasets.synth import decode_annotation
    root = str(tmp_path / 'synth')
    ds = InterHandIntagDataset(
        root, 'train', pipeline=PIPELINE,
        synthetic=dict(num=dict(train=4), splits=['train'], seed=0, img_size=64,
                       progress=False))
    assert len(ds) == 4 and os.path.isfile(os.path.join(root, 'train', 'anno', '3.pkl'))
    with open(os.path.join(root, 'train', 'anno', '3.pkl'), 'rb') as f:
        anno = pickle.load(f)  # written by the test's own generator call
    ref = decode_annotation(anno, build_hand_model(dict(type='MANOHandModel', use_pca=True)))
    info = ds.get_data_info(3)
    np.testing.assert_allclose(info['gt_verts_3d'], ref['verts'], atol=1e-5)
    np.testing.assert_allclose(info['gt_joints_2d'], ref['joints_2d'], atol=1e-3)
    sample = ds[3]
    assert sample['inputs'].shape == (3, 64, 64)
    # a second dataset on the same root reuses the data (no regeneration)
    mtime = os.stat(os.path.join(root, 'train', 'img', '0.jpg')).st_mtime_ns
    InterHandIntagDataset(root, 'train', synthetic=dict(num=dict(train=4), splits=['train'],
                                                        seed=0, img_size=64, progress=False))
    assert os.stat(os.path.join(root, 'train', 'img', '0.jpg')).st_mtime_ns == mtime


def test_lazy_mode_reads_no_annotation_at_start_up(tmp_path, monkeypatch):
    """``precompute_gt=False`` is the large-split mode: initialisation only lists ``anno/``
    (366K pickles would take minutes), keeps no per-sample arrays, and each sample is read
    once, when it is loaded."""
    from gclhand.datasets import intag_dataset
    write_intag_split(str(tmp_path), 'train', num=3)
    calls = []
    real = intag_dataset.read_intag_annotation
    monkeypatch.setattr(intag_dataset, 'read_intag_annotation',
                        lambda path, *a: calls.append(path) or real(path, *a))
    ds = InterHandIntagDataset(str(tmp_path), 'train', precompute_gt=False)
    assert calls == [] and len(ds) == 3
    # the packed data list holds file indices only: a few dozen bytes per sample
    assert ds.data_bytes.nbytes / len(ds) < 64
    info = ds.get_data_info(2)
    assert [os.path.basename(p) for p in calls] == ['2.pkl']
    assert info['img_path'].endswith('train/img/2.jpg') and info['file_idx'] == 2
    assert info['anno_path'].endswith('train/anno/2.pkl')
    assert info['hand_type'] == 'interacting' and info['gt_verts_3d'].shape == (2, 778, 3)
    assert info['hand_valid'].tolist() == [1.0, 1.0]
    assert not {'mano', 'cam_R', 'cam_t'} & set(info)
    eager = InterHandIntagDataset(str(tmp_path), 'train').get_data_info(2)
    assert set(info) == set(eager)
    for key, atol in (('gt_verts_3d', 1e-5), ('gt_joints_3d', 1e-5), ('gt_joints_2d', 1e-3),
                      ('cam_K', 0)):
        np.testing.assert_allclose(info[key], eager[key], atol=atol)  # 2D: pixels


def test_lazy_mode_bad_sample_raises_when_loaded(tmp_path):
    _corrupt(tmp_path)
    ds = InterHandIntagDataset(str(tmp_path), 'train', precompute_gt=False,
                               pipeline=PIPELINE)
    assert len(ds) == 4  # nothing is read at start-up
    with pytest.raises(AnnotationError, match=r"anno/1\.pkl: missing key 'camera.t'"):
        ds[1]
    with pytest.raises(AnnotationError, match=r"anno/3\.pkl: its image .*img/3\.jpg"):
        ds[3]


def test_lazy_mode_skip_invalid_refetches_in_training_only(tmp_path):
    _corrupt(tmp_path)  # only sample 0 is valid
    logger, handler = MMLogger.get_current_instance(), _ListHandler()
    logger.addHandler(handler)
    try:
        ds = InterHandIntagDataset(str(tmp_path), 'train', precompute_gt=False,
                                   skip_invalid=True, pipeline=PIPELINE, max_refetch=200)
        for idx in (1, 2, 3):
            assert ds[idx]['data_samples'].img_path.endswith('train/img/0.jpg')
    finally:
        logger.removeHandler(handler)
    assert ds.num_skipped >= 3
    log = '\n'.join(handler.messages)
    assert "1.pkl: missing key 'camera.t'" in log and '3.jpg' in log
    test_ds = InterHandIntagDataset(str(tmp_path), 'train', precompute_gt=False,
                                    skip_invalid=True, pipeline=PIPELINE, test_mode=True)
    with pytest.raises(AnnotationError, match=r'anno/2\.pkl'):
        test_ds[2]
