"""configs/dgcl_nodedrop_synth.py: a Table 2 model with a disturber from a third-party plugin.

With ``plugins/gclhand_nodedrop`` importable the config trains through ``tools/train.py``;
without it the tool stops with one line naming the plugin and how to install it.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from test_configs import tiny_cfg_options, tiny_data  # noqa: F401 (fixture)

from gclhand.engine import checkpoint_safe_globals
from gclhand.registry import DISTURBERS, MODELS
from gclhand.apis import register_all_modules

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / 'plugins' / 'gclhand_nodedrop'
CONFIG = str(ROOT / 'configs' / 'dgcl_nodedrop_synth.py')


def tool_env(with_plugin: bool) -> dict:
    """Child-process environment; the plugin is on PYTHONPATH only ``with_plugin``."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('GCLHAND_DEBUG', None)
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
             if p and Path(p).resolve() != PLUGIN_DIR]
    env['PYTHONPATH'] = os.pathsep.join(([str(PLUGIN_DIR)] if with_plugin else []) + paths)
    return env


def test_config_is_dgcl_with_nodedrop(monkeypatch):
    """Only the disturber differs from dgcl_synth.py; the model builds with NodeDrop."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    cfg = Config.fromfile(CONFIG)  # imports the plugin (custom_imports)
    base = Config.fromfile(str(ROOT / 'configs' / 'dgcl_synth.py'))
    assert cfg.custom_imports == dict(imports=['gclhand_nodedrop'],
                                      allow_failed_imports=False)
    assert cfg.model.dgcl.disturber.to_dict() == dict(type='NodeDrop', p=0.1)  # _delete_
    row, ref = cfg.to_dict(), base.to_dict()
    row.pop('custom_imports')
    for d in (row, ref):
        d['model']['dgcl'].pop('disturber')
    assert row == ref
    assert DISTURBERS.get('NodeDrop') is not None
    register_all_modules()
    model = MODELS.build(cfg.model)
    assert type(model.dgcl.disturber).__name__ == 'NodeDrop' and model.dgcl.disturber.p == 0.1


def test_trains_through_train_tool_with_plugin(tiny_data, tmp_path):
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path),
           '--cfg-options', *tiny_cfg_options(CONFIG, tiny_data)]
    proc = subprocess.run(cmd, cwd=ROOT, env=tool_env(True), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    for key in ('loss_self_contrast', 'loss_consistent', 'loss_cross_contrast'):
        assert key in log  # the DGCL losses ran with the plugin's disturber
    with checkpoint_safe_globals():
        state = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')['state_dict']
    assert any(k.startswith('dgcl.') for k in state)
    # NodeDrop has no parameters, unlike the GraphUNetDisturber it replaced
    assert not any(k.startswith('dgcl.disturber.') for k in state)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_missing_plugin_is_one_clear_line(tmp_path):
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path)]
    if importlib.util.find_spec('gclhand_nodedrop') is not None:
        # installed in this environment: hide it from the child the way a missing package is
        cmd = [sys.executable, '-c', "import runpy, sys; sys.modules['gclhand_nodedrop'] = None;"
               " sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
               *cmd[1:]]
    proc = subprocess.run(cmd, cwd=ROOT, env=tool_env(False), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    line = lines[0]
    assert "plugin module 'gclhand_nodedrop'" in line
    assert "unknown disturber 'NodeDrop' at config key 'model.dgcl.disturber'" in line
    assert 'did you install/import the plugin' in line
    assert '`pip install -e plugins/gclhand_nodedrop`' in line
    assert not any(tmp_path.iterdir())  # stopped before anything was written
