"""Label consistency of the geometric transforms: after every transform, projecting the
3D labels with the new ``cam_K`` must give the transformed 2D labels, and the image must
move with them."""
import numpy as np
import pytest

from gclhand.datasets.geometry import project_points
from gclhand.datasets.transforms import CropHands, RandomHandAffine, RandomHandFlip, ResizeHand


def _results(size=64, seed=0, fx=130., fy=130.):
    rng = np.random.default_rng(seed)
    K = np.array([[fx, 0, size / 2 - 1.3], [0, fy, size / 2 + 0.7], [0, 0, 1]], np.float32)
    joints = np.concatenate([rng.uniform(-0.08, 0.08, (2, 21, 2)),
                             rng.uniform(0.5, 0.7, (2, 21, 1))], -1).astype(np.float32)
    joints[0, :, 0] -= 0.05  # left hand on the image's left
    verts = np.concatenate([rng.uniform(-0.08, 0.08, (2, 778, 2)),
                            rng.uniform(0.5, 0.7, (2, 778, 1))], -1).astype(np.float32)
    img = np.zeros((size, size, 3), np.uint8)
    return dict(img=img, img_shape=(size, size), cam_K=K, gt_joints_3d=joints,
                gt_verts_3d=verts, gt_joints_2d=project_points(joints, K),
                hand_valid=np.array([1., 0.], np.float32))


def _mark(results, hand=1, joint=0):
    """Paint a 3x3 white dot at one projected joint; returns its (x, y)."""
    x, y = np.round(results['gt_joints_2d'][hand, joint]).astype(int)
    results['img'][y - 1:y + 2, x - 1:x + 2] = 255
    return x, y


def _bright_centroid(img):
    ys, xs = np.nonzero(img[..., 0] > 100)
    return np.array([xs.mean(), ys.mean()])


def _assert_framed(uv, side, centre=32.0):
    """The box of pixel points ``uv`` ``(..., 2)`` has longer side ``side`` and its centre
    at ``(centre, centre)`` (IntagHand's crop)."""
    uv = np.asarray(uv).reshape(-1, 2)
    np.testing.assert_allclose((uv.max(0) - uv.min(0)).max(), side, atol=1e-3)
    if centre is not None:
        np.testing.assert_allclose((uv.max(0) + uv.min(0)) / 2, centre, atol=1e-3)


def _assert_consistent(r, atol=1e-3):
    np.testing.assert_allclose(project_points(r['gt_joints_3d'], r['cam_K']),
                               r['gt_joints_2d'], atol=atol)


@pytest.mark.parametrize('seed', range(5))
def test_random_affine_projection_consistency(seed):
    np.random.seed(seed)
    r = _results(seed=seed)
    x, y = _mark(r)
    before = r['gt_joints_3d'].copy()
    t = RandomHandAffine(scale_range=(0.8, 1.25), rotate_range=45, shift_range=0.1)
    r = t(r)
    _assert_consistent(r)
    # 3D: a rotation about the optical axis (depth and distances kept).
    np.testing.assert_allclose(r['gt_joints_3d'][..., 2], before[..., 2], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(r['gt_joints_3d'], axis=-1),
                               np.linalg.norm(before, axis=-1), atol=1e-6)
    # square pixels stay square: K remains a skew-free pinhole matrix
    K = r['cam_K']
    assert abs(K[0, 1]) < 1e-3 and abs(K[1, 0]) < 1e-3 and abs(K[0, 0] - K[1, 1]) < 1e-3
    # the painted dot moved to the transformed 2D label
    np.testing.assert_allclose(_bright_centroid(r['img']), r['gt_joints_2d'][1, 0], atol=1.0)


