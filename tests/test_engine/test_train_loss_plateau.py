"""TrainLossPlateauLR + TrainLossParamSchedulerHook: the paper's lr decay on a train-loss plateau."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import OptimWrapper

from gclhand.engine.hooks import TrainLossParamSchedulerHook, TrainLossPlateauLR


def make_runner(patience=1, threshold=1e-4):
    param = torch.nn.Parameter(torch.zeros(1))
    optim = OptimWrapper(torch.optim.Adam([param], lr=1e-4))
    sched = TrainLossPlateauLR(optim, monitor='train/loss', rule='less', factor=0.5,
                               patience=patience, threshold=threshold, threshold_rule='abs',
                               min_value=1e-6, by_epoch=True)
    return SimpleNamespace(param_schedulers=[sched], optim_wrapper=optim), optim


def run_epoch(hook, runner, losses):
    hook.before_train_epoch(runner)
    for i, loss in enumerate(losses):
        hook.after_train_iter(runner, i, None, dict(loss=torch.tensor(loss)))
    hook.after_train_epoch(runner)


def lr(optim):
    return optim.param_groups[0]['lr']


def test_lr_halves_after_patience_epochs_without_improvement():
    runner, optim = make_runner(patience=1)
    hook = TrainLossParamSchedulerHook()
    run_epoch(hook, runner, [2.0, 1.0])          # mean 1.5: first value is the best
    run_epoch(hook, runner, [1.0, 1.0])          # 1.0: improved by 0.5
    assert lr(optim) == pytest.approx(1e-4)
    run_epoch(hook, runner, [1.0, 1.00005])      # improvement < 1e-4 (abs): bad epoch 1
    assert lr(optim) == pytest.approx(1e-4)
    run_epoch(hook, runner, [1.0, 1.0])          # bad epoch 2 > patience 1 -> halve
    assert lr(optim) == pytest.approx(5e-5)


def test_non_finite_steps_do_not_enter_the_mean():
    runner, optim = make_runner(patience=0)
    hook = TrainLossParamSchedulerHook()
    run_epoch(hook, runner, [1.0])
    run_epoch(hook, runner, [0.5, float('nan'), float('inf')])  # mean of finite = 0.5
    assert lr(optim) == pytest.approx(1e-4)
    assert runner.param_schedulers[0].best == pytest.approx(0.5)


def test_validation_metrics_do_not_step_it():
    runner, optim = make_runner(patience=0)
    hook = TrainLossParamSchedulerHook()
    sched = runner.param_schedulers[0]
    before = (sched.last_step, sched.num_bad_epochs, sched.best)
    # ParamSchedulerHook.after_val_epoch only steps schedulers that need val args; a
    # stock ReduceOnPlateauLR would raise KeyError here (no 'train/loss' in the metrics)
    hook.after_val_epoch(runner, metrics={'intaghand/mpjpe': 10.0})
    assert (sched.last_step, sched.num_bad_epochs, sched.best) == before
    assert lr(optim) == pytest.approx(1e-4)
    assert TrainLossPlateauLR.need_val_args is False
