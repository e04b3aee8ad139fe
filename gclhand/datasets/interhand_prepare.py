"""Conversion of the official InterHand2.6M release into the IntagHand layout.

For every selected annotation (:func:`~.interhand26m.load_interhand_release`: interacting,
``hand_type_valid``, both MANO fits) the conversion

1. computes both hands' meshes in the camera frame through the hand model and projects
   their vertices with the original intrinsics,
2. crops IntagHand's square (:func:`~.geometry.intaghand_crop_affine`, its ``cut_img``):
   centred on the 2 x 778 projected vertices' bounding box, side = the box's longer side
   / ``hand_ratio`` (IntagHand's ``HAND_BBOX_RATIO`` = 0.8), resized to ``img_size`` with
   bilinear interpolation and black borders, and maps ``K`` by the same affine
   (``K' = A K``),
3. writes ``{out}/{split}/img/{i}.jpg`` and ``{out}/{split}/anno/{i}.pkl`` (each file
   atomically) with IntagHand's keys: ``inter_idx`` (= ``i``), ``image``,
   ``annotation``, ``mano_params`` (``R`` = rotation matrix of the global orientation,
   ``pose`` = the 45 PCA coefficients of the finger pose, ``shape``, ``trans``) and
   ``camera`` (``R``, ``t``, the cropped ``camera`` K); beside them the annotated joints
   ``joint_3d`` (world mm, the data file's ``joint_valid``) for the official protocol,
4. renders IntagHand's auxiliary encoder targets from the same meshes into the crop
   (``mask/{i}.jpg``, ``dense/{i}.jpg``, ``hms/{i}_{k}_{left|right}.jpg``;
   :class:`~gclhand.datasets.aux_maps.AuxMapRenderer`), unless ``aux_maps`` is empty.

Like IntagHand's preprocessing, images darker than ``min_image_mean`` (10 of 255; blank
frames of the release) are dropped.  ``{out}/{split}/conversion.json`` records the hand
model (its PCA basis defines ``pose``; :mod:`gclhand.datasets.provenance`), the settings and
what was selected and dropped, with counts per reason.

While a split is being converted, sample ``i`` is the record's position in the release's
selection, so an interrupted run can be resumed: samples whose two files exist are
skipped.  Resuming with another hand model or other crop settings is refused.  When every
record is converted or dropped, the samples are renumbered ``0 .. N-1`` in the same order
(:func:`renumber_contiguous`), as IntagHand's own preprocessing numbers them (its reader
counts ``anno/*.pkl`` and reads ``range(count)``); ``numbering.json`` keeps each sample's
record position (``source_index``), and a later run that selects more records (a larger
``--max-samples``) first puts the samples back at their positions.  The renumbering is
itself resumable: the plan is written first and every move is idempotent.
"""
import json
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
from .aux_maps import AUX_KINDS, AUX_MAPS_FORMAT, AuxMapRenderer, aux_map_paths, write_aux_maps
from .errors import ImageError
from .geometry import (INTAGHAND_HAND_RATIO, axis_angle_to_matrix, intaghand_crop_affine,
                       project_points, to_homogeneous_affine)
from .hand_gt import build_dataset_hand_model, check_pose_format, two_hand_gt
from .interhand26m import (check_release_images, describe_dropped, load_interhand_release,
                           mano_fits_to_model_params, read_interhand_release,
                           release_annotation_path)
