"""Data transforms of gclhand (registered in ``gclhand.registry.TRANSFORMS``)."""
from .aux_maps import GenerateJointHeatmaps, LoadHandAuxMaps
from .formatting import PackHandInputs
from .geometric import CropHands, RandomHandAffine, RandomHandFlip, ResizeHand, update_labels
from .loading import LoadHandImage
from .photometric import ColorJitter

__all__ = [
    'LoadHandImage', 'LoadHandAuxMaps', 'GenerateJointHeatmaps', 'CropHands', 'RandomHandAffine', 'RandomHandFlip', 'ResizeHand', 'ColorJitter',
    'PackHandInputs', 'update_labels'
]
