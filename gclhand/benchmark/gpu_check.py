"""The one-shot GPU check: what the first GPU session must measure, in one JSON, in budget.

    bash tools/gpu_check.sh [OUT.json]              # on the GPU machine, from the checkout
    gclhand benchmark --preset gpu-check --json OUT.json [--budget-s 480] [--dry-run]

GPU time is scarce (a session may get ~15 minutes, starts included), so everything is
measured by one command that keeps to ``budget_s`` (default 8 minutes) and writes its JSON
after every section: a section that would overrun is skipped and says so, one that fails
records its error, and the others still run.  Sections, in order of priority:

1. ``environment``: GPU, driver/CUDA/cuDNN, torch, CPU count.
2. ``train_eager``: train samples/s of ``dgcl_interhand`` and ``gcn_baseline_interhand``
   (paper scale: ResNet-50, 256 px) on synthetic in-memory batches through the real
   ``model.train_step`` (MMEngine ``AmpOptimWrapper``), the two configs interleaved step
   by step, for AMP bf16 / fp16 x batch 32 / 64 x channels-last off / on; peak memory
   (``max_memory_allocated``) per config and cell.
3. ``inference``: deployed latency at batch 1 / 32, fp32 and bf16 autocast, beside the
   plain ResNet-50 (:mod:`gclhand.benchmark.inference`).
4. ``ddp``: ``torchrun --nproc_per_node 1 -m gclhand train CONFIG --launcher pytorch``
   (NCCL on a GPU, gloo on CPU) for ``ddp_iters`` iterations of the real training entry
   point - data loader with the config's workers over an IntagHand-layout index of real
   256 px synthetic samples (``precompute_gt=False``), AMP bf16 - timed from its log.
5. ``data``: the data pipeline at 256 px on this machine's CPUs
   (:mod:`gclhand.benchmark.data_scale`): samples/s per worker and with many workers.
6. ``train_compile``: ``torch.compile`` on, for both configs at AMP bf16, batch 32 and the
   faster channels-last setting of ``train_eager``: compile time and samples/s, each in its
   own process with a time limit (a first compile can take minutes).
7. ``summary``: the best ``dgcl_interhand`` AMP samples/s, the implied 50-epoch
   InterHand2.6M time (50 x 366K / samples/s) against the goal (>= 1,300 samples/s, under
   4 hours), and the same from the ``ddp`` run (loader included).

``--dry-run`` runs every section end to end on the CPU with the same configs shrunk to a
tiny network at 64 px, batch 2, one or two steps, AMP bf16 (CPU autocast) and fp32,
and ``torch.compile(backend='eager')``: about a minute, in the default test suite, so that
the first GPU run does not fail on a code path.
"""
import copy
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Optional, Sequence

import torch

from .data_scale import INTERHAND_TRAIN_SAMPLES, build_scaled_index
from .process import MeasurementTimeout, in_fresh_interpreter
from .timing import autocast_ctx, interleave, machine_info, peak_memory_mb, reset_peak, sync

#: paper-scale configs, checked against each other
CONFIGS = {'dgcl': 'gclhand::dgcl_interhand.py', 'baseline': 'gclhand::gcn_baseline_interhand.py'}
#: samples/s on one GPU that bring 50 epochs of InterHand2.6M under 4 hours
GOAL_SAMPLES_PER_S = 1300.0
EPOCHS = 50


@dataclass
class GpuCheckSettings:
    """What the check measures; :func:`dry_run_settings` gives the tiny CPU variant."""
    configs: Dict[str, str] = field(default_factory=lambda: dict(CONFIGS))
    device: str = 'cuda'
    amps: Sequence[Optional[str]] = ('bf16', 'fp16')
    batches: Sequence[int] = (32, 64)
    channels_last: Sequence[bool] = (False, True)
    iters: int = 10
    warmup: int = 3
    infer_batches: Sequence[int] = (1, 32)
    infer_iters: int = 20
    ddp_iters: int = 20
    ddp_batch: int = 32
    data_index_size: int = 20000
    data_source_size: int = 64
    data_workers: Optional[int] = None  # None: min(16, CPU count)
    compile_batch: int = 32
    compile_backend: str = 'inductor'
    compile_iters: int = 10
    budget_s: float = 480.0
    reserve_s: float = 10.0
    work_dir: Optional[str] = None
    dry_run: bool = False
    seed: int = 0


