"""Training throughput and inference latency of a config, with ratios against its baseline.

    python tools/benchmark.py CONFIG [--baseline CONFIG] [--device cpu|cuda] [--amp [bf16|fp16]]
                              [--batch B] [--iters N] [--warmup W] [--json OUT]
                              [--compile] [--channels-last] [--infer-batch 1 32]
                              [--workers 0 2] [--data-root DIR] [--data-num N]
                              [--e2e-iters N] [--profile N] [--skip train,infer,data,e2e]
                              [--cfg-options k=v ...]

What is measured (each a median over ``--iters`` timed repetitions after ``--warmup``):

* ``train``: one optimiser step (``model.train_step``: data preprocessor, forward, losses,
  backward, update) on a *synthetic in-memory* batch - random uint8 images and plausible
  labels (posed hands of the config's hand model projected with a known camera) - for CONFIG
  and the baseline, **interleaved step by step** so that machine load hits both alike.
  Samples/s, the CONFIG/baseline time ratio, and peak memory
  (``torch.cuda.max_memory_allocated`` on GPU; process ``ru_maxrss`` on CPU, monotonic).
* ``infer``: the *deployed* models (``model.deploy()``, eval, ``torch.inference_mode``) at
  each ``--infer-batch``, interleaved; the deployed CONFIG model must be the baseline's
  graph (same modules and state-dict shapes) and is checked to give identical outputs with
  the same weights.
* ``data``: the real training dataloader (dataset + full train pipeline + collate; the
  config's ``train_dataloader`` with ``num_workers`` from ``--workers``) in samples/s, over
  synthetic data generated into a temporary folder (or ``--data-root``).
* ``e2e``: CONFIG's train step fed by that dataloader: samples/s, data (wait) time vs
  compute time per step.
* ``--profile N``: :mod:`torch.profiler` over N CONFIG train steps: time per top-level
  module / phase and the top operators.

Results print as a table and, with ``--json``, go to a JSON file. The baseline defaults to
``configs/gcn_baseline_<dataset>.py`` for a config named ``*_<dataset>.py``.
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import torch

from gclhand.utils import ConfigError, register_all_modules
from gclhand.utils.cli import add_cfg_options, load_config, run_tool

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SECTIONS = ('train', 'infer', 'data', 'e2e')


# ---------------------------------------------------------------------------- arguments
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Benchmark a gclhand config against its baseline')
    p.add_argument('config', help='config file (e.g. configs/dgcl_synth.py)')
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
    p.add_argument('--skip', default='', help=f'comma-separated sections of {SECTIONS}')
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='write the results to this JSON file')
    add_cfg_options(p)
    args = p.parse_args(argv)
    args.skip = {s for s in args.skip.split(',') if s}
    unknown = args.skip - set(SECTIONS)
    if unknown:
        p.error(f'--skip: unknown section(s) {sorted(unknown)}; choose from {SECTIONS}')
    if args.iters < 1 or args.warmup < 0:
        p.error('--iters must be >= 1 and --warmup >= 0')
    return args


def default_baseline(config: str) -> str:
    """``configs/dgcl_synth.py`` -> ``configs/gcn_baseline_synth.py`` (same folder)."""
    stem = osp.splitext(osp.basename(config))[0]
    if '_' not in stem:
        raise ConfigError(f'cannot derive a baseline from config name {stem!r} (expected '
                          '<method>_<dataset>.py); pass --baseline CONFIG or --baseline none')
    return osp.join(osp.dirname(config), f"gcn_baseline_{stem.rsplit('_', 1)[1]}.py")


# ---------------------------------------------------------------------------- helpers
def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    """GPU: ``max_memory_allocated`` since the last reset; CPU: process peak RSS (monotonic)."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == 'darwin' else rss / 2**10  # bytes vs KiB


