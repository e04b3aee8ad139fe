"""Evaluation of two-hand reconstructions: functional errors, metrics, reports."""
from . import functional
from .functional import (align_root, bone_lengths, mpjpe, mrrpe, point_errors,
                         procrustes_align, reference_length, relative_root, scale_align)
from .metrics import *  # noqa: F401,F403
from .penetration import penetration_depth, two_hand_penetration, winding_number
from .report import dump_results, format_table

__all__ = [
    'functional', 'align_root', 'bone_lengths', 'mpjpe', 'mrrpe', 'point_errors',
    'procrustes_align', 'reference_length', 'relative_root', 'scale_align',
    'penetration_depth', 'two_hand_penetration', 'winding_number', 'dump_results',
    'format_table', 'BaseHandMetric', 'IntagHandMetric', 'InterHandMetric',
    'InterpenetrationMetric', 'PAMPJPEMetric'
]
