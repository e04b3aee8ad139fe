"""MPJPE / MPVPE under the IntagHand protocol (the numbers of the paper's Tables 1-2)."""
from typing import Any, Dict, List, Sequence, Tuple

from gclhand.registry import METRICS
from ..functional import INTAGHAND_ROOT, REFERENCE_BONE, align_root, point_errors, scale_align
from .base_hand_metric import (BaseHandMetric, Rows, masked_to_list, nanmean,
                               per_hand, sample_meta, stack_field)


@METRICS.register_module()
class IntagHandMetric(BaseHandMetric):
    """Root-aligned, bone-scaled MPJPE and MPVPE per hand (Li et al., CVPR 2022; DESIGN.md 5).

    For each hand separately: both prediction and ground truth are translated so that joint
    ``root_index`` (middle MCP) is at the origin — the vertices by the same joint — and the
    prediction (joints and vertices) is scaled by ``|gt_ref| / |pred_ref|`` where ``ref`` is
    the bone ``ref_bone`` (wrist -> middle MCP).  MPJPE / MPVPE are the mean Euclidean
    joint / vertex errors in mm, averaged over the samples of each hand; ``mpjpe`` is the
    average of the left and right means, as in IntagHand's evaluation script.  Hands with
    ``hand_valid == 0`` are left out.

    Reads ``pred_joints_3d``, ``gt_joints_3d`` ``(2, 21, 3)``, ``pred_verts_3d``,
    ``gt_verts_3d`` ``(2, 778, 3)`` in metres, ``hand_valid`` ``(2,)``.

    Output keys (with the default prefix): ``intaghand/mpjpe``, ``intaghand/mpjpe_left``,
    ``intaghand/mpjpe_right``, ``intaghand/mpvpe``, ``intaghand/mpvpe_left``,
    ``intaghand/mpvpe_right``.

    Args:
        root_index: root joint (9 = middle MCP in the library order).
        ref_bone: ``(start, end)`` joints of the scale reference (wrist -> middle MCP).
        with_verts: also compute MPVPE (needs the vertex fields).
        outfile_prefix, collect_device, prefix, collect_dir: see
            :class:`~gclhand.evaluation.metrics.base_hand_metric.BaseHandMetric`.
    """

    default_prefix = 'intaghand'

    def __init__(self, root_index: int = INTAGHAND_ROOT,
                 ref_bone: Sequence[int] = REFERENCE_BONE, with_verts: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.root_index = root_index
        self.ref_bone = tuple(ref_bone)
        self.with_verts = with_verts

    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        name = type(self).__name__
        pj, gj, valid = self.joints_and_valid(data_samples)
        r = self.root_index
        pj_root = align_root(pj, r)
        errors = dict(mpjpe=point_errors(
            scale_align(pj_root, gj, pred_joints=pj, bone=self.ref_bone),
            align_root(gj, r)).mean(-1) * 1000.)
        if self.with_verts:
            pv = stack_field(data_samples, 'pred_verts_3d', name, (2, -1, 3))
            gv = stack_field(data_samples, 'gt_verts_3d', name, (2, -1, 3))
            pv_root = align_root(pv, pj[..., r, :])
            errors['mpvpe'] = point_errors(
                scale_align(pv_root, gj, pred_joints=pj, bone=self.ref_bone),
                align_root(gv, gj[..., r, :])).mean(-1) * 1000.
        errors = {k: masked_to_list(v, valid) for k, v in errors.items()}
        return [dict(sample_meta(s), **{k: v[i] for k, v in errors.items()})
                for i, s in enumerate(data_samples)]

    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        metrics, rows = {}, {}
        for key in ('mpjpe', 'mpvpe') if self.with_verts else ('mpjpe',):
            err = per_hand(results, key)
            left, right = nanmean(err[:, 0]), nanmean(err[:, 1])
            both = nanmean([left, right])
            metrics.update({key: both, f'{key}_left': left, f'{key}_right': right})
            rows[key.upper()] = (left, right, both)
        return metrics, rows
