"""Batch preparation: uint8 RGB crops -> normalised float batch on the model's device."""
from typing import Optional, Sequence

import torch
from mmengine.model import ImgDataPreprocessor

from gclhand.registry import MODELS

#: ImageNet statistics on the 0-255 scale (what the torchvision ResNet weights expect).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class HandDataPreprocessor(ImgDataPreprocessor):
    """Stack ``inputs`` (list of uint8 ``(3, H, W)`` RGB), normalise, move samples to device.

    MMEngine's :class:`~mmengine.model.ImgDataPreprocessor` already casts, normalises, stacks
    and moves every ``HandDataSample`` (with its GT tensors) to the model's device; this class
    only fixes the defaults to ImageNet statistics for RGB input and adds ``channels_last``.

    Args:
        mean, std: per-channel statistics on the 0-255 scale (ImageNet by default).
        channels_last: return the batch in ``torch.channels_last`` memory format (faster
            convolutions on recent GPUs / oneDNN CPUs).
        **kwargs: passed to :class:`~mmengine.model.ImgDataPreprocessor`
            (``pad_size_divisor``, ``non_blocking``...).

    Output: ``dict(inputs=(B, 3, H, W) float32, data_samples=list[HandDataSample])``.
    """

    def __init__(self, mean: Optional[Sequence[float]] = IMAGENET_MEAN,
                 std: Optional[Sequence[float]] = IMAGENET_STD, channels_last: bool = False,
                 **kwargs):
        super().__init__(mean=mean, std=std, **kwargs)
        self.channels_last = channels_last

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if self.channels_last:
            data['inputs'] = data['inputs'].contiguous(memory_format=torch.channels_last)
        return data
