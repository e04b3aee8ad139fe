"""GCLHandRunner and AtomicCheckpointHook in one process (world size 1)."""
import copy
import logging
import os
import os.path as osp

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.model import MMDistributedDataParallel

from gclhand.engine import GCLHandRunner, build_runner
from gclhand.utils.dist import init_dist


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


def _load(path):
    from gclhand.engine.checkpoint import checkpoint_safe_globals
    with checkpoint_safe_globals():
        return torch.load(path, map_location='cpu')


def test_saved_checkpoint_holds_what_an_exact_resume_needs(toy_cfg):
    """What ``save_checkpoint`` writes by default: model, optimiser and scheduler states,
    the generators' states at the moment of saving and the sampler's seed; MMEngine's own
    arguments (``save_optimizer``, ``by_epoch``, ``meta``) still pass through."""
    import random

    import numpy as np
    from test_checkpoint_utils import draws

    from gclhand.engine.checkpoint import set_rng_state
    toy_cfg.train_cfg.max_epochs = 1
    runner = build_runner(toy_cfg)
    runner.train()
    sampler_seed = runner.train_dataloader.sampler.seed
    out = toy_cfg.work_dir
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    runner.save_checkpoint(out, 'defaults.pth')
    expected = draws()
    ckpt = _load(osp.join(out, 'defaults.pth'))
    assert {'state_dict', 'optimizer', 'param_schedulers', 'message_hub'} <= set(ckpt)
    assert ckpt['meta']['sampler_seed'] == sampler_seed
    assert ckpt['meta']['epoch'] == 2  # by_epoch: the epoch a resume starts (1 done + 1)
    rng = ckpt['meta']['rng_states']
    assert isinstance(rng, list) and len(rng) == 1 and set(rng[0]) >= {'python', 'numpy',
                                                                        'torch'}
    set_rng_state(rng[0])  # the generators as they were when the file was written
    assert draws() == expected
    runner.save_checkpoint(out, 'lean.pth', save_optimizer=False, save_param_scheduler=False,
                           by_epoch=False, meta=dict(note='kept', sampler_seed=-1))
    lean = _load(osp.join(out, 'lean.pth'))
    assert 'optimizer' not in lean and 'param_schedulers' not in lean
    assert lean['meta']['note'] == 'kept' and lean['meta']['sampler_seed'] == -1
    assert lean['meta']['epoch'] == 1 and 'rng_states' in lean['meta']
    assert sorted(f for f in os.listdir(out) if f.endswith('.pth')) == [
        'defaults.pth', 'epoch_1.pth', 'lean.pth']


def test_resume_restores_the_sampler_seed_of_the_checkpoint(toy_cfg, tmp_path):
    """A run resumed under another seed shuffles as the interrupted run did: its sampler,
    built before the checkpoint was read, takes the saved seed; persistent loader workers
    (which restart with fresh random streams) are warned about."""
    toy_cfg.train_cfg.max_epochs = 1
    first = build_runner(copy.deepcopy(toy_cfg))
    first.train()
    saved_seed = first.train_dataloader.sampler.seed
    cfg = copy.deepcopy(toy_cfg)
    cfg.work_dir = str(tmp_path / 'resumed')
    cfg.randomness = dict(seed=1)
    cfg.train_dataloader.update(num_workers=1, persistent_workers=True)
    cfg.resume, cfg.load_from = True, osp.join(toy_cfg.work_dir, 'epoch_1.pth')
    cfg.log_level = 'INFO'
    resumed, messages = _train_logged(cfg)  # builds the loop (a new sampler seed), resumes
    assert resumed.train_dataloader.sampler.seed == saved_seed
    assert f'restored the train sampler seed {saved_seed} from the checkpoint' in messages
    assert 'restored the python/numpy/torch RNG state from the checkpoint' in messages
    assert ('train_dataloader.persistent_workers=True: the data-loader workers restart with '
            'fresh random streams at resume, so random augmentations differ from an '
            'uninterrupted run; set persistent_workers=False for a bit-exact resume') in messages
    cfg.work_dir = str(tmp_path / 'resumed_again')
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    _, messages = _train_logged(cfg)
    assert not any('persistent_workers' in m for m in messages)


def _train_logged(cfg):
    """Build and train a runner; also return its log messages (a handler on its logger,
    not capsys: an MMLogger may outlive the stream it was made with)."""
    runner = build_runner(cfg)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    runner.logger.addHandler(handler)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(handler)
    return runner, [r.getMessage() for r in records]


def test_load_checkpoint_is_not_strict_by_default(toy_cfg, tmp_path):
    """As MMEngine's: a checkpoint missing some of the model's keys loads what it has;
    ``strict=True`` refuses it."""
    runner = build_runner(toy_cfg)
    state = {k: torch.full_like(v, 0.5) for k, v in runner.model.state_dict().items()}
    dropped = sorted(state)[0]
    del state[dropped]
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state, meta={}), path)
    runner.load_checkpoint(path)
    model_state = runner.model.state_dict()
    for k, v in state.items():
        assert torch.equal(model_state[k], v), k
    assert not torch.equal(model_state[dropped], torch.full_like(model_state[dropped], 0.5))
    with pytest.raises(RuntimeError, match=dropped.replace('.', r'\.')):
        runner.load_checkpoint(path, strict=True)