def test_random_affine_known_rotation():
    """90 degrees about the centre of a 64 px image with K centred there."""
    r = _results(fx=100., fy=100.)
    r['cam_K'][:2, 2] = 31.5
    r['gt_joints_2d'] = project_points(r['gt_joints_3d'], r['cam_K'])
    t = RandomHandAffine(scale_range=(1, 1), rotate_range=0, shift_range=0)
    t._sample = lambda: (1.0, np.pi / 2, np.zeros(2))
    u0 = r['gt_joints_2d'][0, 3].copy()
    x0 = r['gt_joints_3d'][0, 3].copy()
    r = t(r)
    # pixel offset (dx, dy) from the centre becomes (-dy, dx); 3D (x, y, z) -> (-y, x, z)
    np.testing.assert_allclose(r['gt_joints_2d'][0, 3] - 31.5, [-(u0[1] - 31.5), u0[0] - 31.5],
                               atol=1e-4)
    np.testing.assert_allclose(r['gt_joints_3d'][0, 3], [-x0[1], x0[0], x0[2]], atol=1e-6)
    np.testing.assert_allclose(r['cam_K'], [[100, 0, 31.5], [0, 100, 31.5], [0, 0, 1]],
                               atol=1e-4)


def test_random_affine_unequal_focal_still_consistent():
    np.random.seed(3)
    r = RandomHandAffine(rotate_range=40)(_results(fx=120., fy=150.))
    _assert_consistent(r)


def test_random_affine_prob_zero_is_identity():
    r = _results()
    ref = {k: np.copy(v) for k, v in r.items() if isinstance(v, np.ndarray)}
    r = RandomHandAffine(prob=0.0)(r)
    for k, v in ref.items():
        np.testing.assert_array_equal(r[k], v)


def test_random_affine_out_size():
    np.random.seed(0)
    r = RandomHandAffine(out_size=32)(_results())
    assert r['img'].shape == (32, 32, 3) and r['img_shape'] == (32, 32)
    _assert_consistent(r)


def test_flip_label_consistency():
    r = _results()
    x, y = _mark(r, hand=1, joint=0)
    before = {k: np.copy(r[k]) for k in ('gt_joints_3d', 'gt_verts_3d', 'gt_joints_2d',
                                         'hand_valid')}
    r = RandomHandFlip(prob=1.0)(r)
    assert r['flip'] is True
    _assert_consistent(r)
    # the right hand (index 1) becomes the left hand (index 0), mirrored
    np.testing.assert_allclose(r['gt_joints_3d'][0], before['gt_joints_3d'][1] * [-1, 1, 1])
    np.testing.assert_allclose(r['gt_verts_3d'][1], before['gt_verts_3d'][0] * [-1, 1, 1])
    np.testing.assert_allclose(r['gt_joints_2d'][0, :, 0], 63 - before['gt_joints_2d'][1, :, 0])
    np.testing.assert_array_equal(r['hand_valid'], before['hand_valid'][::-1])
    # principal point mirrored: W - 1 - cx
    np.testing.assert_allclose(r['cam_K'][0, 2], 63 - (32 - 1.3), atol=1e-5)
    # the painted dot is where the (now left-hand) label says
    np.testing.assert_allclose(_bright_centroid(r['img']), r['gt_joints_2d'][0, 0], atol=0.6)
    # after the flip the left hand lies left of the right hand again
    assert r['gt_joints_3d'][0, :, 0].mean() < r['gt_joints_3d'][1, :, 0].mean()


def test_flip_swaps_the_official_protocol_fields():
    """A mirrored right-only sample is a left-only sample: hand type and joint validity
    swap with the hands, annotated joints mirror like the mesh joints."""
    r = _results()
    r.update(gt_hand_type=np.array([0., 1.], np.float32), joints_valid=np.eye(2, 21),
             gt_joints_3d_annot=np.copy(r['gt_joints_3d']) + 0.01)
    before = np.copy(r['gt_joints_3d_annot'])
    r = RandomHandFlip(prob=1.0)(r)
    np.testing.assert_array_equal(r['gt_hand_type'], [1, 0])
    np.testing.assert_array_equal(r['joints_valid'], np.eye(2, 21)[::-1])
    np.testing.assert_allclose(r['gt_joints_3d_annot'][0], before[1] * [-1, 1, 1])


