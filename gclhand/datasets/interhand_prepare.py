"""Conversion of the official InterHand2.6M release into the IntagHand layout.

For every selected annotation (:func:`~.interhand26m.load_interhand_release`: interacting,
``hand_type_valid``, both MANO fits) the conversion

1. computes both hands' joints in the camera frame through the hand model and projects
   them with the original intrinsics,
2. crops a square centred on the joints' 2D bounding box whose side is the box's longer
   side divided by ``hand_ratio`` (IntagHand uses 0.7), resized to ``img_size``, and maps
   ``K`` by the same affine (``K' = A K``),
3. writes ``{out}/{split}/img/{i}.jpg`` and ``{out}/{split}/anno/{i}.pkl`` (each file
   atomically) with the MANO fit in IntagHand's format: ``R`` = rotation matrix of the
   global orientation, ``pose`` = the 45 PCA coefficients of the finger pose, and the
   annotated joints ``joint_3d`` (world mm, the data file's ``joint_valid``) for the
   official protocol,
4. renders IntagHand's auxiliary encoder targets from the same meshes into the crop
   (``mask/{i}.jpg``, ``dense/{i}.jpg``, ``hms/{i}_{k}_{left|right}.jpg``;
   :class:`~gclhand.datasets.aux_maps.AuxMapRenderer`), unless ``aux_maps`` is empty.

Like IntagHand's preprocessing, images darker than ``min_image_mean`` (10 of 255; blank
frames of the release) are dropped.  ``{out}/{split}/conversion.json`` records the hand
model (its PCA basis defines ``pose``; :mod:`gclhand.datasets.provenance`), the settings and
what was selected and dropped, with counts per reason.

``i`` is the record's position in the release's selection, so an interrupted run can be
resumed: samples whose two files exist are skipped.  Resuming with another hand model or
other crop settings is refused.
"""
import multiprocessing as mp
import os
import os.path as osp
import sys
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from tqdm import tqdm

from gclhand.structures import HANDS
from gclhand.utils.build import ConfigError
from .aux_maps import AUX_KINDS, AuxMapRenderer, write_aux_maps
from .errors import ImageError
from .geometry import axis_angle_to_matrix, crop_affine, project_points, to_homogeneous_affine
from .hand_gt import build_dataset_hand_model, two_hand_gt
from .interhand26m import (describe_dropped, load_interhand_release, mano_fits_to_model_params,
                           read_interhand_release)
from .io import dump_pickle_atomic, write_bytes_atomic
from .provenance import (INTERHAND_SOURCE, HandModelMismatchError, hand_model_identity,
                         read_split_record, warn_procedural_on_real_data,
                         write_conversion_record)
from .transforms.loading import check_image_complete

#: Hand model for the NeuralAnnot fits: axis-angle finger pose, ``flat_hand_mean=False``.
AXIS_ANGLE_HAND_MODEL = dict(type='MANOHandModel', use_pca=False)
#: Reasons the conversion itself drops a selected sample (beside :data:`DROP_REASONS`).
CONVERSION_DROP_REASONS = {
    'dark_image': 'image darker than min_image_mean (blank frame; IntagHand drops it too)',
    'bad_image': 'source image missing or corrupt (--skip-bad-images)',
}


def sample_paths(out_split_dir: str, i: int):
    """``(img, anno)`` paths of sample ``i`` in the IntagHand layout."""
    return (osp.join(out_split_dir, 'img', f'{i}.jpg'),
            osp.join(out_split_dir, 'anno', f'{i}.pkl'))


def is_done(out_split_dir: str, i: int) -> bool:
    """Both files of sample ``i`` exist (each is written atomically)."""
    return all(osp.isfile(p) for p in sample_paths(out_split_dir, i))


def square_around(points: np.ndarray, hand_ratio: float = 0.7):
    """Centre and side of the square crop around ``(N, 2)`` pixel ``points``."""
    lo, hi = points.min(0), points.max(0)
    return (lo + hi) / 2.0, max(float((hi - lo).max()), 1.0) / hand_ratio


