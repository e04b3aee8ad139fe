"""Interpenetration between the two predicted hand meshes."""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from gclhand.registry import METRICS
from gclhand.structures import HANDS
from ..functional import relative_root
from ..penetration import two_hand_penetration
from .base_hand_metric import (BaseHandMetric, Rows, hand_valid, nanmean, per_hand,
                               sample_meta, stack_field)

_MEASURES = ('max_depth', 'mean_depth', 'ratio')


@METRICS.register_module()
class InterpenetrationMetric(BaseHandMetric):
    """How deep each predicted hand mesh enters the other one.

    The two predicted meshes are placed in one frame: ``pred_verts_3d`` are relative to each
    hand's own wrist, so the right hand stays where it is and the left hand is moved by
    ``pred_rel_root`` (left wrist - right wrist), or by the ground-truth relative wrist
    vector with ``use_gt_rel_root=True`` (which isolates the shape from the translation
    error).  For every vertex of one hand the penetration depth into the other mesh is
    measured as defined in :mod:`gclhand.evaluation.penetration` (inside = generalized
    winding number > 0.5; depth = distance to the other mesh's nearest vertex, 0 outside).
    Per sample and hand:

    - ``max_depth``: the deepest vertex (mm), Hasson et al. (CVPR 2019)'s penetration depth;
    - ``mean_depth``: mean depth over all the hand's 778 vertices (mm, 0 for outside ones);
    - ``ratio``: fraction of the hand's vertices deeper than ``threshold`` (in %).

    Column ``left`` = left-hand vertices inside the right mesh, ``right`` = the reverse,
    ``all`` = their mean.  Only samples with both hands annotated are evaluated.  With
    ``with_gt`` the same is computed on the ground-truth meshes (``gt_*`` keys): annotations
    of real data penetrate too, which gives the floor to compare with.

    Output keys (default prefix ``penetration``): ``max_depth``, ``max_depth_left``,
    ``max_depth_right``, ``mean_depth*``, ``ratio*`` (and ``gt_*``).

    Args:
        faces: ``dict(left=(F, 3), right=(F, 3))`` faces (arrays, tensors or lists) with the
            outward winding of each side; ``None`` takes them from the hand model.
        hand_model: config of the hand model that provides the faces
            (``gclhand.hand.build_hand_model``); ``None`` means
            ``dict(type='MANOHandModel')`` (the procedural model unless ``GCLHAND_MANO_DIR``
            points to MANO).  Ignored when ``faces`` is given.
        threshold: depth in metres up to which a vertex counts as touching, not penetrating.
        use_gt_rel_root: place the left prediction with the GT relative wrist vector.
        with_gt: also report the measures of the ground-truth meshes.
        outfile_prefix, collect_device, prefix, collect_dir: see
            :class:`~gclhand.evaluation.metrics.base_hand_metric.BaseHandMetric`.
    """

    default_prefix = 'penetration'
    table_unit = None  # each row names its unit (mm, %)

    def __init__(self, faces: Optional[Mapping[str, Any]] = None,
                 hand_model: Optional[dict] = None, threshold: float = 0.,
                 use_gt_rel_root: bool = False, with_gt: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if faces is not None and set(faces) != set(HANDS):
            raise ValueError(f'InterpenetrationMetric: faces must be a dict with keys '
                             f'{HANDS}, got {sorted(faces)}')
        self._faces = None if faces is None else {
            side: torch.as_tensor(np.asarray(faces[side]), dtype=torch.long) for side in HANDS}
        self.hand_model = hand_model
        self.threshold = threshold
        self.use_gt_rel_root = use_gt_rel_root
        self.with_gt = with_gt

    @property
    def faces(self) -> Dict[str, Tensor]:
        """Faces per side, built from the hand model on first use."""
        if self._faces is None:
            try:
                from gclhand.hand import build_hand_model
            except ImportError as e:
                raise ImportError('InterpenetrationMetric needs gclhand.hand.build_hand_model '
                                  'for the mesh faces, or pass faces=dict(left=..., '
                                  'right=...)') from e
            hm = build_hand_model(self.hand_model or dict(type='MANOHandModel'))
            self._faces = {side: torch.as_tensor(hm.faces(side)).long() for side in HANDS}
        return self._faces

    def _measure(self, verts: Tensor) -> Dict[str, List[List[float]]]:
        out = {k: [] for k in _MEASURES}
        for v in verts:  # one sample at a time: cdist of 778 x 778 stays small
            res = two_hand_penetration(v, self.faces['left'], self.faces['right'],
                                       threshold=self.threshold)
            res['max_depth'] = res['max_depth'] * 1000.
            res['mean_depth'] = res['mean_depth'] * 1000.
            res['ratio'] = res['ratio'] * 100.
            for k in _MEASURES:
                out[k].append(res[k].tolist())
        return out

    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        name = type(self).__name__
        both = hand_valid(data_samples).all(dim=-1)
        results = [dict(sample_meta(s), evaluated=bool(ok))
                   for s, ok in zip(data_samples, both.tolist())]
        keep = [s for s, ok in zip(data_samples, both.tolist()) if ok]
        if not keep:
            return results
        pv = stack_field(keep, 'pred_verts_3d', name, (2, -1, 3))
        if self.use_gt_rel_root:
            rel = relative_root(stack_field(keep, 'gt_joints_3d', name, (2, -1, 3)))
        else:
            rel = stack_field(keep, 'pred_rel_root', name, (3,))
        pv = torch.stack([pv[:, 0] + rel[:, None], pv[:, 1]], dim=1)
        measured = {'': self._measure(pv)}
        if self.with_gt:
            measured['gt_'] = self._measure(stack_field(keep, 'gt_verts_3d', name, (2, -1, 3)))
        kept = [r for r in results if r['evaluated']]
        for tag, values in measured.items():
            for k, per_sample in values.items():
                for res, v in zip(kept, per_sample):
                    res[tag + k] = v
        return results

    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        done = [r for r in results if r['evaluated']]
        metrics, rows = {}, {}
        for tag in ('', 'gt_') if self.with_gt else ('',):
            for k in _MEASURES:
                key = tag + k
                err = per_hand(done, key)
                left, right = nanmean(err[:, 0]), nanmean(err[:, 1])
                both = nanmean([left, right])
                metrics.update({key: both, f'{key}_left': left, f'{key}_right': right})
                unit = '%' if k == 'ratio' else 'mm'
                rows[f"{'GT ' if tag else ''}{k.replace('_', ' ')} ({unit})"] = (left, right, both)
        metrics['num_evaluated'] = len(done)
        return metrics, rows
