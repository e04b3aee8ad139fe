"""The official InterHand2.6M release (Moon et al., ECCV 2020): reading and labelling.

Layout of one split (DESIGN.md section 4)::

    {root}/annotations/{split}/InterHand2.6M_{split}_data.json      # COCO-like
    {root}/annotations/{split}/InterHand2.6M_{split}_camera.json    # campos mm, camrot, ...
    {root}/annotations/{split}/InterHand2.6M_{split}_joint_3d.json  # world_coord mm (42)
    {root}/annotations/{split}/InterHand2.6M_{split}_MANO_NeuralAnnot.json  # pose 48, ...
    {root}/images/{split}/Capture*/.../image*.jpg

Releases before June 2021 (and mmpose's InterHand2.6M layout) keep the same four files per
annotation subset instead of per split: ``annotations/{all,human_annot,machine_annot}/``.
Without ``annot_subset`` the reader takes ``annotations/{split}/`` and else
``annotations/all/`` (human + machine annotations, like the current layout); naming a subset
reads that folder only.

The NeuralAnnot MANO fits are in world coordinates (metres, axis-angle pose whose first 3
values are the global orientation, ``flat_hand_mean=False``); the camera maps world
millimetres to camera millimetres by ``X_cam = camrot (X_world - campos)``.
"""
import glob
import json
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from gclhand.registry import DATASETS
from gclhand.structures import HANDS
from .annotation import HAND_TYPE_FLAGS, annotated_joints, hand_type_flags
from .errors import AnnotationError
from .geometry import project_points
from .hand_gt import (HandLabelsMixin, build_dataset_hand_model, check_pose_format,
                      two_hand_gt)
from .pipeline import build_pipeline
from .provenance import warn_procedural_on_real_data

_FILES = ('data', 'camera', 'joint_3d', 'MANO_NeuralAnnot')


#: The annotation subsets of the layout before June 2021 (``annotations/{subset}/``).
ANNOT_SUBSETS = ('all', 'human_annot', 'machine_annot')
#: Where a split's annotations sit in that layout when no subset is named: ``all`` (human +
#: machine annotations, as the current layout), except ``val``, released in
#: ``machine_annot`` only (the InterHand2.6M repository's
#: ``tool/camera_visualize/camera_visualize.py`` of April 2021 skips ``val`` in the other
#: two subsets).
EARLIER_LAYOUT_SUBSETS = {'val': ('machine_annot', )}


def check_annot_subset(annot_subset: Optional[str]) -> None:
    """Raise ``ValueError`` unless ``annot_subset`` is ``None`` or one of
    :data:`ANNOT_SUBSETS`."""
    if annot_subset is not None and annot_subset not in ANNOT_SUBSETS:
        raise ValueError(f'InterHand2.6M annot_subset must be one of {ANNOT_SUBSETS} or None, '
                         f'got {annot_subset!r}')


def annotation_dirs(root: str, split: str, annot_subset: Optional[str] = None) -> List[str]:
    """The folders that may hold a split's annotation files, in the order they are tried:
    ``annotations/{annot_subset}`` when a subset is named, else ``annotations/{split}``
    (the current layout), then the earlier layout's ``annotations/all`` and, for ``val``,
    ``annotations/machine_annot`` (:data:`EARLIER_LAYOUT_SUBSETS`)."""
    check_annot_subset(annot_subset)
    folders = [annot_subset] if annot_subset else [
        split, *EARLIER_LAYOUT_SUBSETS.get(split, ('all', ))]
    return [osp.join(root, 'annotations', f) for f in folders]


def release_annotation_path(root: str, split: str, kind: str,
                            annot_subset: Optional[str] = None) -> str:
    """Path of ``InterHand2.6M_{split}_{kind}.json`` in the official release: in the first
    of :func:`annotation_dirs` that holds the split's data file (the first of them when
    none does, for error messages)."""
    dirs = annotation_dirs(root, split, annot_subset)
    name = f'InterHand2.6M_{split}_{{}}.json'
    found = next((d for d in dirs if osp.isfile(osp.join(d, name.format('data')))), dirs[0])
    return osp.join(found, name.format(kind))


def _archive_image_dirs(root: str, split: str) -> List[str]:
    """The ``{root}/InterHand2.6M_*/images/{split}`` folders (where the archives extract)."""
    return sorted(glob.glob(osp.join(glob.escape(root), 'InterHand2.6M_*', 'images', split)))


