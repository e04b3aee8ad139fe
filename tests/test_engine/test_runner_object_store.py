"""GCLHandRunner with checkpoints in an object store (S3, petrel, ... through MMEngine's file
backends) instead of the local disk: the same checkpoint contents, loaded and resumed.

The store here is a dict behind MMEngine's backend interface, registered under the
``memtest://`` prefix as a user registers their own store (a file backend for writing,
a ``CheckpointLoader`` scheme for reading; MMEngine's ``save_checkpoint`` also asks the
deprecated ``FileClient``).
"""
import copy
import io
import os.path as osp

import pytest
import torch
from mmengine.fileio import BaseStorageBackend, FileClient, register_backend
from mmengine.runner import CheckpointLoader
from test_runner import _load, _train_logged

from gclhand.engine import build_runner
from gclhand.engine.checkpoint import checkpoint_safe_globals

PREFIX = 'memtest://bucket'


class MemoryBackend(BaseStorageBackend):
    """An object store in a dict: ``put`` uploads finished bytes, there is no rename."""

    store: dict = {}

    def __init__(self, **kwargs):
        pass

    def get(self, filepath):
        return self.store[filepath]

    def get_text(self, filepath, encoding='utf-8'):
        return self.store[filepath].decode(encoding)

    def put(self, obj, filepath):
        self.store[filepath] = bytes(obj)

    def put_text(self, obj, filepath, encoding='utf-8'):
        self.store[filepath] = obj.encode(encoding)

    def exists(self, filepath):
        return filepath in self.store

    def isfile(self, filepath):
        return filepath in self.store

    def isdir(self, filepath):
        return False

    def remove(self, filepath):
        del self.store[filepath]

    def join_path(self, filepath, *parts):
        return '/'.join([filepath.rstrip('/'), *parts])


def _load_from_memory(filename, map_location=None):
    return torch.load(io.BytesIO(MemoryBackend.store[filename]), map_location=map_location)


@pytest.fixture
def memory_store():
    register_backend('gclhand_memtest', MemoryBackend, force=True, prefixes='memtest')
    # MMEngine's save_checkpoint still asks the deprecated FileClient about the prefix
    FileClient.register_backend('gclhand_memtest', MemoryBackend, force=True,
                                prefixes='memtest')
    CheckpointLoader.register_scheme('memtest://', _load_from_memory, force=True)
    MemoryBackend.store.clear()
    yield MemoryBackend.store
    MemoryBackend.store.clear()


def test_checkpoint_saved_to_an_object_store_holds_what_a_local_one_does(
        toy_cfg, memory_store):
    """An object store gets MMEngine's own upload (no temporary file to rename) with the
    same contents as a local save: optimiser and scheduler states, the generators' states
    and the sampler seed, and the caller's arguments."""
    toy_cfg.train_cfg.max_epochs = 1
    runner = build_runner(toy_cfg)
    runner.train()
    runner.save_checkpoint(PREFIX, 'epoch_1.pth')
    runner.save_checkpoint(PREFIX, 'lean.pth', save_optimizer=False, meta=dict(note='kept'))
    assert sorted(memory_store) == [f'{PREFIX}/epoch_1.pth', f'{PREFIX}/lean.pth']
    local = _load(osp.join(toy_cfg.work_dir, 'epoch_1.pth'))
    with checkpoint_safe_globals():
        stored = _load_from_memory(f'{PREFIX}/epoch_1.pth')
        lean = _load_from_memory(f'{PREFIX}/lean.pth')
    assert set(stored) == set(local) >= {'state_dict', 'optimizer', 'param_schedulers'}
    assert set(stored['meta']) == set(local['meta']) >= {'rng_states', 'sampler_seed'}
    assert stored['meta']['sampler_seed'] == runner.train_dataloader.sampler.seed
    for k, v in local['state_dict'].items():
        assert torch.equal(stored['state_dict'][k], v), k
    assert 'optimizer' not in lean and lean['meta']['note'] == 'kept'
    assert 'rng_states' in lean['meta']


def test_runs_checkpoint_to_and_resume_from_an_object_store(toy_cfg, tmp_path,
                                                            memory_store):
    """The checkpoint hook writing to an object store (``out_dir='memtest://...'``): it
    rotates there (``max_keep_ckpts=1``), ``last_checkpoint`` (local, as MMEngine writes
    it) names the stored file, and ``--resume`` finds it and continues from it: epoch,
    weights and random streams.  ``load_checkpoint`` takes an object-store address (the
    local-file check, which names a missing local path, is for local paths only)."""
    toy_cfg.train_cfg.max_epochs = 2
    toy_cfg.default_hooks.checkpoint.out_dir = PREFIX
    first = build_runner(copy.deepcopy(toy_cfg))
    first.train()
    work = osp.basename(toy_cfg.work_dir)  # MMEngine's hook adds the work dir's name
    stored = f'{PREFIX}/{work}/epoch_2.pth'
    assert sorted(k for k in memory_store if k.endswith('.pth')) == [stored]
    with open(osp.join(toy_cfg.work_dir, 'last_checkpoint')) as f:
        assert f.read() == stored
    with pytest.raises(FileNotFoundError, match='checkpoint .*missing.pth not found'):
        first.load_checkpoint(str(tmp_path / 'missing.pth'))

    loaded = build_runner(copy.deepcopy(toy_cfg))
    loaded.load_checkpoint(stored)
    for k, v in first.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k

    cfg = copy.deepcopy(toy_cfg)
    cfg.train_cfg.max_epochs = 3
    cfg.resume, cfg.log_level = True, 'INFO'  # finds last_checkpoint in the work dir
    resumed, messages = _train_logged(cfg)
    assert 'resumed epoch: 2, iter: 16' in messages
    assert 'restored the python/numpy/torch RNG state from the checkpoint' in messages
    assert resumed.epoch == 3
    assert sorted(k for k in memory_store if k.endswith('.pth')) == [
        f'{PREFIX}/{work}/epoch_3.pth']
