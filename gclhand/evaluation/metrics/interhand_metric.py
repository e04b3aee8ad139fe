"""MPJPE, MRRPE and handedness accuracy under the InterHand2.6M official protocol."""
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from gclhand.hand.joints import INTERHAND_HAND_TO_LIBRARY
from gclhand.registry import METRICS
from ..functional import INTERHAND_ROOT, align_root, mrrpe, point_errors
from .base_hand_metric import (BaseHandMetric, Rows, hand_valid, nanmean, sample_meta,
                               stack_field)

#: Where the ground-truth joints come from: the dataset's annotation (official), the joints
#: regressed from the MANO mesh (``gt_joints_3d``), or the first when the samples have it.
GT_SOURCES = ('auto', 'annotated', 'mesh')
HAND_TYPES = {(True, False): 'left', (False, True): 'right', (True, True): 'interacting'}


def _optional_field(data_samples: Sequence[Any], key: str, owner: str,
                    shape: Tuple[int, ...]) -> Optional[torch.Tensor]:
    """``stack_field`` if the samples have ``key``, ``None`` if none has it; a batch where
    only some have it raises (``stack_field``'s error names the first sample without)."""
    if all(s.get(key, None) is None for s in data_samples):
        return None
    return stack_field(data_samples, key, owner, shape)


def load_joint_regressor(path: str) -> torch.Tensor:
    """A ``(21, V)`` mesh-to-joint regressor from a ``.npy`` file, as float64."""
    import os.path as osp
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"InterHandMetric.joint_regressor: '{path}' does not exist; it is "
            'tool/MANO_world_to_camera/J_regressor_mano_ih26m.npy of the InterHand2.6M '
            'repository (github.com/facebookresearch/InterHand2.6M): copy it and give its path')
    reg = np.load(path, allow_pickle=False)
    if reg.ndim != 2 or reg.shape[0] != 21 or not np.isfinite(reg).all():
        raise ValueError(f"InterHandMetric.joint_regressor: '{path}' holds an array of shape "
                         f'{reg.shape}; expected a finite (21, num_vertices) regressor')
    return torch.as_tensor(reg, dtype=torch.float64)


def per_joint_mean(errors: np.ndarray) -> np.ndarray:
    """``(N, ...)`` errors with ``nan`` where not annotated -> mean over samples per joint.

    A joint annotated in no sample gives ``nan`` (left out of the mean over joints).
    """
    counts = np.isfinite(errors).sum(axis=0)
    sums = np.nansum(errors, axis=0)
    out = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