def reset_peak(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def image_size(cfg) -> int:
    """Side of the network input: the ``ResizeHand`` size of the training pipeline."""
    pipeline = cfg.train_dataloader.dataset.get('pipeline', None) or cfg.get('train_pipeline')
    for t in pipeline or []:
        if t.get('type') == 'ResizeHand':
            return int(t['size'])
    raise ConfigError('train_dataloader.dataset.pipeline has no ResizeHand step: cannot tell '
                      'the input size for the synthetic batches')


def autocast_ctx(device: torch.device, amp: Optional[str]):
    if amp is None:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == 'bf16' else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def median_ms(ts: List[float]) -> float:
    return 1e3 * statistics.median(ts)


# ---------------------------------------------------------------------------- model & data
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
    the crop, i.e. what ``PackHandInputs`` + ``pseudo_collate`` give the data preprocessor.
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
    samples = []
    for i in range(batch):
        s = HandDataSample(metainfo=dict(sample_idx=i, img_shape=(img_size, img_size),
                                         flip=False))
        s.gt_joints_3d, s.gt_verts_3d, s.gt_joints_2d = joints[i], verts[i], uv[i]
        s.cam_K, s.hand_valid = K.clone(), torch.ones(2)
        samples.append(s)
    return dict(inputs=list(images), data_samples=samples)


def build_optim_wrapper(cfg, model, device: torch.device, amp: Optional[str]):
    """The config's optimiser; ``AmpOptimWrapper`` on CUDA with ``--amp``."""
    from mmengine.optim import build_optim_wrapper as _build
    ow = copy.deepcopy(cfg.optim_wrapper)
    if amp is not None and device.type == 'cuda':
        ow['type'] = 'AmpOptimWrapper'
        ow['dtype'] = 'bfloat16' if amp == 'bf16' else 'float16'
        if amp == 'fp16':
            ow.setdefault('loss_scale', 'dynamic')
    return _build(model, ow)


class Trainer:
    """One model, its optimiser and a synthetic batch; ``step()`` runs one train step."""

    def __init__(self, name: str, cfg, args, device: torch.device, batch: int):
        self.name, self.device, self.args = name, device, args
        self.model = build_model(cfg, device, args.channels_last, args.compile, args.seed)
        self.model.train()
        self.optim = build_optim_wrapper(cfg, self.model, device, args.amp)
        self.batch = synthetic_batch(self.model, batch, image_size(cfg), args.seed)
        # on CPU there is no AmpOptimWrapper: autocast around the whole step instead
        self.cpu_amp = args.amp if device.type == 'cpu' else None
        self.times: List[float] = []

    def step(self, data: Optional[dict] = None) -> float:
        data = self.batch if data is None else data
        sync(self.device)
        t = time.perf_counter()
        with autocast_ctx(self.device, self.cpu_amp):
            self.model.train_step(data, self.optim)
        sync(self.device)
        return time.perf_counter() - t


def interleave(fns: Dict[str, Callable[[], float]], iters: int, warmup: int
               ) -> Dict[str, List[float]]:
    """Run ``fns`` alternately (A B A B ...), ``warmup`` untimed then ``iters`` timed each.

    The order flips every round so neither always runs right after the other.
    """
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times = {n: [] for n in names}
    for r in range(iters):
        for n in (names if r % 2 == 0 else names[::-1]):
            times[n].append(fns[n]())
    return times


# ---------------------------------------------------------------------------- sections
def bench_train(cfgs: Dict[str, object], args, device, batch) -> dict:
    trainers = {n: Trainer(n, c, args, device, batch) for n, c in cfgs.items()}
    reset_peak(device)
    times = interleave({n: t.step for n, t in trainers.items()}, args.iters, args.warmup)
    # the minimum is the least load-sensitive figure on a shared machine; report both
    res = {n: dict(step_ms=median_ms(ts), step_ms_min=1e3 * min(ts),
                   samples_per_s=batch / statistics.median(ts),
                   step_ms_all=[1e3 * t for t in ts]) for n, ts in times.items()}
    res['peak_memory_mb'] = peak_memory_mb(device)
    if device.type == 'cuda':  # per-model peak: one more step each after a reset
        for n, t in trainers.items():
            reset_peak(device)
            t.step()
            res[n]['peak_memory_mb'] = peak_memory_mb(device)
    return res, trainers


def same_graph(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Same module types by name and the same state-dict keys and shapes."""
    ma = [(n, type(m).__name__) for n, m in a.named_modules()]
    mb = [(n, type(m).__name__) for n, m in b.named_modules()]
    sa = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    sb = {k: tuple(v.shape) for k, v in b.state_dict().items()}
    return ma == mb and sa == sb


def bench_infer(cfgs: Dict[str, object], args, device) -> dict:
    """Deployed-model latency at each ``--infer-batch``, interleaved over the configs."""
    models = {n: build_model(c, device, args.channels_last, args.compile, args.seed)
              .deploy().eval() for n, c in cfgs.items()}
    res = {}
    names = list(models)
    if len(names) == 2:
        a, b = (models[n] for n in names)
        res['identical_graph'] = same_graph(a, b)
        if res['identical_graph']:  # a's weights in a fresh baseline -> the same outputs
            b2 = build_model(cfgs[names[1]], device, args.channels_last, False,
                             args.seed + 1).deploy().eval()
            b2.load_state_dict(a.state_dict())
            x = synthetic_batch(a, 2, image_size(cfgs[names[0]]), args.seed)
            with torch.inference_mode():
                ya = a(**a.data_preprocessor(x), mode='tensor')['verts']
                yb = b2(**b2.data_preprocessor(x), mode='tensor')['verts']
            res['identical_outputs'] = bool(torch.equal(ya, yb))
            del b2
    for bs in args.infer_batch:
        batches = {n: m.data_preprocessor(synthetic_batch(m, bs, image_size(cfgs[n]),
                                                          args.seed))
                   for n, m in models.items()}

        def run(n):
            def f():
                sync(device)
                t = time.perf_counter()
                with torch.inference_mode(), autocast_ctx(device, args.amp):
                    models[n](**batches[n], mode='tensor')
                sync(device)
                return time.perf_counter() - t
            return f

        reset_peak(device)
        times = interleave({n: run(n) for n in names}, args.iters, args.warmup)
        res[f'batch{bs}'] = {n: dict(latency_ms=median_ms(ts),
                                     samples_per_s=bs / statistics.median(ts))
                             for n, ts in times.items()}
        res[f'batch{bs}']['peak_memory_mb'] = peak_memory_mb(device)
    return res


def prepare_data_root(args, cfg) -> str:
    """``--data-root`` if it holds a ``train`` split; else synthetic data generated there
    (default folder: ``$TMPDIR/gclhand_bench_<num>_<img_size>_<seed>``), with the config's
    ``synthetic`` settings and ``--data-num`` samples."""
    if args.data_root and osp.isdir(osp.join(args.data_root, 'train', 'anno')):
        return args.data_root
    from gclhand.datasets import ensure_synthetic_dataset
    synth = dict(cfg.train_dataloader.dataset.get('synthetic') or {})
    root = args.data_root or osp.join(
        tempfile.gettempdir(), f'gclhand_bench_{args.data_num}_'
        f"{synth.get('img_size', 256)}_{synth.get('seed', 0)}")
    ensure_synthetic_dataset(root, num_per_split=args.data_num, splits=('train', ),
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


def bench_data(cfg, args, batch: int, data_root: str) -> dict:
    """Loader samples/s per ``num_workers`` (worker start-up reported apart)."""
    res = {}
    n_batches = args.iters * 2
    for w in args.workers:
        loader = build_loader(cfg, data_root, batch, w)
        t0 = time.perf_counter()
        it = iter(loader)
        next(it)  # start-up: workers fork, first batch
        startup = time.perf_counter() - t0
        seen, t = 0, time.perf_counter()
        while seen < n_batches:
            try:
                b = next(it)
            except StopIteration:
                it = iter(loader)  # persistent workers: no restart cost
                continue
            seen += 1
        dt = time.perf_counter() - t
        sps = n_batches * batch / dt
        res[f'workers{w}'] = dict(samples_per_s=sps,
                                  samples_per_s_per_worker=sps / max(w, 1),
                                  startup_s=startup, batches=n_batches)
        del it, loader, b
    return res


def bench_e2e(cfg, args, device, batch: int, data_root: str, trainer: Trainer) -> dict:
    """CONFIG's train step fed by the real loader: data wait vs compute per step."""
    workers = max(args.workers)
    loader = build_loader(cfg, data_root, batch, workers)
    it = iter(loader)
    n = args.e2e_iters or args.iters
    data_t, comp_t = [], []
    for i in range(n + 1):
        t = time.perf_counter()
        try:
            data = next(it)
        except StopIteration:
            it = iter(loader)
            data = next(it)
        td = time.perf_counter() - t
        tc = trainer.step(data)
        if i > 0:  # the first includes worker start-up
            data_t.append(td)
            comp_t.append(tc)
    total = statistics.median([a + b for a, b in zip(data_t, comp_t)])
    return dict(workers=workers, data_ms=median_ms(data_t), compute_ms=median_ms(comp_t),
                samples_per_s=batch / total,
                data_fraction=statistics.median(data_t) / total)


def profile_steps(trainer: Trainer, n: int, row_limit: int = 15) -> dict:
    """torch.profiler over ``n`` train steps: time per phase / module and top operators."""
    from torch.profiler import ProfilerActivity, profile, record_function
    model, optim = trainer.model, trainer.optim
    handles = []

    def pre(name):
        def hook(mod, inp):
            mod._bench_rf = record_function(f'## {name}')
            mod._bench_rf.__enter__()
        return hook

    def post(mod, inp, out):
        mod._bench_rf.__exit__(None, None, None)

    for name in ('data_preprocessor', 'encoder', 'hand_split', 'decoder', 'camera_head'):
        mod = getattr(model, name)
        handles += [mod.register_forward_pre_hook(pre(name)), mod.register_forward_hook(post)]
    patched = []

    def wrap(obj, attr, label):
        fn = getattr(obj, attr)

        def wrapped(*a, **k):
            with record_function(f'## {label}'):
                return fn(*a, **k)
        setattr(obj, attr, wrapped)
        patched.append((obj, attr))

    if getattr(model, 'dgcl', None) is not None:
        wrap(model.dgcl, 'loss', 'dgcl.loss (incl. 2nd decoder pass)')
        for name, mod in model.dgcl.named_children():
            if name != 'key_encoder':  # its copy of the decoder is called via forward
                handles += [mod.register_forward_pre_hook(pre(f'dgcl.{name}')),
                            mod.register_forward_hook(post)]
        if getattr(model.dgcl, 'key_encoder', None) is not None:
            wrap(model.dgcl.key_encoder, 'update', 'dgcl.key_encoder.update (EMA)')
            wrap(model.dgcl.key_encoder, 'forward', 'dgcl.key_encoder (keys)')
    wrap(optim, 'backward', 'backward')
    wrap(optim, 'step', 'optimizer.step')
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                     if trainer.device.type == 'cuda' else [])
    trainer.step()
    try:
        with profile(activities=acts) as prof:
            for _ in range(n):
                trainer.step()
    finally:
        for h in handles:
            h.remove()
        for obj, attr in patched:
            delattr(obj, attr)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    phases = {e.key[3:]: e.cpu_time_total / n / 1e3 for e in events if e.key.startswith('## ')}
    ops = sorted((e for e in events if not e.key.startswith('## ')),
                 key=lambda e: e.self_cpu_time_total, reverse=True)[:row_limit]
    top = [dict(op=e.key, self_ms_per_step=e.self_cpu_time_total / n / 1e3,
                self_pct=100.0 * e.self_cpu_time_total / total) for e in ops]
    return dict(steps=n, phase_ms_per_step=phases, top_ops=top)


# ---------------------------------------------------------------------------- report
def machine_info(device: torch.device) -> dict:
    info = dict(torch=torch.__version__, python=platform.python_version(),
                cpu_count=os.cpu_count(), threads=torch.get_num_threads(),
                platform=platform.platform(), device=str(device))
    if hasattr(os, 'getloadavg'):
        info['loadavg_start'] = os.getloadavg()
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def print_report(r: dict) -> None:
    names = r['names']
    cfg, base = names[0], (names[1] if len(names) > 1 else None)
    print(f"\n== gclhand benchmark: {r['config']} vs {r.get('baseline')}  "
          f"(device {r['machine']['device']}, torch {r['machine']['torch']}, "
          f"{r['machine']['threads']} threads, batch {r['batch']}, amp {r['amp']}, "
          f"load {r['machine'].get('loadavg_start')} -> {r['machine'].get('loadavg_end')})")
    if 'train' in r:
        t = r['train']
        for n in names:
            print(f"train step  {n:<10} {t[n]['step_ms']:9.1f} ms median "
                  f"({t[n]['step_ms_min']:.1f} min)  {t[n]['samples_per_s']:8.1f} samples/s")
        if base:
            print(f"train ratio {cfg}/{base}: {r['ratios']['train_step']:.2f}x median, "
                  f"{r['ratios']['train_step_min']:.2f}x min")
        print(f"peak memory: {t['peak_memory_mb']:.0f} MiB")
    if 'infer' in r:
        i = r['infer']
        if 'identical_graph' in i:
            print(f"deployed graphs identical: {i['identical_graph']}, "
                  f"identical outputs: {i.get('identical_outputs')}")
        for bs in r['infer_batches']:
            row = i[f'batch{bs}']
            s = '  '.join(f"{n} {row[n]['latency_ms']:.1f} ms" for n in names)
            ratio = (f"  ratio {r['ratios'][f'infer_batch{bs}']:.2f}x"
                     if base else '')
            print(f'inference batch {bs:<3} {s}{ratio}')
    if 'data' in r:
        for k, v in r['data'].items():
            print(f"data pipeline {k}: {v['samples_per_s']:.1f} samples/s "
                  f"({v['samples_per_s_per_worker']:.1f} per worker, start-up "
                  f"{v['startup_s']:.1f} s)")
    if 'e2e' in r:
        e = r['e2e']
        print(f"end-to-end ({e['workers']} workers): {e['samples_per_s']:.1f} samples/s, "
              f"data {e['data_ms']:.1f} ms + compute {e['compute_ms']:.1f} ms per step "
              f"(data {100 * e['data_fraction']:.0f}%)")
    if 'profile' in r:
        p = r['profile']
        print(f"profile ({p['steps']} {cfg} steps), ms per step by phase/module:")
        for k, v in sorted(p['phase_ms_per_step'].items(), key=lambda kv: -kv[1]):
            print(f'  {v:9.1f}  {k}')
        print('top operators (self time):')
        for o in p['top_ops']:
            print(f"  {o['self_ms_per_step']:9.1f} ms  {o['self_pct']:5.1f}%  {o['op']}")


def run(args) -> dict:
    register_all_modules()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError('--device cuda but torch.cuda.is_available() is False; use '
                          '--device cpu')
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    cfg = load_config(args.config, args.cfg_options)
    baseline = args.baseline or default_baseline(args.config)
    cfgs = {'config': cfg}
    if baseline.lower() != 'none':
        if not osp.isfile(baseline):
            raise FileNotFoundError(f'baseline config {baseline} not found; pass --baseline '
                                    'CONFIG or --baseline none')
        cfgs['baseline'] = load_config(baseline, args.cfg_options)
    batch = args.batch or int(cfg.train_dataloader.batch_size)
    r = dict(config=args.config, baseline=None if len(cfgs) == 1 else baseline,
             names=list(cfgs), batch=batch, amp=args.amp, compile=args.compile,
             channels_last=args.channels_last, iters=args.iters, warmup=args.warmup,
             infer_batches=args.infer_batch, machine=machine_info(device), ratios={})
    trainers = None
    if 'train' not in args.skip:
        r['train'], trainers = bench_train(cfgs, args, device, batch)
        if 'baseline' in cfgs:
            r['ratios']['train_step'] = r['train']['config']['step_ms'] / \
                r['train']['baseline']['step_ms']
            r['ratios']['train_step_min'] = r['train']['config']['step_ms_min'] / \
                r['train']['baseline']['step_ms_min']
    if 'infer' not in args.skip:
        r['infer'] = bench_infer(cfgs, args, device)
        if 'baseline' in cfgs:
            for bs in args.infer_batch:
                row = r['infer'][f'batch{bs}']
                r['ratios'][f'infer_batch{bs}'] = row['config']['latency_ms'] / \
                    row['baseline']['latency_ms']
    if args.profile:
        tr = trainers['config'] if trainers else Trainer('config', cfg, args, device, batch)
        r['profile'] = profile_steps(tr, args.profile)
    if not {'data', 'e2e'} <= args.skip:
        data_root = prepare_data_root(args, cfg)
        if 'data' not in args.skip:
            r['data'] = bench_data(cfg, args, batch, data_root)
        if 'e2e' not in args.skip:
            tr = trainers['config'] if trainers else Trainer('config', cfg, args, device, batch)
            r['e2e'] = bench_e2e(cfg, args, device, batch, data_root, tr)
    if hasattr(os, 'getloadavg'):
        r['machine']['loadavg_end'] = os.getloadavg()
    return r


def main(argv=None) -> dict:
    args = parse_args(argv)
    r = run(args)
    print_report(r)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(r, f, indent=1)
        print(f'results written to {args.json}')
    return r


if __name__ == '__main__':
    sys.exit(run_tool(main))
