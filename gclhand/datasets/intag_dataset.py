"""The IntagHand preprocessed layout of InterHand2.6M (and of gclhand's synthetic data)."""
import logging
import os
import os.path as osp
import re
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from gclhand.registry import DATASETS
from gclhand.structures import HANDS
from .annotation import annotated_joints, hand_type_flags, read_intag_annotation
from .errors import AnnotationError, DatasetError
from .geometry import matrix_to_axis_angle, project_points
from .hand_gt import (HandLabelsMixin, build_dataset_hand_model, check_pose_format,
                      two_hand_gt)
from .pipeline import build_pipeline
from .provenance import check_hand_model, is_real_data, warn_procedural_on_real_data

_ANNO_RE = re.compile(r'^(\d+)\.pkl$')


@DATASETS.register_module()
class InterHandIntagDataset(HandLabelsMixin, BaseDataset):
    """Two-hand samples in the IntagHand layout: ``{data_root}/{split}/img/{i}.jpg`` and
    ``{data_root}/{split}/anno/{i}.pkl`` (schema: :mod:`gclhand.datasets.annotation`).

    Labels are computed from the MANO parameters through the hand model, in camera space
    (metres): ``gt_verts_3d (2, 778, 3)``, ``gt_joints_3d (2, 21, 3)`` (library order) and
    ``gt_joints_2d (2, 21, 2)`` (projection with the crop's ``cam_K``); ``gt_hand_type``
    (2,) and ``hand_type_valid`` come from the annotation, and, when the annotation holds
    InterHand2.6M's annotated joints (``joint_3d``, written by ``gclhand prepare-interhand``),
    ``gt_joints_3d_annot (2, 21, 3)`` and ``joints_valid (2, 21)`` for the official protocol.
    A split whose ``conversion.json`` / ``meta.json`` names another hand model than
    ``hand_model`` is refused (:mod:`gclhand.datasets.provenance`).  Two modes:

    * ``precompute_gt=True`` (default): every annotation is read and validated when the
      dataset is initialised, the hand-model forward runs once, batched, and the arrays are
      kept in the serialised data list (about 19 KB per sample: 7 GB for InterHand2.6M's
      366K training samples).
    * ``precompute_gt=False`` (large splits): initialisation only lists ``anno/``; the data
      list holds each sample's file index (MMEngine packs it into one byte array, ~30 bytes
      per sample, no per-sample Python objects), and :meth:`get_data_info` reads, validates
      and labels a sample when it is loaded - what IntagHand's own loader does.  A bad
      annotation or missing image then surfaces when its sample is loaded: it raises, or
      with ``skip_invalid=True`` in training is replaced by another random sample
      (MMEngine's refetch, ``max_refetch``) with a warning naming the file.

    Args:
        data_root: folder holding the split folders.
        split: ``'train'``, ``'val'`` or ``'test'``.
        pipeline: transforms, ending in ``PackHandInputs``.
        hand_model: config of the hand model the MANO parameters belong to (IntagHand's
            annotations use 45 PCA coefficients, ``flat_hand_mean=False``).
        synthetic: ``dict(num=..., seed=..., **generator_kwargs)``: make sure gclhand's
            synthetic data with these settings is in ``data_root``, generating it once
            (:func:`gclhand.datasets.synth.ensure_synthetic_dataset`; ``num`` is its
            ``num_per_split``); ``None`` to require existing data.
        max_samples: keep only the first ``max_samples`` annotations (by index).
        skip_invalid: skip (count and log) samples whose annotation is invalid or whose
            image is missing instead of raising :class:`AnnotationError`.
        allowed_hand_types: accepted ``annotation['hand_type']`` values.
        precompute_gt: compute all labels at initialisation (see above).
        gt_batch_size: samples per hand-model call when precomputing.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``serialize_data``,
            ``lazy_init``, ``indices``, ``test_mode``, ``max_refetch``).
    """

    METAINFO = dict(dataset_name='interhand_intag', hands=HANDS)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 pipeline: Sequence = (),
                 hand_model: Optional[dict] = None,
                 synthetic: Optional[dict] = None,
                 max_samples: Optional[int] = None,
                 skip_invalid: bool = False,
                 allowed_hand_types: Sequence[str] = ('interacting', ),
                 precompute_gt: bool = True,
                 gt_batch_size: int = 512,
                 **kwargs):
        self.split = split
        self.hand_model_cfg = dict(hand_model if hand_model is not None else dict(
            type='MANOHandModel', use_pca=True))
        self.synthetic = None if synthetic is None else dict(synthetic)
        self.max_samples = max_samples
        self.skip_invalid = skip_invalid
        self.allowed_hand_types = tuple(allowed_hand_types)
        self.precompute_gt = precompute_gt
        self.gt_batch_size = gt_batch_size
        self.num_skipped = 0
        super().__init__(data_root=data_root, pipeline=build_pipeline(pipeline), **kwargs)

    # ------------------------------------------------------------------ loading
    @property
    def split_dir(self) -> str:
        return osp.join(self.data_root, self.split)

    def _ensure_data(self) -> None:
        anno_dir = osp.join(self.split_dir, 'anno')
        if self.synthetic is not None:
            # Cheap when the data is complete (reads meta.json); generates/extends it when
            # it is absent or was made with other settings.
            from .synth import ensure_synthetic_dataset, split_synthetic_settings
            num, kwargs = split_synthetic_settings(self.synthetic)
            ensure_synthetic_dataset(self.data_root, num_per_split=num, **kwargs)
        if osp.isdir(anno_dir):
            return
        raise FileNotFoundError(
            f"no IntagHand-layout data at '{self.split_dir}': expected "
            f"'{anno_dir}/{{i}}.pkl' and '{self.split_dir}/img/{{i}}.jpg'. Prepare "
            'InterHand2.6M with tools/prepare_interhand.py, or set '
            'synthetic=dict(num=..., seed=...) to generate synthetic data (docs/data.md).')

    def _annotation_files(self) -> List[int]:
        anno_dir = osp.join(self.split_dir, 'anno')
        indices = sorted(int(m.group(1)) for m in map(_ANNO_RE.match, os.listdir(anno_dir))
                         if m)
        if self.max_samples is not None:
            indices = indices[:self.max_samples]
        return indices

    def _read_one(self, idx: int) -> dict:
        """Read and validate sample ``idx``; raises :class:`DatasetError`."""
        anno_path = osp.join(self.split_dir, 'anno', f'{idx}.pkl')
        img_path = osp.join(self.split_dir, 'img', f'{idx}.jpg')
        info = read_intag_annotation(anno_path, self.allowed_hand_types)
        if not osp.isfile(img_path):
            raise AnnotationError(anno_path, f"its image '{img_path}' does not exist")
        info.update(img_path=img_path, anno_path=anno_path, file_idx=idx)
        return info

    def load_data_list(self) -> List[dict]:
        """Read, validate and label every sample of the split; with ``precompute_gt=False``
        only list them (see class docstring)."""
        self._ensure_data()
        hm = build_dataset_hand_model(self.hand_model_cfg)
        check_pose_format(hm, pca=True, owner=type(self).__name__)
        record = check_hand_model(self.split_dir, hm)  # refuses another model's data
        if is_real_data(record):
            warn_procedural_on_real_data(hm, f"'{self.split_dir}'")
        if not self.precompute_gt:
            return self._lazy_data_list()
        infos, problems = [], []
        for idx in self._annotation_files():
            try:
                infos.append(self._read_one(idx))
            except DatasetError as e:
                if not self.skip_invalid:
                    raise
                problems.append(str(e))
        self.num_skipped = len(problems)
        if problems:
            shown = '\n  '.join(problems[:5])
            print_log(f'{type(self).__name__}: skipped {len(problems)} invalid sample(s) of '
                      f"'{self.split_dir}' (skip_invalid=True); first ones:\n  {shown}",
                      logger='current', level=logging.WARNING)
        if not infos:
            raise AnnotationError(osp.join(self.split_dir, 'anno'),
                                  'no valid annotation found' +
                                  (f' ({len(problems)} invalid)' if problems else ''))
        return self._to_data_list(infos)

    def _lazy_data_list(self) -> List[dict]:
        indices = self._annotation_files()
        if not indices:
            raise AnnotationError(osp.join(self.split_dir, 'anno'), 'no annotation found')
        # built now, before DataLoader workers fork, so that they share it
        build_dataset_hand_model(self.hand_model_cfg)
        return [dict(file_idx=i) for i in indices]

    def get_data_info(self, idx: int) -> dict:
        """The ``idx``-th sample's info; reads and labels it when not precomputed."""
        info = BaseDataset.get_data_info(self, idx)
        if 'gt_verts_3d' in info:
            return info
        if 'mano' not in info:  # lazy data list: only the file index is stored
            info.update(self._to_data_list([self._read_one(info['file_idx'])])[0])
        return self._label_one(info)

    def prepare_data(self, idx: int):
        """``get_data_info`` + pipeline; with ``precompute_gt=False`` and ``skip_invalid``
        a bad sample returns ``None`` in training, so that MMEngine loads another one."""
        if self.precompute_gt or not self.skip_invalid or self.test_mode:
            return super().prepare_data(idx)
        try:
            info = self.get_data_info(idx)
        except DatasetError as e:
            self.num_skipped += 1
            print_log(f'{type(self).__name__}: skipped invalid sample {idx} '
                      f'(skip_invalid=True): {e}', logger='current', level=logging.WARNING)
            return None
        return self.pipeline(info)

    # ---------------------------------------------------------------- labelling
    @staticmethod
    def _model_params(infos: List[dict]) -> dict:
        """Stack the samples' MANO parameters into the hand model's named inputs."""
        params = {}
        for side in HANDS:
            R = np.stack([i['mano'][side]['R'][0] for i in infos])
            params[side] = dict(
                global_orient=matrix_to_axis_angle(R).astype(np.float32),
                hand_pose=np.concatenate([i['mano'][side]['pose'] for i in infos]),
                betas=np.concatenate([i['mano'][side]['shape'] for i in infos]),
                transl=np.concatenate([i['mano'][side]['trans'] for i in infos]))
        return params

    def _labels(self, infos: List[dict]) -> dict:
        hm = build_dataset_hand_model(self.hand_model_cfg)
        cam_R = np.stack([i['cam_R'] for i in infos])
        cam_t = np.stack([i['cam_t'] for i in infos])
        verts, joints = two_hand_gt(hm, self._model_params(infos), cam_R, cam_t,
                                    batch_size=self.gt_batch_size)
        K = np.stack([i['cam_K'] for i in infos])
        joints_2d = np.stack([project_points(j, k) for j, k in zip(joints, K)])
        return dict(gt_verts_3d=verts, gt_joints_3d=joints, gt_joints_2d=joints_2d)

    def _to_data_list(self, infos: List[dict]) -> List[dict]:
        data_list = []
        for info in infos:
            item = dict(img_path=info['img_path'], anno_path=info['anno_path'],
                        file_idx=info['file_idx'], hand_type=info['hand_type'],
                        gt_hand_type=hand_type_flags(info['hand_type']),
                        hand_type_valid=np.float32(info['hand_type_valid']),
                        cam_K=info['cam_K'], hand_valid=np.ones(2, np.float32))
            if 'joint_3d_world_coord' in info:  # InterHand2.6M's annotated joints
                item['gt_joints_3d_annot'], item['joints_valid'] = annotated_joints(
                    info['joint_3d_world_coord'], info['joint_3d_joint_valid'],
                    info['cam_R'], info['cam_t'])
            data_list.append(item)
        return self._attach_labels(data_list, infos)
