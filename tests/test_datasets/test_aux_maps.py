"""IntagHand's auxiliary maps: written by the generator, read back, warped with the image."""
import os.path as osp

import numpy as np
import pytest
import torch

from gclhand.datasets import InterHandIntagDataset
from gclhand.datasets.aux_maps import (aux_map_paths, joint_heatmaps, mask_image,
                                       read_aux_map)
from gclhand.datasets.errors import ImageError
from gclhand.datasets.geometry import project_points
from gclhand.datasets.synth import generate_synthetic_dataset
from gclhand.datasets.synth import generator as gen

SIZE, NUM = 64, 3


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    torch.set_num_threads(1)
    root = str(tmp_path_factory.mktemp('aux') / 'data')
    generate_synthetic_dataset(root, NUM, seed=0, img_size=SIZE, splits='train',
                               progress=False)
    return root


def _assert_own_mask(mask, uv, h):
    """Hand ``h``'s joints lie on the hands, more of them on its own mask channel than on
    the other hand's (which covers the occluded ones): a left/right swap fails this."""
    size = mask.shape[0]
    px = np.clip(np.rint(uv).astype(int), 0, size - 1)
    on = mask[px[:, 1], px[:, 0]] > 0                   # (21, 2)
    assert on.any(1).mean() > 0.85
    assert on[:, h].mean() > on[:, 1 - h].mean()


def _dataset(root, pipeline):
    return InterHandIntagDataset(data_root=root, split='train', pipeline=pipeline)


def test_heatmap_peaks_at_the_joint():
    joints = np.zeros((2, 21, 2))
    joints[0, 3] = (10.0, 20.0)      # left thumb3 at pixel (10, 20) of a 64 px image
    joints[1, 0] = (63.0, 0.0)       # right wrist at the top-right pixel
    hm = joint_heatmaps(joints, (64, 64), 64, sigma=2.0)
    assert hm.shape == (64, 64, 42)
    assert np.unravel_index(hm[..., 3].argmax(), (64, 64)) == (20, 10)
    assert hm[20, 10, 3] == pytest.approx(1.0)
    assert hm[20, 12, 3] == pytest.approx(np.exp(-4 / 8))   # sigma 2, 2 px away
    assert np.unravel_index(hm[..., 21].argmax(), (64, 64)) == (0, 63)
    # a half-size heatmap: IntagHand draws at u * s / W, so (10, 20) -> (5, 10) exactly
    small = joint_heatmaps(joints, (64, 64), 32, sigma=1.0)
    assert np.unravel_index(small[..., 3].argmax(), (32, 32)) == (10, 5)
    assert small[10, 5, 3] == pytest.approx(1.0)
    # a joint outside the map leaves it empty (IntagHand's HeatmapGenerator)
    joints[1, 1] = (-0.5, 20.0)
    joints[1, 2] = (64.0, 20.0)
    hm = joint_heatmaps(joints, (64, 64), 64, sigma=2.0)
    assert hm[..., 22].max() == 0 and hm[..., 23].max() == 0 and hm[0, 63, 21] == 1


def test_mask_image_channels():
    face_idx = np.array([[-1, 0, 5], [6, 9, -1]])
    m = mask_image(face_idx, num_left_faces=6)
    assert m[..., 0].max() == 0
    # IntagHand's file: channel 1 the right hand, channel 2 the left
    np.testing.assert_array_equal(m[..., 2] > 0, [[0, 1, 1], [0, 0, 0]])   # left
    np.testing.assert_array_equal(m[..., 1] > 0, [[0, 0, 0], [1, 1, 0]])   # right


def test_generator_writes_maps_that_match_the_render(root):
    renderer = gen.SyntheticRenderer(img_size=SIZE)
    split_dir = osp.join(root, 'train')
    for i in range(NUM):
        _, anno, silhouette = renderer.render(0, 'train', i, return_mask=True)
        mask = read_aux_map(split_dir, i, 'mask')                    # (H, W, 2) left, right
        assert mask.shape == (SIZE, SIZE, 2)
        union = (mask > 0).any(-1)
        iou = (union & silhouette.numpy()).sum() / (union | silhouette.numpy()).sum()
        assert iou > 0.97
        # the stored joints' heatmaps peak where the annotation projects each joint
        ds = _dataset(root, [])
        uv = ds[i]['gt_joints_2d']                                   # (2, 21, 2) pixels
        hms = read_aux_map(split_dir, i, 'hms')
        assert hms.shape == (64, 64, 42)
        for h in range(2):
            for j in range(0, 21, 4):
                peak = np.unravel_index(hms[..., 21 * h + j].argmax(), (64, 64))
                assert np.abs(np.array(peak)[::-1] - uv[h, j]).max() <= 1.0
            _assert_own_mask(mask, uv[h], h)
        dense = read_aux_map(split_dir, i, 'dense')
        assert dense.shape == (SIZE, SIZE, 3)
        assert dense[~union].max() <= 40 and dense[union].mean() > 40  # colours on the hands


