import os.path as osp

import cv2
import numpy as np
import pytest

from gclhand.datasets import ImageError
from gclhand.datasets.transforms import LoadHandImage


def _write(path, img, ext='.jpg'):
    ok, buf = cv2.imencode(ext, img)
    assert ok
    data = buf.tobytes()
    with open(path, 'wb') as f:
        f.write(data)
    return data


@pytest.mark.parametrize('decode_to_rgb', [True, False])
def test_load_rgb(tmp_path, monkeypatch, decode_to_rgb):
    """RGB either way: decoded to RGB directly (OpenCV >= 4.10) or to BGR and converted
    (older OpenCV, simulated by hiding the flag)."""
    import gclhand.datasets.transforms.loading as loading
    if not decode_to_rgb:
        monkeypatch.setattr(loading, '_IMREAD_RGB', None)
    elif loading._IMREAD_RGB is None:
        pytest.skip('this OpenCV cannot decode to RGB')
    bgr = np.zeros((8, 12, 3), np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    bgr[0, 0] = (0, 0, 200)  # red
    path = str(tmp_path / 'a.png')
    _write(path, bgr, '.png')
    r = LoadHandImage()(dict(img_path=path))
    assert r['img'].shape == (8, 12, 3) and r['img_shape'] == r['ori_shape'] == (8, 12)
    np.testing.assert_array_equal(r['img'][0, 1], [0, 0, 255])  # RGB order
    np.testing.assert_array_equal(r['img'][0, 0], [200, 0, 0])


def test_missing_image_names_file(tmp_path):
    path = str(tmp_path / 'missing.jpg')
    with pytest.raises(ImageError, match='missing.jpg.*not found'):
        LoadHandImage()(dict(img_path=path))


@pytest.mark.parametrize('ext', ['.jpg', '.png'])
def test_truncated_image_names_file(tmp_path, ext):
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    path = str(tmp_path / f'cut{ext}')
    data = _write(path, img, ext)
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ImageError, match=f'cut\\{ext}.*truncated'):
        LoadHandImage()(dict(img_path=path))


def test_garbage_and_empty_files(tmp_path):
    bad = tmp_path / 'garbage.jpg'
    bad.write_bytes(b'this is not an image at all')
    with pytest.raises(ImageError, match='garbage.jpg.*decode'):
        LoadHandImage()(dict(img_path=str(bad)))
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ImageError, match='empty.jpg.*empty'):
        LoadHandImage()(dict(img_path=str(empty)))


def test_expected_size(tmp_path):
    path = str(tmp_path / 'a.jpg')
    _write(path, np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ImageError, match='expected'):
        LoadHandImage(expected_size=(20, 20))(dict(img_path=path))
    assert osp.isfile(path)
