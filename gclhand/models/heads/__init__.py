"""Heads: outputs read from the encoder's feature maps (registry ``HEADS``)."""
from .aux_map_head import AuxMapHead
from .camera_head import CameraHead

__all__ = ['CameraHead', 'AuxMapHead']
