"""Evaluation, demo and export build the deployed model: a checkpoint trained with a DGCL
disturber from a plugin that is not installed evaluates, because nothing training-only is
built (issue 15, item 8)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_configs import parse_cfg_options, tiny_cfg_options, tiny_data  # noqa: F401,F811

from gclhand.apis import TRAINING_ONLY_KEYS, deployed_model_config, register_all_modules
from gclhand.cli import export
from gclhand.cli.config import load_config
from gclhand.registry import DISTURBERS, MODELS

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / 'plugins' / 'gclhand_nodedrop'
CONFIG = str(ROOT / 'configs' / 'dgcl_nodedrop_synth.py')
TINY_MODEL = """
_base_ = [{base!r}]
model = dict(encoder=dict(depth=18, base_channels=8, stage_blocks=(1, 1, 1, 1)),
             hand_split=dict(hidden_channels=16), camera_head=dict(hidden_channels=16),
             decoder=dict(channels=(8, 8, 8), K=2, num_heads=2))
"""


def hide_plugin(monkeypatch):
    """This process as if gclhand_nodedrop were not installed."""
    monkeypatch.delitem(DISTURBERS._module_dict, 'NodeDrop', raising=False)
    for name in ('gclhand_nodedrop.node_drop', 'gclhand_nodedrop'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, 'gclhand_nodedrop', None)  # import -> ImportError


@pytest.fixture
def plugin_checkpoint(tmp_path, tiny_data, monkeypatch):
    """(tiny config file, options, checkpoint) of a DGCL model whose disturber is NodeDrop,
    saved while the plugin was importable."""
    cfg_file = tmp_path / 'tiny_nodedrop.py'
    cfg_file.write_text(TINY_MODEL.format(base=CONFIG))
    with monkeypatch.context() as m:
        m.syspath_prepend(str(PLUGIN_DIR))
        options = tiny_cfg_options(CONFIG, tiny_data)
        register_all_modules()
        cfg = load_config(str(cfg_file), parse_cfg_options(options))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        assert type(model.dgcl.disturber).__name__ == 'NodeDrop'
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    hide_plugin(monkeypatch)
    return str(cfg_file), options, str(path)


def test_deployed_config_builds_exactly_what_deploy_leaves():
    """The config-level deploy removes what ``model.deploy()`` removes; with the same seed
    the two build the same weights (the training-only modules are built last).  They do
    draw from the random stream, so ``init_weights`` afterwards differs: that is why
    ``gclhand test CONFIG none`` builds the whole config."""
    register_all_modules()
    cfg = load_config(CONFIG.replace('dgcl_nodedrop', 'dgcl')).model
    torch.manual_seed(0)
    full = MODELS.build(cfg)
    assert full.dgcl is not None
    torch.manual_seed(0)
    deployed = MODELS.build(deployed_model_config(cfg))
    full.deploy()
    assert all(getattr(full, k) is None and getattr(deployed, k) is None
               for k in TRAINING_ONLY_KEYS)
    ref, got = full.state_dict(), deployed.state_dict()
    assert ref.keys() == got.keys()
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    assert 'dgcl' in cfg and 'dgcl' not in deployed_model_config(cfg)  # a copy


def test_test_subcommand_evaluates_without_the_training_only_plugin(
        plugin_checkpoint, tmp_path):
    cfg_file, options, ckpt = plugin_checkpoint
    out = tmp_path / 'results.json'
    code = ("import sys; sys.modules['gclhand_nodedrop'] = None; from gclhand.cli import main;"
            " sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, '-c', code, 'test', cfg_file, ckpt, '--work-dir',
                           str(tmp_path / 'wd'), '--out', str(out), '--cfg-options', *options],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "custom_imports 'gclhand_nodedrop' could not be imported" in log
    assert 'the deployed model does not need it' in log
    assert json.loads(out.read_text())['metrics']['intaghand/mpjpe'] > 0


def test_export_without_the_training_only_plugin(plugin_checkpoint, tmp_path):
    cfg_file, _, ckpt = plugin_checkpoint
    diffs = export.main([cfg_file, ckpt, '--format', 'torchscript', '--out',
                         str(tmp_path / 'm.pt')])
    assert max(diffs.values()) <= 1e-4


def test_a_plugin_the_deployed_model_needs_is_still_an_error(tmp_path, monkeypatch):
    """A custom_imports plugin that provides a deployed component (here the encoder) stays
    the one-line plugin error."""
    hide_plugin(monkeypatch)
    cfg_file = tmp_path / 'needs_plugin.py'
    cfg_file.write_text(f"_base_ = [{CONFIG!r}]\nmodel = dict(encoder=dict(_delete_=True, "
                        "type='PluginEncoder'))\n")
    register_all_modules()
    with pytest.raises(Exception) as exc:
        load_config(str(cfg_file), deployed=True)
    message = str(exc.value)
    assert "could not import the plugin module 'gclhand_nodedrop'" in message
    assert "unknown encoder 'PluginEncoder' at config key 'model.encoder'" in message
    assert 'model.dgcl' not in message  # the training-only part is not what is missing


class NormsRegisteredOutOfOrder(torch.nn.Module):
    """A plugin-style encoder whose batch norm follows ``conv_a`` in the forward pass but is
    registered after ``conv_b``: ``mmcv.cnn.fuse_conv_bn`` would fold it into ``conv_b``."""

    def __init__(self):
        super().__init__()
        self.conv_a = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.conv_b = torch.nn.Conv2d(4, 4, 1)
        self.bn_a = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return [self.conv_b(torch.relu(self.bn_a(self.conv_a(x))))]


def test_fuse_conv_bn_refuses_a_fold_that_changes_the_encoder():
    from test_apis import randomise_batch_norms

    from gclhand.apis import FusionError, fuse_conv_bn
    holder = torch.nn.Module()
    holder.encoder = NormsRegisteredOutOfOrder()
    randomise_batch_norms(holder)
    with pytest.raises(FusionError, match=r'output 0 of NormsRegisteredOutOfOrder .*unfused'):
        fuse_conv_bn(holder)
    # the same fold unchecked (check_size=0) goes through: the check is what refuses it
    holder.encoder = NormsRegisteredOutOfOrder()
    randomise_batch_norms(holder)
    fuse_conv_bn(holder, check_size=0)
    assert isinstance(holder.encoder.bn_a, torch.nn.Identity)
    assert holder.encoder.conv_b.bias is not None


def test_fuse_conv_bn_folds_the_running_statistics_into_the_convolution():
    """One convolution and its batch norm, by hand: W' = s W, b' = s (b - mu) + beta with
    s = gamma / sqrt(var + eps); and a module without ``encoder`` is folded as a whole."""
    from gclhand.apis import fuse_conv_bn
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1, bias=True), torch.nn.BatchNorm2d(2))
    conv, bn = net
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))
        conv.bias.copy_(torch.tensor([1.0, 0.5]))
        bn.running_mean.copy_(torch.tensor([3.0, -0.5]))
        bn.running_var.copy_(torch.tensor([4.0 - bn.eps, 0.25 - bn.eps]))
        bn.weight.copy_(torch.tensor([0.5, 2.0]))
        bn.bias.copy_(torch.tensor([0.1, -0.2]))
    net.train()
    assert fuse_conv_bn(net) is net and not net.training
    # s = (0.5 / 2, 2 / 0.5) = (0.25, 4)
    torch.testing.assert_close(net[0].weight.flatten(), torch.tensor([0.5, -4.0]))
    torch.testing.assert_close(net[0].bias, torch.tensor([0.25 * (1 - 3) + 0.1,
                                                          4 * (0.5 + 0.5) - 0.2]))
    assert isinstance(net[1], torch.nn.Identity)
