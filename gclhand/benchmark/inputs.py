"""What the benchmark runs on: models built from a config, synthetic batches, data loaders.

The synthetic batch is what ``PackHandInputs`` + ``pseudo_collate`` give the data
preprocessor (random uint8 images, posed hands of the config's hand model projected with
a known camera), so a train step can be timed without reading any data.
"""
import contextlib
import copy
import os.path as osp
import tempfile
from typing import Optional

import torch
from mmengine.optim import OptimWrapper

from gclhand.utils import ConfigError


def image_size(cfg) -> int:
    """Side of the network input: the ``ResizeHand`` size of the training pipeline."""
    pipeline = cfg.train_dataloader.dataset.get('pipeline', None) or cfg.get('train_pipeline')
    for t in pipeline or []:
        if t.get('type') == 'ResizeHand':
            return int(t['size'])
    raise ConfigError('train_dataloader.dataset.pipeline has no ResizeHand step: cannot tell '
                      'the input size for the synthetic batches')


def build_model(cfg, device: torch.device, channels_last: bool = False,
                compile: bool = False, seed: int = 0):
    """Build ``cfg.model`` through the registry, initialise, move to ``device``."""
    from gclhand.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model.to(device)
    if channels_last:
        model.encoder.to(memory_format=torch.channels_last)
        if hasattr(model.data_preprocessor, 'channels_last'):
            model.data_preprocessor.channels_last = True
    if compile:
        for name in ('encoder', 'hand_split', 'decoder', 'camera_head'):
            setattr(model, name, torch.compile(getattr(model, name)))
    return model


def synthetic_batch(model, batch: int, img_size: int, seed: int = 0) -> dict:
    """A collated-format batch: random uint8 images + plausible labels.

    Labels are posed hands of ``model.hand_model`` (random PCA pose, orientation, a left/right
    offset, 0.6 m in front of a camera with focal length ``2 * img_size``), projected into
    the crop, i.e. what ``PackHandInputs`` + ``pseudo_collate`` give the data preprocessor;
    random targets for the model's auxiliary heads (:func:`aux_map_targets`), if any.
    """
    from gclhand.structures.hand_data_sample import HANDS, HandDataSample
    g = torch.Generator().manual_seed(seed)
    hm = model.hand_model
    f, c = 2.0 * img_size, img_size / 2
    K = torch.tensor([[f, 0, c], [0, f, c], [0, 0, 1]])
    joints, verts = [], []
    with torch.no_grad():
        for h, side in enumerate(HANDS):
            transl = torch.tensor([-0.05 + 0.1 * h, 0.0, 0.6]).expand(batch, 3)
            out = hm(side=side, hand_pose=torch.randn(batch, 45, generator=g) * 0.5,
                     betas=torch.randn(batch, 10, generator=g) * 0.5,
                     global_orient=torch.randn(batch, 3, generator=g) * 0.3,
                     transl=transl + 0.01 * torch.randn(batch, 3, generator=g))
            joints.append(out.joints.float())
            verts.append(out.vertices.float())
    joints, verts = torch.stack(joints, 1), torch.stack(verts, 1)  # (B, 2, 21|778, 3)
    proj = joints @ K.T
    uv = proj[..., :2] / proj[..., 2:]
    images = torch.randint(0, 256, (batch, 3, img_size, img_size), generator=g,
                           dtype=torch.uint8)
    aux = aux_map_targets(model, batch, img_size, g)
    samples = []
    for i in range(batch):
        s = HandDataSample(metainfo=dict(sample_idx=i, img_shape=(img_size, img_size),
                                         flip=False))
        s.gt_joints_3d, s.gt_verts_3d, s.gt_joints_2d = joints[i], verts[i], uv[i]
        s.cam_K, s.hand_valid = K.clone(), torch.ones(2)
        for key, maps in aux.items():
            s.set_field(maps[i], key)
        samples.append(s)
    return dict(inputs=list(images), data_samples=samples)


