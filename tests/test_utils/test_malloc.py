"""env_cfg.malloc_cfg: glibc's thresholds, their effect on page faults, errors, the Runner."""
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from gclhand.utils import ConfigError
from gclhand.utils import malloc as malloc_mod
from gclhand.utils.malloc import apply_malloc_cfg, configure_malloc

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GLIBC = malloc_mod._glibc() is not None

# In a fresh process: apply the thresholds, then allocate, touch and free an 8 MiB tensor
# 33 times; print the median of the minor page faults per cycle after the first 3 (the
# median: the heap may grow now and then, which faults pages in once).
FAULTS_PER_CYCLE = '''
import resource, statistics, sys, torch
from gclhand.utils.malloc import configure_malloc
assert configure_malloc(mmap_threshold=int(sys.argv[1]), trim_threshold=int(sys.argv[2]))
faults = []
for _ in range(33):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(2 * 2**20).fill_(1.0)  # 8 MiB, freed at once
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(statistics.median(faults[3:]))
'''


def faults_per_cycle(mmap_threshold: int, trim_threshold: int) -> float:
    out = subprocess.run([sys.executable, '-c', FAULTS_PER_CYCLE, str(mmap_threshold),
                          str(trim_threshold)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason='mallopt is glibc')
def test_the_configured_thresholds_keep_freed_memory_mapped():
    """The default runtime's thresholds: re-allocating a freed 8 MiB block faults no page in
    again.  With a fixed mmap threshold below the block's size it is mapped and unmapped
    each time instead, and all 2,048 of its pages fault in again on every cycle."""
    runtime = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'default_runtime.py'))
    kept = runtime.env_cfg.malloc_cfg
    assert faults_per_cycle(kept.mmap_threshold, kept.trim_threshold) < 20
    assert faults_per_cycle(4 * 2**20, kept.trim_threshold) > 1500


@pytest.mark.parametrize('cfg, key', [
    (dict(mmap_threshold=64 * 2**20), 'mmap_threshold=67108864 is above'),
    (dict(mmap_threshold=-1), 'mmap_threshold=-1 must be'),
    (dict(trim_threshold=2**31), 'trim_threshold=2147483648 must be'),
    (dict(trim_threshold=True), 'trim_threshold=True must be'),
    (dict(trim_threshold=1.5), 'trim_threshold=1.5 must be'),
    (dict(mmap_treshold=1), "unknown key(s) ['mmap_treshold']"),
])
def test_wrong_values_name_the_key(cfg, key):
    with pytest.raises(ConfigError, match=r'env_cfg\.malloc_cfg') as err:
        apply_malloc_cfg(cfg)
    assert key in str(err.value)


def test_nothing_to_do_without_glibc_or_settings(monkeypatch):
    assert apply_malloc_cfg(None) is GLIBC  # nothing set; still a glibc question
    monkeypatch.setattr(malloc_mod.platform, 'libc_ver', lambda: ('', ''))
    assert configure_malloc(mmap_threshold=2**20, trim_threshold=2**30) is False
    with pytest.raises(ConfigError):  # values are checked on every C library
        configure_malloc(mmap_threshold=2**26)


def test_runner_applies_env_cfg_malloc_cfg(tmp_path, monkeypatch):
    """GCLHandRunner.setup_env hands env_cfg.malloc_cfg on."""
    from gclhand.apis import register_all_modules
    from gclhand.engine import build_runner
    from gclhand.engine import runner as runner_mod
    seen = []
    monkeypatch.setattr(runner_mod, 'apply_malloc_cfg', seen.append)
    monkeypatch.syspath_prepend(osp.join(ROOT, 'tests', 'test_tools'))  # the toy modules
    cfg = Config.fromfile(osp.join(ROOT, 'tests', 'test_tools', 'configs', 'toy_train.py'))
    register_all_modules()
    cfg.work_dir = str(tmp_path)
    cfg.env_cfg.malloc_cfg = dict(mmap_threshold=2**20, trim_threshold=2**29)
    build_runner(cfg)
    assert seen == [dict(mmap_threshold=2**20, trim_threshold=2**29)]
