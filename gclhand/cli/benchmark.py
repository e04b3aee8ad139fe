"""Training throughput and inference latency of a config, with ratios against its baseline.

    gclhand benchmark CONFIG [--baseline CONFIG] [--device cpu|cuda] [--amp [bf16|fp16]]
                             [--batch B] [--iters N] [--warmup W] [--json OUT]
                             [--compile] [--channels-last] [--infer-batch 1 32]
                             [--workers 0 2] [--data-root DIR] [--data-num N]
                             [--e2e-iters N] [--profile N] [--skip train,infer,data,e2e]
                             [--onnx] [--fuse-conv-bn] [--intaghand PATH]
                             [--no-encoder-reference]
                             [--threads N] [--clock wall|cpu]
                             [--cfg-options k=v ...]

The measurements are :mod:`gclhand.benchmark` (importable: ``run_benchmark``).  What is
measured (each a median over ``--iters`` timed repetitions after ``--warmup``):

* ``train``: one optimiser step (``model.train_step``: data preprocessor, forward, losses,
  backward, update) on a *synthetic in-memory* batch - random uint8 images and plausible
  labels (posed hands of the config's hand model projected with a known camera) - for CONFIG
  and the baseline, **interleaved step by step** so that machine load hits both alike.
  Samples/s, the CONFIG/baseline time ratio, and peak memory
  (``torch.cuda.max_memory_allocated`` on GPU; process ``ru_maxrss`` on CPU, monotonic).
* ``infer``: the *deployed* models (``model.deploy()``, eval, ``torch.inference_mode``) at
  each ``--infer-batch``, interleaved with the config's encoder alone (a plain ResNet-50 for
  the paper configs; ``--no-encoder-reference`` leaves it out), with ``--onnx`` the deployed
  model and the encoder through ONNX Runtime, with ``--fuse-conv-bn`` the deployed models'
  encoders folded (batch norms into convolutions) beside the encoder folded the same way,
  and with ``--intaghand PATH`` IntagHand's
  network from a checkout (:mod:`gclhand.benchmark.inference`); the deployed CONFIG model
  must be the baseline's graph (same modules and state-dict shapes) and is checked to give
  identical outputs with the same weights.
* ``data``: the real training dataloader (dataset + full train pipeline + collate; the
  config's ``train_dataloader`` with ``num_workers`` from ``--workers``) in samples/s, over
  synthetic data generated into a temporary folder (or ``--data-root``).
* ``e2e``: CONFIG's train step fed by that dataloader: samples/s, data (wait) time vs
  compute time per step.
* ``--profile N``: :mod:`torch.profiler` over N CONFIG train steps: time per top-level
  module / phase and the top operators.

Results print as a table and, with ``--json``, go to a JSON file. The baseline defaults to
``configs/gcn_baseline_<dataset>.py`` for a config named ``*_<dataset>.py``.

Presets (CONFIG optional):

* ``--preset gpu-check [--dry-run] [--budget-s 480] --json OUT``: the one-shot GPU check
  (:mod:`gclhand.benchmark.gpu_check`; ``tools/gpu_check.sh``).
* ``--preset data-scale --data-root DIR [--index-size 366000] [--source-size 256]
  [--workers 2] --json OUT``: the data pipeline on an InterHand-sized index
  (:mod:`gclhand.benchmark.data_scale`).
"""
import argparse
import json
import os
import os.path as osp

import torch

from gclhand.benchmark import (SECTIONS, BenchmarkSettings, default_baseline, print_report,
                               run_benchmark)
from gclhand.benchmark.timing import CLOCKS
from .args import add_cfg_options
from .config import check_registered_types, load_config

