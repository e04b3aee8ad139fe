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
    uv = project_points(r['gt_verts_3d'], r['cam_K']).reshape(-1, 2)
    extent = (uv.max(0) - uv.min(0)).max()
    np.testing.assert_allclose(extent, 0.5 * 64, atol=1e-3)
    np.testing.assert_allclose((uv.max(0) + uv.min(0)) / 2, 32.0, atol=1e-3)
    np.testing.assert_allclose(_bright_centroid(r['img']), r['gt_joints_2d'][0, 0], atol=1.0)
