"""Data transforms of gclhand (registered in ``gclhand.registry.TRANSFORMS``)."""
from .formatting import PackHandInputs
from .geometric import CropHands, RandomHandAffine, RandomHandFlip, ResizeHand, update_labels
from .loading import LoadHandImage
from .photometric import ColorJitter

__all__ = [
    'LoadHandImage', 'CropHands', 'RandomHandAffine', 'RandomHandFlip', 'ResizeHand', 'ColorJitter',
    'PackHandInputs', 'update_labels'
]
