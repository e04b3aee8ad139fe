"""MMEngine's ``EMAHook`` on a real HandDGCL run: it trains, tests and resumes exactly.

The hook deep-copies the model (``ExponentialMovingAverage``); the shared hand model inside
it must survive that (it once held a lock that could not be copied, and the hook crashed in
``before_run``).  A checkpoint written with the hook holds the averaged weights under
``state_dict`` (what ``tools/test.py`` evaluates) and the raw ones under ``ema_state_dict``;
``--resume`` swaps them back, so a resumed run ends with the uninterrupted run's weights.
"""
import torch
from reliability_utils import dump_cfg, iter_losses, run_train, tiny_cfg

from gclhand.engine import checkpoint_safe_globals

EMA_HOOKS = [dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=0.25,
                  update_buffers=True, priority=49)]


def _load(path):
    with checkpoint_safe_globals():
        return torch.load(path, map_location='cpu')


def test_ema_hook_trains_and_resumes_exactly(tmp_path, synth_root, tool_env):
    cfg = tiny_cfg(synth_root, max_epochs=2, val_interval=2,
                   extra={'custom_hooks': EMA_HOOKS})
    cfg_path = dump_cfg(cfg, tmp_path / 'cfg.py')
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run_train(cfg_path, straight, tool_env)
    run_train(cfg_path, resumed, tool_env, '--cfg-options', 'train_cfg.max_epochs=1')
    run_train(cfg_path, resumed, tool_env, '--resume')

    a, b = _load(resumed / 'epoch_2.pth'), _load(straight / 'epoch_2.pth')
    # the averaged weights are what the checkpoint evaluates, and they are not the raw ones
    averaged, raw = b['state_dict'], b['ema_state_dict']
    weight = 'hand_split.weight2'
    assert not torch.equal(averaged[weight], raw[f'module.{weight}'])
    for key, value in b['ema_state_dict'].items():
        assert torch.equal(a['ema_state_dict'][key], value), key
    for key, value in averaged.items():
        assert torch.equal(a['state_dict'][key], value), key
    got, ref = iter_losses(resumed), iter_losses(straight)
    assert got[8] == ref[8]
