"""The example plugin (plugins/gclhand_nodedrop) registers a disturber from outside gclhand."""
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from gclhand.registry import DISTURBERS
from gclhand.utils import ConfigError, build_component

PLUGIN_DIR = Path(__file__).resolve().parents[1] / 'plugins' / 'gclhand_nodedrop'


@pytest.fixture
def no_plugin(monkeypatch):
    """A process in which the plugin is neither imported nor registered."""
    monkeypatch.delitem(DISTURBERS._module_dict, 'NodeDrop', raising=False)
    for name in ('gclhand_nodedrop', 'gclhand_nodedrop.node_drop'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    return monkeypatch


def test_unknown_without_plugin(no_plugin):
    with pytest.raises(ConfigError, match="unknown disturber 'NodeDrop'.*custom_imports"):
        build_component(DISTURBERS, dict(type='NodeDrop'), key='model.dgcl.disturber')


def test_import_registers_nodedrop(no_plugin):
    import gclhand_nodedrop
    assert DISTURBERS.get('NodeDrop') is gclhand_nodedrop.NodeDrop
    d = build_component(DISTURBERS, dict(type='NodeDrop', p=0.25))
    torch.manual_seed(0)
    x = torch.rand(50, 40, 6) + 0.1
    ei = torch.tensor([[0, 1], [1, 0]])
    out = d(x, ei)
    dropped = (out.x == 0).all(-1)
    assert torch.equal(out.x == 0, dropped[..., None].expand_as(x))  # whole nodes
    assert abs(dropped.float().mean().item() - 0.25) < 0.03
    assert torch.equal(out.x[~dropped], x[~dropped]) and out.edge_index is ei


def test_custom_imports_in_config(no_plugin, tmp_path):
    cfg_file = tmp_path / 'nodedrop_cfg.py'
    cfg_file.write_text("custom_imports = dict(imports=['gclhand_nodedrop'], "
                        "allow_failed_imports=False)\n"
                        "disturber = dict(type='NodeDrop', p=0.1)\n")
    cfg = Config.fromfile(str(cfg_file))  # imports the plugin, as tools/train.py does
    assert build_component(DISTURBERS, cfg.disturber).p == 0.1


def test_entry_point_declared():
    meta = tomllib.loads((PLUGIN_DIR / 'pyproject.toml').read_text())
    assert meta['project']['entry-points']['gclhand.plugins'] == {'nodedrop': 'gclhand_nodedrop'}