def pca_from_axis_angle(pose: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Finger pose ``(N, 45)`` axis-angle -> ``(N, C)`` PCA coefficients.

    With ``flat_hand_mean=False`` on both sides, the axis-angle model adds ``hands_mean``
    to ``pose`` and the PCA model computes ``coeffs @ components + hands_mean``, so the
    coefficients solve ``coeffs @ components = pose`` (exact for the full 45-component
    basis; least squares otherwise).
    """
    return np.linalg.lstsq(components.T.astype(np.float64), pose.T.astype(np.float64),
                           rcond=None)[0].T.astype(np.float32)


def read_image(path: str) -> np.ndarray:
    """Read a BGR image, raising :class:`ImageError` naming the file when it is bad."""
    if not osp.isfile(path):
        raise ImageError(path, 'image file not found (is the images/ folder of the '
                         'release extracted?)')
    with open(path, 'rb') as f:
        data = f.read()
    check_image_complete(data, path)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(path, 'cannot decode image (corrupt or not an image)')
    return img


def convert_records(records: List[dict], indices: Sequence[int], out_split_dir: str,
                    img_size: int = 256, hand_ratio: float = 0.7, jpeg_quality: int = 95,
                    hand_model: Optional[dict] = None, pca_hand_model: Optional[dict] = None,
                    skip_bad_images: bool = False, min_image_mean: float = 10.0,
                    aux_maps: Sequence[str] = AUX_KINDS) -> Counter:
    """Convert ``records`` (with output indices ``indices``) into the IntagHand layout.

    Args:
        records: release records (see :func:`load_interhand_release`).
        indices: output sample index of each record.
        out_split_dir: ``{out}/{split}``.
        img_size: side of the written crops.
        hand_ratio: fraction of the crop side taken by the hands' 2D extent.
        jpeg_quality: JPEG quality of the crops.
        hand_model: axis-angle hand model for the fits (default
            :data:`AXIS_ANGLE_HAND_MODEL`).
        pca_hand_model: the PCA hand model the written ``pose`` coefficients are for
            (default: same config with ``use_pca=True``).
        skip_bad_images: skip missing/corrupt source images instead of raising.
        min_image_mean: drop images whose mean intensity (0-255) is below this (IntagHand:
            10); 0 keeps every image.
        aux_maps: which of IntagHand's auxiliary maps (``'mask'``, ``'dense'``, ``'hms'``)
            to render and write beside ``anno/``.

    Returns:
        counts: ``written`` and, per reason of :data:`CONVERSION_DROP_REASONS`, the samples
        dropped.
    """
    outcome = Counter()
    if not records:
        return outcome
    hm_cfg = dict(hand_model or AXIS_ANGLE_HAND_MODEL)
    hm = build_dataset_hand_model(hm_cfg)
    pca_hm = build_dataset_hand_model(dict(pca_hand_model or dict(hm_cfg, use_pca=True)))
    params = mano_fits_to_model_params(records)
    verts, joints = two_hand_gt(hm, params, np.stack([r['cam_R'] for r in records]),
                                np.stack([r['cam_t'] for r in records]))
    render_aux = AuxMapRenderer(hm, aux_maps) if aux_maps else None
    pca = {side: pca_from_axis_angle(
        params[side]['hand_pose'],
        np.asarray(pca_hm.arrays[side]['hands_components'][:pca_hm.num_pca_comps]))
        for side in HANDS}
    for n, (r, i) in enumerate(zip(records, indices)):
        try:
            img = read_image(r['img_path'])
        except ImageError:
            if skip_bad_images:
                outcome['bad_image'] += 1
                continue
            raise
        if img.mean() < min_image_mean:
            outcome['dark_image'] += 1
            continue
        center, side_len = square_around(project_points(joints[n], r['K']).reshape(-1, 2),
                                         hand_ratio)
        A = crop_affine(center, side_len, img_size)
        crop = cv2.warpAffine(img, A, (img_size, img_size), flags=cv2.INTER_AREA
                              if side_len > img_size else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        K = (to_homogeneous_affine(A) @ r['K'].astype(np.float64)).astype(np.float32)
        mano = {}
        for side in HANDS:
            p = params[side]
            mano[side] = dict(R=axis_angle_to_matrix(p['global_orient'][n]).astype(np.float32),
                              pose=pca[side][n:n + 1], shape=p['betas'][n:n + 1],
                              trans=p['transl'][n:n + 1])
        anno = dict(image=dict(r['image'], crop_affine=A.astype(np.float32)),
                    annotation=dict(r['annotation']), mano_params=mano,
                    camera=dict(R=r['cam_R'], t=r['cam_t'], camera=K),
                    joint_3d=dict(world_coord=r['joints_world'], joint_valid=r['joint_valid']))
        img_path, anno_path = sample_paths(out_split_dir, i)
        ok, buf = cv2.imencode('.jpg', crop, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            raise ImageError(img_path, 'JPEG encoding failed')
        write_bytes_atomic(buf.tobytes(), img_path)
        if render_aux is not None:
            write_aux_maps(out_split_dir, i, quality=jpeg_quality,
                           **render_aux(verts[n], joints[n], K, img_size))
        dump_pickle_atomic(anno, anno_path)  # last: the sample counts as done
        outcome['written'] += 1
    return outcome


def pending(records: List[dict], out_split_dir: str) -> List[int]:
    """Indices of the records whose output is not complete yet."""
    for sub in ('img', 'anno'):
        os.makedirs(osp.join(out_split_dir, sub), exist_ok=True)
    done_img = set(os.listdir(osp.join(out_split_dir, 'img')))
    done_anno = set(os.listdir(osp.join(out_split_dir, 'anno')))
    return [i for i in range(len(records))
            if f'{i}.jpg' not in done_img or f'{i}.pkl' not in done_anno]


_WORKER_OPTS: dict = {}


def _init_worker(opts: dict) -> None:
    torch.set_num_threads(1)  # one process per core; intra-op threads would oversubscribe
    _WORKER_OPTS.clear()
    _WORKER_OPTS.update(opts)


def _work(task: Tuple[List[dict], List[int]]) -> Counter:
    records, indices = task
    return convert_records(records, indices, **_WORKER_OPTS)


def _check_or_write_record(out_split_dir: str, record: dict) -> None:
    """Write ``conversion.json``, or refuse to resume a split made with other settings."""
    old = read_split_record(out_split_dir)
    if old is not None and 'hand_model_hash' in old:
        if old.get('hand_model_hash') != record['hand_model_hash']:
            raise HandModelMismatchError(
                f"{old['_path']}: this split was partly converted with the "
                f"{old.get('hand_model_kind')} hand model {old['hand_model_hash']}, not with the "
                f"{record['hand_model_kind']} model {record['hand_model_hash']} loaded now; "
                'resume with the same --mano-dir, or delete the split folder to start over')
        changed = [k for k in ('img_size', 'hand_ratio', 'min_image_mean', 'aux_maps')
                   if old.get(k) != record[k]]
        if changed:
            raise ConfigError(
                f"{old['_path']}: this split was partly converted with other settings "
                f"({', '.join(f'{k}={old.get(k)}' for k in changed)}); resume with the same "
                'options, or delete the split folder to start over')
    write_conversion_record(out_split_dir, record)


def prepare_interhand(root: str, out: str, split: str, workers: int = 1, img_size: int = 256,
                      hand_ratio: float = 0.7, jpeg_quality: int = 95, chunk: int = 64,
                      max_samples: Optional[int] = None, mano_dir: Optional[str] = None,
                      skip_bad_images: bool = False, min_image_mean: float = 10.0,
                      aux_maps: Sequence[str] = AUX_KINDS, progress: bool = True) -> dict:
    """Convert one split of the release to ``{out}/{split}`` (resumable, see module doc).

    Args:
        root: release root; out: output root; split: ``'train'``/``'val'``/``'test'``.
        workers: worker processes (1: convert in this process).
        img_size, hand_ratio, jpeg_quality, min_image_mean, aux_maps: see
            :func:`convert_records`.
        chunk: samples per work item (one batched hand-model call each).
        max_samples: convert only the first ``max_samples`` selected samples.
        mano_dir: real MANO folder (default ``$GCLHAND_MANO_DIR``, else procedural).
        skip_bad_images: skip missing/corrupt source images instead of raising.
        progress: show a tqdm progress bar.

    Returns:
        dict ``selected`` (samples passing the selection), ``skipped_existing`` (already
        converted before this call), ``converted`` (done now), ``missing`` (not converted:
        dropped by this run), ``dropped`` (a ``Counter`` per reason of
        :data:`~gclhand.datasets.interhand26m.DROP_REASONS` and
        :data:`CONVERSION_DROP_REASONS`; the latter counted in this run), ``out_dir`` and
        ``hand_model`` (the identity recorded in ``conversion.json``).
    """
    records, dropped = read_interhand_release(root, split, max_samples=max_samples)
    out_split_dir = osp.join(out, split)
    hm_cfg = dict(AXIS_ANGLE_HAND_MODEL, model_dir=mano_dir)
    pca_hm = build_dataset_hand_model(dict(hm_cfg, use_pca=True))
    warn_procedural_on_real_data(pca_hm, f'InterHand2.6M {split} (gclhand prepare-interhand)')
    identity = hand_model_identity(pca_hm)
    record = dict(identity, source=INTERHAND_SOURCE, split=split, release_root=osp.abspath(root),
                  img_size=img_size, hand_ratio=hand_ratio, min_image_mean=min_image_mean,
                  aux_maps=sorted(aux_maps), converter='gclhand.datasets.interhand_prepare')
    os.makedirs(out_split_dir, exist_ok=True)
    _check_or_write_record(out_split_dir, record)
    todo = pending(records, out_split_dir)
    opts = dict(out_split_dir=out_split_dir, img_size=img_size, hand_ratio=hand_ratio,
                jpeg_quality=jpeg_quality, skip_bad_images=skip_bad_images,
                min_image_mean=min_image_mean, aux_maps=tuple(aux_maps), hand_model=hm_cfg)
    tasks = [([records[i] for i in todo[s:s + chunk]], todo[s:s + chunk])
             for s in range(0, len(todo), chunk)]
    bar = tqdm(total=len(todo), desc=f'InterHand2.6M {split} -> {out_split_dir}', unit='img',
               dynamic_ncols=True, disable=not progress or not todo)
    outcome = Counter()
    if workers <= 1 or len(tasks) <= 1:
        saved = dict(_WORKER_OPTS)
        _WORKER_OPTS.update(opts)
        try:
            for task in tasks:
                outcome.update(_work(task))
                bar.update(len(task[1]))
        finally:
            _WORKER_OPTS.clear()
            _WORKER_OPTS.update(saved)
    else:
        ctx = mp.get_context('fork' if sys.platform.startswith('linux') else 'spawn')
        with ctx.Pool(min(workers, len(tasks)), initializer=_init_worker,
                      initargs=(opts, )) as pool:
            for counts in pool.imap_unordered(_work, tasks):
                outcome.update(counts)
                bar.update(sum(counts.values()))
    bar.close()
    missing = pending(records, out_split_dir)
    dropped.update({k: v for k, v in outcome.items() if k != 'written'})
    stats = dict(selected=len(records), skipped_existing=len(records) - len(todo),
                 converted=len(todo) - len(missing), missing=len(missing),
                 dropped=dropped, out_dir=out_split_dir, hand_model=identity)
    write_conversion_record(out_split_dir, dict(
        record, selected=len(records), converted_total=len(records) - len(missing),
        dropped=dict(dropped)))
    return stats


def format_report(split: str, stats: dict) -> str:
    """The lines ``gclhand prepare-interhand`` prints after a conversion."""
    hm = stats['hand_model']
    lines = [f"{split}: {stats['selected']} interacting samples selected, "
             f"{stats['skipped_existing']} already converted, {stats['converted']} converted "
             f"now -> {stats['out_dir']} (hand model: {hm['hand_model_kind']} "
             f"{hm['hand_model_hash']})"]
    reasons = describe_dropped(stats['dropped'], CONVERSION_DROP_REASONS)
    if reasons:
        lines.append(f"dropped {sum(stats['dropped'].values())} annotation(s):")
        lines += [f'  {line}' for line in reasons]
    return '\n'.join(lines)


__all__ = ['prepare_interhand', 'load_interhand_release', 'convert_records', 'pending', 'is_done',
           'pca_from_axis_angle', 'square_around', 'sample_paths', 'format_report',
           'CONVERSION_DROP_REASONS']
