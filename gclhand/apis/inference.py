"""High-level inference: build a model from a config and run it on images.

Example::

    from gclhand.apis import inference, init_model
    model = init_model('configs/dgcl_interhand.py', 'work_dirs/epoch_50.pth')
    results = inference(model, ['two_hands.jpg'])
    results[0].pred_verts_3d  # (2, 778, 3) metres, each hand relative to its wrist
"""
import os.path as osp
import pickle
import re
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from gclhand.registry import MODELS
from gclhand.structures.hand_data_sample import HandDataSample
from gclhand.utils import ConfigError
from gclhand.utils.package_configs import config_file
from .deploy import deployed_model_config
from .deploy import fuse_conv_bn as _fuse_conv_bn

ImageLike = Union[str, np.ndarray]


def input_size_from_config(cfg) -> int:
    """``cfg.input_size``, else the ``ResizeHand`` size of the test pipeline, else 256."""
    if cfg.get('input_size'):
        return int(cfg.input_size)
    for key in ('test_dataloader', 'val_dataloader'):
        pipeline = (cfg.get(key) or {}).get('dataset', {}).get('pipeline', []) or []
        for t in pipeline:
            if isinstance(t, dict) and t.get('type') == 'ResizeHand' and 'size' in t:
                size = t['size']
                return int(size if np.isscalar(size) else size[0])
    return 256


def init_model(config: Union[str, Config, dict], checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu', deploy: bool = True,
               input_size: Optional[int] = None,
               fuse_conv_bn: bool = False) -> torch.nn.Module:
    """Build the estimator of ``config`` and load ``checkpoint``.

    Args:
        config: config file path (or a shipped ``gclhand::NAME.py``),
            :class:`~mmengine.config.Config` or dict with a ``model`` key.
        checkpoint: local checkpoint path; ``None`` keeps the initial weights.  A checkpoint
            of a DGCL model loads into any config (its ``dgcl.`` entries are dropped when the
            model has no DGCL module).
        device: where to put the model.
        deploy: build the deployed model: the config's training-only parts (``model.dgcl``,
            ``model.aux_heads``; :mod:`gclhand.apis.deploy`) are not built, so plugins only
            they need may be missing.
        input_size: side of the square network input in pixels; default
            :func:`input_size_from_config`.
        fuse_conv_bn: fold the encoder's batch norms into its convolutions after loading
            (:func:`gclhand.apis.deploy.fuse_conv_bn`: same outputs to float rounding,
            slightly faster; the model is then for inference only).

    Returns:
        the model in eval mode, with ``model.cfg`` and ``model.input_size`` set.
    """
    if isinstance(config, str):
        config = Config.fromfile(config_file(config))  # a shipped 'gclhand::NAME.py' too
    elif isinstance(config, dict) and not isinstance(config, Config):
        config = Config(config)
    if 'model' not in config:
        raise KeyError("init_model: the config has no 'model' key")
    init_default_scope(config.get('default_scope', 'gclhand'))
    model_cfg = deployed_model_config(config.model) if deploy else config.model.copy()
    model_cfg.get('encoder', {}).pop('init_cfg', None)  # weights come from the checkpoint
    model = MODELS.build(model_cfg)
    if isinstance(checkpoint, str) and checkpoint.lower() == 'none':
        checkpoint = None  # the command line's spelling of "untrained" (docs/demo.md)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f"checkpoint '{checkpoint}' does not exist")
        from gclhand.engine import checkpoint_safe_globals
        try:
            with checkpoint_safe_globals():  # training checkpoints hold NumPy values in meta
                load_checkpoint(model, checkpoint, map_location='cpu')
        except pickle.UnpicklingError as exc:
            found = re.search(r'GLOBAL (\S+) was not an allowed global', str(exc))
            what = found.group(1) if found else str(exc).splitlines()[0][:200]
            raise ConfigError(
                f"checkpoint '{checkpoint}' holds objects that PyTorch's safe loader refuses "
                f'({what}); gclhand never unpickles arbitrary code. '
                'Re-save the weights as a plain state dict if you trust the file.') from exc
    if deploy and hasattr(model, 'deploy'):
        model.deploy()
    model.cfg = config
    model.input_size = int(input_size or input_size_from_config(config))
    model = model.to(device).eval()
    return _fuse_conv_bn(model) if fuse_conv_bn else model


def _load_rgb(image: ImageLike) -> np.ndarray:
    if isinstance(image, str):
        bgr = cv2.imread(image, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image '{image}'")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'inference expects HxWx3 uint8 RGB arrays, got {image.shape} '
                         f'{image.dtype}')
    return image


@torch.no_grad()
def inference(model: torch.nn.Module, images: Sequence[ImageLike],
              batch_size: int = 16) -> List[HandDataSample]:
    """Run ``model`` on two-hand crops.

    Each image (an HxWx3 uint8 RGB array or a file path) is resized to the model's square
    input size.  Returns one :class:`HandDataSample` per image with ``pred_verts_3d``
    (2, 778, 3) and ``pred_joints_3d`` (2, 21, 3) in metres relative to each wrist,
    ``pred_rel_root`` (3,), ``pred_cam`` (2, 3) (in the resized input), and
    ``pred_joints_2d`` (2, 21, 2) in pixels of the *original* image; hand axis (left, right).
    """
    size = int(getattr(model, 'input_size', 256))
    results = []
    for start in range(0, len(images), batch_size):
        inputs, samples = [], []
        for i, image in enumerate(images[start:start + batch_size]):
            rgb = _load_rgb(image)
            h, w = rgb.shape[:2]
            resized = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
            inputs.append(torch.from_numpy(resized).permute(2, 0, 1).contiguous())
            samples.append(HandDataSample(metainfo=dict(
                img_path=image if isinstance(image, str) else None, sample_idx=start + i,
                ori_shape=(h, w), img_shape=(size, size), scale_factor=(w / size, h / size))))
        preds = model.test_step(dict(inputs=inputs, data_samples=samples))
        for p in preds:
            fx, fy = p.metainfo['scale_factor']
            p.pred_joints_2d = p.pred_joints_2d * p.pred_joints_2d.new_tensor([fx, fy])
        results.extend(preds)
    return results
