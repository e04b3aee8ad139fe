"""TrainLossPlateauLR + TrainLossParamSchedulerHook: the paper's lr decay on a train-loss plateau."""
import os.path as osp
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import OptimWrapper

from gclhand.engine.hooks import TrainLossParamSchedulerHook, TrainLossPlateauLR

RELIABILITY_TESTS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_reliability')
if RELIABILITY_TESTS not in sys.path:
    sys.path.insert(0, RELIABILITY_TESTS)
from reliability_utils import run_gloo_ranks  # noqa: E402


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


def test_the_monitored_value_is_the_epoch_mean():
    """The scheduler sees sum / count of the epoch's losses (its first value is its best),
    python floats and tensors alike, and a new epoch starts from zero."""
    runner, optim = make_runner(patience=5)
    hook = TrainLossParamSchedulerHook()
    run_epoch(hook, runner, [1.0, 2.0, 3.0, 6.0])
    assert runner.param_schedulers[0].best == pytest.approx(3.0)
    hook.before_train_epoch(runner)
    for i, loss in enumerate([0.5, 1.5]):
        hook.after_train_iter(runner, i, None, dict(loss=loss))  # a float, not a tensor
    hook.after_train_epoch(runner)
    assert runner.param_schedulers[0].best == pytest.approx(1.0)  # not (12 + 2) / 6
    # an epoch without a loss (outputs without the key) does not step the scheduler
    before = runner.param_schedulers[0].last_step
    hook.before_train_epoch(runner)
    hook.after_train_iter(runner, 0, None, dict(other=torch.tensor(9.0)))
    hook.after_train_iter(runner, 1, None, None)
    hook.after_train_epoch(runner)
    assert runner.param_schedulers[0].last_step == before


def test_schedulers_of_several_optimisers_are_all_stepped():
    """``runner.param_schedulers`` is a dict of lists with one optimiser per model part."""
    (a, optim_a), (b, optim_b) = make_runner(patience=0), make_runner(patience=0)
    runner = SimpleNamespace(param_schedulers=dict(encoder=a.param_schedulers,
                                                   decoder=b.param_schedulers))
    hook = TrainLossParamSchedulerHook()
    run_epoch(hook, runner, [1.0])
    run_epoch(hook, runner, [1.0])  # no improvement, patience 0: both halve
    assert lr(optim_a) == pytest.approx(5e-5) and lr(optim_b) == pytest.approx(5e-5)


def _plateau_rank(rank, world_size, queue):
    runner, _ = make_runner(patience=5)
    run_epoch(TrainLossParamSchedulerHook(), runner, [[1.0, 1.0], [4.0]][rank])
    queue.put((rank, runner.param_schedulers[0].best))


def test_every_rank_sees_the_mean_over_all_ranks():
    """Rank 0 logs 1, 1 and rank 1 logs 4: both schedulers see (1 + 1 + 4) / 3 = 2, so
    every rank decays its learning rate at the same epoch."""
    assert run_gloo_ranks(_plateau_rank) == [(0, pytest.approx(2.0)), (1, pytest.approx(2.0))]