def release_image_dir(root: str, split: str) -> str:
    """The folder of a split's images: ``{root}/images/{split}`` (the layout of the
    release's README), else the one ``{root}/InterHand2.6M_*/images/{split}`` that holds it,
    which is where the image archives extract (``InterHand2.6M_5fps_batch1/images/...``,
    ``InterHand2.6M_30fps_batch1/images/...``).  When neither exists (or several batch
    folders do), ``{root}/images/{split}``: :func:`check_release_images` says what to do."""
    default = osp.join(root, 'images', split)
    if osp.isdir(default):
        return default
    found = _archive_image_dirs(root, split)
    return found[0] if len(found) == 1 else default


def check_release_images(root: str, split: str) -> str:
    """:func:`release_image_dir`, or an :class:`AnnotationError` that names the folders
    looked at and how to lay them out."""
    image_dir = release_image_dir(root, split)
    if osp.isdir(image_dir):
        return image_dir
    batches = _archive_image_dirs(root, split)
    if batches:
        hint = (f"several image folders hold '{split}' ({', '.join(batches)}): link the one "
                f"to use, e.g. ln -s {osp.relpath(osp.dirname(batches[0]), root)} "
                f"{osp.join(root, 'images')}")
    else:
        hint = (f"nor does {osp.join(root, 'InterHand2.6M_*', 'images', split)} (where the "
                "release's image archives extract, e.g. InterHand2.6M_5fps_batch1/images/): "
                'extract the images of this split there, or link their images/ folder to '
                f"{osp.join(root, 'images')}")
    raise AnnotationError(image_dir, f'no such folder; {hint}')


def _missing_annotations_error(root: str, split: str,
                               annot_subset: Optional[str]) -> AnnotationError:
    tried = [osp.join(d, f'InterHand2.6M_{split}_data.json')
             for d in annotation_dirs(root, split, annot_subset)]
    return AnnotationError(tried[0], 'file not found (also looked for ' + (', '.join(
        tried[1:]) or 'nothing else') + '); download the InterHand2.6M annotations '
        '(docs/data.md) and keep the release layout: annotations/{split}/ (releases since '
        'June 2021) or annotations/{all,human_annot,machine_annot}/ (earlier ones; '
        'annot_subset picks one)')


def _load_json(path: str):
    if not osp.isfile(path):
        raise AnnotationError(path, 'file not found; download the InterHand2.6M annotations '
                              '(docs/data.md) and keep the release layout')
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(path, f'not valid JSON ({e})') from e


def _mano_fit(entry, path: str, where: str) -> Optional[Dict[str, np.ndarray]]:
    if entry is None:
        return None
    try:
        fit = {k: np.asarray(entry[k], dtype=np.float32).reshape(n)
               for k, n in (('pose', 48), ('shape', 10), ('trans', 3))}
    except (KeyError, TypeError, ValueError) as e:
        raise AnnotationError(path, f'malformed MANO fit at {where} ({type(e).__name__}: '
                              f'{e}); expected pose 48, shape 10, trans 3') from e
    if not all(np.isfinite(v).all() for v in fit.values()):
        raise AnnotationError(path, f'MANO fit at {where} contains NaN or inf')
    return fit


#: Why a release annotation is not selected: reason key -> text (the counts that
#: :func:`read_interhand_release` returns use these keys).
DROP_REASONS = {
    'hand_type_invalid': "hand_type_valid is 0 (IntagHand's selection drops it)",
    'not_interacting': "hand_type is 'left' or 'right' (IntagHand keeps interacting hands only)",
    'unknown_hand_type': "hand_type is none of 'interacting', 'left', 'right'",
    'no_mano_fit': 'the frame has no NeuralAnnot MANO fit',
    'one_mano_fit': 'the MANO fit of one of the two hands is missing',
}


def _joint_validity(ann: dict, joint_entry: dict, path: str, where: str) -> np.ndarray:
    """``(42,)`` per-joint validity: the data file's ``joint_valid`` (what InterHand2.6M's
    evaluation uses), else the joint file's."""
    source = ann.get('joint_valid', joint_entry.get('joint_valid'))
    try:
        return np.asarray(source, np.float32).reshape(42)
    except (TypeError, ValueError) as e:
        raise AnnotationError(path, f'no usable joint_valid (42 values) for annotation '
                              f"{ann.get('id')} at {where} ({type(e).__name__}: {e})") from e


