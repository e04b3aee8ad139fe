"""Image loading with errors that name the broken file."""
import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from gclhand.registry import TRANSFORMS
from ..errors import ImageError

_JPEG_SOI, _JPEG_EOI = b'\xff\xd8', b'\xff\xd9'
_PNG_SIG, _PNG_IEND = b'\x89PNG\r\n\x1a\n', b'IEND'
# OpenCV >= 4.10 decodes straight to RGB (saves a colour-conversion pass).
_IMREAD_RGB = getattr(cv2, 'IMREAD_COLOR_RGB', None)


def check_image_complete(data: bytes, path: str) -> None:
    """Raise :class:`ImageError` when a JPEG/PNG byte string is visibly truncated.

    OpenCV decodes a truncated JPEG into a partly grey image and only prints a warning, so
    a cut-off download would otherwise become silently wrong training data.  A complete
    JPEG ends with the EOI marker (trailing padding bytes aside); a PNG with an IEND chunk.
    """
    if data.startswith(_JPEG_SOI):
        if not data.rstrip(b'\x00\r\n ').endswith(_JPEG_EOI):
            raise ImageError(path, 'truncated JPEG (no end-of-image marker); re-download '
                             'or re-generate the file')
    elif data.startswith(_PNG_SIG):
        if _PNG_IEND not in data[-32:]:
            raise ImageError(path, 'truncated PNG (no IEND chunk); re-download or '
                             're-generate the file')


@TRANSFORMS.register_module()
class LoadHandImage(BaseTransform):
    """Read ``results['img_path']`` into an RGB ``uint8`` array.

    Required keys: ``img_path``.  Added keys: ``img`` (H, W, 3) RGB uint8, ``img_shape``
    and ``ori_shape`` (H, W).

    Args:
        check_complete: detect truncated JPEG/PNG files (cheap: looks at the last bytes).
        expected_size: if set, ``(H, W)`` the decoded image must have.

    Raises:
        ImageError: the file is missing, empty, truncated or not a decodable image.
    """

    def __init__(self, check_complete: bool = True, expected_size: Optional[tuple] = None):
        self.check_complete = check_complete
        self.expected_size = None if expected_size is None else tuple(expected_size)

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        if not osp.isfile(path):
            raise ImageError(path, 'image file not found')
        with open(path, 'rb') as f:
            data = f.read()
        if not data:
            raise ImageError(path, 'image file is empty')
        if self.check_complete:
            check_image_complete(data, path)
        flag = cv2.IMREAD_COLOR if _IMREAD_RGB is None else _IMREAD_RGB
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if img is None:
            raise ImageError(path, 'cannot decode image (corrupt or not an image)')
        if self.expected_size is not None and img.shape[:2] != self.expected_size:
            raise ImageError(path, f'image is {img.shape[:2]}, expected {self.expected_size}')
        if _IMREAD_RGB is None:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(check_complete={self.check_complete}, '
                f'expected_size={self.expected_size})')
