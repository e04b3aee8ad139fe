"""Heads: outputs read from the encoder's feature maps (registry ``HEADS``)."""
from .camera_head import CameraHead

__all__ = ['CameraHead']
