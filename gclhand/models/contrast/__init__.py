"""DGCLNet's contrastive parts: heads (self contrast eq. 3/13, consistency eq. 4/10, cross
contrast eq. 5/12), the readout projector, the self-contrast queue, the feature-pose pool
and the momentum key encoder (HandDGCL sections 3.2-3.4)."""
from .consistency import ConsistencyHead
from .cross_contrast import CrossContrastHead
from .momentum import MomentumKeyEncoder
from .pool import FeaturePosePool, FeatureQueue
from .projector import GraphReadoutProjector, mesh_node_feats
from .self_contrast import SelfContrastHead

__all__ = ['SelfContrastHead', 'ConsistencyHead', 'CrossContrastHead', 'FeatureQueue',
           'FeaturePosePool', 'MomentumKeyEncoder', 'GraphReadoutProjector',
           'mesh_node_feats']
