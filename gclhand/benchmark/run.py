"""One benchmark run: a config (and its baseline) through the selected sections."""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Optional, Sequence, Set

import torch

from gclhand.utils import ConfigError
from gclhand.utils.malloc import apply_malloc_cfg
from gclhand.utils.package_configs import SCOPE_PREFIX
from .inference import inference_ratios
from .inputs import prepare_data_root
from .profiling import profile_steps
from .sections import Trainer, bench_data, bench_e2e, bench_infer, bench_train
from .timing import CLOCKS, machine_info

SECTIONS = ('train', 'infer', 'data', 'e2e')


@dataclass
class BenchmarkSettings:
    """What to measure and how; the fields are the ``gclhand benchmark`` options.

    Attributes:
        device: ``'cpu'`` or ``'cuda'``.
        amp: autocast dtype ``'bf16'`` / ``'fp16'`` or ``None``; on CUDA the train step
            uses MMEngine's ``AmpOptimWrapper``.
        batch: training batch; ``None``: the config's ``train_dataloader.batch_size``.
        iters / warmup: timed / untimed repetitions per measurement.
        infer_batch: batch sizes of the inference measurement.
        workers: ``num_workers`` settings of the data-pipeline measurement.
        data_root: IntagHand-layout data for the data / e2e sections (synthetic data is
            generated there when it has no train split); ``None``: a temp folder.
        data_num: synthetic samples generated for the data / e2e sections.
        e2e_iters: end-to-end steps; ``None``: ``iters``.
        compile: ``torch.compile`` encoder, hand split, decoder and camera head.
        channels_last: encoder weights and input batch in ``torch.channels_last``.
        profile: profile this many train steps of the config (0: no profile).
        encoder_reference: time the config's encoder alone beside the deployed models
            and, in the train section, its forward + backward + update beside the train
            steps (``ratios['train_step_{config|baseline}_vs_encoder']``).
        onnx: also time the deployed model and the encoder through ONNX Runtime.
        fuse_conv_bn: fold the batch norms of the deployed models' encoders into their
            convolutions (:func:`gclhand.apis.fuse_conv_bn`) and time the encoder folded
            the same way beside the plain one (``encoder_fused``;
            ``ratios['infer_vs_encoder_fused_batch{B}']``).
        intaghand: path of an IntagHand checkout to time beside gclhand (``None``: skip).
        skip: sections of :data:`SECTIONS` not to run.
        threads: ``torch.set_num_threads`` (``None``: leave it).
        clock: ``'wall'`` or ``'cpu'`` (process CPU time; see
            :func:`~gclhand.benchmark.timing.clock_fn`) for the train and inference
            sections.
        seed: seed of the weights and the synthetic batches.
    """
    device: str = 'cpu'
    amp: Optional[str] = None
    batch: Optional[int] = None
    iters: int = 5
    warmup: int = 2
    infer_batch: Sequence[int] = (1, 32)
    workers: Sequence[int] = (0, 2)
    data_root: Optional[str] = None
    data_num: int = 64
    e2e_iters: Optional[int] = None
    compile: bool = False
    channels_last: bool = False
    profile: int = 0
    encoder_reference: bool = True
    onnx: bool = False
    fuse_conv_bn: bool = False
    intaghand: Optional[str] = None
    skip: Set[str] = field(default_factory=set)
    threads: Optional[int] = None
    clock: str = 'wall'
    seed: int = 0

    def __post_init__(self):
        self.skip = set(self.skip)
        unknown = self.skip - set(SECTIONS)
        if unknown:
            raise ConfigError(f'benchmark: unknown section(s) {sorted(unknown)} to skip; '
                              f'choose from {SECTIONS}')
        if self.iters < 1 or self.warmup < 0:
            raise ConfigError('benchmark: iters must be >= 1 and warmup >= 0')
        if self.fuse_conv_bn and self.compile:
            raise ConfigError('benchmark: fuse_conv_bn folds the eager modules; it cannot be '
                              'combined with compile')
        if self.intaghand is not None and not osp.isdir(self.intaghand):
            raise ConfigError(f'benchmark: IntagHand checkout {self.intaghand!r} is not a '
                              'folder; clone https://github.com/Dw1010/IntagHand and pass its '
                              'path, or leave the peer column out')
        if self.clock not in CLOCKS:
            raise ConfigError(f'benchmark: clock must be one of {CLOCKS}, got {self.clock!r}')
        if self.amp not in (None, 'bf16', 'fp16'):
            raise ConfigError(f"benchmark: amp must be 'bf16', 'fp16' or None, got "
                              f'{self.amp!r}')


