"""Training throughput and inference latency of a config, with ratios against a baseline.

The logic behind ``gclhand benchmark`` (:mod:`gclhand.cli.benchmark`), importable::

    from gclhand.apis import register_all_modules
    from gclhand.benchmark import BenchmarkSettings, run_benchmark
    register_all_modules()
    result = run_benchmark(cfg, BenchmarkSettings(device='cuda', skip={'data', 'e2e'}),
                           baseline_cfg=baseline_cfg)
    result['ratios']['train_step']   # config / baseline median train-step time

Sections (each a median over ``iters`` timed repetitions after ``warmup``):

* ``train``: one optimiser step (``model.train_step``) on a synthetic in-memory batch
  (:func:`synthetic_batch`), config and baseline interleaved step by step; samples/s,
  the time ratio and peak memory.
* ``infer``: the deployed models (``model.deploy()``, eval, ``torch.inference_mode``) per
  inference batch; the deployed config model must be the baseline's graph and give
  identical outputs with the same weights (``identical_graph`` / ``identical_outputs``).
* ``data``: the real training dataloader in samples/s per ``num_workers``.
* ``e2e``: the config's train step fed by that loader: data wait vs compute per step.
* ``profile``: :mod:`torch.profiler` per top-level module / phase and top operators.
"""
from .inputs import (build_loader, build_model, build_optim_wrapper, image_size,
                     prepare_data_root, same_graph, synthetic_batch)
from .profiling import profile_steps
from .report import print_report
from .run import SECTIONS, BenchmarkSettings, default_baseline, run_benchmark
from .sections import EncoderTrainer, Trainer, bench_data, bench_e2e, bench_infer, bench_train
from .timing import interleave, machine_info

__all__ = ['BenchmarkSettings', 'EncoderTrainer', 'SECTIONS', 'Trainer', 'bench_data', 'bench_e2e',
           'bench_infer', 'bench_train', 'build_loader', 'build_model', 'build_optim_wrapper',
           'default_baseline', 'image_size', 'interleave', 'machine_info', 'prepare_data_root',
           'print_report', 'profile_steps', 'run_benchmark', 'same_graph', 'synthetic_batch']
