"""GCLHandRunner and AtomicCheckpointHook in one process (world size 1)."""
import copy
import os
import os.path as osp
import sys

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.model import MMDistributedDataParallel

from gclhand.engine import GCLHandRunner, build_runner
from gclhand.apis import register_all_modules
from gclhand.utils.dist import init_dist

TOOLS_TESTS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_tools')
if TOOLS_TESTS not in sys.path:
    sys.path.insert(0, TOOLS_TESTS)


@pytest.fixture
def toy_cfg(tmp_path):
    cfg = Config.fromfile(osp.join(TOOLS_TESTS, 'configs', 'toy_train.py'))
    register_all_modules()
    cfg.work_dir = str(tmp_path)
    cfg.custom_hooks = []
    return cfg


class Interrupted(Exception):
    pass


@pytest.mark.parametrize('hook_type', ['AtomicCheckpointHook', 'CheckpointHook'])
def test_interrupted_save_keeps_previous_checkpoint(toy_cfg, monkeypatch, hook_type):
    """With max_keep_ckpts=1 MMEngine's hook deletes epoch_1.pth before writing epoch_2.pth;
    an interruption in that write leaves nothing to resume from. Ours keeps it."""
    toy_cfg.default_hooks.checkpoint.type = hook_type
    runner = build_runner(toy_cfg)
    assert isinstance(runner, GCLHandRunner)
    put = LocalBackend.put

    def half_put(backend, obj, filepath):
        if 'epoch_2' in osp.basename(filepath):
            put(backend, obj[:len(obj) // 2], filepath)
            raise Interrupted
        put(backend, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', half_put)
    with pytest.raises(Interrupted):
        runner.train()
    work_dir = toy_cfg.work_dir
    last = open(osp.join(work_dir, 'last_checkpoint')).read()
    assert last == osp.join(work_dir, 'epoch_1.pth')
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))  # never a partial file
    assert [f for f in os.listdir(work_dir) if '.tmp-' in f] == []  # removed on the way out
    if hook_type == 'CheckpointHook':
        assert not osp.exists(last)  # MMEngine's order lost the only checkpoint
    else:
        assert runner.load_checkpoint(last)['meta']['epoch'] == 1


def test_cpu_ddp_with_gloo_in_one_process(toy_cfg, monkeypatch):
    """launcher='pytorch' on CPU: gloo group, DDP wrapper without device_ids."""
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1', MASTER_PORT='29731').items():
        monkeypatch.setenv(key, value)
    cfg = copy.deepcopy(toy_cfg)
    cfg.launcher = 'pytorch'
    cfg.train_cfg.max_epochs = 1
    try:
        runner = build_runner(cfg)
        assert torch_dist.get_backend() == 'gloo'
        assert isinstance(runner.model, MMDistributedDataParallel)
        assert runner.model.device_ids is None
        runner.train()
        assert init_dist('pytorch') == 'gloo'  # already initialised: a no-op
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))


def test_init_dist_rejects_none_launcher():
    with pytest.raises(ValueError, match="launcher must be one of"):
        init_dist('none')


def test_missing_checkpoint_is_named(toy_cfg):
    runner = build_runner(toy_cfg)
    with pytest.raises(FileNotFoundError, match='checkpoint nothing.pth not found'):
        runner.load_checkpoint('nothing.pth')
    assert torch.get_num_threads() >= 1
