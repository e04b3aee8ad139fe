"""The official InterHand2.6M release (Moon et al., ECCV 2020): reading and labelling.

Layout of one split (DESIGN.md section 4)::

    {root}/annotations/{split}/InterHand2.6M_{split}_data.json      # COCO-like
    {root}/annotations/{split}/InterHand2.6M_{split}_camera.json    # campos mm, camrot, ...
    {root}/annotations/{split}/InterHand2.6M_{split}_joint_3d.json  # world_coord mm (42)
    {root}/annotations/{split}/InterHand2.6M_{split}_MANO_NeuralAnnot.json  # pose 48, ...
    {root}/images/{split}/Capture*/.../image*.jpg

The NeuralAnnot MANO fits are in world coordinates (metres, axis-angle pose whose first 3
values are the global orientation, ``flat_hand_mean=False``); the camera maps world
millimetres to camera millimetres by ``X_cam = camrot (X_world - campos)``.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from gclhand.registry import DATASETS
from gclhand.structures import HANDS
from .errors import AnnotationError
from .geometry import project_points
from .hand_gt import build_dataset_hand_model, two_hand_gt
from .pipeline import build_pipeline

_FILES = ('data', 'camera', 'joint_3d', 'MANO_NeuralAnnot')


def release_annotation_path(root: str, split: str, kind: str) -> str:
    """Path of ``InterHand2.6M_{split}_{kind}.json`` in the official release."""
    return osp.join(root, 'annotations', split, f'InterHand2.6M_{split}_{kind}.json')


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


def load_interhand_release(root: str, split: str, interacting_only: bool = True,
                           max_samples: Optional[int] = None) -> List[dict]:
    """Read one split of the official release into per-image records.

    Selection (as IntagHand): ``hand_type == 'interacting'``, ``hand_type_valid`` and MANO
    fits for both hands; with ``interacting_only=False`` every annotation with a valid hand
    type and at least one MANO fit is kept.

    Args:
        root: release root (holding ``annotations/`` and ``images/``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        interacting_only: apply the IntagHand selection.
        max_samples: stop after this many records.

    Returns:
        list of dicts: ``img_path``, ``image`` (the COCO image entry), ``annotation`` (the
        COCO annotation entry), ``K`` (3, 3), ``cam_R`` (3, 3), ``cam_t`` (3,) metres
        (world metres -> camera metres), ``mano`` ``{side: {pose (48,), shape (10,),
        trans (3,)} or None}``, ``joints_world`` (42, 3) mm and ``joint_valid`` (42,)
        in InterHand2.6M order; in the order of the data file's annotations.
    """
    paths = {k: release_annotation_path(root, split, k) for k in _FILES}
    data = _load_json(paths['data'])
    cameras = _load_json(paths['camera'])
    joints = _load_json(paths['joint_3d'])
    manos = _load_json(paths['MANO_NeuralAnnot'])
    try:
        images = {img['id']: img for img in data['images']}
        annotations = data['annotations']
    except (KeyError, TypeError) as e:
        raise AnnotationError(paths['data'], f"needs 'images' and 'annotations' lists ({e})")

    records = []
    for ann in annotations:
        if max_samples is not None and len(records) >= max_samples:
            break
        hand_type = ann.get('hand_type')
        if not ann.get('hand_type_valid') or hand_type not in ('interacting', 'left', 'right'):
            continue
        if interacting_only and hand_type != 'interacting':
            continue
        img = images.get(ann.get('image_id'))
        if img is None:
            raise AnnotationError(paths['data'], f"annotation {ann.get('id')} refers to a "
                                  f"missing image id {ann.get('image_id')}")
        capture, frame, cam = str(img['capture']), str(img['frame_idx']), str(img['camera'])
        where = f'[{capture}][{frame}]'
        mano_entry = manos.get(capture, {}).get(frame)
        if mano_entry is None:
            continue
        mano = {side: _mano_fit(mano_entry.get(side), paths['MANO_NeuralAnnot'],
                                f'{where}[{side}]') for side in HANDS}
        if interacting_only and any(m is None for m in mano.values()):
            continue
        if all(m is None for m in mano.values()):
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
            valid = np.asarray(joint_entry['joint_valid'], np.float32).reshape(42)
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(paths['joint_3d'], f'no usable joints at {where} '
                                  f'({type(e).__name__}: {e})') from e
        K = np.array([[focal[0], 0, princpt[0]], [0, focal[1], princpt[1]], [0, 0, 1]],
                     np.float32)
        records.append(dict(
            img_path=osp.join(root, 'images', split, img['file_name']),
            image=dict(img), annotation=dict(ann), K=K, cam_R=camrot.astype(np.float32),
            # X_cam = R (X - campos) = R X - R campos, converted from mm to metres.
            cam_t=(-camrot @ campos / 1000.0).astype(np.float32),
            mano=mano, joints_world=world, joint_valid=valid))
    return records


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
class InterHand26MDataset(BaseDataset):
    """InterHand2.6M read straight from the official release (no preparation step).

    Images are the original camera images (e.g. 334x512); pipelines usually crop them
    around the hands.  Labels (camera space, metres, library joint order) come from the
    NeuralAnnot MANO fits through the hand model, exactly like
    :class:`InterHandIntagDataset`'s; the annotated 3D joints are kept as
    ``gt_joints_3d_annot`` (2, 21, 3) with ``joints_valid`` (2, 21) for protocols that
    evaluate against them.

    Args:
        data_root: release root (``annotations/``, ``images/``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        pipeline: transforms, ending in ``PackHandInputs``.
        hand_model: hand-model config; NeuralAnnot poses are axis-angle, so it must be
            built with ``use_pca=False`` (and ``flat_hand_mean=False``, the default).
        interacting_only: IntagHand's selection (see :func:`load_interhand_release`).
        max_samples: keep only the first ``max_samples`` records.
        gt_batch_size: samples per hand-model call.
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
                 gt_batch_size: int = 512,
                 **kwargs):
        self.split = split
        self.hand_model_cfg = dict(hand_model if hand_model is not None else dict(
            type='MANOHandModel', use_pca=False))
        self.interacting_only = interacting_only
        self.max_samples = max_samples
        self.gt_batch_size = gt_batch_size
        super().__init__(data_root=data_root, pipeline=build_pipeline(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        from gclhand.hand.joints import interhand_to_library
        records = load_interhand_release(self.data_root, self.split, self.interacting_only,
                                         self.max_samples)
        if not records:
            raise AnnotationError(release_annotation_path(self.data_root, self.split, 'data'),
                                  'no annotation passes the selection (interacting, '
                                  'hand_type_valid, MANO fits)')
        hm = build_dataset_hand_model(self.hand_model_cfg)
        verts, joints = two_hand_gt(hm, mano_fits_to_model_params(records),
                                    np.stack([r['cam_R'] for r in records]),
                                    np.stack([r['cam_t'] for r in records]),
                                    batch_size=self.gt_batch_size)
        data_list = []
        for n, r in enumerate(records):
            valid = np.array([r['mano'][s] is not None for s in HANDS], np.float32)
            annot = r['joints_world'] @ r['cam_R'].T / 1000.0 + r['cam_t']  # mm -> m
            data_list.append(dict(
                img_path=r['img_path'], image_id=r['image']['id'],
                hand_type=r['annotation']['hand_type'], cam_K=r['K'], hand_valid=valid,
                gt_verts_3d=verts[n] * valid[:, None, None],
                gt_joints_3d=joints[n] * valid[:, None, None],
                gt_joints_2d=project_points(joints[n], r['K']) * valid[:, None, None],
                gt_joints_3d_annot=interhand_to_library(annot.astype(np.float32)),
                joints_valid=interhand_to_library(r['joint_valid'])))
        return data_list
