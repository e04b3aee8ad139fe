"""Similarity targets ``S_g`` of the similarity distinguish (HandDGCL eq. 6, section 3.3)."""
from .base import SimTarget
from .cosine import CosineTarget
from .dot import DotTarget
from .gaussian import GaussianTarget
from .hard import HardTarget

__all__ = ['SimTarget', 'DotTarget', 'CosineTarget', 'GaussianTarget', 'HardTarget']