def _pth(work_dir):
    return sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))


def test_atomic_hook_rotates_records_and_resumes_its_bookkeeping(toy_cfg):
    """``max_keep_ckpts=2`` keeps the two newest files, also across a resume (the ids
    travel in the message hub); ``last_checkpoint`` names the newest; a partial file of an
    earlier crash is removed when training starts; the hook's ``save_optimizer`` and
    ``meta`` reach the file, with every rank's RNG state."""
    work_dir = toy_cfg.work_dir
    toy_cfg.default_hooks.checkpoint.update(max_keep_ckpts=2, save_optimizer=False)
    toy_cfg.train_cfg.max_epochs = 3
    stale = osp.join(work_dir, '.epoch_9.pth.tmp-123')
    open(stale, 'w').close()
    runner = build_runner(copy.deepcopy(toy_cfg))
    runner.train()
    assert not osp.exists(stale)
    assert _pth(work_dir) == ['epoch_2.pth', 'epoch_3.pth']
    assert open(osp.join(work_dir, 'last_checkpoint')).read() == osp.join(work_dir,
                                                                           'epoch_3.pth')
    hub = runner.message_hub
    assert hub.get_info('keep_ckpt_ids') == [2, 3]
    assert hub.get_info('last_ckpt') == osp.join(work_dir, 'epoch_3.pth')
    ckpt = _load(osp.join(work_dir, 'epoch_3.pth'))
    assert 'optimizer' not in ckpt and 'param_schedulers' in ckpt
    assert len(ckpt['meta']['rng_states']) == 1 and ckpt['meta']['epoch'] == 3
    resumed_cfg = copy.deepcopy(toy_cfg)
    resumed_cfg.train_cfg.max_epochs = 4
    resumed_cfg.resume = True  # from last_checkpoint
    build_runner(resumed_cfg).train()
    assert _pth(work_dir) == ['epoch_3.pth', 'epoch_4.pth']  # epoch_2 known from the hub
    everything = copy.deepcopy(toy_cfg)
    everything.work_dir = osp.join(work_dir, 'all')
    everything.default_hooks.checkpoint.update(max_keep_ckpts=-1, save_optimizer=True)
    build_runner(everything).train()
    assert _pth(everything.work_dir) == ['epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth']
    assert 'optimizer' in _load(osp.join(everything.work_dir, 'epoch_3.pth'))


@pytest.mark.parametrize('name', [None, 'visualizer'])
def test_each_runner_in_a_process_logs_to_its_own_files(toy_cfg, tmp_path, monkeypatch, name):
    """MMEngine hands a runner the logger, message hub and visualizer already made under the
    same name, with the first run's files: a named visualizer (``name='visualizer'``) sent
    a second run's scalars to the first run's vis_data, and the same config started in the
    same second (the experiment name is ``{config}_{timestamp}``) logged into the first
    run's log file.  Both runners here start in the same second."""
    import time
    monkeypatch.setattr(time, 'time', lambda: 1.7e9)  # read by Runner.setup_env only here
    if name is not None:
        toy_cfg.visualizer.name = name
    runners = []
    for i in range(2):
        cfg = copy.deepcopy(toy_cfg)
        cfg.work_dir = str(tmp_path / f'run{i}')
        runners.append(build_runner(cfg))
        runners[-1].visualizer.add_scalars({'loss': float(i)}, step=0)
    assert runners[0].timestamp == runners[1].timestamp
    for attr in ('logger', 'message_hub', 'visualizer'):
        assert getattr(runners[0], attr) is not getattr(runners[1], attr), attr
    for i, runner in enumerate(runners):
        assert runner.log_dir.startswith(str(tmp_path / f'run{i}'))
        log_files = [h.baseFilename for h in runner.logger.handlers
                     if isinstance(h, logging.FileHandler)]
        assert log_files == [osp.join(runner.log_dir, f'{runner.timestamp}.log')]
        with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
            assert [line.strip() for line in f] == [f'{{"loss": {float(i)}, "step": 0}}']


def test_environment_and_config_are_logged_once_after_the_model_is_built(toy_cfg, tmp_path):
    """GCLHandRunner writes MMEngine's environment and config log after building the model
    (a config error inside the model is then not buried under it), once, in the log file."""
    toy_cfg.work_dir, toy_cfg.log_level = str(tmp_path), 'INFO'
    runner = build_runner(toy_cfg)
    runner.build_model(runner.model)  # a second build (by a hook, a tool) logs nothing more
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        text = f.read()
    assert text.count('System environment') == 1 and text.count('Config:') == 1
    assert f'seed: {runner.seed}' in text and 'model = dict(' in text
    assert text.index('Config:') < text.index('Hooks will be executed')