@METRICS.register_module()
class InterHandMetric(BaseHandMetric):
    """InterHand2.6M's official evaluation (Moon et al., ECCV 2020; the release's
    ``Dataset.evaluate``), on gclhand's wrist-relative predictions.

    Ground truth: the *annotated* 3D joints ``gt_joints_3d_annot`` with their per-joint
    validity ``joints_valid`` (the data file's ``joint_valid``); a hand whose wrist is not
    annotated counts as not annotated at all (a root-relative pose needs the root).  Per hand,
    prediction and ground truth are translated so that the wrist is at the origin; no scale
    or rotation alignment.  Then, as the official script:

    - the error of every annotated joint is collected per joint (42 = 2 hands x 21), apart
      for single-hand (``hand_type`` ``'left'`` / ``'right'``) and interacting samples;
    - ``mpjpe_single`` / ``mpjpe_interacting``: each joint's mean over the samples of that
      set where it is annotated, averaged over the joints; ``mpjpe_all`` the same over all
      samples; ``mpjpe_left`` / ``mpjpe_right`` the average over that hand's 21 joints.
      (This is not one pooled mean over all annotated joints, which mmpose's
      ``InterHandMetric`` reports; the two differ when joints are annotated unevenly.)
      A joint annotated in no sample of a set is left out of that set's average.
    - ``mrrpe``: ``|pred_rel_root - (gt_left_wrist - gt_right_wrist)|`` averaged over the
      interacting samples whose two wrists are annotated.  With ``joint_regressor`` the
      predicted vector is moved to the regressed wrists, the ones the MPJPE scores
      (``pred_rel_root + (w_L - j_L) - (w_R - j_R)``, ``w`` the regressed and ``j`` the
      model's wrist of each hand), as the release takes both from one prediction.
    - ``handedness_acc``: over samples with ``hand_type_valid``, the share whose predicted
      scores ``pred_hand_type`` (left, right) are > 0.5 for every annotated hand
      (``gt_hand_type``) and < 0.5 for every absent one, the release's strict pair (a
      score of exactly 0.5 is wrong either way).  gclhand's estimator always outputs both
      hands, so without ``pred_hand_type`` the prediction is ``'interacting'`` for every
      sample.

    Samples without annotated joints (synthetic data, IntagHand-layout data converted
    without them) are scored against ``gt_joints_3d`` (joints regressed from the MANO
    mesh) with ``hand_valid`` as the validity of all joints of a hand and the hand type
    from ``hand_valid``; with ``gt_source='auto'`` (default) this is logged once, with
    ``'annotated'`` it raises.

    Predicted joints: by default the model's own (``pred_joints_3d``: the hand model's 16
    joints and 5 fingertip vertices of its mesh).  InterHand2.6M's annotated joints are not
    where MANO's joint regressor puts its joints; the release turns a MANO mesh into its
    joints with its own regressor (``tool/MANO_world_to_camera/J_regressor_mano_ih26m.npy``,
    21 x 778, InterHand2.6M's joint order, the same for both hands).  With
    ``joint_regressor`` set to that file the predicted joints are regressed from the
    predicted mesh ``pred_verts_3d`` with it, the way the release fits its annotations
    (nothing is downloaded: give the path of your copy).

    Reads ``pred_joints_3d`` (2, 21, 3) m (or ``pred_verts_3d`` (2, 778, 3) m with
    ``joint_regressor``), ``gt_joints_3d_annot`` (2, 21, 3) m,
    ``joints_valid`` (2, 21), ``gt_hand_type`` (2,), ``hand_type_valid`` (), and, with
    ``with_mrrpe``, ``pred_rel_root`` (3,) m; optionally ``pred_hand_type`` (2,).

    Output keys (default prefix ``interhand``): ``mpjpe_all``, ``mpjpe_single``,
    ``mpjpe_interacting``, ``mpjpe_left``, ``mpjpe_right``, ``mrrpe``, ``handedness_acc``,
    ``num_invalid_hands`` (hands with no annotated joint), all errors in mm.

    Args:
        root_index: root joint (0 = wrist).
        with_mrrpe: compute MRRPE (needs ``pred_rel_root``).
        gt_source: ``'auto'``, ``'annotated'`` or ``'mesh'`` (see above).
        joint_regressor: path of a ``(21, V)`` ``.npy`` mesh-to-joint regressor in
            InterHand2.6M's joint order (the release's ``J_regressor_mano_ih26m.npy``), or
            ``None`` for the model's joints (see above).
        outfile_prefix, collect_device, prefix, collect_dir: see
            :class:`~gclhand.evaluation.metrics.base_hand_metric.BaseHandMetric`.
    """

    default_prefix = 'interhand'

    def __init__(self, root_index: int = INTERHAND_ROOT, with_mrrpe: bool = True,
                 gt_source: str = 'auto', joint_regressor: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.joint_regressor = None if joint_regressor is None else \
            load_joint_regressor(joint_regressor)
        if gt_source not in GT_SOURCES:
            raise ValueError(f'InterHandMetric: gt_source must be one of {GT_SOURCES}, got '
                             f'{gt_source!r}')
        self.root_index = root_index
        self.with_mrrpe = with_mrrpe
        self.gt_source = gt_source
        self._warned_mesh = False
        self._warned_regressor = False

    def table_note(self) -> str:
        """Marks a table of annotated joints scored without the release's regressor, so the
        caveat logged once at the start of evaluation travels with the numbers."""
        if self._warned_regressor:
            return " - the model's own joints against the annotated ones, not comparable " \
                   'with published numbers (joint_regressor unset)'
        return ''

    # ------------------------------------------------------------------ per sample
    def _ground_truth(self, data_samples: Sequence[Any]):
        """GT joints ``(B, 2, 21, 3)``, joint validity ``(B, 2, 21)`` bool, hand presence
        ``(B, 2)`` bool, hand-type validity ``(B,)`` bool."""
        name = type(self).__name__
        annot = None
        if self.gt_source != 'mesh':
            annot = _optional_field(data_samples, 'gt_joints_3d_annot', name, (2, -1, 3))
            if annot is None and self.gt_source == 'annotated':
                stack_field(data_samples, 'gt_joints_3d_annot', name)  # raises, naming it
        if annot is not None:
            valid = stack_field(data_samples, 'joints_valid', name, (2, annot.shape[-2])) > 0
            if self.joint_regressor is None and not self._warned_regressor:
                self._warned_regressor = True
                print_log(f"{name}: scoring the model's own joints ('pred_joints_3d') against "
                          "InterHand2.6M's annotated joints, which the release places with "
                          'its own mesh-to-joint regressor: the errors include the offset '
                          'between the two joint definitions. For numbers comparable with '
                          "published ones set joint_regressor='.../J_regressor_mano_ih26m."
                          "npy' (the release's tool/MANO_world_to_camera/)", logger='current',
                          level=logging.WARNING)
        else:
            annot = stack_field(data_samples, 'gt_joints_3d', name, (2, -1, 3))
            valid = hand_valid(data_samples)[:, :, None].expand(annot.shape[:-1])
            if self.gt_source == 'auto' and not self._warned_mesh:
                self._warned_mesh = True
                print_log(f"{name}: the samples carry no 'gt_joints_3d_annot'; scoring against "
                          "the mesh-regressed 'gt_joints_3d' with 'hand_valid' instead. "
                          'InterHand2.6M numbers need the annotated joints: convert with '
                          'gclhand prepare-interhand or read the release with '
                          'InterHand26MDataset (docs/data.md)', logger='current',
                          level=logging.WARNING)
        valid = valid & valid[..., self.root_index:self.root_index + 1]
        present = _optional_field(data_samples, 'gt_hand_type', name, (2,))
        present = hand_valid(data_samples) if present is None else present > 0
        type_valid = _optional_field(data_samples, 'hand_type_valid', name, ())
        type_valid = torch.ones(len(data_samples), dtype=torch.bool) if type_valid is None \
            else type_valid > 0
        return annot, valid, present, type_valid

    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        name = type(self).__name__
        r = self.root_index
        model_roots = None  # the model's own roots, the ends of pred_rel_root
        if self.joint_regressor is None or self.with_mrrpe:
            pred = stack_field(data_samples, 'pred_joints_3d', name, (2, -1, 3))
            model_roots = pred[:, :, r]
        if self.joint_regressor is not None:
            # (21, V) @ (B, 2, V, 3) in InterHand2.6M's order -> the library's
            verts = stack_field(data_samples, 'pred_verts_3d', name,
                                (2, self.joint_regressor.shape[1], 3))
            pred = torch.matmul(self.joint_regressor, verts)[:, :, INTERHAND_HAND_TO_LIBRARY]
        gt, valid, present, type_valid = self._ground_truth(data_samples)
        err = point_errors(align_root(pred, r), align_root(gt, r)) * 1000.
        err = torch.where(valid, err, torch.full_like(err, float('nan'))).numpy()
        interacting = present.all(dim=-1)
        pred_type = _optional_field(data_samples, 'pred_hand_type', name, (2,))
        if pred_type is None:
            correct = present.all(dim=-1)
        else:  # the release's strict pair: present > 0.5, absent < 0.5 (0.5 is neither)
            correct = torch.where(present, pred_type > 0.5, pred_type < 0.5).all(dim=-1)
        results = []
        for i, sample in enumerate(data_samples):
            hand_type = HAND_TYPES.get(tuple(present[i].tolist()), 'none')
            hand_means = [float(np.mean(e[np.isfinite(e)])) if np.isfinite(e).any() else None
                          for e in err[i]]
            results.append(dict(sample_meta(sample), hand_type=hand_type, mpjpe=hand_means,
                                joint_errors=err[i],
                                handedness_correct=bool(correct[i]) if type_valid[i] else None))
        if self.with_mrrpe:
            pred_rel = stack_field(data_samples, 'pred_rel_root', name, (3,))
            # the roots the MPJPE above scored: with the release's regressor they are not
            # the model's, so move the vector from the model's roots to the regressed ones
            shift = pred[:, :, r] - model_roots  # (B, 2, 3)
            pred_rel = pred_rel + shift[:, 0] - shift[:, 1]
            gt_rel = gt[:, 0, r] - gt[:, 1, r]
            rel_err = mrrpe(pred_rel, gt_rel) * 1000.
            counted = interacting & valid[:, 0, r] & valid[:, 1, r]
            for res, e, ok in zip(results, rel_err.tolist(), counted.tolist()):
                res['mrrpe'] = e if ok else None
        return results

    # ------------------------------------------------------------------ aggregate
    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        errors = np.stack([r['joint_errors'] for r in results]).astype(np.float64)
        interacting = np.array([r['hand_type'] == 'interacting' for r in results])
        everyone = per_joint_mean(errors)  # (2, 21)
        metrics = dict(mpjpe_all=nanmean(everyone),
                       mpjpe_single=nanmean(per_joint_mean(errors[~interacting])),
                       mpjpe_interacting=nanmean(per_joint_mean(errors[interacting])),
                       mpjpe_left=nanmean(everyone[0]), mpjpe_right=nanmean(everyone[1]))
        invalid = (~np.isfinite(errors).any(axis=-1)).sum(axis=0)  # (2,)
        metrics['num_invalid_hands'] = int(invalid.sum())
        rows = {'MPJPE': (metrics['mpjpe_left'], metrics['mpjpe_right'], metrics['mpjpe_all']),
                'MPJPE single': (None, None, metrics['mpjpe_single']),
                'MPJPE interacting': (None, None, metrics['mpjpe_interacting'])}
        if self.with_mrrpe:
            metrics['mrrpe'] = nanmean([np.nan if r['mrrpe'] is None else r['mrrpe']
                                        for r in results])
            rows['MRRPE'] = (None, None, metrics['mrrpe'])
        judged = [r['handedness_correct'] for r in results if r['handedness_correct'] is not None]
        metrics['handedness_acc'] = float(np.mean(judged)) if judged else float('nan')
        rows['handedness acc. (0-1)'] = (None, None, metrics['handedness_acc'])
        rows['hands without annotation'] = (int(invalid[0]), int(invalid[1]), int(invalid.sum()))
        return metrics, rows
