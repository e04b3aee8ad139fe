"""Validation does not shift the training run's random streams (exact resume needs it)."""
import random

import numpy as np
import torch
from reliability_utils import tiny_cfg
from mmengine.runner import Runner

from gclhand.engine.hooks import EvalRNGIsolationHook
from gclhand.apis import register_all_modules


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def _validate(loader):
    for _ in loader:  # iterator creation draws the loader's base seed from torch
        pass


def test_validation_consumes_rng_and_the_hook_restores_it(synth_root):
    register_all_modules()
    cfg = tiny_cfg(synth_root)
    loader = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    expected = _draws()

    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    _validate(loader)
    assert _draws() != expected  # the gap: a resumed run (no validation) would differ

    hook = EvalRNGIsolationHook()
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    hook.before_val(None)
    _validate(loader)
    random.random(), np.random.rand()  # e.g. random test-time transforms
    hook.after_val(None)
    assert _draws() == expected


def test_runner_registers_guard_hooks_by_default():
    from gclhand.engine import GCLHandRunner
    from gclhand.engine.hooks import NonFiniteGuardHook
    runner = GCLHandRunner.__new__(GCLHandRunner)
    runner._hooks = []
    GCLHandRunner.register_hooks(runner, default_hooks=dict(), custom_hooks=[
        dict(type='NonFiniteGuardHook', max_consecutive=3)])
    kinds = [type(h).__name__ for h in runner.hooks]
    assert kinds.count('EvalRNGIsolationHook') == 1 and kinds.count('NonFiniteGuardHook') == 1
    guard = next(h for h in runner.hooks if isinstance(h, NonFiniteGuardHook))
    assert guard.max_consecutive == 3  # the config's instance, not a second default one
