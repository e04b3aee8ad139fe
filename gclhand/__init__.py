"""gclhand: graph contrastive two-hand 3D reconstruction (HandDGCL) on MMEngine."""
from .version import __version__

__all__ = ['__version__']
