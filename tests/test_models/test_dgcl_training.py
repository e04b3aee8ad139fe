"""DGCLNet inside the estimator, with MMEngine's optimiser wrapper and hooks: its
momentum encoder and queues advance once per optimiser step (issue 18.8), under
``TwoHandEstimator.train_step`` and under wrappers that bypass it (``DGCLStepHook``).

Kept apart from test_dgcl.py: these build the tiny estimator (seconds), the unit tests do
not (the mutation-testing run selects the unit tests).
"""
import types

import torch
from mmengine.optim import OptimWrapper

from gclhand.engine.hooks import DGCLStepHook
from test_dgcl import one_thread  # noqa: F401
from test_estimator import build as build_estimator
from test_estimator import make_batch


def estimator_with_dgcl():
    return build_estimator(dgcl=dict(
        type='DGCLNet', disturber=dict(type='FeatureNoise', sigma=0.1),
        projector=dict(type='GraphReadoutProjector', hidden_channels=8, out_channels=4),
        self_queue=dict(type='FeatureQueue', size=32),
        consistency=dict(type='ConsistencyHead'),
        pool=dict(type='FeaturePosePool', size=32),
        key_encoder=dict(type='MomentumKeyEncoder', momentum=0.5),
        cross_contrast=dict(type='CrossContrastHead')))


def test_gradient_accumulation_advances_dgcl_once_per_optimizer_step():
    """With accumulative_counts=2 the momentum update and the enqueue happen at every second
    train_step, when the optimiser steps (issue 18.8), with the step's two micro-batches."""
    model = estimator_with_dgcl()
    dgcl = model.dgcl
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    key_w = dgcl.key_encoder.ema.module['decoder'].head_weight
    online_w = model.decoder.head_weight
    steps0 = int(dgcl.key_encoder.ema.steps)
    fills, ema_steps = [], []
    for i in range(4):
        before = key_w.clone()
        model.train_step(make_batch(model, seed=i), wrapper)
        fills.append((int(dgcl.self_queue.num_filled), int(dgcl.pool.num_filled)))
        ema_steps.append(int(dgcl.key_encoder.ema.steps) - steps0)
        if i % 2 == 0:  # no optimiser step: the key encoder did not move
            assert torch.equal(key_w, before)
        else:  # one momentum step towards the updated online decoder (m = 0.5)
            torch.testing.assert_close(key_w, 0.5 * before + 0.5 * online_w.detach())
    # 2 images = 4 hands per micro-batch, 8 per optimiser step
    assert fills == [(0, 0), (8, 8), (8, 8), (16, 16)]
    assert ema_steps == [0, 1, 1, 2]


def test_step_hook_covers_wrappers_that_bypass_train_step():
    """MMEngine's DDP wrapper runs forward + update_params itself; DGCLStepHook steps DGCL."""
    model = estimator_with_dgcl()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    runner = types.SimpleNamespace(model=model, optim_wrapper=wrapper)
    hook = DGCLStepHook()

    def wrapper_train_step(seed):  # what MMDistributedDataParallel.train_step does
        data = model.data_preprocessor(make_batch(model, seed=seed), True)
        parsed, log_vars = model.parse_losses(model(**data, mode='loss'))
        wrapper.update_params(parsed)
        return log_vars

    hook.after_train_iter(runner, 0, outputs=wrapper_train_step(0))
    assert int(model.dgcl.pool.num_filled) == 4 and int(model.dgcl.self_queue.num_filled) == 4
    wrapper_train_step(1)
    hook.after_train_iter(runner, 1, outputs=dict(nonfinite_skipped=torch.ones(())))
    hook.after_train_iter(runner, 1, outputs=dict(loss=torch.ones(())))  # nothing pending
    assert int(model.dgcl.pool.num_filled) == 4
    # a model without DGCL is left alone
    hook.after_train_iter(types.SimpleNamespace(model=torch.nn.Linear(1, 1)), 0)


def test_step_hook_unwraps_the_model_and_waits_for_the_optimizer_step():
    """Under a model wrapper (``runner.model.module``) and gradient accumulation the hook
    steps DGCL only when the optimiser steps (``should_update()``), with both
    micro-batches' entries; a DGCL module without ``step`` is left alone."""
    model = estimator_with_dgcl()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    runner = types.SimpleNamespace(model=torch.nn.DataParallel(model), optim_wrapper=wrapper)
    hook = DGCLStepHook()
    fills = []
    for i in range(2):
        data = model.data_preprocessor(make_batch(model, seed=i), True)
        with wrapper.optim_context(model):
            parsed, log_vars = model.parse_losses(model(**data, mode='loss'))
        wrapper.update_params(parsed)
        hook.after_train_iter(runner, i, outputs=log_vars)
        fills.append(int(model.dgcl.pool.num_filled))
    assert fills == [0, 8]  # 4 hands a micro-batch, enqueued together at the step
    no_step = types.SimpleNamespace(decoder=None, dgcl=torch.nn.Identity())
    hook.after_train_iter(types.SimpleNamespace(model=no_step, optim_wrapper=wrapper), 0,
                          outputs=dict(loss=torch.ones(())))
