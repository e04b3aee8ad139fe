"""The measured sections: train step, deployed inference, data pipeline, end to end.

Each takes the run's :class:`~gclhand.benchmark.BenchmarkSettings` and returns a dict of
figures; configs are measured *interleaved* (A B A B ...) so machine load hits all alike.
"""
import statistics
import time
from typing import Dict, List, Optional

import torch

from .inputs import build_loader, build_model, build_optim_wrapper, image_size, same_graph
from .inputs import synthetic_batch
from .timing import autocast_ctx, interleave, median_ms, peak_memory_mb, reset_peak, sync


class Trainer:
    """One model, its optimiser and a synthetic batch; ``step()`` runs one train step."""

    def __init__(self, name: str, cfg, settings, device: torch.device, batch: int):
        self.name, self.device, self.settings = name, device, settings
        self.model = build_model(cfg, device, settings.channels_last, settings.compile,
                                 settings.seed)
        self.model.train()
        self.optim = build_optim_wrapper(cfg, self.model, device, settings.amp)
        self.batch = synthetic_batch(self.model, batch, image_size(cfg), settings.seed)
        # on CPU there is no AmpOptimWrapper: autocast around the whole step instead
        self.cpu_amp = settings.amp if device.type == 'cpu' else None
        self.times: List[float] = []

    def step(self, data: Optional[dict] = None) -> float:
        data = self.batch if data is None else data
        sync(self.device)
        t = time.perf_counter()
        with autocast_ctx(self.device, self.cpu_amp):
            self.model.train_step(data, self.optim)
        sync(self.device)
        return time.perf_counter() - t


def bench_train(cfgs: Dict[str, object], settings, device, batch) -> dict:
    trainers = {n: Trainer(n, c, settings, device, batch) for n, c in cfgs.items()}
    reset_peak(device)
    times = interleave({n: t.step for n, t in trainers.items()}, settings.iters, settings.warmup)
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


def bench_infer(cfgs: Dict[str, object], settings, device) -> dict:
    """Deployed-model latency at each ``--infer-batch``, interleaved over the configs."""
    models = {n: build_model(c, device, settings.channels_last, settings.compile, settings.seed)
              .deploy().eval() for n, c in cfgs.items()}
    res = {}
    names = list(models)
    if len(names) == 2:
        a, b = (models[n] for n in names)
        res['identical_graph'] = same_graph(a, b)
        if res['identical_graph']:  # a's weights in a fresh baseline -> the same outputs
            b2 = build_model(cfgs[names[1]], device, settings.channels_last, False,
                             settings.seed + 1).deploy().eval()
            b2.load_state_dict(a.state_dict())
            x = synthetic_batch(a, 2, image_size(cfgs[names[0]]), settings.seed)
            with torch.inference_mode():
                ya = a(**a.data_preprocessor(x), mode='tensor')['verts']
                yb = b2(**b2.data_preprocessor(x), mode='tensor')['verts']
            res['identical_outputs'] = bool(torch.equal(ya, yb))
            del b2
    for bs in settings.infer_batch:
        batches = {n: m.data_preprocessor(synthetic_batch(m, bs, image_size(cfgs[n]),
                                                          settings.seed))
                   for n, m in models.items()}

        def run(n):
            def f():
                sync(device)
                t = time.perf_counter()
                with torch.inference_mode(), autocast_ctx(device, settings.amp):
                    models[n](**batches[n], mode='tensor')
                sync(device)
                return time.perf_counter() - t
            return f

        reset_peak(device)
        times = interleave({n: run(n) for n in names}, settings.iters, settings.warmup)
        res[f'batch{bs}'] = {n: dict(latency_ms=median_ms(ts),
                                     samples_per_s=bs / statistics.median(ts))
                             for n, ts in times.items()}
        res[f'batch{bs}']['peak_memory_mb'] = peak_memory_mb(device)
    return res


def bench_data(cfg, settings, batch: int, data_root: str) -> dict:
    """Loader samples/s per ``num_workers`` (worker start-up reported apart)."""
    res = {}
    n_batches = settings.iters * 2
    for w in settings.workers:
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


def bench_e2e(cfg, settings, device, batch: int, data_root: str, trainer: Trainer) -> dict:
    """CONFIG's train step fed by the real loader: data wait vs compute per step."""
    workers = max(settings.workers)
    loader = build_loader(cfg, data_root, batch, workers)
    it = iter(loader)
    n = settings.e2e_iters or settings.iters
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


__all__ = ['Trainer', 'bench_data', 'bench_e2e', 'bench_infer', 'bench_train']
