from .aux_map_loss import DenseMapLoss, HeatmapMSELoss, MaskLoss
from .base import HandLoss, MissingLossInput
from .bone_length_loss import BoneLengthLoss
from .joint_2d_loss import Joint2DLoss
from .regression_3d_loss import JointLoss3D, VertexLoss3D, aligned_l1
from .transition_loss import TransitionLoss
from .utils import masked_mean

__all__ = ['HandLoss', 'MissingLossInput', 'HeatmapMSELoss', 'MaskLoss', 'DenseMapLoss',
           'BoneLengthLoss', 'Joint2DLoss', 'JointLoss3D', 'VertexLoss3D', 'TransitionLoss',
           'aligned_l1', 'masked_mean']
