"""Procrustes-aligned MPJPE / MPVPE."""
from typing import Any, Dict, List, Sequence, Tuple

from gclhand.registry import METRICS
from ..functional import point_errors, procrustes_align
from .base_hand_metric import (BaseHandMetric, Rows, hand_valid, masked_to_list, nanmean,
                               per_hand, sample_meta, stack_field)


@METRICS.register_module()
class PAMPJPEMetric(BaseHandMetric):
    """MPJPE (and MPVPE) after a per-hand similarity (Procrustes) alignment.

    Each predicted hand is aligned to its ground truth with the scale, rotation and
    translation that minimise the squared joint error
    (:func:`gclhand.evaluation.functional.procrustes_align`, reflections excluded); vertices
    get their own alignment, fitted on the vertices (as in FreiHAND's PA-MPVPE).  This
    measures articulation only: global rotation, size and position errors are removed.
    ``mpjpe_left`` / ``mpjpe_right`` average over the samples where that hand is annotated,
    ``mpjpe`` over all annotated hands.  Output keys (default prefix ``pa``): ``mpjpe``,
    ``mpjpe_left``, ``mpjpe_right`` and, with ``with_verts``, ``mpvpe*`` — in mm.

    Args:
        with_verts: also compute PA-MPVPE (needs ``pred_verts_3d`` / ``gt_verts_3d``).
        outfile_prefix, collect_device, prefix, collect_dir: see
            :class:`~gclhand.evaluation.metrics.base_hand_metric.BaseHandMetric`.
    """

    default_prefix = 'pa'

    def __init__(self, with_verts: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.with_verts = with_verts

    def _keys(self):
        return (('mpjpe', 'joints_3d'), ('mpvpe', 'verts_3d')) if self.with_verts \
            else (('mpjpe', 'joints_3d'),)

    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        name = type(self).__name__
        valid = hand_valid(data_samples)
        errors = {}
        for key, field in self._keys():
            pred = stack_field(data_samples, f'pred_{field}', name, (2, -1, 3))
            gt = stack_field(data_samples, f'gt_{field}', name, (2, -1, 3))
            err = point_errors(procrustes_align(pred, gt), gt).mean(-1) * 1000.
            errors[key] = masked_to_list(err, valid)
        return [dict(sample_meta(s), **{k: v[i] for k, v in errors.items()})
                for i, s in enumerate(data_samples)]

    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        metrics, rows = {}, {}
        for key, _ in self._keys():
            err = per_hand(results, key)
            left, right, pooled = nanmean(err[:, 0]), nanmean(err[:, 1]), nanmean(err)
            metrics.update({key: pooled, f'{key}_left': left, f'{key}_right': right})
            rows[f'PA-{key.upper()}'] = (left, right, pooled)
        return metrics, rows