def default_baseline(config: str) -> str:
    """``configs/dgcl_synth.py`` -> ``configs/gcn_baseline_synth.py`` (same folder;
    ``gclhand::dgcl_synth.py`` -> ``gclhand::gcn_baseline_synth.py``)."""
    if config.startswith(SCOPE_PREFIX):
        return SCOPE_PREFIX + default_baseline(config[len(SCOPE_PREFIX):])
    stem = osp.splitext(osp.basename(config))[0]
    if '_' not in stem:
        raise ConfigError(f'cannot derive a baseline from config name {stem!r} (expected '
                          '<method>_<dataset>.py); pass --baseline CONFIG or --baseline none')
    return osp.join(osp.dirname(config), f"gcn_baseline_{stem.rsplit('_', 1)[1]}.py")


def run_benchmark(cfg, settings: BenchmarkSettings, baseline_cfg=None) -> dict:
    """Measure ``cfg`` (and ``baseline_cfg``, interleaved with it) as ``settings`` say.

    Args:
        cfg: the MMEngine config to measure (``model``, ``optim_wrapper``,
            ``train_dataloader``); its modules must be registered
            (:func:`gclhand.apis.register_all_modules`).
        settings: what to measure.
        baseline_cfg: a second config measured step by step beside ``cfg``; ratios are
            ``cfg / baseline``.

    Returns:
        ``dict(names, batch, amp, ..., machine, ratios, train, infer, data, e2e, profile)``
        (sections that were skipped are absent); times in ms, memory in MiB.
    """
    if settings.threads:
        torch.set_num_threads(settings.threads)
    # the allocator the Runner trains with (GCLHandRunner.setup_env), so a step measured
    # here is a step trained
    apply_malloc_cfg((cfg.get('env_cfg') or {}).get('malloc_cfg'))
    device = torch.device(settings.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError('--device cuda but torch.cuda.is_available() is False; use '
                          '--device cpu')
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    cfgs = {'config': cfg}
    if baseline_cfg is not None:
        cfgs['baseline'] = baseline_cfg
    batch = settings.batch or int(cfg.train_dataloader.batch_size)
    skip = settings.skip
    r = dict(names=list(cfgs), batch=batch, amp=settings.amp, clock=settings.clock,
             compile=settings.compile, fuse_conv_bn=settings.fuse_conv_bn,
             channels_last=settings.channels_last, iters=settings.iters,
             warmup=settings.warmup, infer_batches=list(settings.infer_batch),
             machine=machine_info(device), ratios={})
    trainers = None
    if 'train' not in skip:
        r['train'], trainers = bench_train(cfgs, settings, device, batch)
        if 'baseline' in cfgs:
            r['ratios']['train_step'] = r['train']['config']['step_ms'] / \
                r['train']['baseline']['step_ms']
            r['ratios']['train_step_min'] = r['train']['config']['step_ms_min'] / \
                r['train']['baseline']['step_ms_min']
        if 'encoder' in r['train']:  # each model's step over its encoder's fwd + bwd
            for n in cfgs:
                r['ratios'][f'train_step_{n}_vs_encoder'] = r['train'][n]['step_ms'] / \
                    r['train']['encoder']['step_ms']
    if 'infer' not in skip:
        r['infer'] = bench_infer(cfgs, settings, device)
        r['ratios'].update(inference_ratios(r['infer'], settings.infer_batch))

    def config_trainer() -> Trainer:
        return trainers['config'] if trainers else Trainer('config', cfg, settings, device,
                                                           batch)

    if settings.profile:
        r['profile'] = profile_steps(config_trainer(), settings.profile)
    if not {'data', 'e2e'} <= skip:
        data_root = prepare_data_root(settings, cfg)
        if 'data' not in skip:
            r['data'] = bench_data(cfg, settings, batch, data_root)
        if 'e2e' not in skip:
            r['e2e'] = bench_e2e(cfg, settings, device, batch, data_root, config_trainer())
    if hasattr(os, 'getloadavg'):
        r['machine']['loadavg_end'] = os.getloadavg()
    return r


__all__ = ['BenchmarkSettings', 'SECTIONS', 'default_baseline', 'run_benchmark']
