"""Photometric augmentation of the RGB crop (labels are unaffected)."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from gclhand.registry import TRANSFORMS

# ITU-R BT.601 luma weights for RGB input.
_LUMA_RGB = np.array([0.299, 0.587, 0.114], np.float32)


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Random brightness, contrast and saturation.

    Each factor is drawn from ``U(1 - x, 1 + x)``; with ``g(.)`` the BT.601 luma and
    ``m`` the image's mean luma, the three adjustments (torchvision's definitions)

    - brightness ``b``: ``img -> b * img``
    - contrast ``c``: ``img -> c * img + (1 - c) * mean_luma(img)``
    - saturation ``s``: ``img -> s * img + (1 - s) * g(img)``

    are affine in the colour and commute with ``g``, so their composition is the single
    map ``out = b c (s img + (1 - s) g(img)) + (1 - c) b m`` applied in one
    ``cv2.transform`` pass (saturating to [0, 255] once at the end, instead of after each
    step).  Written by hand instead of ``mmcv.adjust_*`` because those assume BGR input
    (their grey weights are for BGR) while the pipeline carries RGB, and take three passes.

    Required/modified key: ``img`` (H, W, 3) RGB uint8.

    Args:
        brightness, contrast, saturation: jitter amounts in [0, 1).
        prob: probability to apply the transform at all.
    """

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2,
                 saturation: float = 0.2, prob: float = 1.0):
        for name, v in (('brightness', brightness), ('contrast', contrast),
                        ('saturation', saturation)):
            if not 0 <= v < 1:
                raise ValueError(f'ColorJitter: {name} must be in [0, 1), got {v}')
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.prob = prob

    @cache_randomness
    def _sample(self):
        if np.random.rand() >= self.prob:
            return None
        return [np.random.uniform(1 - a, 1 + a)
                for a in (self.brightness, self.contrast, self.saturation)]

    @staticmethod
    def color_matrix(img: np.ndarray, fb: float, fc: float, fs: float) -> np.ndarray:
        """The (3, 4) affine colour map of the composed adjustments for ``img``."""
        mean_luma = float(np.dot(cv2.mean(img)[:3], _LUMA_RGB))
        gain = fb * fc
        M = gain * ((1 - fs) * np.tile(_LUMA_RGB, (3, 1)) + fs * np.eye(3))
        offset = (1 - fc) * fb * mean_luma
        return np.concatenate([M, np.full((3, 1), offset)], axis=1).astype(np.float32)

    def transform(self, results: dict) -> dict:
        factors = self._sample()
        if factors is None:
            return results
        img = results['img']
        results['img'] = cv2.transform(img, self.color_matrix(img, *factors))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness={self.brightness}, contrast='
                f'{self.contrast}, saturation={self.saturation}, prob={self.prob})')
