import re

import numpy as np
import pytest
import torch

from gclhand.datasets.transforms import PackHandInputs
from gclhand.structures import HandDataSample


def _results():
    rng = np.random.default_rng(0)
    return dict(img=rng.integers(0, 255, (8, 6, 3)).astype(np.uint8), img_path='x.jpg',
                sample_idx=3, img_shape=(8, 6), ori_shape=(8, 6),
                gt_joints_3d=rng.normal(size=(2, 21, 3)), gt_verts_3d=rng.normal(size=(2, 778, 3)),
                gt_joints_2d=rng.normal(size=(2, 21, 2)), cam_K=np.eye(3),
                hand_valid=np.array([1, 1]), hand_type='interacting')


@pytest.mark.parametrize('single_buffer', [True, False])
def test_pack_fields_and_meta(single_buffer):
    r = _results()
    out = PackHandInputs(single_buffer=single_buffer)(r)
    inputs, ds = out['inputs'], out['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 8, 6)
    assert torch.equal(inputs, torch.from_numpy(r['img']).permute(2, 0, 1))
    assert isinstance(ds, HandDataSample)
    assert ds.gt_joints_3d.shape == (2, 21, 3) and ds.gt_joints_3d.dtype == torch.float32
    assert ds.gt_verts_3d.shape == (2, 778, 3)
    assert ds.gt_joints_2d.shape == (2, 21, 2)
    assert ds.cam_K.shape == (3, 3) and ds.hand_valid.shape == (2, )
    np.testing.assert_allclose(ds.gt_joints_2d.numpy(), r['gt_joints_2d'], rtol=1e-6)
    assert ds.img_path == 'x.jpg' and ds.sample_idx == 3 and ds.flip is False


def test_pack_wrong_shape_names_key():
    r = _results()
    r['gt_joints_3d'] = np.zeros((2, 16, 3))
    with pytest.raises(ValueError, match="gt_joints_3d.*x.jpg"):
        PackHandInputs()(r)


@pytest.mark.parametrize('img,got', [(np.zeros((8, 6), np.uint8), 'uint8 array of shape (8, 6)'),
                                     (np.zeros((8, 6, 3), np.float32),
                                      'float32 array of shape (8, 6, 3)'),
                                     (np.zeros((8, 6, 4), np.uint8),
                                      'uint8 array of shape (8, 6, 4)')])
def test_pack_refuses_an_image_a_transform_broke(img, got):
    """A plugin transform that returns a grey, float or RGBA image is named at the packing
    step, with the sample's path, instead of failing inside torch."""
    r = _results()
    r['img'] = img
    with pytest.raises(ValueError, match=re.escape(f"PackHandInputs: results['img'] is a {got} "
                                                   '(from x.jpg)')):
        PackHandInputs()(r)


def test_pack_without_labels():
    out = PackHandInputs()(dict(img=np.zeros((4, 4, 3), np.uint8)))
    assert 'gt_joints_3d' not in out['data_samples']


def test_single_buffer_shares_one_storage():
    r = _results()
    r['img'] = r['img'][:, :5]  # 8*5*3 = 120 bytes: odd sizes must stay aligned
    r['img'] = np.ascontiguousarray(r['img'][:7])  # 105 bytes
    out = PackHandInputs()(r)
    ds = out['data_samples']
    ptr = out['inputs'].untyped_storage().data_ptr()
    for key in ('gt_joints_3d', 'gt_verts_3d', 'gt_joints_2d', 'cam_K', 'hand_valid'):
        assert getattr(ds, key).untyped_storage().data_ptr() == ptr
    np.testing.assert_array_equal(out['inputs'].numpy(), r['img'].transpose(2, 0, 1))
    np.testing.assert_allclose(ds.gt_verts_3d.numpy(), r['gt_verts_3d'], rtol=1e-6)
    np.testing.assert_array_equal(ds.hand_valid.numpy(), [1, 1])
    ds.gt_joints_3d.mul_(0)  # views do not overlap
    np.testing.assert_allclose(ds.gt_verts_3d.numpy(), r['gt_verts_3d'], rtol=1e-6)


def test_pack_official_protocol_fields():
    r = _results()
    r.update(gt_joints_3d_annot=np.ones((2, 21, 3)), joints_valid=np.eye(2, 21),
             gt_hand_type=np.array([0., 1.]), hand_type_valid=np.float32(1))
    ds = PackHandInputs()(r)['data_samples']
    assert ds.gt_joints_3d_annot.shape == (2, 21, 3)
    np.testing.assert_array_equal(ds.joints_valid.numpy(), np.eye(2, 21))
    np.testing.assert_array_equal(ds.gt_hand_type.numpy(), [0, 1])
    assert ds.hand_type_valid.shape == () and float(ds.hand_type_valid) == 1
    r['joints_valid'] = np.ones(42)
    with pytest.raises(ValueError, match="joints_valid.*expected \\(2, 21\\)"):
        PackHandInputs()(r)