def test_missing_or_corrupt_map_is_named(root, tmp_path):
    import shutil
    copy = str(tmp_path / 'copy')
    shutil.copytree(root, copy)
    split_dir = osp.join(copy, 'train')
    path = aux_map_paths(split_dir, 1, 'mask')
    with open(path, 'r+b') as f:                      # truncate: no JPEG end marker
        data = f.read()
        f.seek(0)
        f.truncate()
        f.write(data[:len(data) // 2])
    ds = _dataset(copy, [dict(type='LoadHandImage'), dict(type='LoadHandAuxMaps')])
    with pytest.raises(ImageError, match=r'mask/1\.jpg.*truncated'):
        ds[1]
    import os
    os.remove(aux_map_paths(split_dir, 2, 'hms')[3])
    with pytest.raises(ImageError, match=r'hms/2_3_left\.jpg.*not found'):
        ds[2]


def test_pipeline_warps_maps_with_the_image(root):
    """After rotation, scaling, flip and resize, the warped stored heatmaps still peak at the
    transformed 2D joints (drawn afresh), and each hand's mask channel still holds its own
    joints: maps, image and labels stay consistent, left/right included. The maps are read
    after the image was enlarged to 96 px, so they are warped at 2/3 of its resolution."""
    aug = [dict(type='LoadHandImage'), dict(type='ResizeHand', size=96),
           dict(type='LoadHandAuxMaps'),
           dict(type='RandomHandAffine', scale_range=(1.1, 1.1), rotate_range=40,
                shift_range=0.0),
           dict(type='RandomHandFlip', prob=1.0), dict(type='ResizeHand', size=48)]
    ds = _dataset(root, aug)
    np.random.seed(3)
    checked = 0
    for i in range(NUM):
        r = ds[i]
        assert r['flip'] and r['img'].shape == (48, 48, 3)
        assert r['gt_mask'].shape == (32, 32, 2) and r['gt_heatmaps'].shape == (32, 32, 42)
        drawn = joint_heatmaps(r['gt_joints_2d'], (48, 48), 32, sigma=1.5)
        uv = r['gt_joints_2d']
        for h in range(2):
            for j in (0, 5, 9, 13, 17):
                if not ((uv[h, j] > 2).all() and (uv[h, j] < 45).all()):
                    continue
                a = np.unravel_index(r['gt_heatmaps'][..., 21 * h + j].argmax(), (32, 32))
                b = np.unravel_index(drawn[..., 21 * h + j].argmax(), (32, 32))
                assert np.abs(np.subtract(a, b)).max() <= 1
                checked += 1
            _assert_own_mask(r['gt_mask'], uv[h] * 32 / 48, h)
    assert checked > 10


def test_pack_aux_maps_and_generated_heatmaps(root):
    pipe = [dict(type='LoadHandImage'), dict(type='LoadHandAuxMaps', kinds=('mask', 'dense')),
            dict(type='ResizeHand', size=32), dict(type='GenerateJointHeatmaps', size=8),
            dict(type='PackHandInputs', aux_size=8)]
    s = _dataset(root, pipe)[0]['data_samples']
    assert s.gt_mask.shape == (2, 8, 8) and set(s.gt_mask.unique().tolist()) <= {0.0, 1.0}
    assert s.gt_dense.shape == (3, 8, 8) and 0 <= s.gt_dense.min() <= s.gt_dense.max() <= 1
    assert s.gt_heatmaps.shape == (42, 8, 8) and s.gt_heatmaps.max() <= 1
    # drawn heatmaps peak at the packed 2D joints (8 px map of a 32 px image)
    peak = np.unravel_index(s.gt_heatmaps[21].argmax().item(), (8, 8))
    expect = (s.gt_joints_2d[1, 0].numpy() + 0.5) * 8 / 32 - 0.5
    assert np.abs(np.array(peak)[::-1] - expect).max() <= 0.5 + 1e-6


def test_maps_in_an_older_gclhand_format_are_refused(root, tmp_path):
    """Format 1 had the mask's hands swapped: a split whose record says so (or says no
    format) is refused with the record named, never read swapped; the generator remakes
    the maps of such a split."""
    import json
    import shutil

    from gclhand.datasets.aux_maps import AUX_MAPS_FORMAT
    from gclhand.datasets.errors import DatasetError
    copy = str(tmp_path / 'old')
    shutil.copytree(root, copy)
    meta_path = osp.join(copy, 'train', 'meta.json')
    meta = json.load(open(meta_path))
    assert meta['aux_maps_format'] == AUX_MAPS_FORMAT
    del meta['aux_maps_format']
    json.dump(meta, open(meta_path, 'w'))
    ds = _dataset(copy, [dict(type='LoadHandImage'), dict(type='LoadHandAuxMaps')])
    with pytest.raises(DatasetError, match=r"meta\.json: its auxiliary maps .* format 1"):
        ds[0]
    generate_synthetic_dataset(copy, NUM, seed=0, img_size=SIZE, splits='train',
                               progress=False)
    assert json.load(open(meta_path))['aux_maps_format'] == AUX_MAPS_FORMAT


def test_heatmap_values_on_both_axes_of_a_non_square_image():
    """``x = u * size / W``, ``y = v * size / H`` and the Gaussian
    ``exp(-(dx^2 + dy^2) / 2 sigma^2)`` along both axes; joints off the map are empty."""
    joints = np.full((2, 21, 2), -10.0)
    joints[0, 0] = (40.0, 12.0)          # an 80 x 48 image -> (16, 8) on a 32 px map
    hm = joint_heatmaps(joints, (80, 48), 32, sigma=1.5)
    for dx, dy in [(0, 0), (1, 0), (0, 1), (2, 3), (-3, 1), (0, -2)]:
        expect = np.exp(-(dx ** 2 + dy ** 2) / (2 * 1.5 ** 2))
        assert hm[8 + dy, 16 + dx, 0] == pytest.approx(expect, rel=1e-5)
    assert hm[..., 1:].max() == 0


def test_dense_colours_are_the_template_box_coordinates():
    from gclhand.datasets.aux_maps import dense_vertex_colors
    t = np.array([[1.0, -1.0, 2.0], [3.0, 0.0, 2.0], [2.0, 1.0, 2.0]])
    np.testing.assert_allclose(dense_vertex_colors(t),
                               [[0, 0, 0], [1, 0.5, 0], [0.5, 1, 0]], atol=1e-7)


def test_written_maps_read_back_at_their_values(tmp_path):
    """[0, 1] floats are stored as round(255 v) (grey, constant images survive JPEG
    exactly); heatmap channel ``j`` of hand ``h`` comes back as channel ``21 h + j``; the
    mask is thresholded at 127 into (left, right) channels."""
    from gclhand.datasets.aux_maps import write_aux_maps
    split = str(tmp_path)
    for kind in ('mask', 'dense', 'hms'):
        (tmp_path / kind).mkdir()
    values = np.linspace(0.0, 1.0, 42)
    hms = np.broadcast_to(values, (8, 8, 42)).copy()
    dense = np.full((8, 8, 3), 0.2)
    mask = np.zeros((8, 8, 3), np.uint8)
    mask[..., 1] = 128                   # right hand, just above the threshold
    mask[..., 2] = 126                   # left, just below
    write_aux_maps(split, 0, mask=mask, dense=dense, heatmaps=hms)
    got = read_aux_map(split, 0, 'hms').astype(int)
    assert got.shape == (8, 8, 42)
    np.testing.assert_allclose(got[0, 0], np.floor(values * 255 + 0.5), atol=1)
    assert (read_aux_map(split, 0, 'dense') == 51).all()
    m = read_aux_map(split, 0, 'mask')
    assert (m[..., 0] == 0).all() and (m[..., 1] == 255).all()


def _two_rest_hands():
    """The hand model, its two rest-pose hands side by side 0.5 m in front of a camera
    (left hand on the image's left) and that camera's intrinsics for a 64 px crop."""
    from gclhand.hand import build_hand_model
    hm = build_hand_model(dict(type='MANOHandModel'))
    verts = np.stack([hm.template(side).numpy() + [x, 0.0, 0.5]
                      for side, x in (('left', -0.07), ('right', 0.07))])
    K = np.array([[150.0, 0, 31.5], [0, 150.0, 31.5], [0, 0, 1]])
    return hm, verts, K


def test_renderer_draws_each_hand_in_its_own_channel():
    """Left hand on the image's left, right hand on its right: each mask channel covers
    its own hand, and the dense image (stored in OpenCV's B, G, R order) has its R channel
    (the template's x) growing with image x over a hand."""
    from gclhand.datasets.aux_maps import AuxMapRenderer
    hm, verts, K = _two_rest_hands()
    out = AuxMapRenderer(hm, kinds=('mask', 'dense'))(verts, None, K, 64)
    assert set(out) == {'mask', 'dense'}
    mask = out['mask']
    for channel, hand in ((2, 0), (1, 1)):  # IntagHand's file: left in 2, right in 1
        uv = project_points(verts[hand], K)
        ys, xs = np.nonzero(mask[..., channel])
        assert len(xs) > 30
        np.testing.assert_allclose([xs.mean(), ys.mean()], uv.mean(0), atol=4)
    ys, xs = np.nonzero(mask[..., 1])
    r = out['dense'][ys, xs]
    assert np.corrcoef(xs, r[:, 2])[0, 1] > 0.8


def test_pack_maps_scales_to_unit_range_and_thresholds_the_mask():
    from gclhand.datasets.transforms import PackHandInputs
    mask = np.zeros((4, 4, 2), np.uint8)
    mask[0, :, 0] = [0, 100, 128, 255]
    dense = np.full((4, 4, 3), 51, np.uint8)
    results = dict(img=np.zeros((4, 4, 3), np.uint8), gt_mask=mask, gt_dense=dense)
    s = PackHandInputs(aux_size=4)(dict(results))['data_samples']
    assert s.gt_mask[0, 0].tolist() == [0, 0, 1, 1]
    # without aux_size a map keeps its size; label fields present are packed, absent
    # ones skipped (here the first of them, gt_joints_3d)
    joints_2d = np.arange(84, dtype=np.float32).reshape(2, 21, 2)
    s = PackHandInputs()(dict(results, gt_joints_2d=joints_2d,
                              hand_valid=np.ones(2)))['data_samples']
    assert s.gt_mask.shape == (2, 4, 4) and s.gt_mask[0, 0].tolist() == [0, 0, 1, 1]
    assert torch.equal(s.gt_joints_2d, torch.from_numpy(joints_2d))
    assert s.hand_valid.tolist() == [1, 1] and 'gt_joints_3d' not in s
    assert torch.allclose(s.gt_dense, torch.full((3, 4, 4), 0.2))
    # a map of another size is resized by area averaging before the threshold
    s = PackHandInputs(aux_size=2)(dict(results))['data_samples']
    assert s.gt_mask.shape == (2, 2, 2)
    assert s.gt_mask[0, 0].tolist() == [0, 0] and s.gt_dense.shape == (3, 2, 2)
    block = np.zeros((4, 4, 2), np.uint8)
    block[:2, :2, 1] = 255
    block[1, 3, 1] = 255                 # a quarter-covered 2x2 block averages to 64
    s = PackHandInputs(aux_size=2)(dict(results, gt_mask=block))['data_samples']
    assert s.gt_mask[1].tolist() == [[1, 0], [0, 0]]


def test_generated_heatmaps_default_sigma_and_rounding():
    """``GenerateJointHeatmaps()`` draws at the image side with IntagHand's sigma scaled to
    it (2 px on 64 -> 4 px on 128) and stores round(255 v)."""
    from gclhand.datasets.transforms import GenerateJointHeatmaps
    joints = np.full((2, 21, 2), -10.0)
    joints[1, 4] = (60.0, 72.0)
    r = GenerateJointHeatmaps()(dict(img=np.zeros((128, 128, 3), np.uint8),
                                     gt_joints_2d=joints))
    hm = r['gt_heatmaps']
    assert hm.shape == (128, 128, 42) and hm.dtype == np.uint8
    for d in (0, 1, 3, 4, 6):
        assert hm[72, 60 + d, 25] == int(np.floor(255 * np.exp(-d ** 2 / 32.0) + 0.5))
    small = GenerateJointHeatmaps(size=32, sigma=1.0)(dict(r))['gt_heatmaps']
    assert small.shape == (32, 32, 42) and small[18, 15, 25] == 255


def test_renderer_draws_only_the_kinds_asked_for():
    from gclhand.datasets.aux_maps import AuxMapRenderer
    hm, verts, K = _two_rest_hands()
    joints = verts[:, :21]
    for kinds in (('mask', ), ('dense', ), ('hms', )):
        out = AuxMapRenderer(hm, kinds=kinds)(verts, joints, K, 64)
        assert set(out) == {dict(hms='heatmaps').get(kinds[0], kinds[0])}
    with pytest.raises(ValueError, match=r"unknown kinds \['depth'\]"):
        AuxMapRenderer(hm, kinds=('mask', 'depth'))


def test_missing_map_folders_are_skipped_unless_required(root, tmp_path):
    import shutil
    copy = str(tmp_path / 'copy')
    shutil.copytree(root, copy)
    shutil.rmtree(osp.join(copy, 'train', 'dense'))
    r = _dataset(copy, [dict(type='LoadHandImage'), dict(type='LoadHandAuxMaps')])[0]
    assert 'gt_dense' not in r and r['gt_mask'].shape == (SIZE, SIZE, 2)
    assert r['gt_heatmaps'].shape[-1] == 42   # kinds after the missing one are still read
    ds = _dataset(copy, [dict(type='LoadHandImage'), dict(type='LoadHandAuxMaps',
                                                            required=True)])
    with pytest.raises(ImageError, match=r'dense/0\.jpg.*not found'):
        ds[0]
