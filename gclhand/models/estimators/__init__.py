from .distributed import HandDistributedDataParallel
from .two_hand_estimator import TwoHandEstimator

__all__ = ['TwoHandEstimator', 'HandDistributedDataParallel']
