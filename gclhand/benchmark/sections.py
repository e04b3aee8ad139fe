"""The measured sections: train step, deployed inference, data pipeline, end to end.

Each takes the run's :class:`~gclhand.benchmark.BenchmarkSettings` and returns a dict of
figures; configs are measured *interleaved* (A B A B ...) so machine load hits all alike.
"""
import statistics
import time
from typing import Dict, List, Optional

import torch

from .inputs import build_loader, build_model, build_optim_wrapper, image_size
from .inputs import synthetic_batch
from .timing import clock_fn, interleave, median_ms, peak_memory_mb, reset_peak, sync


class Trainer:
    """One model, its optimiser and a synthetic batch; ``step()`` runs one train step.

    ``model``: an already built model of ``cfg`` to train (default: build one).
    """

    def __init__(self, name: str, cfg, settings, device: torch.device, batch: int,
                 model: Optional[torch.nn.Module] = None):
        self.name, self.device, self.settings = name, device, settings
        self.model = model if model is not None else build_model(
            cfg, device, settings.channels_last, settings.compile, settings.seed)
        self.model.train()
        self.optim = build_optim_wrapper(cfg, self.model, device, settings.amp)
        self.batch = self.make_batch(cfg, batch)
        self.times: List[float] = []

    def make_batch(self, cfg, batch: int) -> dict:
        return synthetic_batch(self.model, batch, image_size(cfg), self.settings.seed)

    def step(self, data: Optional[dict] = None) -> float:
        """One timed train step (seconds on the settings' clock)."""
        data = self.batch if data is None else data
        sync(self.device)
        clock = clock_fn(getattr(self.settings, 'clock', 'wall'))
        t = clock()
        self.train_once(data)
        sync(self.device)
        return clock() - t

    def train_once(self, data: dict) -> None:
        self.model.train_step(data, self.optim)


class EncoderTrainer(Trainer):
    """The config's encoder alone, trained on the same preprocessed images: forward, a
    scalar of its feature maps, backward and the config's optimiser update.  The reference
    the step-cost goals are ratios to ("DGCL step <= 2.5x the encoder's forward + backward
    at the same batch"): what a model with this encoder costs at least.
    """

    def __init__(self, cfg, settings, device: torch.device, batch: int):
        self.full = build_model(cfg, device, settings.channels_last, settings.compile,
                                settings.seed)
        super().__init__('encoder', cfg, settings, device, batch, model=self.full.encoder)
        self.inputs = self.batch['inputs']
        del self.full  # only the encoder is timed

    def make_batch(self, cfg, batch: int) -> dict:
        # the full model's preprocessed images (the encoder has no data preprocessor)
        return self.full.data_preprocessor(synthetic_batch(
            self.full, batch, image_size(cfg), self.settings.seed), True)

    def train_once(self, data: dict) -> None:
        with self.optim.optim_context(self.model):
            loss = sum(f.float().mean() for f in self.model(data['inputs']))
        self.optim.update_params(loss)


def bench_train(cfgs: Dict[str, object], settings, device, batch) -> dict:
    """Train steps of each config and, with ``settings.encoder_reference``, of the first
    config's encoder alone (``'encoder'``), interleaved."""
    trainers = {n: Trainer(n, c, settings, device, batch) for n, c in cfgs.items()}
    steppers = {n: t.step for n, t in trainers.items()}
    if getattr(settings, 'encoder_reference', False):
        steppers['encoder'] = EncoderTrainer(next(iter(cfgs.values())), settings, device,
                                             batch).step
    reset_peak(device)
    times = interleave(steppers, settings.iters, settings.warmup)
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
    """Deployed-model latency at each ``--infer-batch``, interleaved over the configs and
    the references of :mod:`gclhand.benchmark.inference` (see there)."""
    from .inference import bench_inference
    return bench_inference(cfgs, settings, device)


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


__all__ = ['EncoderTrainer', 'Trainer', 'bench_data', 'bench_e2e', 'bench_infer', 'bench_train']
