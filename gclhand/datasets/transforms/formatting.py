"""Packing a transformed sample into the model's input format."""
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from gclhand.registry import TRANSFORMS
from gclhand.structures import HandDataSample

#: Label keys packed into :class:`HandDataSample` (docs/internals.md) with their shapes.
PACKED_FIELDS = {
    'gt_joints_3d': (2, 21, 3),
    'gt_verts_3d': (2, 778, 3),
    'gt_joints_2d': (2, 21, 2),
    'cam_K': (3, 3),
    'hand_valid': (2, ),
    # InterHand2.6M's official protocol (InterHandMetric): annotated joints and validity,
    # hand type as (left, right) presence flags and whether it is reliable
    'gt_joints_3d_annot': (2, 21, 3),
    'joints_valid': (2, 21),
    'gt_hand_type': (2, ),
    'hand_type_valid': (),
}
#: Auxiliary maps (HWC uint8 in the pipeline, :mod:`gclhand.datasets.aux_maps`) packed as
#: ``(C, s, s)`` float32 in [0, 1], with their channel counts.
PACKED_MAPS = {'gt_mask': 2, 'gt_dense': 3, 'gt_heatmaps': 42}


@TRANSFORMS.register_module()
class PackHandInputs(BaseTransform):
    """Pack ``img`` and labels into ``dict(inputs, data_samples)``.

    ``inputs`` is a ``uint8`` tensor (3, H, W) in RGB (normalisation happens in the model's
    data preprocessor); ``data_samples`` a :class:`HandDataSample` with the float32 fields
    of :data:`PACKED_FIELDS` that the results hold (all of them for training data) and the
    metainfo ``meta_keys``.

    With ``single_buffer=True`` (default) the image and all label fields are views into
    *one* tensor storage.  A DataLoader worker sends every storage through its own
    shared-memory segment, and that per-segment cost (not the transforms) limited loading
    to ~260 samples/s on 2 CPU cores with six separate tensors; one segment per sample
    raises the ceiling about 3x.  The views behave like ordinary tensors (``.to()``,
    ``torch.stack`` copy them).

    Auxiliary maps present in the results (:data:`PACKED_MAPS`) are resized to
    ``aux_size`` (area interpolation) and packed as ``(C, s, s)`` float32 in [0, 1]; the
    mask is binarised at 0.5 (as IntagHand's loader does at 127).

    Args:
        meta_keys: keys copied into the data sample's metainfo when present.
        single_buffer: share one storage between image and labels (see above).
        aux_size: side of the packed auxiliary maps (e.g. the input side / 4, the
            resolution of an encoder's first stage); ``None`` keeps their size.
    """

    def __init__(self, meta_keys: Sequence[str] = ('img_path', 'sample_idx', 'img_shape',
                                                   'ori_shape', 'flip'),
                 single_buffer: bool = True, aux_size: Optional[int] = None):
        self.meta_keys = tuple(meta_keys)
        self.single_buffer = single_buffer
        self.aux_size = aux_size

    def _map(self, results: dict, key: str) -> np.ndarray:
        m = np.asarray(results[key])
        if m.ndim == 2:
            m = m[..., None]
        if m.shape[-1] != PACKED_MAPS[key]:
            raise ValueError(f"PackHandInputs: '{key}' has {m.shape[-1]} channels, expected "
                             f"{PACKED_MAPS[key]} (sample {results.get('img_path', '?')})")
        if self.aux_size is not None and m.shape[:2] != (self.aux_size, self.aux_size):
            m = cv2.resize(m, (self.aux_size, self.aux_size), interpolation=cv2.INTER_AREA)
            if m.ndim == 2:
                m = m[..., None]
        out = m.astype(np.float32).transpose(2, 0, 1) / 255.0
        if key == 'gt_mask':
            out = (out > 0.5).astype(np.float32)
        return np.ascontiguousarray(out)

    def _labels(self, results: dict) -> dict:
        labels = {}
        for key, shape in PACKED_FIELDS.items():
            if key not in results:
                continue
            value = np.asarray(results[key], dtype=np.float32)
            if value.shape != shape:
                raise ValueError(f"PackHandInputs: '{key}' has shape {value.shape}, expected "
                                 f"{shape} (sample {results.get('img_path', '?')})")
            labels[key] = value
        for key in PACKED_MAPS:
            if key in results:
                labels[key] = self._map(results, key)
        return labels

    def transform(self, results: dict) -> dict:
        img = results['img']
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 \
                or img.dtype != np.uint8:
            got = (f'a {img.dtype} array of shape {img.shape}' if isinstance(img, np.ndarray)
                   else f'a {type(img).__name__}')
            raise ValueError(f"PackHandInputs: results['img'] is {got} (from "
                            f"{results.get('img_path', 'the pipeline')}); the transforms before "
                            'it must keep an (H, W, 3) RGB uint8 image (docs/data.md, Pipelines)')
        labels = self._labels(results)
        chw = torch.from_numpy(img).permute(2, 0, 1)
        if self.single_buffer:
            img_bytes = img.size
            pad = -img_bytes % 4  # float32 views need a 4-byte aligned offset
            num = sum(v.size for v in labels.values())
            buf = torch.empty(img_bytes + pad + 4 * num, dtype=torch.uint8)
            inputs = buf[:img_bytes].view(chw.shape)
            inputs.copy_(chw)
            flat = buf[img_bytes + pad:].view(torch.float32)
            offset, tensors = 0, {}
            for key, value in labels.items():
                view = flat[offset:offset + value.size].view(value.shape)
                view.copy_(torch.from_numpy(value))
                tensors[key] = view
                offset += value.size
        else:
            inputs = chw.contiguous()
            tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in labels.items()}
        sample = HandDataSample()
        for key, value in tensors.items():
            sample.set_field(value, key)
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta.setdefault('flip', False)
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(meta_keys={self.meta_keys}, '
                f'single_buffer={self.single_buffer}, aux_size={self.aux_size})')