def test_flip_twice_is_identity():
    r = _results()
    ref = {k: np.copy(v) for k, v in r.items() if isinstance(v, np.ndarray)}
    t = RandomHandFlip(prob=1.0)
    r = t(t(r))
    assert r['flip'] is False
    for k, v in ref.items():
        np.testing.assert_allclose(r[k], v, atol=1e-5)


def test_flip_prob_zero_sets_flag():
    r = RandomHandFlip(prob=0.0)(_results())
    assert r['flip'] is False


@pytest.mark.parametrize('size', [32, 128, (96, 64)])
def test_resize_consistency(size):
    r = _results()
    _mark(r)
    r = ResizeHand(size=size)(r)
    w, h = (size, size) if isinstance(size, int) else size
    assert r['img'].shape == (h, w, 3) and r['img_shape'] == (h, w)
    _assert_consistent(r)
    np.testing.assert_allclose(_bright_centroid(r['img']), r['gt_joints_2d'][1, 0], atol=1.0)


def test_resize_known_values():
    r = _results()
    K = r['cam_K'].copy()
    r = ResizeHand(size=128)(r)  # s = 2: u' = 2u + 0.5
    np.testing.assert_allclose(r['cam_K'][0], [2 * K[0, 0], 0, 2 * K[0, 2] + 0.5], atol=1e-4)


def test_transforms_without_labels():
    """Inference pipelines carry no labels; transforms must not need them."""
    np.random.seed(0)
    r = dict(img=np.zeros((40, 40, 3), np.uint8))
    for t in (RandomHandAffine(), RandomHandFlip(prob=1.0), ResizeHand(32)):
        r = t(r)
    assert r['img'].shape == (32, 32, 3)


def test_crop_hands_frames_valid_hands():
    r = _results(size=200, fx=300., fy=300.)
    _mark(r, hand=0, joint=0)
    r['hand_valid'] = np.array([1., 1.], np.float32)
    r = CropHands(size=64, hand_ratio=0.5)(r)
    assert r['img'].shape == (64, 64, 3)
    _assert_consistent(r)
    # IntagHand's crop: the projected vertices span hand_ratio of the side, their box
    # centre lands on (S/2, S/2)
    _assert_framed(project_points(r['gt_verts_3d'], r['cam_K']), 0.5 * 64)
    np.testing.assert_allclose(_bright_centroid(r['img']), r['gt_joints_2d'][0, 0], atol=1.0)


@pytest.mark.parametrize('in_wh,out_wh', [((64, 64), (32, 32)), ((80, 48), (40, 60))])
def test_affine_about_centre_closed_form(in_wh, out_wh):
    """``u' = c_out + shift * out + s diag(out / in) Rot(theta) (u - c_in)`` with pixel
    centres at integers: a zoom > 1 enlarges, the rotation turns x towards y (like
    ``rotation_z``), the shift is a fraction of the output size."""
    from gclhand.datasets.geometry import apply_affine_2d, rotation_z
    from gclhand.datasets.transforms.geometric import affine_about_centre
    scale, theta, shift = 2.0, 0.3, np.array([0.1, -0.05])
    A = affine_about_centre(in_wh, out_wh, scale, theta, shift)
    c_in = (np.array(in_wh) - 1) / 2
    c_out = (np.array(out_wh) - 1) / 2
    lin = scale * np.diag(np.array(out_wh) / np.array(in_wh)) @ rotation_z(theta)[:2, :2]
    u = np.array([[3.0, 7.0], [c_in[0], c_in[1]], [50.0, 11.0]])
    expect = c_out + shift * np.array(out_wh) + (u - c_in) @ lin.T
    np.testing.assert_allclose(apply_affine_2d(u, A), expect, atol=1e-4)


def test_random_affine_zooms_in_above_one():
    """scale_range (2, 2): offsets from the centre double in the crop (and the 3D labels
    do not change without rotation; K's focal doubles)."""
    r = _results()
    K0, u0 = r['cam_K'].copy(), r['gt_joints_2d'].copy()
    t = RandomHandAffine(scale_range=(2, 2), rotate_range=0, shift_range=0)
    r = t(r)
    np.testing.assert_allclose(r['gt_joints_2d'] - 31.5, 2 * (u0 - 31.5), atol=1e-4)
    np.testing.assert_allclose(r['cam_K'][0, 0], 2 * K0[0, 0], rtol=1e-6)
    _assert_consistent(r)