def aux_map_targets(model, batch: int, img_size: int, g: torch.Generator) -> dict:
    """Random ``(B, C, s, s)`` maps in [0, 1] for every output of the model's training-only
    ``aux_heads`` (as ``PackHandInputs(aux_size=s)`` packs them), ``s`` being the size the
    head predicts at: its first encoder level, found by running the encoder once.  Output
    ``name`` is compared with target ``name``, the data-sample field ``gt_<name>``
    (``TwoHandEstimator.loss_targets``)."""
    from gclhand.datasets.transforms.formatting import PACKED_MAPS
    heads = getattr(model, 'aux_heads', None) or {}
    if not heads:
        return {}
    encoder = model.encoder
    was_training = encoder.training
    param = next(encoder.parameters())
    with torch.no_grad():
        feats = encoder.eval()(param.new_zeros(1, 3, img_size, img_size))
    encoder.train(was_training)
    out = {}
    for head in heads.values():
        side = feats[getattr(head, 'levels', (0, ))[0]].shape[-1]
        for name in getattr(head, 'outputs', ()):
            key = f'gt_{name}'
            if key in PACKED_MAPS:
                out[key] = torch.rand(batch, PACKED_MAPS[key], side, side, generator=g)
    return out


class CpuAutocastOptimWrapper(OptimWrapper):
    """MMEngine's ``OptimWrapper`` with CPU autocast (``autocast_dtype``) in
    ``optim_context``: the forward pass under autocast, backward and update outside, as
    ``AmpOptimWrapper`` does on a GPU (which it requires)."""

    autocast_dtype = torch.bfloat16

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.autocast_dtype):
            yield


def build_optim_wrapper(cfg, model, device: torch.device, amp: Optional[str]):
    """The config's optimiser; with ``amp``: MMEngine's ``AmpOptimWrapper`` on CUDA (what
    ``gclhand train --amp`` uses), on the CPU (which it refuses) a
    :class:`CpuAutocastOptimWrapper`."""
    from mmengine.optim import build_optim_wrapper as _build
    ow = copy.deepcopy(cfg.optim_wrapper)
    if amp is not None and device.type == 'cuda':
        ow['type'] = 'AmpOptimWrapper'
        ow['dtype'] = 'bfloat16' if amp == 'bf16' else 'float16'
        if amp == 'fp16':
            ow.setdefault('loss_scale', 'dynamic')
    wrapper = _build(model, ow)
    if amp is not None and device.type == 'cpu':
        if type(wrapper) is not OptimWrapper:
            raise ConfigError(f'benchmark --amp on the CPU wraps an OptimWrapper in CPU '
                              f'autocast; the config builds {type(wrapper).__name__}')
        wrapper.__class__ = CpuAutocastOptimWrapper
        wrapper.autocast_dtype = torch.bfloat16 if amp == 'bf16' else torch.float16
    return wrapper


def same_graph(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Same module types by name and the same state-dict keys and shapes."""
    ma = [(n, type(m).__name__) for n, m in a.named_modules()]
    mb = [(n, type(m).__name__) for n, m in b.named_modules()]
    sa = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    sb = {k: tuple(v.shape) for k, v in b.state_dict().items()}
    return ma == mb and sa == sb


def prepare_data_root(settings, cfg) -> str:
    """``--data-root`` if it holds a ``train`` split; else synthetic data generated there
    (default folder: ``$TMPDIR/gclhand_bench_<num>_<img_size>_<seed>``), with the config's
    ``synthetic`` settings and ``--data-num`` samples."""
    if settings.data_root and osp.isdir(osp.join(settings.data_root, 'train', 'anno')):
        return settings.data_root
    from gclhand.datasets import ensure_synthetic_dataset
    synth = dict(cfg.train_dataloader.dataset.get('synthetic') or {})
    root = settings.data_root or osp.join(
        tempfile.gettempdir(), f'gclhand_bench_{settings.data_num}_'
        f"{synth.get('img_size', 256)}_{synth.get('seed', 0)}")
    ensure_synthetic_dataset(root, num_per_split=settings.data_num, splits=('train', ),
                             seed=synth.get('seed', 0), img_size=synth.get('img_size', 256),
                             progress=False)
    return root


def build_loader(cfg, data_root: str, batch: int, workers: int):
    from mmengine.runner import Runner
    dl = copy.deepcopy(cfg.train_dataloader)
    dl.batch_size = batch
    dl.num_workers = workers
    dl.persistent_workers = workers > 0
    dl.dataset.data_root = data_root
    dl.dataset.synthetic = None
    return Runner.build_dataloader(dl, seed=0)


__all__ = ['CpuAutocastOptimWrapper', 'aux_map_targets', 'build_loader', 'build_model',
           'build_optim_wrapper', 'image_size', 'prepare_data_root', 'same_graph',
           'synthetic_batch']