from .io import dump_pickle_atomic, load_pickle_restricted, write_bytes_atomic
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
                    img_size: int = 256, hand_ratio: float = INTAGHAND_HAND_RATIO,
                    jpeg_quality: int = 95,
                    hand_model: Optional[dict] = None, pca_hand_model: Optional[dict] = None,
                    skip_bad_images: bool = False, min_image_mean: float = 10.0,
                    aux_maps: Sequence[str] = AUX_KINDS,
                    dropped_images: Optional[list] = None) -> Counter:
    """Convert ``records`` (with output indices ``indices``) into the IntagHand layout.

    Args:
        records: release records (see :func:`load_interhand_release`).
        indices: output sample index of each record.
        out_split_dir: ``{out}/{split}``.
        img_size: side of the written crops.
        hand_ratio: fraction of the crop side taken by the hands' 2D vertex extent
            (IntagHand: 0.8).
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
        dropped_images: a list to append ``(index, source image path, reason)`` to for
            every image dropped (``'bad_image'``, ``'dark_image'``), or ``None``.

    Returns:
        counts: ``written`` and, per reason of :data:`CONVERSION_DROP_REASONS`, the samples
        dropped.
    """
    outcome = Counter()
    if not records:
        return outcome
    hm_cfg = dict(hand_model or AXIS_ANGLE_HAND_MODEL)
    hm = build_dataset_hand_model(hm_cfg)
    check_pose_format(hm, pca=False, owner='convert_records')
    pca_hm = build_dataset_hand_model(dict(pca_hand_model or dict(hm_cfg, use_pca=True)))
    check_pose_format(pca_hm, pca=True, owner='convert_records (pca_hand_model)')
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
                if dropped_images is not None:
                    dropped_images.append((int(i), r['img_path'], 'bad_image'))
                continue
            raise
        if img.mean() < min_image_mean:
            outcome['dark_image'] += 1
            if dropped_images is not None:
                dropped_images.append((int(i), r['img_path'], 'dark_image'))
            continue
        A = intaghand_crop_affine(project_points(verts[n], r['K']), img_size, hand_ratio)
        # IntagHand's cv.warpAffine defaults: bilinear, black border
        crop = cv2.warpAffine(img, A, (img_size, img_size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        K = (to_homogeneous_affine(A) @ r['K'].astype(np.float64)).astype(np.float32)
        mano = {}
        for side in HANDS:
            p = params[side]
            mano[side] = dict(R=axis_angle_to_matrix(p['global_orient'][n]).astype(np.float32),
                              pose=pca[side][n:n + 1], shape=p['betas'][n:n + 1],
                              trans=p['transl'][n:n + 1])
        anno = dict(inter_idx=int(i), image=dict(r['image'], crop_affine=A.astype(np.float32)),
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


#: The renumbering plan and state of a split (see the module docstring).
NUMBERING_FILE = 'numbering.json'


def read_numbering(out_split_dir: str) -> Optional[dict]:
    """``{state, source_index}`` of ``{out_split_dir}/numbering.json``; ``None`` while the
    samples are at their record positions.  ``state`` is ``'contiguous'`` (sample ``j`` is
    record ``source_index[j]``), or ``'compacting'`` / ``'expanding'`` (a renumbering that
    was interrupted)."""
    path = osp.join(out_split_dir, NUMBERING_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _write_numbering(out_split_dir: str, state: Optional[str], source_index=()) -> None:
    path = osp.join(out_split_dir, NUMBERING_FILE)
    if state is None:
        if osp.exists(path):
            os.remove(path)
        return
    write_bytes_atomic(json.dumps(dict(state=state, source_index=list(source_index)))
                       .encode(), path)


def _move_sample(out_split_dir: str, src: int, dst: int, aux_maps: Sequence[str]) -> None:
    """Move sample ``src``'s files to number ``dst`` (``inter_idx`` follows); idempotent,
    so an interrupted renumbering can be run again: the annotation goes last."""
    (src_img, src_anno), (dst_img, dst_anno) = (sample_paths(out_split_dir, src),
                                                sample_paths(out_split_dir, dst))
    if src != dst:
        pairs = [(src_img, dst_img)]
        for kind in aux_maps:
            a, b = aux_map_paths(out_split_dir, src, kind), aux_map_paths(out_split_dir, dst, kind)
            pairs += list(zip(a, b)) if isinstance(a, list) else [(a, b)]
        for a, b in pairs:
            if osp.exists(a):
                os.replace(a, b)
    if osp.exists(src_anno):
        anno = load_pickle_restricted(src_anno)
        if anno.get('inter_idx') != dst or src != dst:
            anno['inter_idx'] = dst
            dump_pickle_atomic(anno, dst_anno)
        if src != dst:
            os.remove(src_anno)


def renumber_contiguous(out_split_dir: str, aux_maps: Sequence[str] = AUX_KINDS) -> int:
    """Number the converted samples ``0 .. N-1`` in the order of their record positions
    (IntagHand's numbering); resumes an interrupted renumbering.  Returns ``N``.

    Moving in increasing order never overwrites a sample: the ``k``-th sample goes to
    ``k``, at or below its position, and every position below it is free or done.
    """
    plan = read_numbering(out_split_dir)
    if plan is not None and plan['state'] == 'contiguous':
        return len(plan['source_index'])
    if plan is not None and plan['state'] == 'expanding':
        expand_to_positions(out_split_dir, aux_maps)
        plan = None
    if plan is None:
        anno_dir = osp.join(out_split_dir, 'anno')
        source = sorted(int(n[:-4]) for n in os.listdir(anno_dir)
                        if n.endswith('.pkl') and n[:-4].isdigit())
        _write_numbering(out_split_dir, 'compacting', source)
    else:
        source = plan['source_index']
    for dst, src in enumerate(source):
        _move_sample(out_split_dir, src, dst, aux_maps)
    _write_numbering(out_split_dir, 'contiguous', source)
    return len(source)


def expand_to_positions(out_split_dir: str, aux_maps: Sequence[str] = AUX_KINDS) -> None:
    """Undo :func:`renumber_contiguous` (sample ``j`` back to ``source_index[j]``), so that
    a conversion can continue with more records; resumes an interrupted expansion."""
    plan = read_numbering(out_split_dir)
    if plan is None:
        return
    source = plan['source_index']
    if plan['state'] == 'compacting':  # finish it first: every sample is then at j
        renumber_contiguous(out_split_dir, aux_maps)
    _write_numbering(out_split_dir, 'expanding', source)
    for dst in reversed(range(len(source))):
        _move_sample(out_split_dir, dst, source[dst], aux_maps)
    _write_numbering(out_split_dir, None)


def _unfinished(out_split_dir: str, count: int) -> List[int]:
    """The numbers ``< count`` whose image or annotation is missing."""
    for sub in ('img', 'anno'):
        os.makedirs(osp.join(out_split_dir, sub), exist_ok=True)
    done_img = set(os.listdir(osp.join(out_split_dir, 'img')))
    done_anno = set(os.listdir(osp.join(out_split_dir, 'anno')))
    return [i for i in range(count) if f'{i}.jpg' not in done_img or f'{i}.pkl' not in done_anno]


def pending(records: List[dict], out_split_dir: str) -> List[int]:
    """Indices of the records whose output is not complete yet."""
    return _unfinished(out_split_dir, len(records))


_WORKER_OPTS: dict = {}


def _init_worker(opts: dict) -> None:
    torch.set_num_threads(1)  # one process per core; intra-op threads would oversubscribe
    _WORKER_OPTS.clear()
    _WORKER_OPTS.update(opts)


def _work(task: Tuple[List[dict], List[int]]) -> Tuple[Counter, list]:
    records, indices = task
    dropped_images: list = []
    counts = convert_records(records, indices, dropped_images=dropped_images, **_WORKER_OPTS)
    return counts, dropped_images


#: How many dropped images ``conversion.json`` names (the counts are always complete).
MAX_NAMED_DROPS = 10000


#: What a resumed conversion must share with the part already written.
CROP_SETTINGS = ('img_size', 'hand_ratio', 'crop', 'min_image_mean', 'aux_maps',
                 'aux_maps_format')


def _check_or_write_record(out_split_dir: str, record: dict) -> Optional[dict]:
    """Write ``conversion.json``, or refuse to resume a split made with other settings;
    returns the record that was there before (``None`` for a new split)."""
    old = read_split_record(out_split_dir)
    if old is not None and 'hand_model_hash' in old:
        if old.get('hand_model_hash') != record['hand_model_hash']:
            raise HandModelMismatchError(
                f"{old['_path']}: this split was partly converted with the "
                f"{old.get('hand_model_kind')} hand model {old['hand_model_hash']}, not with the "
                f"{record['hand_model_kind']} model {record['hand_model_hash']} loaded now; "
                'resume with the same --mano-dir, or delete the split folder to start over')
        changed = [k for k in CROP_SETTINGS if old.get(k) != record.get(k)]
        # the annotation folder picks the samples (records before it was kept: not compared)
        changed += [k for k in ('annotations', ) if k in old and old[k] != record.get(k)]
        if changed:
            raise ConfigError(
                f"{old['_path']}: this split was partly converted with other settings "
                f"({', '.join(f'{k}={old.get(k)}' for k in changed)}); resume with the same "
                'options, or delete the split folder to start over')
    write_conversion_record(out_split_dir, record)
    return old


def prepare_interhand(root: str, out: str, split: str, workers: int = 1, img_size: int = 256,
                      hand_ratio: float = INTAGHAND_HAND_RATIO, jpeg_quality: int = 95,
                      chunk: int = 64,
                      max_samples: Optional[int] = None, mano_dir: Optional[str] = None,
                      skip_bad_images: bool = False, min_image_mean: float = 10.0,
                      aux_maps: Sequence[str] = AUX_KINDS, progress: bool = True,
                      annot_subset: Optional[str] = None) -> dict:
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
        annot_subset: annotation folder of a release before June 2021 (``'all'``,
            ``'human_annot'``, ``'machine_annot'``); ``None`` finds ``annotations/{split}/``
            or the earlier layout's ``annotations/all/`` (``machine_annot/`` for ``val``;
            :func:`~gclhand.datasets.interhand26m.annotation_dirs`).

    Returns:
        dict ``selected`` (samples passing the selection), ``skipped_existing`` (already
        converted before this call), ``converted`` (done now), ``missing`` (not converted:
        dropped by this run), ``dropped`` (a ``Counter`` per reason of
        :data:`~gclhand.datasets.interhand26m.DROP_REASONS` and
        :data:`CONVERSION_DROP_REASONS`; the latter counted in this run), ``out_dir`` and
        ``hand_model`` (the identity recorded in ``conversion.json``).
    """
    records, dropped = read_interhand_release(root, split, max_samples=max_samples,
                                              annot_subset=annot_subset)
    if records:  # fail now, not after the first chunk (or skip every image)
        check_release_images(root, split)
    out_split_dir = osp.join(out, split)
    hm_cfg = dict(AXIS_ANGLE_HAND_MODEL, model_dir=mano_dir)
    pca_hm = build_dataset_hand_model(dict(hm_cfg, use_pca=True))
    warn_procedural_on_real_data(pca_hm, f'InterHand2.6M {split} (gclhand prepare-interhand)')
    identity = hand_model_identity(pca_hm)
    record = dict(identity, source=INTERHAND_SOURCE, split=split, release_root=osp.abspath(root),
                  annotations=osp.relpath(osp.dirname(release_annotation_path(
                      root, split, 'data', annot_subset)), root),
                  img_size=img_size, hand_ratio=hand_ratio, crop='intaghand_vertices',
                  min_image_mean=min_image_mean, aux_maps=sorted(aux_maps),
                  converter='gclhand.datasets.interhand_prepare')
    if aux_maps:
        record['aux_maps_format'] = AUX_MAPS_FORMAT
    os.makedirs(out_split_dir, exist_ok=True)
    previous = _check_or_write_record(out_split_dir, record)
    numbering = read_numbering(out_split_dir)
    retry = (previous or {}).get('dropped_by_conversion', {}).get('bad_image', 0)
    if (numbering is not None and numbering['state'] == 'contiguous' and previous is not None
            and previous.get('selected') == len(records) and not retry
            and not _unfinished(out_split_dir, len(numbering['source_index']))):  # finished
        written = len(numbering['source_index'])
        dropped.update(previous.get('dropped_by_conversion', {}))
        kept = {k: v for k, v in previous.items() if k != '_path'}  # read_split_record's
        write_conversion_record(out_split_dir, dict(kept, **record))
        return dict(selected=len(records), skipped_existing=written, converted=0,
                    missing=len(records) - written, dropped=dropped, out_dir=out_split_dir,
                    hand_model=identity, dropped_images=previous.get('dropped_images', []))
    expand_to_positions(out_split_dir, aux_maps)  # back to record positions, if numbered
    todo = pending(records, out_split_dir)
    opts = dict(out_split_dir=out_split_dir, img_size=img_size, hand_ratio=hand_ratio,
                jpeg_quality=jpeg_quality, skip_bad_images=skip_bad_images,
                min_image_mean=min_image_mean, aux_maps=tuple(aux_maps), hand_model=hm_cfg)
    tasks = [([records[i] for i in todo[s:s + chunk]], todo[s:s + chunk])
             for s in range(0, len(todo), chunk)]
    bar = tqdm(total=len(todo), desc=f'InterHand2.6M {split} -> {out_split_dir}', unit='img',
               dynamic_ncols=True, disable=not progress or not todo)
    outcome, dropped_images = Counter(), []
    if workers <= 1 or len(tasks) <= 1:
        saved = dict(_WORKER_OPTS)
        _WORKER_OPTS.update(opts)
        try:
            for task in tasks:
                counts, named = _work(task)
                outcome.update(counts)
                dropped_images += named
                bar.update(len(task[1]))
        finally:
            _WORKER_OPTS.clear()
            _WORKER_OPTS.update(saved)
    else:
        ctx = mp.get_context('fork' if sys.platform.startswith('linux') else 'spawn')
        with ctx.Pool(min(workers, len(tasks)), initializer=_init_worker,
                      initargs=(opts, )) as pool:
            for counts, named in pool.imap_unordered(_work, tasks):
                outcome.update(counts)
                dropped_images += named
                bar.update(sum(counts.values()))
    bar.close()
    dropped_images = [dict(record=i, image=osp.relpath(path, root), reason=reason)
                      for i, path, reason in sorted(dropped_images)[:MAX_NAMED_DROPS]]
    missing = pending(records, out_split_dir)
    conversion_drops = {k: v for k, v in outcome.items() if k != 'written'}
    dropped.update(conversion_drops)
    stats = dict(selected=len(records), skipped_existing=len(records) - len(todo),
                 converted=len(todo) - len(missing), missing=len(missing),
                 dropped=dropped, out_dir=out_split_dir, hand_model=identity,
                 dropped_images=dropped_images)
    # every record was tried in this run: the ones not written were dropped by it
    renumber_contiguous(out_split_dir, aux_maps)
    write_conversion_record(out_split_dir, dict(
        record, selected=len(records), converted_total=len(records) - len(missing),
        dropped=dict(dropped), dropped_by_conversion=conversion_drops,
        dropped_images=dropped_images,
        numbering='contiguous, record positions in numbering.json'))
    return stats


def converted_nothing(stats: dict) -> bool:
    """Whether none of a non-empty selection is converted (the run failed)."""
    return bool(stats['selected']) and stats['missing'] == stats['selected']


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
    named = stats.get('dropped_images') or []
    if named:
        lines.append(f'images dropped by the conversion (all of them listed in '
                     f"{osp.join(stats['out_dir'], 'conversion.json')}, 'dropped_images'):")
        lines += [f"  {d['image']} ({d['reason']})" for d in named[:5]]
        if len(named) > 5:
            lines.append(f'  ... and {len(named) - 5} more')
    if converted_nothing(stats):
        lines.append(f"error: none of the {stats['selected']} selected samples was converted")
    return '\n'.join(lines)


__all__ = ['prepare_interhand', 'load_interhand_release', 'convert_records', 'pending', 'is_done',
           'pca_from_axis_angle', 'sample_paths', 'format_report', 'renumber_contiguous',
           'expand_to_positions', 'read_numbering', 'CONVERSION_DROP_REASONS']