def _projected_verts(r):
    return project_points(r['gt_verts_3d'], r['cam_K'])


def test_crop_hands_uses_valid_hands_only():
    """One valid hand: the crop frames that hand's vertices alone; none valid: both hands;
    without 3D vertices or camera: the 2D joints.  Outside the image is black."""
    r = _results(size=200, fx=300., fy=300.)
    r['img'][:] = 80
    r['hand_valid'] = np.array([0., 1.], np.float32)
    out = CropHands(size=64, hand_ratio=0.5)(dict(r, img=r['img'].copy()))
    _assert_framed(_projected_verts(out)[1], 32.0)  # the valid (right) hand

    none = CropHands(size=64, hand_ratio=0.5)(dict(r, img=r['img'].copy(),
                                                   hand_valid=np.zeros(2, np.float32)))
    _assert_framed(_projected_verts(none), 32.0, centre=None)

    # no camera (vertices alone cannot be projected) and no hand_valid: both hands' joints
    joints_only = {k: v for k, v in r.items() if k not in ('cam_K', 'hand_valid')}
    joints_only['img'] = r['img'].copy()
    out = CropHands(size=64, hand_ratio=0.8)(dict(joints_only))
    _assert_framed(out['gt_joints_2d'], 0.8 * 64, centre=None)
    joints_only['hand_valid'] = r['hand_valid']
    out = CropHands(size=64, hand_ratio=0.8)(joints_only)
    _assert_framed(out['gt_joints_2d'][1], 0.8 * 64)
    # the hands span 0.8 of the crop: a crop of a 200 px image this tight shows no border,
    # a loose one (ratio 0.05) shows black outside the image
    loose = CropHands(size=64, hand_ratio=0.05)(dict(r, img=r['img'].copy()))
    assert loose['img'][0, 0].tolist() == [0, 0, 0] and loose['img'][32, 32, 0] == 80
    assert loose['img_shape'] == (64, 64)


def _blob(shape, centre, sigma=1.5):
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    return np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2))


def _centroid(m):
    m = m.astype(np.float64)
    ys, xs = np.mgrid[:m.shape[0], :m.shape[1]]
    return np.array([(xs * m).sum(), (ys * m).sum()]) / m.sum()


def test_aux_maps_warp_at_their_own_resolution():
    """A map r times the image's size follows the image's pixel map A as
    ``S A S^-1`` with ``S: u -> r u + (r - 1) / 2`` (pixel centres at integers), on a
    non-square image too; outside the source it is 0."""
    from gclhand.datasets.transforms.geometric import warp_aux_maps
    in_wh, out_wh, r = (128, 64), (256, 128), 0.25    # maps 32 x 16 -> 64 x 32
    A = np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5]])  # ResizeHand's 2x enlargement
    m_xy = np.array([12.0, 7.5])
    heat = (255 * _blob((16, 32), m_xy)).astype(np.uint8)
    results = dict(gt_heatmaps=np.repeat(heat[..., None], 42, -1),
                   gt_dense=np.full((16, 32, 3), 200, np.uint8))
    warp_aux_maps(results, A, in_wh, out_wh)
    assert results['gt_heatmaps'].shape == (32, 64, 42)
    u = (m_xy - (r - 1) / 2) / r               # map -> image pixels
    u2 = A[:, :2] @ u + A[:, 2]                # the image's map
    expect = r * u2 + (r - 1) / 2              # image -> map pixels
    np.testing.assert_allclose(_centroid(results['gt_heatmaps'][..., 5]), expect, atol=0.05)
    # a shift leaves part of the output uncovered: zeros there
    shifted = dict(gt_dense=np.full((16, 32, 3), 200, np.uint8))
    warp_aux_maps(shifted, np.array([[1.0, 0, 16.0], [0, 1.0, 0]]), in_wh, in_wh)
    assert (shifted['gt_dense'][:, :4] == 0).all() and (shifted['gt_dense'][:, 5:] == 200).all()