def dry_run_settings(**overrides) -> GpuCheckSettings:
    """Every section on the CPU with tiny sizes (see the module docstring)."""
    s = dict(device='cpu', amps=('bf16', None), batches=(2, ), iters=1, warmup=1,
             infer_batches=(1, 2),
             infer_iters=1, ddp_iters=2, ddp_batch=2, data_index_size=64,
             data_source_size=4, data_workers=1, compile_batch=2, compile_backend='eager',
             compile_iters=1, budget_s=600.0, dry_run=True)
    s.update(overrides)
    return GpuCheckSettings(**s)


# ------------------------------------------------------------------------------ configs
def shrink(cfg) -> None:
    """Make a paper-scale config tiny in place (dry run): the same classes and code paths,
    a ResNet with one block per stage and 8 base channels, narrow heads, 64 px input."""
    cfg.merge_from_dict({
        'model.encoder': dict(type='ResNet', depth=18, base_channels=8,
                              stage_blocks=(1, 1, 1, 1)),
        'model.hand_split.hidden_channels': 32,
        'model.decoder': dict(channels=(16, 16, 16), K=2, num_heads=2),
        'model.camera_head.hidden_channels': 32})
    if cfg.model.get('dgcl'):
        cfg.merge_from_dict({'model.dgcl.projector': dict(hidden_channels=16, out_channels=8),
                             'model.dgcl.pool.size': 16})
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for t in (cfg.get(key) or {}).get('dataset', {}).get('pipeline', []):
            if t.get('type') == 'ResizeHand':
                t['size'] = 64


def load_check_config(path: str, dry_run: bool):
    # gclhand.cli sits above this package (it dispatches `gclhand benchmark`): read the
    # config with MMEngine directly; `gclhand::NAME` is resolved like on the command line
    from mmengine.config import Config

    from gclhand.utils.package_configs import resolve_config_path
    resolved = resolve_config_path(path)
    if not osp.isfile(resolved):
        raise FileNotFoundError(f'config file {resolved} not found')
    cfg = Config.fromfile(resolved)
    if dry_run:
        shrink(cfg)
    return cfg


# ------------------------------------------------------------------------------ runner
def process_start_time() -> float:
    """When this process started (``time.time()`` scale): the command-line check counts
    its budget from there, interpreter start-up and imports included."""
    import psutil
    return psutil.Process().create_time()


class Budget:
    """Seconds left of the check's budget, counted from ``start`` (default: now)."""

    def __init__(self, budget_s: float, reserve_s: float, start: Optional[float] = None):
        self.start = time.time() if start is None else start
        self.budget_s, self.reserve_s = budget_s, reserve_s

    def elapsed(self) -> float:
        return time.time() - self.start

    def left(self) -> float:
        return self.budget_s - self.reserve_s - self.elapsed()


