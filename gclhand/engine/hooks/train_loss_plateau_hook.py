"""Learning-rate decay on a plateau of the *training* loss (HandDGCL section 4.1)."""
from typing import Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import ParamSchedulerHook
from mmengine.optim.scheduler import ReduceOnPlateauLR

from gclhand.registry import HOOKS, PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class TrainLossPlateauLR(ReduceOnPlateauLR):
    """:class:`~mmengine.optim.ReduceOnPlateauLR` stepped with the epoch's training loss.

    The paper halves the learning rate "when the training loss decreases less than 1e-4
    continuously in 4 epochs" (min 1e-6). MMEngine steps plateau schedulers with
    *validation* metrics only, so this subclass opts out of that
    (``need_val_args = False``) and :class:`TrainLossPlateauHook` steps it after every
    training epoch with ``{'train/loss': mean loss of the epoch over all ranks}``.
    Use ``monitor='train/loss'``, ``threshold_rule='abs'`` for the paper's recipe.
    """

    need_val_args = False


@HOOKS.register_module()
class TrainLossParamSchedulerHook(ParamSchedulerHook):
    """MMEngine's :class:`~mmengine.hooks.ParamSchedulerHook` that also feeds the epoch-mean
    training loss to every :class:`TrainLossPlateauLR`.

    The mean is taken over the epoch's iterations (non-finite, skipped steps excluded) and
    all-reduced across ranks, so every rank decays its learning rate at the same epoch.
    With no :class:`TrainLossPlateauLR` configured it behaves exactly like its parent, so
    the default runtime uses it in place of ``ParamSchedulerHook``.
    """

    def __init__(self, key: str = 'loss'):
        super().__init__()
        self.key = key
        self._sum = 0.0
        self._count = 0

    def before_train_epoch(self, runner) -> None:
        self._sum, self._count = 0.0, 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if outputs and self.key in outputs:
            value = outputs[self.key]
            value = float(value.detach() if torch.is_tensor(value) else value)
            if value == value and abs(value) != float('inf'):  # skipped non-finite steps
                self._sum += value
                self._count += 1

    def after_train_epoch(self, runner) -> None:
        super().after_train_epoch(runner)
        stats = torch.tensor([self._sum, float(self._count)], dtype=torch.float64)
        if get_world_size() > 1:
            all_reduce(stats, op='sum')
        if stats[1] == 0:
            return
        metrics = {'train/loss': float(stats[0] / stats[1])}
        schedulers = runner.param_schedulers or []
        if isinstance(schedulers, dict):
            schedulers = [s for group in schedulers.values() for s in group]
        for scheduler in schedulers:
            if isinstance(scheduler, TrainLossPlateauLR):
                scheduler.step(metrics)