def test_flip_swaps_mask_and_heatmap_hands_but_not_dense_colours():
    from gclhand.datasets.transforms.geometric import warp_aux_maps
    mask = np.zeros((4, 4, 2), np.uint8)
    mask[..., 0] = 255                                   # left hand only
    hms = np.zeros((4, 4, 42), np.uint8)
    hms[..., 3] = 7                                      # left thumb3
    dense = np.zeros((4, 4, 3), np.uint8)
    dense[..., 0], dense[..., 1], dense[..., 2] = 10, 20, 30
    results = dict(gt_mask=mask, gt_heatmaps=hms, gt_dense=dense)
    warp_aux_maps(results, np.array([[-1., 0., 3.], [0., 1., 0.]]), (4, 4), (4, 4),
                  swap_hands=True)
    assert (results['gt_mask'][..., 1] == 255).all() and (results['gt_mask'][..., 0] == 0).all()
    hms = results['gt_heatmaps']
    assert (hms[..., 24] == 7).all() and hms[..., 3].max() == 0
    assert results['gt_dense'][0, 0].tolist() == [10, 20, 30]
    # without swap_hands nothing is permuted
    results = dict(gt_mask=mask)
    warp_aux_maps(results, np.array([[-1., 0., 3.], [0., 1., 0.]]), (4, 4), (4, 4))
    assert (results['gt_mask'][..., 0] == 255).all()


def test_crop_hands_warps_the_aux_maps():
    """A mask drawn at half the image's resolution over the right hand's projected joints
    still lies over them after the crop (at half the crop's resolution)."""
    import cv2
    r = _results(size=200, fx=300., fy=300.)
    r['hand_valid'] = np.array([1., 1.], np.float32)
    mask = np.zeros((100, 100, 2), np.uint8)
    hull = cv2.convexHull(np.round((r['gt_joints_2d'][1] + 0.5) / 2 - 0.5).astype(np.int32))
    right = np.zeros((100, 100), np.uint8)
    cv2.fillConvexPoly(right, hull, 255)
    mask[..., 1] = right
    r['gt_mask'] = mask
    out = CropHands(size=64, hand_ratio=0.5)(r)
    assert out['gt_mask'].shape == (32, 32, 2) and out['gt_mask'][..., 0].max() == 0
    uv = (out['gt_joints_2d'][1] + 0.5) / 2 - 0.5
    px = np.clip(np.rint(uv).astype(int), 0, 31)
    assert (out['gt_mask'][px[:, 1], px[:, 0], 1] > 0).mean() > 0.8
    ys, xs = np.nonzero(out['gt_mask'][..., 1] > 127)
    np.testing.assert_allclose([xs.mean(), ys.mean()], uv.mean(0), atol=1.5)


def test_resize_shrinks_with_area_and_enlarges_bilinearly():
    """Area averaging when shrinking (no aliasing: a 1-in-4 stripe pattern becomes its
    mean), bilinear when enlarging (an edge gets intermediate values)."""
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, ::4] = 255
    small = ResizeHand(size=4)(dict(img=img))['img']
    assert (small == 64).all()
    edge = np.zeros((8, 8, 3), np.uint8)
    edge[:, 4:] = 255
    big = ResizeHand(size=16)(dict(img=edge))['img']
    assert big[0, :, 0].tolist()[6:10] == [0, 64, 191, 255]
    assert ResizeHand(size=16, interpolation='nearest')(dict(img=edge))['img'][0, 7, 0] == 0


def test_project_points_on_the_camera_plane_stays_finite():
    K = np.array([[100.0, 0, 10], [0, 100.0, 20], [0, 0, 1]])
    uv = project_points(np.array([[0.5, -0.2, 0.0], [0.5, -0.2, 2.0]]), K)
    assert uv.dtype == np.float32 and np.isfinite(uv).all()
    np.testing.assert_allclose(uv[1], [35.0, 10.0], atol=1e-5)
    np.testing.assert_allclose(uv[0], np.array([50.0, -20.0]) / 1e-9, rtol=1e-6)


