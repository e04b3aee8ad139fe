"""gclhand: graph contrastive two-hand 3D reconstruction (HandDGCL) on MMEngine."""
from .utils.package_configs import enable_package_scope
from .version import __version__

# configs may inherit gclhand's shipped configs as ``_base_ = ['gclhand::dgcl_synth.py']``
enable_package_scope()

__all__ = ['__version__']
