"""A tiny model, dataset, metric and hooks for testing the tools and the engine.

What is under test is the launch / checkpoint machinery, not a model, so the model is a
2-layer regressor with dropout (dropout makes a resume that loses the RNG state diverge).
Imported by the toy config through ``custom_imports`` (PYTHONPATH must hold this folder).
"""
import json
import os
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from gclhand.registry import DATASETS, HOOKS, LOSSES, METRICS, MODELS
from gclhand.utils import build_component


@DATASETS.register_module(force=True)
class ToyRegressionDataset(Dataset):
    """``num_samples`` fixed pairs ``x (4,) -> y = x.sum()`` plus the sample index."""

    def __init__(self, num_samples: int = 16) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(num_samples, 4, generator=g)
        self.metainfo = dict(name='toy')

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.x[idx], target=self.x[idx].sum(), idx=idx)


class PoisonNaN(nn.Module):
    """Turns its input into NaN (``ToyRegressor(poison=True)``: every loss is non-finite)."""

    def forward(self, x):
        return x * float('nan')


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """``Linear(4, 8) -> ReLU -> Dropout -> Linear(8, 1)``; L2 loss on the target.

    ``aux`` (optional) is built from gclhand's ``LOSSES`` with ``build_component`` as the
    real estimator builds its parts, so its errors reach the tools the same way.
    """

    def __init__(self, dropout: float = 0.5, aux=None, data_preprocessor=None,
                 poison: bool = False) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 1))
        self.aux = build_component(LOSSES, aux, key='model.aux')
        self.poison = PoisonNaN() if poison else None

    def forward(self, inputs, target=None, idx=None, mode='tensor'):
        x = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
        if self.poison is not None:
            x = self.poison(x)
        pred = self.net(x).squeeze(-1)
        if mode == 'loss':
            t = torch.stack(list(target)) if isinstance(target, (list, tuple)) else target
            return dict(loss=((pred - t)**2).mean())
        if mode == 'predict':
            t = torch.stack(list(target)) if isinstance(target, (list, tuple)) else target
            return [dict(sample_idx=int(i), err=float((p - y).abs()))
                    for i, p, y in zip(idx, pred, t)]
        return pred


@METRICS.register_module(force=True)
class ToyMAE(BaseMetric):
    """Mean absolute error; per-sample results carry ``sample_idx``."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(mae=sum(r['err'] for r in results) / len(results))


@HOOKS.register_module(force=True)
class RecordIndicesHook(Hook):
    """Write the sample indices each rank trained on to ``work_dir/seen_rank{r}.json``."""

    def before_train(self, runner) -> None:
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.seen.extend(int(i) for i in data_batch['idx'])

    def after_train(self, runner) -> None:
        rank = get_rank()
        print(f'rank {rank} trained on sample indices {self.seen}', flush=True)
        with open(osp.join(runner.work_dir, f'seen_rank{rank}.json'), 'w') as f:
            json.dump(self.seen, f)


@HOOKS.register_module(force=True)
class KillDuringSaveHook(Hook):
    """Simulate ``kill -9`` halfway through writing the checkpoint of epoch ``epoch``.

    The file write of that save puts half of the bytes on disk and ends the process with
    ``os._exit`` (no ``finally`` blocks, no clean-up), as a kill or power cut would.
    """

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if checkpoint['meta']['epoch'] != self.epoch:
            return

        def put_half_then_die(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            os._exit(17)

        LocalBackend.put = put_half_then_die  # this process is about to die anyway
