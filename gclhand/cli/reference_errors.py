"""How hard is a split?  IntagHand-protocol MPJPE of reference predictors built from its GT.

Reads the annotations of an IntagHand-layout split (synthetic or converted InterHand2.6M) and
scores, against the split's own ground truth (root = middle MCP, prediction scaled to the GT
wrist -> middle-MCP length, as :class:`~gclhand.evaluation.IntagHandMetric`):

* ``mean articulation, true orientation``: every hand in the hand model's mean pose (PCA
  coefficients 0 with ``flat_hand_mean=False``) but with its true global rotation and shape.
  A model scoring below this has learned finger articulation, not only the hands' rotation.
* ``true articulation, orientation off by D deg``: the true pose with the global rotation
  perturbed by ``D`` degrees about a random axis (seeded), for each ``--degrees``.
* both errors together.
* ``constant pose (image ignored)``: one fixed pose per hand in the camera frame, the
  per-coordinate median of the root-aligned, bone-normalised joints of ``--constant-from``
  (the training split, by default the scored split itself): the best an L1-trained network
  can do without using the image.  A trained model near this number has learned the data's
  average, not the image.

Example::

    gclhand reference-errors data/synth/val --num 200 --degrees 10 20 30 \
        --constant-from data/synth/train
"""
import argparse
import glob
import os.path as osp
import sys
from typing import Callable, Dict, Optional

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('split_dir', help='an IntagHand-layout split folder (with anno/*.pkl)')
    p.add_argument('--num', type=int, default=200, help='first N annotations (default 200)')
    p.add_argument('--degrees', type=float, nargs='+', default=[10.0, 20.0, 30.0, 45.0])
    p.add_argument('--seed', type=int, default=0, help='seed of the perturbation axes')
    p.add_argument('--constant-from', metavar='SPLIT_DIR',
                   help='split whose median pose is the constant predictor (default: the '
                        'scored split; pass the training split for an honest baseline)')
    p.add_argument('--constant-num', type=int, default=2000,
                   help='annotations of --constant-from to use (default 2000)')
    return p.parse_args(argv)


def load_split(split_dir: str, num: int):
    """``(params, cam_R, cam_t)`` of the first ``num`` annotations (numeric file order)."""
    from gclhand.datasets.annotation import read_intag_annotation
    from gclhand.datasets.geometry import matrix_to_axis_angle
    from gclhand.structures import HANDS
    files = glob.glob(osp.join(split_dir, 'anno', '*.pkl'))
    if not files:
        raise FileNotFoundError(f"no annotations in '{osp.join(split_dir, 'anno')}': pass a "
                                'split folder of the IntagHand layout (e.g. data/synth/val)')
    files = sorted(files, key=lambda f: int(osp.splitext(osp.basename(f))[0]))[:num]
    annos = [read_intag_annotation(f) for f in files]
    params = {}
    for side in HANDS:
        get = lambda k: np.stack([np.asarray(a['mano'][side][k], np.float64).reshape(-1)  # noqa
                                  for a in annos])
        params[side] = dict(
            global_orient=matrix_to_axis_angle(get('R').reshape(-1, 3, 3)),
            hand_pose=get('pose'), betas=get('shape'), transl=get('trans'))
    cam_R = np.stack([a['cam_R'] for a in annos])
    cam_t = np.stack([a['cam_t'] for a in annos])
    return params, cam_R, cam_t


def intaghand_mpjpe(pred_joints: np.ndarray, gt_joints: np.ndarray) -> float:
    """Mean over hands of the root-aligned, bone-scaled MPJPE, mm (inputs in metres)."""
    import torch

    from gclhand.evaluation.functional import INTAGHAND_ROOT, align_root, scale_align
    pred, gt = torch.as_tensor(pred_joints), torch.as_tensor(gt_joints)
    p = align_root(pred, INTAGHAND_ROOT)
    g = align_root(gt, INTAGHAND_ROOT)
    p = scale_align(p, gt, pred_joints=p)
    return float((p - g).norm(dim=-1).mean() * 1000)


