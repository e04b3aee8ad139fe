"""Auxiliary encoder targets in a pipeline: read IntagHand's stored maps, or draw heatmaps.

The maps (:mod:`gclhand.datasets.aux_maps`) travel through the pipeline as HWC ``uint8``
arrays (``gt_mask``, ``gt_dense``, ``gt_heatmaps``); the geometric transforms warp them
with the image and ``PackHandInputs(aux_size=...)`` turns them into ``(C, s, s)`` targets.
"""
import os.path as osp
from typing import Optional, Sequence, Set

import numpy as np
from mmcv.transforms import BaseTransform

from gclhand.registry import TRANSFORMS
from ..aux_maps import (AUX_KEYS, AUX_KINDS, AUX_MAPS_FORMAT, HEATMAP_SIGMA, joint_heatmaps,
                        read_aux_map)
from ..errors import DatasetError
from ..provenance import read_split_record


_CHECKED_SPLITS: Set[str] = set()


def check_aux_maps_format(split_dir: str) -> None:
    """Refuse maps that gclhand wrote in an older format (once per split folder).

    A split that gclhand made (``conversion.json`` or the synthetic ``meta.json`` lists
    ``aux_maps``) must record :data:`~gclhand.datasets.aux_maps.AUX_MAPS_FORMAT`: format 1
    had the mask's hands in swapped channels, and reading it would train each hand's mask
    on the other hand's silhouette.  A split without a gclhand record (IntagHand's own
    preprocessing) is read as IntagHand writes it.
    """
    if split_dir in _CHECKED_SPLITS:
        return
    record = read_split_record(split_dir)
    if record is not None and record.get('aux_maps'):
        found = record.get('aux_maps_format', 1)
        if found != AUX_MAPS_FORMAT:
            raise DatasetError(record['_path'], (
                f'its auxiliary maps (mask/, dense/, hms/) are in gclhand\'s format {found}, '
                f'this version reads format {AUX_MAPS_FORMAT} (IntagHand\'s mask channels: '
                'right hand in channel 1, left in 2); make them again: synthetic data is '
                'regenerated when its data root is used (or `gclhand make-synth`), a '
                'conversion by deleting the split folder and running `gclhand '
                'prepare-interhand` again'))
    _CHECKED_SPLITS.add(split_dir)


@TRANSFORMS.register_module()
class LoadHandAuxMaps(BaseTransform):
    """Read a sample's stored auxiliary maps (IntagHand layout) beside its annotation.

    The split folder and index come from ``anno_path`` (``{split}/anno/{i}.pkl``) and
    ``file_idx``. A kind whose folder does not exist in the split is skipped unless
    ``required``; a missing or corrupt file in an existing folder raises ``ImageError``
    naming it (corrupt targets never train silently).

    Added keys: ``gt_mask`` (H, W, 2), ``gt_dense`` (H, W, 3), ``gt_heatmaps`` (h, w, 42),
    uint8 (see :mod:`gclhand.datasets.aux_maps`).

    Args:
        kinds: which of ``('mask', 'dense', 'hms')`` to read.
        required: raise when a kind's folder is absent instead of skipping it.
    """

    def __init__(self, kinds: Sequence[str] = AUX_KINDS, required: bool = False):
        unknown = set(kinds) - set(AUX_KINDS)
        if unknown:
            raise ValueError(f'LoadHandAuxMaps: unknown kinds {sorted(unknown)}; choose from '
                             f'{AUX_KINDS}')
        self.kinds = tuple(kinds)
        self.required = required

    def transform(self, results: dict) -> dict:
        split_dir = osp.dirname(osp.dirname(results['anno_path']))
        check_aux_maps_format(split_dir)
        idx = int(results['file_idx'])
        for kind in self.kinds:
            if not self.required and not osp.isdir(osp.join(split_dir, kind)):
                continue
            results[AUX_KEYS[kind]] = read_aux_map(split_dir, idx, kind)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(kinds={self.kinds}, required={self.required})'


@TRANSFORMS.register_module()
class GenerateJointHeatmaps(BaseTransform):
    """Draw ``gt_heatmaps`` from the (transformed) 2D joints, instead of reading them.

    Exact under every geometric augmentation and cheaper than warping 42 stored channels;
    the same Gaussian as the stored IntagHand heatmaps (:func:`~gclhand.datasets.aux_maps.
    joint_heatmaps`), drawn at ``size`` with ``sigma`` in heatmap pixels.

    Required keys: ``img``, ``gt_joints_2d``. Added key: ``gt_heatmaps`` (size, size, 42)
    uint8 (peak 255), or replaced when present.

    Args:
        size: heatmap side; ``None`` = the image side.
        sigma: Gaussian sigma in heatmap pixels; ``None`` scales IntagHand's (2 px on 64 px
            for a 256 px crop, i.e. 1/32 of the crop side) to ``size``.
    """

    def __init__(self, size: Optional[int] = None, sigma: Optional[float] = None):
        self.size = size
        self.sigma = sigma

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        size = self.size or w
        sigma = self.sigma if self.sigma is not None else HEATMAP_SIGMA * size / 64.0
        hm = joint_heatmaps(results['gt_joints_2d'], (w, h), size, sigma)
        results['gt_heatmaps'] = (hm * 255 + 0.5).astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, sigma={self.sigma})'