def read_interhand_release(root: str, split: str, interacting_only: bool = True,
                           max_samples: Optional[int] = None,
                           annot_subset: Optional[str] = None) -> Tuple[List[dict], Counter]:
    """Read one split of the official release into per-annotation records.

    Selection with ``interacting_only=True`` (IntagHand's): ``hand_type == 'interacting'``,
    ``hand_type_valid`` and MANO fits for both hands.  With ``False`` (the official
    evaluation's set, as far as gclhand can label it): every annotation with a known hand
    type and at least one MANO fit, ``hand_type_valid`` or not.

    Args:
        root: release root (holding ``annotations/`` and ``images/``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        interacting_only: apply the IntagHand selection.
        max_samples: stop after this many records.
        annot_subset: ``None`` (``annotations/{split}/``, else ``annotations/all/``) or a
            subset of the earlier layout, ``'all'``, ``'human_annot'`` or
            ``'machine_annot'`` (module docstring).

    Returns:
        ``(records, dropped)``.  ``records``: list of dicts, in the order of the data file's
        annotations: ``img_path``, ``image`` (the COCO image entry), ``annotation`` (the
        COCO annotation entry), ``hand_type``, ``hand_type_valid`` (float), ``K`` (3, 3),
        ``cam_R`` (3, 3), ``cam_t`` (3,) metres (world metres -> camera metres), ``mano``
        ``{side: {pose (48,), shape (10,), trans (3,)} or None}``, ``joints_world`` (42, 3)
        mm and ``joint_valid`` (42,) (the data file's, as the official evaluation) in
        InterHand2.6M order.  ``dropped``: how many annotations each reason of
        :data:`DROP_REASONS` left out (up to ``max_samples``).
    """
    paths = {k: release_annotation_path(root, split, k, annot_subset) for k in _FILES}
    if not osp.isfile(paths['data']):
        raise _missing_annotations_error(root, split, annot_subset)
    data = _load_json(paths['data'])
    cameras = _load_json(paths['camera'])
    joints = _load_json(paths['joint_3d'])
    superseded = paths['MANO_NeuralAnnot'].replace('_MANO_NeuralAnnot.json', '_MANO.json')
    if not osp.isfile(paths['MANO_NeuralAnnot']) and osp.isfile(superseded):
        raise AnnotationError(paths['MANO_NeuralAnnot'], f'file not found; {superseded} is '
                              "there, the earlier per-camera MANO fits that the release's "
                              'NeuralAnnot fits superseded (world coordinates, one fit per '
                              f'frame): download InterHand2.6M_{split}_MANO_NeuralAnnot.json '
                              '(docs/data.md)')
    manos = _load_json(paths['MANO_NeuralAnnot'])
    image_dir = release_image_dir(root, split)
    try:
        images = {img['id']: img for img in data['images']}
        annotations = data['annotations']
    except (KeyError, TypeError) as e:
        raise AnnotationError(paths['data'], f"needs 'images' and 'annotations' lists ({e})")

    records, dropped = [], Counter()
    for ann in annotations:
        if max_samples is not None and len(records) >= max_samples:
            break
        hand_type = ann.get('hand_type')
        reason = None
        if hand_type not in HAND_TYPE_FLAGS:
            reason = 'unknown_hand_type'
        elif interacting_only and not ann.get('hand_type_valid'):
            reason = 'hand_type_invalid'
        elif interacting_only and hand_type != 'interacting':
            reason = 'not_interacting'
        if reason is not None:
            dropped[reason] += 1
            continue
        img = images.get(ann.get('image_id'))
        if img is None:
            raise AnnotationError(paths['data'], f"annotation {ann.get('id')} refers to a "
                                  f"missing image id {ann.get('image_id')}")
        capture, frame, cam = str(img['capture']), str(img['frame_idx']), str(img['camera'])
        where = f'[{capture}][{frame}]'
        mano_entry = manos.get(capture, {}).get(frame)
        mano = {side: _mano_fit((mano_entry or {}).get(side), paths['MANO_NeuralAnnot'],
                                f'{where}[{side}]') for side in HANDS}
        fits = sum(m is not None for m in mano.values())
        if fits == 0 or (interacting_only and fits < 2):
            dropped['no_mano_fit' if fits == 0 else 'one_mano_fit'] += 1
            continue
        try:
            cam_params = cameras[capture]
            campos = np.asarray(cam_params['campos'][cam], np.float64).reshape(3)
            camrot = np.asarray(cam_params['camrot'][cam], np.float64).reshape(3, 3)
            focal = np.asarray(cam_params['focal'][cam], np.float64).reshape(2)
            princpt = np.asarray(cam_params['princpt'][cam], np.float64).reshape(2)
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(paths['camera'], f'no usable parameters for capture '
                                  f'{capture} camera {cam} ({type(e).__name__}: {e})') from e
        try:
            joint_entry = joints[capture][frame]
            world = np.asarray(joint_entry['world_coord'], np.float32).reshape(42, 3)
        except (KeyError, TypeError, ValueError) as e:
            frames = joints.get(capture) if isinstance(joints, dict) else None
            first_release = isinstance(frames, dict) and isinstance(frames.get(frame), list)
            raise AnnotationError(paths['joint_3d'], f'no usable joints at {where} ' + (
                '(a bare list of joints: the format of the first release, August 2020, '
                "before its 'world_coord' key; download the current "
                'annotations, docs/data.md)' if first_release else
                f'({type(e).__name__}: {e})')) from e
        K = np.array([[focal[0], 0, princpt[0]], [0, focal[1], princpt[1]], [0, 0, 1]],
                     np.float32)
        records.append(dict(
            img_path=osp.join(image_dir, img['file_name']),
            image=dict(img), annotation=dict(ann), hand_type=hand_type,
            hand_type_valid=float(bool(ann.get('hand_type_valid'))), K=K,
            cam_R=camrot.astype(np.float32),
            # X_cam = R (X - campos) = R X - R campos, converted from mm to metres.
            cam_t=(-camrot @ campos / 1000.0).astype(np.float32),
            mano=mano, joints_world=world,
            joint_valid=_joint_validity(ann, joint_entry, paths['data'], where)))
    return records, dropped