def normalised_joints(joints: np.ndarray) -> np.ndarray:
    """``(..., 21, 3)`` -> root-aligned (IntagHand root) joints divided by each hand's
    wrist -> middle-MCP length, the unit in which a constant prediction is scale-free."""
    from gclhand.evaluation.functional import INTAGHAND_ROOT
    from gclhand.hand.joints import finger_joint
    j = joints - joints[..., INTAGHAND_ROOT:INTAGHAND_ROOT + 1, :]
    bone = np.linalg.norm(j[..., finger_joint('middle', 1), :] - j[..., 0, :], axis=-1)
    return j / np.maximum(bone, 1e-9)[..., None, None]


def constant_prediction(reference_joints: np.ndarray, num: int) -> np.ndarray:
    """``(N_ref, 2, 21, 3)`` -> ``(num, 2, 21, 3)``: the per-coordinate median of the
    normalised reference joints (the L1-optimal constant), repeated ``num`` times."""
    median = np.median(normalised_joints(reference_joints), axis=0)
    return np.broadcast_to(median, (num,) + median.shape).copy()


def perturbed(params: Dict[str, Dict[str, np.ndarray]], mean_pose: bool = False,
              degrees: float = 0.0, rng: Optional[np.random.Generator] = None) -> Dict:
    """A copy of ``params`` with the mean articulation and/or rotated global orientation."""
    from gclhand.datasets.geometry import axis_angle_to_matrix, matrix_to_axis_angle
    out = {}
    for side, p in params.items():
        q = {k: v.copy() for k, v in p.items()}
        if mean_pose:
            q['hand_pose'] = np.zeros_like(q['hand_pose'])
        if degrees:
            for i, aa in enumerate(q['global_orient']):
                axis = rng.normal(size=3)
                turn = axis_angle_to_matrix(axis / np.linalg.norm(axis) * np.deg2rad(degrees))
                rotated = turn[0] @ axis_angle_to_matrix(aa)[0]
                q['global_orient'][i] = matrix_to_axis_angle(rotated)[0]
        out[side] = q
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    from gclhand.datasets.hand_gt import two_hand_gt
    from gclhand.hand import build_hand_model
    try:
        params, cam_R, cam_t = load_split(args.split_dir, args.num)
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    joints: Callable = lambda p: two_hand_gt(hm, p, cam_R, cam_t)[1]  # noqa: E731
    gt = joints(params)
    rng = np.random.default_rng(args.seed)
    rows = [('mean articulation, true orientation',
             intaghand_mpjpe(joints(perturbed(params, mean_pose=True)), gt))]
    for deg in args.degrees:
        rows.append((f'true articulation, orientation off by {deg:g} deg',
                     intaghand_mpjpe(joints(perturbed(params, degrees=deg, rng=rng)), gt)))
        rows.append((f'mean articulation, orientation off by {deg:g} deg',
                     intaghand_mpjpe(joints(perturbed(params, True, deg, rng)), gt)))
    ref_dir = args.constant_from or args.split_dir
    try:
        ref_joints = (gt if ref_dir == args.split_dir else
                      two_hand_gt(hm, *load_split(ref_dir, args.constant_num))[1])
    except FileNotFoundError as e:
        sys.exit(f'error: --constant-from: {e}')
    rows.append((f'constant pose (image ignored), median of {osp.normpath(ref_dir)}',
                 intaghand_mpjpe(constant_prediction(np.asarray(ref_joints), len(cam_R)), gt)))
    print(f'{args.split_dir}: {len(cam_R)} samples, IntagHand-protocol MPJPE of reference '
          'predictors')
    print('| predictor | MPJPE (mm) |\n|---|---|')
    for name, value in rows:
        print(f'| {name} | {value:.1f} |')
    return 0
