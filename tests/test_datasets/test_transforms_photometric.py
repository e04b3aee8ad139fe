import numpy as np
import pytest

from gclhand.datasets.transforms import ColorJitter


def _img():
    rng = np.random.default_rng(0)
    return rng.integers(30, 220, (16, 16, 3)).astype(np.uint8)


def test_brightness_only_scales():
    t = ColorJitter(brightness=0.5, contrast=0, saturation=0)
    t._sample = lambda: [1.2, 1.0, 1.0]
    img = _img()
    out = t(dict(img=img.copy()))['img']
    np.testing.assert_allclose(out, np.clip(np.round(img * 1.2), 0, 255), atol=1)


def test_saturation_zero_gives_gray():
    t = ColorJitter()
    t._sample = lambda: [1.0, 1.0, 0.0]
    out = t(dict(img=_img()))['img']
    assert np.abs(out.astype(int) - out[..., :1]).max() <= 1  # all channels equal


def test_contrast_keeps_mean_luma():
    t = ColorJitter()
    t._sample = lambda: [1.0, 0.5, 1.0]
    img = _img()
    out = t(dict(img=img.copy()))['img']
    luma = np.array([0.299, 0.587, 0.114])
    assert abs((out.reshape(-1, 3).mean(0) * luma).sum()
               - (img.reshape(-1, 3).mean(0) * luma).sum()) < 1.0
    assert out.std() < img.std()


def test_labels_untouched_and_dtype():
    np.random.seed(0)
    joints = np.ones((2, 21, 2), np.float32)
    r = ColorJitter()(dict(img=_img(), gt_joints_2d=joints.copy()))
    assert r['img'].dtype == np.uint8 and r['img'].shape == (16, 16, 3)
    np.testing.assert_array_equal(r['gt_joints_2d'], joints)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='brightness'):
        ColorJitter(brightness=1.5)


def test_fused_map_equals_sequential_definitions():
    """The one-pass colour map equals brightness -> contrast -> saturation in float."""
    img = _img()  # values in [30, 220): no clipping for these factors
    fb, fc, fs = 1.1, 0.8, 1.3
    luma = np.array([0.299, 0.587, 0.114])
    x = img.astype(np.float64) * fb
    x = fc * x + (1 - fc) * (x.reshape(-1, 3).mean(0) * luma).sum()
    gray = (x * luma).sum(-1, keepdims=True)
    x = fs * x + (1 - fs) * gray
    t = ColorJitter()
    t._sample = lambda: [fb, fc, fs]
    out = t(dict(img=img.copy()))['img']
    np.testing.assert_allclose(out, np.clip(np.round(x), 0, 255), atol=1)


def test_default_jitter_ranges_read_from_the_outputs():
    """``ColorJitter()`` draws brightness, contrast and saturation each from
    ``U(0.8, 1.2)`` and always applies them.  On an image of two grey pixels and one
    coloured pixel (values chosen so nothing saturates at 1.2^3 = 1.73) the factors come
    back from the output: the mean luma scales by ``b``, the grey step by ``b c``, the
    coloured pixel's red-green difference by ``b c s``."""
    img = np.array([[[60, 60, 60], [120, 120, 120], [100, 140, 90]]], np.uint8)
    luma = float(img[0].astype(np.float64) @ np.array([0.299, 0.587, 0.114]) @ np.ones(3) / 3)
    np.random.seed(0)
    factors = []
    for _ in range(300):
        out = ColorJitter()(dict(img=img.copy()))['img'][0]
        assert not np.array_equal(out, img[0])  # never skipped (prob 1)
        out = out.astype(np.float64)
        mean_luma = float(out @ np.array([0.299, 0.587, 0.114]) @ np.ones(3) / 3)
        b = mean_luma / luma
        bc = (out[1, 0] - out[0, 0]) / 60.
        bcs = (out[2, 1] - out[2, 0]) / 40.
        factors.append((b, bc / b, bcs / bc))
    factors = np.array(factors)
    # uint8 rounding: +-0.5 on a step of 60 (contrast), 40 (saturation) over b, c ~ 1
    assert (factors > 0.8 - 0.03).all() and (factors < 1.2 + 0.03).all()
    assert (factors.min(0) < 0.83).all() and (factors.max(0) > 1.17).all()