def load_interhand_release(root: str, split: str, interacting_only: bool = True,
                           max_samples: Optional[int] = None,
                           annot_subset: Optional[str] = None) -> List[dict]:
    """The records of :func:`read_interhand_release` (without the drop counts)."""
    return read_interhand_release(root, split, interacting_only, max_samples,
                                  annot_subset)[0]


def describe_dropped(dropped: Counter, reasons: Optional[Dict[str, str]] = None) -> List[str]:
    """One line per drop reason with its count, most frequent first.

    Args:
        dropped: reason key -> count.
        reasons: reason key -> text (default :data:`DROP_REASONS`; unknown keys print as
            they are).
    """
    reasons = dict(DROP_REASONS, **(reasons or {}))
    return [f'{n}: {reasons.get(key, key)}' for key, n in dropped.most_common()]


def mano_fits_to_model_params(records: List[dict]) -> dict:
    """NeuralAnnot fits of ``records`` -> :func:`two_hand_gt` ``params`` (axis-angle pose).

    Missing fits (single-hand records) get zeros; use the records' ``mano`` to mask them.
    """
    params = {}
    for side in HANDS:
        fits = [r['mano'][side] for r in records]
        pose = np.stack([f['pose'] if f is not None else np.zeros(48, np.float32)
                         for f in fits])
        params[side] = dict(
            global_orient=pose[:, :3], hand_pose=pose[:, 3:],
            betas=np.stack([f['shape'] if f is not None else np.zeros(10, np.float32)
                            for f in fits]),
            transl=np.stack([f['trans'] if f is not None else np.zeros(3, np.float32)
                             for f in fits]))
    return params