class GpuCheck:
    """Runs the sections (module docstring), writing ``out`` after each."""

    def __init__(self, settings: GpuCheckSettings, out: Optional[str] = None,
                 log: Callable[[str], None] = print, start: Optional[float] = None):
        self.s, self.out, self.log = settings, out, log
        self.budget = Budget(settings.budget_s, settings.reserve_s, start)
        self.device = torch.device(settings.device)
        self.work_dir = settings.work_dir or tempfile.mkdtemp(prefix='gclhand_gpu_check_')
        self.result = dict(kind='gclhand gpu-check', dry_run=settings.dry_run,
                           settings=asdict(settings), command=' '.join(sys.argv),
                           started=time.strftime('%Y-%m-%d %H:%M:%S %z'), sections={})

    # -- bookkeeping ---------------------------------------------------------------------
    def save(self) -> None:
        self.result['elapsed_s'] = self.budget.elapsed()
        if self.out:
            os.makedirs(osp.dirname(osp.abspath(self.out)) or '.', exist_ok=True)
            tmp = self.out + '.tmp'
            with open(tmp, 'w') as f:
                json.dump(self.result, f, indent=1, default=str)
            os.replace(tmp, self.out)

    def section(self, name: str, fn: Callable[[], dict], needs_s: float) -> None:
        """Run ``fn`` unless fewer than ``needs_s`` seconds are left; record the outcome."""
        left = self.budget.left()
        if left < needs_s:
            rec = dict(status='skipped', reason=f'{left:.0f} s of the budget left, the section '
                       f'needs about {needs_s:.0f} s')
        else:
            self.log(f'[gpu-check] {name} ({left:.0f} s left)')
            t = time.time()
            try:
                rec = dict(status='ok', **fn())
            except MeasurementTimeout as e:
                rec = dict(status='skipped', reason=f'ran out of budget: {e}')
            except Exception as e:  # recorded; the other sections still run
                rec = dict(status='error', error=f'{type(e).__name__}: {e}')
                if self.device.type == 'cuda':
                    torch.cuda.empty_cache()
            rec['seconds'] = time.time() - t
        self.result['sections'][name] = rec
        self.log(f"[gpu-check] {name}: {rec['status']} {rec.get('reason') or rec.get('error') or ''}")
        self.save()

    def run(self) -> dict:
        if self.device.type == 'cuda':
            if not torch.cuda.is_available():
                from gclhand.utils import ConfigError
                raise ConfigError('gpu-check: torch.cuda.is_available() is False; on a '
                                  'machine without a GPU run it with --dry-run')
            torch.backends.cudnn.benchmark = True
        s = self.s
        self.section('environment', self.environment, float('-inf'))
        self.section('train_eager', self.train_eager, 30)
        self.section('inference', self.inference, 20)
        self.section('ddp', self.ddp, 60)
        self.section('data', self.data, 30)
        self.section('train_compile', self.train_compile, 90 if not s.dry_run else 5)
        self.result['summary'] = self.summary()
        self.save()
        return self.result

    # -- sections ----------------------------------------------------------------------
    def environment(self) -> dict:
        info = machine_info(self.device)
        info.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    machine=platform.machine())
        if self.device.type == 'cuda':
            props = torch.cuda.get_device_properties(self.device)
            info.update(gpu_memory_gb=props.total_memory / 2**30,
                        gpu_capability=f'{props.major}.{props.minor}')
            try:
                info['nvidia_smi'] = subprocess.run(
                    ['nvidia-smi', '--query-gpu=name,driver_version,power.limit,clocks.max.sm',
                     '--format=csv,noheader'], capture_output=True, text=True,
                    timeout=20).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                info['nvidia_smi'] = None
        return info

    def _models(self):
        from .inputs import build_model
        cfgs = {n: load_check_config(p, self.s.dry_run) for n, p in self.s.configs.items()}
        return cfgs, {n: build_model(c, self.device, seed=self.s.seed) for n, c in cfgs.items()}

    def train_eager(self) -> dict:
        s = self.s
        cfgs, models = self._models()
        cells, step_s = [], 1.0
        for amp in s.amps:
            for batch in s.batches:
                for cl in s.channels_last:
                    name = f'{amp or "fp32"}_b{batch}_{"cl" if cl else "nchw"}'
                    needs = (s.warmup + s.iters + 2) * len(models) * step_s * batch / min(
                        s.batches) + 5
                    if self.budget.left() - 200 < needs and cells:  # keep time for the rest
                        cells.append(dict(cell=name, status='skipped',
                                          reason=f'would need ~{needs:.0f} s'))
                        continue
                    cell = self._train_cell(cfgs, models, amp, batch, cl)
                    timed = [cell[n]['step_ms'] for n in models if 'step_ms' in cell[n]]
                    if timed:
                        step_s = max(timed) / 1e3 * min(s.batches) / batch
                    cells.append(dict(cell=name, amp=amp, batch=batch, channels_last=cl,
                                      **cell))
                    self.log(f'  {name}: ' + ', '.join(
                        f"{n} {cell[n]['samples_per_s']:.0f} samples/s" if 'samples_per_s' in
                        cell[n] else f"{n} {cell[n]['error'][:120]}" for n in models))
        del models
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
        return dict(cells=cells)

    def _train_cell(self, cfgs, models, amp, batch: int, cl: bool) -> dict:
        """Both configs' train steps interleaved; a config whose step fails (out of memory,
        an op without this dtype) records its error and the other is timed alone."""
        from .run import BenchmarkSettings
        from .sections import Trainer
        s = self.s
        settings = BenchmarkSettings(device=s.device, amp=amp, batch=batch, channels_last=cl,
                                     seed=s.seed)
        cell, trainers = {}, {}
        for n, model in models.items():
            model.encoder.to(memory_format=torch.channels_last if cl else
                             torch.contiguous_format)
            model.data_preprocessor.channels_last = cl
            try:
                trainers[n] = Trainer(n, cfgs[n], settings, self.device, batch, model=model)
                trainers[n].step()  # also the first of the warm-up steps
            except Exception as e:  # e.g. torch.OutOfMemoryError
                trainers.pop(n, None)
                cell[n] = dict(error=f'{type(e).__name__}: {e}'.split('\n')[0])
                if self.device.type == 'cuda':
                    torch.cuda.empty_cache()
        times = interleave({n: t.step for n, t in trainers.items()}, s.iters,
                           max(0, s.warmup - 1))
        for n, ts in times.items():
            cell[n] = dict(step_ms=1e3 * statistics.median(ts), step_ms_min=1e3 * min(ts),
                           samples_per_s=batch / statistics.median(ts))
        for n, t in trainers.items():
            reset_peak(self.device)
            t.step()
            cell[n]['peak_memory_mb'] = peak_memory_mb(self.device)
        if all('step_ms' in cell.get(n, {}) for n in ('dgcl', 'baseline')):
            cell['dgcl_over_baseline'] = cell['dgcl']['step_ms'] / cell['baseline']['step_ms']
        return cell

    def inference(self) -> dict:
        from .inference import bench_inference, inference_ratios
        from .run import BenchmarkSettings
        s = self.s
        cfgs = {'config': load_check_config(s.configs['dgcl'], s.dry_run),
                'baseline': load_check_config(s.configs['baseline'], s.dry_run)}
        out = {}
        for amp in (None, 'bf16'):
            settings = BenchmarkSettings(device=s.device, amp=amp, iters=s.infer_iters,
                                         warmup=max(1, s.warmup), infer_batch=s.infer_batches,
                                         seed=s.seed)
            res = bench_inference(cfgs, settings, self.device)
            res['ratios'] = inference_ratios(res, s.infer_batches)
            out['fp32' if amp is None else amp] = res
        return out

    # -- the real training entry point ---------------------------------------------------
    def _index(self, num: int) -> str:
        """An IntagHand-layout index of ``num`` samples over real 256 px synthetic ones."""
        from gclhand.datasets import ensure_synthetic_dataset
        source = osp.join(self.work_dir, 'source')
        workers = min(8, os.cpu_count() or 1) if not self.s.dry_run else 1
        ensure_synthetic_dataset(source, num_per_split={'train': self.s.data_source_size},
                                 splits=('train', ), seed=self.s.seed, img_size=256,
                                 workers=workers, progress=False)
        root = osp.join(self.work_dir, f'index_{num}')
        build_scaled_index(osp.join(source, 'train'), root, num)
        return root

    def ddp(self) -> dict:
        s = self.s
        iters = s.ddp_iters
        root = self._index(iters * s.ddp_batch)
        cfg = load_check_config(s.configs['dgcl'], s.dry_run)
        cfg.merge_from_dict({
            'train_dataloader.batch_size': s.ddp_batch,
            'train_dataloader.dataset.data_root': root,
            'train_dataloader.dataset.precompute_gt': False,
            'train_cfg': dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1000),
            'default_hooks.logger.interval': 1,
            'default_hooks.checkpoint': dict(type='AtomicCheckpointHook', interval=1000,
                                             save_last=False, save_best=None),
            'log_processor.window_size': 1,
        })
        if s.dry_run:
            cfg.train_dataloader.num_workers = 1
        cfg.custom_hooks = []
        for key in ('val_dataloader', 'val_evaluator', 'val_cfg', 'test_dataloader',
                    'test_evaluator', 'test_cfg'):
            cfg[key] = None
        if self.device.type == 'cuda':
            cfg.optim_wrapper = dict(cfg.optim_wrapper, type='AmpOptimWrapper',
                                     dtype='bfloat16')
        work = osp.join(self.work_dir, 'ddp')
        os.makedirs(work, exist_ok=True)
        cfg_path = osp.join(work, 'ddp_check.py')
        cfg.dump(cfg_path)
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
               '--nproc_per_node', '1', '-m', 'gclhand', 'train', cfg_path, '--work-dir',
               work, '--launcher', 'pytorch']
        t = time.time()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=max(1.0, self.budget.left()))
        except subprocess.TimeoutExpired:
            raise MeasurementTimeout(f'the {iters}-iteration torchrun did not finish') from None
        wall = time.time() - t
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-3000:]
            raise RuntimeError(f'torchrun exited with {proc.returncode}:\n{tail}')
        rec = dict(command=' '.join(cmd), wall_s=wall, iterations=iters, batch=s.ddp_batch,
                   backend='nccl' if self.device.type == 'cuda' else 'gloo',
                   amp='bf16' if self.device.type == 'cuda' else None)
        rec.update(_iteration_times(work, s.ddp_batch))
        return rec

    def data(self) -> dict:
        from .data_scale import measure_loader, measure_per_worker
        s = self.s
        root = self._index(s.data_index_size)
        cfg = load_check_config(s.configs['dgcl'], False)  # the data at 256 px, as trained
        dl = copy.deepcopy(cfg.train_dataloader.to_dict())
        dl['dataset'].update(data_root=root, synthetic=None, precompute_gt=False)
        if s.dry_run:
            dl['batch_size'] = 2
        workers = s.data_workers or min(16, os.cpu_count() or 1)
        timeout = max(1.0, self.budget.left() / 2)
        per_worker = in_fresh_interpreter(measure_per_worker, dl['dataset'],
                                          20 if s.dry_run else 200, s.seed, timeout=timeout)
        loader = in_fresh_interpreter(measure_loader, dl, workers, 2 if s.dry_run else 30,
                                      timeout=max(1.0, self.budget.left()))
        return dict(index_size=s.data_index_size, source_size=s.data_source_size,
                    per_worker=per_worker, loader=loader)

    def train_compile(self) -> dict:
        s = self.s
        eager = self.result['sections'].get('train_eager', {}).get('cells', [])
        cl = _faster_layout(eager, 'dgcl', 'bf16', s.compile_batch)
        out = dict(amp='bf16', batch=s.compile_batch, channels_last=cl,
                   backend=s.compile_backend, runs={})
        for name, path in s.configs.items():
            left = self.budget.left()
            if left < (60 if not s.dry_run else 1):
                out['runs'][name] = dict(status='skipped', reason=f'{left:.0f} s left')
                continue
            try:
                out['runs'][name] = dict(status='ok', **in_fresh_interpreter(
                    compile_cell, path, s.dry_run, s.device, 'bf16', s.compile_batch, cl,
                    s.compile_backend, s.compile_iters, s.warmup, s.seed, timeout=left))
            except MeasurementTimeout as e:
                out['runs'][name] = dict(status='skipped', reason=f'ran out of budget: {e}')
            except RuntimeError as e:
                out['runs'][name] = dict(status='error', error=str(e)[-2000:])
            self.save()
        return out

    # -- summary -----------------------------------------------------------------------
    def summary(self) -> dict:
        secs = self.result['sections']
        best = []
        for c in secs.get('train_eager', {}).get('cells', []):
            if 'samples_per_s' in c.get('dgcl', {}) and c.get('amp'):
                best.append((c['dgcl']['samples_per_s'], f"eager {c['cell']}"))
        for name, run in secs.get('train_compile', {}).get('runs', {}).items():
            if name == 'dgcl' and run.get('status') == 'ok':
                best.append((run['samples_per_s'], 'torch.compile bf16'))
        out = dict(goal_samples_per_s=GOAL_SAMPLES_PER_S, epochs=EPOCHS,
                   train_samples=INTERHAND_TRAIN_SAMPLES)
        if best:
            sps, where = max(best)
            out.update(best_dgcl_samples_per_s=sps, best_setting=where,
                       implied_hours=_hours(sps), goal_met=sps >= GOAL_SAMPLES_PER_S)
        ddp = secs.get('ddp', {})
        if ddp.get('status') == 'ok' and ddp.get('samples_per_s'):
            out.update(ddp_samples_per_s=ddp['samples_per_s'],
                       ddp_implied_hours=_hours(ddp['samples_per_s']))
        data = secs.get('data', {})
        if data.get('status') == 'ok':
            out.update(data_per_worker_samples_per_s=data['per_worker']['samples_per_s'],
                       data_loader_samples_per_s=data['loader']['samples_per_s'],
                       data_loader_workers=data['loader']['workers'])
        return out