def test_resize_shrinks_aux_maps_by_area_too():
    """Shrinking averages the maps as it does the image: a 1-in-3 stripe of the mask (at a
    quarter of the image's resolution) shrunk 3x becomes its mean everywhere, exactly
    ``cv2.resize``'s area result, where bilinear sampling (what ``cv2.warpAffine`` does
    with the area flag) reads only the pixels between the stripes; enlarging samples the
    maps bilinearly; a map whose size does not scale exactly with the image is warped."""
    import cv2
    img = np.zeros((384, 384, 3), np.uint8)
    mask = np.zeros((96, 96, 2), np.uint8)
    mask[:, ::3, 1] = 255
    out = ResizeHand(size=128)(dict(img=img, gt_mask=mask.copy()))['gt_mask']
    assert out.shape == (32, 32, 2)
    np.testing.assert_array_equal(out, cv2.resize(mask, (32, 32), interpolation=cv2.INTER_AREA))
    assert (out[..., 1] == 85).all() and (out[..., 0] == 0).all()
    bilinear = ResizeHand(size=128, interpolation='bilinear')(
        dict(img=img, gt_mask=mask.copy()))['gt_mask']
    assert bilinear.max() == 0  # every sample falls between two stripes
    big = ResizeHand(size=768)(dict(img=img, gt_mask=mask.copy()))['gt_mask']
    assert big.shape == (192, 192, 2) and ((big[..., 1] > 0) & (big[..., 1] < 255)).any()
    np.testing.assert_allclose(big[1:-1, 1:-1], cv2.resize(mask, (192, 192))[1:-1, 1:-1],
                               atol=1)  # bilinear (the outermost pixels meet a 0 border)
    # maps 22 px wide for a 90 px image (r = 0.244): 16 px out is not a resize by 64 / 90
    odd = np.full((22, 22, 2), 200, np.uint8)
    out = ResizeHand(size=64)(dict(img=np.zeros((90, 90, 3), np.uint8), gt_mask=odd))
    assert out['gt_mask'].shape == (16, 16, 2) and out['gt_mask'][2:-2, 2:-2].min() == 200


def test_default_augmentation_ranges_read_from_the_outputs():
    """``RandomHandAffine()``: zoom ``s ~ U(0.9, 1.1)``, rotation ``U(-30, 30)`` degrees,
    shift ``U(-0.1, 0.1)`` of the size per axis, always applied; ``RandomHandFlip()``:
    half the samples.  Each draw is read back from the labels: the focal length scales
    by ``s``, the 3D joints turn by the rotation about the optical axis, and the principal
    point (at the image centre, the rotation's fixed point) moves by the shift."""
    np.random.seed(0)
    scales, angles, shifts, flips = [], [], [], []
    for _ in range(400):
        r = _results(fx=100., fy=100.)
        r['cam_K'][:2, 2] = 31.5
        before = r['gt_joints_3d'][1, 0].copy()
        r = RandomHandAffine()(r)
        after = r['gt_joints_3d'][1, 0]
        scales.append(r['cam_K'][0, 0] / 100.)
        angles.append(np.degrees(np.arctan2(after[1], after[0])
                                 - np.arctan2(before[1], before[0])))
        shifts.append((r['cam_K'][:2, 2] - 31.5) / 64.)
        flips.append(RandomHandFlip()(_results())['flip'])
    scales, shifts = np.array(scales), np.array(shifts)
    angles = (np.array(angles) + 180.) % 360. - 180.
    assert 0.9 - 1e-6 <= scales.min() < 0.905 and 1.095 < scales.max() <= 1.1 + 1e-6
    assert -30 - 1e-4 <= angles.min() < -29 and 29 < angles.max() <= 30 + 1e-4
    assert (np.abs(shifts) <= 0.1 + 1e-6).all() and (np.abs(shifts).max(0) > 0.099).all()
    assert not ((scales == 1.) & (shifts == 0.).all(1)).any()  # never skipped (prob 1)
    assert 0.44 < np.mean(flips) < 0.56