@DATASETS.register_module()
class InterHand26MDataset(HandLabelsMixin, BaseDataset):
    """InterHand2.6M read straight from the official release (no preparation step).

    Images are the original camera images (e.g. 334x512); pipelines usually crop them
    around the hands.  Labels (camera space, metres, library joint order) come from the
    NeuralAnnot MANO fits through the hand model, exactly like
    :class:`InterHandIntagDataset`'s.  For the official protocol
    (:class:`~gclhand.evaluation.InterHandMetric`) every sample also carries the annotated
    joints ``gt_joints_3d_annot`` (2, 21, 3) m with ``joints_valid`` (2, 21) (the data
    file's ``joint_valid``; a hand without an annotated wrist is not annotated), the hand
    type as ``gt_hand_type`` (2,) (left, right) flags and ``hand_type_valid``.

    Args:
        data_root: release root (``annotations/``, ``images/``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        pipeline: transforms, ending in ``PackHandInputs``.
        hand_model: hand-model config; NeuralAnnot poses are axis-angle, so it must be
            built with ``use_pca=False`` (and ``flat_hand_mean=False``, the default).
        interacting_only: IntagHand's selection (see :func:`read_interhand_release`).
        max_samples: keep only the first ``max_samples`` records.
        annot_subset: which annotation folder (see :func:`read_interhand_release`):
            ``None`` for the current layout (or ``annotations/all/`` of an earlier one),
            ``'human_annot'`` / ``'machine_annot'`` for a subset of an earlier release.
        precompute_gt: run the hand model for all samples at initialisation and keep the
            mesh labels (about 19 KB per sample: ~5 GB for the 261K interacting test
            samples); ``False`` keeps only the MANO fits and computes each sample's labels
            when it is loaded.
        gt_batch_size: samples per hand-model call when precomputing.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(dataset_name='interhand2.6m', hands=HANDS)

    def __init__(self,
                 data_root: str,
                 split: str = 'test',
                 pipeline: Sequence = (),
                 hand_model: Optional[dict] = None,
                 interacting_only: bool = True,
                 max_samples: Optional[int] = None,
                 annot_subset: Optional[str] = None,
                 precompute_gt: bool = True,
                 gt_batch_size: int = 512,
                 **kwargs):
        self.split = split
        self.hand_model_cfg = dict(hand_model if hand_model is not None else dict(
            type='MANOHandModel', use_pca=False))
        self.interacting_only = interacting_only
        self.max_samples = max_samples
        check_annot_subset(annot_subset)
        self.annot_subset = annot_subset
        self.precompute_gt = precompute_gt
        self.gt_batch_size = gt_batch_size
        self.dropped: Counter = Counter()
        super().__init__(data_root=data_root, pipeline=build_pipeline(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the split's selection (:func:`read_interhand_release`) and label it."""
        records, self.dropped = read_interhand_release(
            self.data_root, self.split, self.interacting_only, self.max_samples,
            self.annot_subset)
        if not records:
            raise AnnotationError(release_annotation_path(self.data_root, self.split, 'data',
                                                          self.annot_subset),
                                  'no annotation passes the selection (interacting, '
                                  'hand_type_valid, MANO fits)')
        check_release_images(self.data_root, self.split)  # now, not at the first sample
        hm = build_dataset_hand_model(self.hand_model_cfg)
        check_pose_format(hm, pca=False, owner=type(self).__name__)
        warn_procedural_on_real_data(hm, f'InterHand2.6M {self.split}')
        data_list = []
        for r in records:
            annot, joints_valid = annotated_joints(r['joints_world'], r['joint_valid'],
                                                   r['cam_R'], r['cam_t'])
            data_list.append(dict(
                img_path=r['img_path'], image_id=r['image']['id'], hand_type=r['hand_type'],
                gt_hand_type=hand_type_flags(r['hand_type']),
                hand_type_valid=np.float32(r['hand_type_valid']), cam_K=r['K'],
                hand_valid=_fit_flags(r), gt_joints_3d_annot=annot, joints_valid=joints_valid))
        return self._attach_labels(data_list, records)

    def _labels(self, records: List[dict]) -> dict:
        """Mesh labels of ``records`` (dicts with ``mano``, ``cam_R``, ``cam_t``, ``K``);
        hands without a MANO fit get zeros."""
        hm = build_dataset_hand_model(self.hand_model_cfg)
        verts, joints = two_hand_gt(hm, mano_fits_to_model_params(records),
                                    np.stack([r['cam_R'] for r in records]),
                                    np.stack([r['cam_t'] for r in records]),
                                    batch_size=self.gt_batch_size)
        valid = np.stack([_fit_flags(r) for r in records])[:, :, None, None]
        joints_2d = np.stack([project_points(j, r['K'] if 'K' in r else r['cam_K'])
                              for j, r in zip(joints, records)])
        return dict(gt_verts_3d=verts * valid, gt_joints_3d=joints * valid,
                    gt_joints_2d=joints_2d * valid)



def _fit_flags(record: dict) -> np.ndarray:
    """``(2,)`` float32: 1 where the hand has a MANO fit and the annotation's ``hand_type``
    says it is there (a ``'right'`` frame may carry a fit of the left hand too: it is not
    a label)."""
    present = hand_type_flags(record['hand_type']) > 0
    return np.array([record['mano'][s] is not None and bool(p)
                     for s, p in zip(HANDS, present)], np.float32)
