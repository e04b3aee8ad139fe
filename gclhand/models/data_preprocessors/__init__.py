from .hand_data_preprocessor import IMAGENET_MEAN, IMAGENET_STD, HandDataPreprocessor

__all__ = ['HandDataPreprocessor', 'IMAGENET_MEAN', 'IMAGENET_STD']
