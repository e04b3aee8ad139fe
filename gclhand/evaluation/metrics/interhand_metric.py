"""MPJPE and MRRPE under the InterHand2.6M official protocol."""
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from gclhand.registry import METRICS
from ..functional import INTERHAND_ROOT, align_root, mrrpe, point_errors, relative_root
from .base_hand_metric import (BaseHandMetric, Rows, masked_to_list, nanmean,
                               per_hand, sample_meta, stack_field)


@METRICS.register_module()
class InterHandMetric(BaseHandMetric):
    """Wrist-rooted MPJPE without scaling, and MRRPE (Moon et al., ECCV 2020; DESIGN.md 5).

    Per hand, prediction and ground truth are translated so that the wrist (``root_index``)
    is at the origin; no scale or rotation alignment.  The MPJPE of a hand is the mean
    Euclidean joint error (mm); ``mpjpe_left`` / ``mpjpe_right`` average it over the samples
    where that hand is annotated, ``mpjpe_all`` over all annotated hands (the same pooled
    mean as mmpose's ``keypoint_mpjpe`` with a per-hand mask).  ``mpjpe_interacting`` /
    ``mpjpe_single`` split ``mpjpe_all`` by samples with two / one annotated hands.  Hands
    with ``hand_valid == 0`` are skipped and counted (``num_skipped_hands``).

    MRRPE is ``|pred_rel_root - (gt_left_wrist - gt_right_wrist)|`` in mm, averaged over the
    samples with both hands annotated.  Handedness accuracy (mmpose's ``HandednessAcc``) is
    not reported: gclhand's outputs have a fixed (left, right) hand axis.

    Reads ``pred_joints_3d``, ``gt_joints_3d`` ``(2, 21, 3)`` m, ``hand_valid`` ``(2,)`` and,
    with ``with_mrrpe``, ``pred_rel_root`` ``(3,)`` m.

    Output keys (default prefix ``interhand``): ``mpjpe_left``, ``mpjpe_right``,
    ``mpjpe_all``, ``mpjpe_single``, ``mpjpe_interacting``, ``mrrpe``, ``num_skipped_hands``.

    Args:
        root_index: root joint (0 = wrist).
        with_mrrpe: compute MRRPE (needs ``pred_rel_root``).
        outfile_prefix, collect_device, prefix, collect_dir: see
            :class:`~gclhand.evaluation.metrics.base_hand_metric.BaseHandMetric`.
    """

    default_prefix = 'interhand'

    def __init__(self, root_index: int = INTERHAND_ROOT, with_mrrpe: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.root_index = root_index
        self.with_mrrpe = with_mrrpe

    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        name = type(self).__name__
        pj, gj, valid = self.joints_and_valid(data_samples)
        r = self.root_index
        err = point_errors(align_root(pj, r), align_root(gj, r)).mean(-1) * 1000.
        results = [dict(sample_meta(s), mpjpe=e)
                   for s, e in zip(data_samples, masked_to_list(err, valid))]
        if self.with_mrrpe:
            pred_rel = stack_field(data_samples, 'pred_rel_root', name, (3,))
            rel_err = mrrpe(pred_rel, relative_root(gj, r)) * 1000.
            both = valid.all(dim=-1)
            for res, e, ok in zip(results, rel_err.tolist(), both.tolist()):
                res['mrrpe'] = e if ok else None
        return results

    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        err = per_hand(results, 'mpjpe')
        valid = np.isfinite(err)
        interacting = valid.all(axis=1)
        left, right, pooled = nanmean(err[:, 0]), nanmean(err[:, 1]), nanmean(err)
        skipped = (~valid).sum(axis=0)
        metrics = dict(mpjpe_left=left, mpjpe_right=right, mpjpe_all=pooled,
                       mpjpe_single=nanmean(err[~interacting]),
                       mpjpe_interacting=nanmean(err[interacting]),
                       num_skipped_hands=int(skipped.sum()))
        rows = {'MPJPE': (left, right, pooled),
                'MPJPE single': (None, None, metrics['mpjpe_single']),
                'MPJPE interacting': (None, None, metrics['mpjpe_interacting'])}
        if self.with_mrrpe:
            metrics['mrrpe'] = nanmean([np.nan if r['mrrpe'] is None else r['mrrpe']
                                        for r in results])
            rows['MRRPE'] = (None, None, metrics['mrrpe'])
        rows['skipped hands'] = (int(skipped[0]), int(skipped[1]), int(skipped.sum()))
        return metrics, rows