def _resume_from_edited(toy_cfg, tmp_path, edit):
    """Train one epoch, edit the checkpoint's ``meta`` with ``edit``, resume a second
    epoch from it under another seed; the resumed runner, its log messages and the
    interrupted run's sampler seed."""
    toy_cfg.train_cfg.max_epochs = 1
    build_runner(copy.deepcopy(toy_cfg)).train()
    ckpt = _load(osp.join(toy_cfg.work_dir, 'epoch_1.pth'))
    saved_seed = ckpt['meta']['sampler_seed']
    edit(ckpt['meta'])
    path = str(tmp_path / 'edited.pth')
    torch.save(ckpt, path)
    cfg = copy.deepcopy(toy_cfg)
    cfg.work_dir = str(tmp_path / 'resumed')
    cfg.train_cfg.max_epochs = 2
    cfg.randomness = dict(seed=1)
    cfg.resume, cfg.load_from, cfg.log_level = True, path, 'INFO'
    resumed, messages = _train_logged(cfg)
    return resumed, messages, saved_seed, path


def test_resume_from_a_checkpoint_without_gclhand_meta(toy_cfg, tmp_path):
    """A checkpoint without RNG states or sampler seed (MMEngine's own Runner writes
    such): the resumed run keeps its own sampler seed and says that the random streams
    restart from the seed."""
    def strip(meta):
        del meta['rng_states'], meta['sampler_seed']
    resumed, messages, saved_seed, path = _resume_from_edited(toy_cfg, tmp_path, strip)
    own_seed = resumed.train_dataloader.sampler.seed
    assert own_seed is not None and own_seed != saved_seed
    assert (f'{path} holds no RNG state: random streams restart from the seed (a gclhand '
            'checkpoint restores them exactly)') in messages
    assert not any('restored' in m for m in messages)


def test_resume_with_another_number_of_processes(toy_cfg, tmp_path):
    """RNG states of two processes resumed in one: the streams restart from the seed (the
    sampler seed, shared by all ranks, is still restored)."""
    def two_ranks(meta):
        meta['rng_states'] = meta['rng_states'] * 2
    resumed, messages, saved_seed, path = _resume_from_edited(toy_cfg, tmp_path, two_ranks)
    assert resumed.train_dataloader.sampler.seed == saved_seed
    assert (f'{path} holds the RNG state of 2 process(es) but 1 are running: random '
            'streams restart from the seed') in messages
    assert 'restored the python/numpy/torch RNG state from the checkpoint' not in messages


def test_build_runner_defaults_to_gclhand_runner_and_keeps_a_chosen_one(toy_cfg):
    from mmengine.runner import Runner
    toy_cfg.pop('runner_type')
    assert type(build_runner(copy.deepcopy(toy_cfg))) is GCLHandRunner
    toy_cfg.runner_type = 'Runner'
    assert type(build_runner(toy_cfg)) is Runner


class SeedlessSampler(torch.utils.data.Sampler):
    """A user's sampler without a ``seed`` attribute (MMEngine hands every sampler a
    ``seed`` argument; this one ignores it)."""

    def __init__(self, dataset, shuffle=True, seed=None):
        self.num = len(dataset)

    def __iter__(self):
        return iter(range(self.num))

    def __len__(self):
        return self.num


def test_a_sampler_without_seed_is_saved_and_resumed_as_it_is(toy_cfg, tmp_path):
    """No ``sampler_seed`` is saved for a sampler without one, and resuming a checkpoint
    that holds a seed neither gives such a sampler a ``seed`` nor claims to restore it
    (the RNG states are still restored)."""
    from mmengine.registry import DATA_SAMPLERS
    DATA_SAMPLERS.register_module(module=SeedlessSampler, force=True)
    toy_cfg.train_cfg.max_epochs = 1
    seedless = copy.deepcopy(toy_cfg)
    seedless.train_dataloader.sampler = dict(type='SeedlessSampler')
    seedless.work_dir = str(tmp_path / 'seedless')
    build_runner(copy.deepcopy(seedless)).train()
    meta = _load(osp.join(seedless.work_dir, 'epoch_1.pth'))['meta']
    assert 'sampler_seed' not in meta and meta['rng_states']

    build_runner(copy.deepcopy(toy_cfg)).train()  # DefaultSampler: its seed is saved
    path = osp.join(toy_cfg.work_dir, 'epoch_1.pth')
    assert _load(path)['meta']['sampler_seed'] is not None
    seedless.work_dir = str(tmp_path / 'resumed')
    seedless.train_cfg.max_epochs = 2
    seedless.resume, seedless.load_from, seedless.log_level = True, path, 'INFO'
    resumed, messages = _train_logged(seedless)
    assert not hasattr(resumed.train_dataloader.sampler, 'seed')
    assert not any('sampler seed' in m for m in messages)
    assert 'restored the python/numpy/torch RNG state from the checkpoint' in messages
