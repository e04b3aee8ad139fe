"""Necks: encoder feature maps -> the decoder's input (registry ``NECKS``)."""
from .hand_split import HandSplit

__all__ = ['HandSplit']