def _hours(samples_per_s: float) -> float:
    """``EPOCHS`` epochs of InterHand2.6M's training split at ``samples_per_s``, hours."""
    return EPOCHS * INTERHAND_TRAIN_SAMPLES / samples_per_s / 3600.0


def _faster_layout(cells, name: str, amp: str, batch: int) -> bool:
    """Channels-last setting with the higher eager samples/s (default: channels-last)."""
    rates = {c['channels_last']: c[name]['samples_per_s'] for c in cells
             if c.get('amp') == amp and c.get('batch') == batch and
             'samples_per_s' in c.get(name, {})}
    return max(rates, key=rates.get) if rates else True


def _iteration_times(work_dir: str, batch: int) -> dict:
    """Per-iteration ``time`` / ``data_time`` from the run's ``vis_data/scalars.json``."""
    rows = []
    for dirpath, _, files in os.walk(work_dir):
        if 'scalars.json' in files and dirpath.endswith('vis_data'):
            with open(osp.join(dirpath, 'scalars.json')) as f:
                rows += [json.loads(line) for line in f if line.strip()]
    times = [r['time'] for r in rows if 'time' in r]
    data = [r['data_time'] for r in rows if 'data_time' in r]
    if not times:
        return dict(logged_iterations=0)
    steady = times[len(times) // 4:] or times  # the first iterations warm up
    return dict(logged_iterations=len(times), iter_time_s=times,
                median_iter_s=statistics.median(steady),
                median_data_s=statistics.median(data[len(data) // 4:] or data) if data
                else None, samples_per_s=batch / statistics.median(steady))


def compile_cell(config: str, dry_run: bool, device: str, amp: str, batch: int,
                 channels_last: bool, backend: str, iters: int, warmup: int,
                 seed: int) -> dict:
    """One config's train step with ``torch.compile`` (run in its own process): the time
    of the first steps (compilation) and the steady samples/s."""
    from gclhand.apis import register_all_modules
    from .inputs import build_model
    from .run import BenchmarkSettings
    from .sections import Trainer
    register_all_modules()
    dev = torch.device(device)
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    cfg = load_check_config(config, dry_run)
    model = build_model(cfg, dev, channels_last=channels_last, seed=seed)
    for name in ('encoder', 'hand_split', 'decoder', 'camera_head'):
        setattr(model, name, torch.compile(getattr(model, name), backend=backend))
    settings = BenchmarkSettings(device=device, amp=amp, batch=batch,
                                 channels_last=channels_last, seed=seed)
    trainer = Trainer('config', cfg, settings, dev, batch, model=model)
    t = time.time()
    first = [trainer.step() for _ in range(max(1, warmup))]
    compile_s = time.time() - t
    times = [trainer.step() for _ in range(iters)]
    reset_peak(dev)
    trainer.step()
    return dict(compile_and_warmup_s=compile_s, first_steps_s=first,
                step_ms=1e3 * statistics.median(times), step_ms_min=1e3 * min(times),
                samples_per_s=batch / statistics.median(times),
                peak_memory_mb=peak_memory_mb(dev))


def run_gpu_check(settings: GpuCheckSettings, out: Optional[str] = None,
                  log: Callable[[str], None] = print, start: Optional[float] = None) -> dict:
    """Run the check (module docstring) and return its result (also written to ``out``).

    ``start``: when the budget starts (``time.time()`` scale; default now; the command
    line passes :func:`process_start_time`)."""
    return GpuCheck(settings, out, log, start).run()


def print_gpu_check(r: dict) -> None:
    print(f"\n== gclhand gpu-check{' (dry run)' if r['dry_run'] else ''}: "
          f"{r['elapsed_s']:.0f} s")
    for name, sec in r['sections'].items():
        print(f"{name:<14} {sec['status']:<8} {sec.get('seconds', 0):6.1f} s  "
              f"{sec.get('reason') or sec.get('error', '')[:200]}")
    for k, v in r.get('summary', {}).items():
        print(f'  {k}: {v:.2f}' if isinstance(v, float) else f'  {k}: {v}')


__all__ = ['CONFIGS', 'GOAL_SAMPLES_PER_S', 'GpuCheck', 'GpuCheckSettings', 'compile_cell',
           'dry_run_settings', 'print_gpu_check', 'process_start_time', 'run_gpu_check',
           'shrink']
