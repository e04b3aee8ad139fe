from .base_hand_metric import BaseHandMetric
from .image_blind_metric import ImageBlindMetric
from .intaghand_metric import IntagHandMetric
from .interhand_metric import InterHandMetric
from .interpenetration_metric import InterpenetrationMetric
from .pa_mpjpe_metric import PAMPJPEMetric

__all__ = ['BaseHandMetric', 'IntagHandMetric', 'InterHandMetric', 'InterpenetrationMetric',
           'PAMPJPEMetric', 'ImageBlindMetric']