PRESETS = ('gpu-check', 'data-scale')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Benchmark a gclhand config against its baseline')
    p.add_argument('config', nargs='?', help='config file (e.g. configs/dgcl_synth.py); '
                   'with --preset: default gclhand::dgcl_interhand.py')
    p.add_argument('--preset', choices=PRESETS, help='gpu-check: the one-shot GPU check '
                   '(gclhand.benchmark.gpu_check; --budget-s, --dry-run); data-scale: the '
                   'data pipeline on an InterHand-sized index (gclhand.benchmark.data_scale; '
                   '--data-root, --index-size, --source-size, --workers)')
    p.add_argument('--dry-run', action='store_true', help='gpu-check: every section on the '
                   'CPU with tiny sizes (seconds)')
    p.add_argument('--budget-s', type=float, default=480.0,
                   help='gpu-check: total seconds, counted from the process start')
    p.add_argument('--index-size', type=int, default=None,
                   help='data-scale: samples in the index (default 366000, InterHand2.6M)')
    p.add_argument('--source-size', type=int, default=256,
                   help='data-scale: real synthetic samples behind the index')
    p.add_argument('--baseline', help='baseline config (default: configs/gcn_baseline_'
                   '<dataset>.py from the config name); "none" to skip')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                   choices=['cpu', 'cuda'])
    p.add_argument('--amp', nargs='?', const='bf16', default=None, choices=['bf16', 'fp16'],
                   help='autocast dtype (flag alone: bf16); on CUDA the train step uses '
                   "MMEngine's AmpOptimWrapper")
    p.add_argument('--batch', type=int, default=None,
                   help='training batch (default: the config\'s train_dataloader.batch_size)')
    p.add_argument('--iters', type=int, default=5, help='timed repetitions per measurement')
    p.add_argument('--warmup', type=int, default=2, help='untimed repetitions first')
    p.add_argument('--infer-batch', type=int, nargs='+', default=[1, 32])
    p.add_argument('--workers', type=int, nargs='+', default=[0, 2],
                   help='num_workers settings of the data-pipeline measurement')
    p.add_argument('--data-root', help='IntagHand-layout data for the data/e2e measurements; '
                   'synthetic data is generated there when it has no train split (default: '
                   'a temp folder)')
    p.add_argument('--data-num', type=int, default=64)
    p.add_argument('--e2e-iters', type=int, default=None, help='default: --iters')
    p.add_argument('--compile', action='store_true', help='torch.compile encoder, hand '
                   'split, decoder and camera head')
    p.add_argument('--channels-last', action='store_true',
                   help='encoder weights and input batch in torch.channels_last')
    p.add_argument('--profile', type=int, default=0, metavar='N',
                   help='profile N CONFIG train steps with torch.profiler')
    p.add_argument('--no-encoder-reference', dest='encoder_reference', action='store_false',
                   help="do not time the config's encoder alone beside the deployed models")
    p.add_argument('--onnx', action='store_true',
                   help='also time the deployed model and the encoder through ONNX Runtime')
    p.add_argument('--fuse-conv-bn', action='store_true',
                   help="fold the deployed models' encoder batch norms into their "
                   'convolutions; also time the encoder folded the same way')
    p.add_argument('--intaghand', metavar='PATH',
                   help='an IntagHand checkout (github.com/Dw1010/IntagHand): time its '
                   'network beside gclhand (peer column; skipped without it)')
    p.add_argument('--skip', default='', help=f'comma-separated sections of {SECTIONS}')
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument('--clock', choices=CLOCKS, default='wall',
                   help="train/inference timer: 'wall' or 'cpu' (process CPU time: on a "
                   'shared machine, with --threads 1, what other jobs hardly change)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='write the results to this JSON file')
    add_cfg_options(p)
    args = p.parse_args(argv)
    if args.config is None and args.preset is None:
        p.error('give a CONFIG, or a --preset')
    if args.preset == 'data-scale' and not args.data_root:
        p.error('--preset data-scale needs --data-root DIR (where the index is built; '
                'hundreds of MB of directory entries for 366K samples)')
    args.skip = {s for s in args.skip.split(',') if s}
    unknown = args.skip - set(SECTIONS)
    if unknown:
        p.error(f'--skip: unknown section(s) {sorted(unknown)}; choose from {SECTIONS}')
    if args.iters < 1 or args.warmup < 0:
        p.error('--iters must be >= 1 and --warmup >= 0')
    return args


def settings_from_args(args: argparse.Namespace) -> BenchmarkSettings:
    """The :class:`~gclhand.benchmark.BenchmarkSettings` the options describe."""
    return BenchmarkSettings(
        device=args.device, amp=args.amp, batch=args.batch, iters=args.iters,
        warmup=args.warmup, infer_batch=args.infer_batch, workers=args.workers,
        data_root=args.data_root, data_num=args.data_num, e2e_iters=args.e2e_iters,
        compile=args.compile, channels_last=args.channels_last, profile=args.profile,
        encoder_reference=args.encoder_reference, onnx=args.onnx,
        fuse_conv_bn=args.fuse_conv_bn, intaghand=args.intaghand,
        skip=args.skip, threads=args.threads, clock=args.clock, seed=args.seed)


def run_preset(args: argparse.Namespace) -> dict:
    """``--preset gpu-check`` / ``--preset data-scale``."""
    if args.preset == 'gpu-check':
        from gclhand.benchmark.gpu_check import (GpuCheckSettings, dry_run_settings,
                                                 print_gpu_check, process_start_time,
                                                 run_gpu_check)
        kw = dict(budget_s=args.budget_s, seed=args.seed)
        if args.config:
            kw['configs'] = dict(dgcl=args.config, baseline=args.baseline or
                                 default_baseline(args.config))
        settings = dry_run_settings(**kw) if args.dry_run else GpuCheckSettings(**kw)
        r = run_gpu_check(settings, out=args.json, start=process_start_time())
        print_gpu_check(r)
    else:
        from gclhand.benchmark.data_scale import (INTERHAND_TRAIN_SAMPLES, print_data_scale,
                                                  run_data_scale)
        cfg = load_config(args.config or 'gclhand::dgcl_interhand.py', args.cfg_options)
        r = run_data_scale(cfg, args.data_root, args.index_size or INTERHAND_TRAIN_SAMPLES,
                           args.source_size, workers=max(args.workers), seed=args.seed)
        print_data_scale(r)
        _write_json(r, args.json)
    if args.json:
        print(f'results written to {args.json}')
    return r


def _write_json(r: dict, path) -> None:
    if path:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(r, f, indent=1)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from gclhand.apis import register_all_modules
    register_all_modules()
    if args.preset:
        return run_preset(args)
    settings = settings_from_args(args)
    cfg = load_config(args.config, args.cfg_options)
    check_registered_types(cfg)
    baseline = args.baseline or default_baseline(args.config)
    baseline_cfg = None
    if baseline.lower() != 'none':
        if not osp.isfile(baseline) and not baseline.startswith('gclhand::'):
            raise FileNotFoundError(f'baseline config {baseline} not found; pass --baseline '
                                    'CONFIG or --baseline none')
        baseline_cfg = load_config(baseline, args.cfg_options)
    r = dict(config=args.config, baseline=None if baseline_cfg is None else baseline)
    r.update(run_benchmark(cfg, settings, baseline_cfg))
    print_report(r)
    _write_json(r, args.json)
    if args.json:
        print(f'results written to {args.json}')
    return r
