"""``gclhand::`` config names: shipped configs resolve in ``_base_`` and on the command line;
every other path is left to MMEngine."""
import os.path as osp

import pytest
from mmengine.config import Config

import gclhand  # noqa: F401 - enables the gclhand:: scope, as for every user
from gclhand.cli.config import load_config
from gclhand.utils.package_configs import (configs_root, enable_package_scope,
                                           resolve_config_path, shipped_configs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_names_resolve_to_the_shipped_files():
    assert resolve_config_path('gclhand::dgcl_synth.py') == osp.join(configs_root(),
                                                                     'dgcl_synth.py')
    assert resolve_config_path('gclhand::_base_/default_runtime.py') == osp.join(
        configs_root(), '_base_', 'default_runtime.py')
    assert resolve_config_path('configs/dgcl_synth.py') == 'configs/dgcl_synth.py'
    # a checkout (editable install) reads the repository's configs/
    assert osp.samefile(configs_root(), osp.join(ROOT, 'configs'))
    names = shipped_configs()
    assert 'dgcl_interhand.py' in names and '_base_/default_runtime.py' in names


@pytest.mark.parametrize('name, hint', [
    ('gclhand::dgcl_synt.py', 'did you mean gclhand::dgcl_synth.py'),
    ('gclhand::../setup.py', '`gclhand configs` lists them'),  # nothing outside configs/
    ('gclhand::_base_', '`gclhand configs` lists them'),  # a folder is not a config
])
def test_unknown_names_are_one_line_with_a_suggestion(name, hint):
    with pytest.raises(FileNotFoundError) as exc:
        resolve_config_path(name)
    message = str(exc.value)
    assert f"config '{name}' is not one of gclhand's configs" in message and hint in message
    assert '\n' not in message


def test_base_inherits_a_shipped_config(tmp_path):
    cfg_file = tmp_path / 'mine.py'
    cfg_file.write_text("_base_ = ['gclhand::dgcl_synth.py']\n"
                        "model = dict(dgcl=dict(self_contrast=dict(tau=0.2)))\n")
    mine = Config.fromfile(str(cfg_file))
    shipped = Config.fromfile(osp.join(ROOT, 'configs', 'dgcl_synth.py'))
    assert mine.model.dgcl.self_contrast.tau == 0.2
    assert shipped.model.dgcl.self_contrast.tau != 0.2
    # everything else is the shipped config; MMEngine marks the inherited dicts' scope
    assert mine.model._scope_ == 'gclhand'
    mine.model.pop('_scope_')
    mine.model.dgcl.self_contrast.tau = shipped.model.dgcl.self_contrast.tau
    assert mine.model.to_dict() == shipped.model.to_dict()
    assert mine.train_dataloader.batch_size == shipped.train_dataloader.batch_size


def test_command_line_takes_names_and_other_scopes_stay_mmengines(tmp_path):
    assert load_config('gclhand::gcn_baseline_synth.py').model.get('dgcl') is None
    with pytest.raises(FileNotFoundError, match="'gclhand::nope.py' is not one of"):
        load_config('gclhand::nope.py')
    other = tmp_path / 'other.py'
    other.write_text("_base_ = ['mmdet::faster_rcnn/x.py']\n")
    with pytest.raises(Exception) as exc:  # whatever MMEngine says; not gclhand's resolver
        Config.fromfile(str(other))
    assert "gclhand's configs" not in str(exc.value)


def test_enabling_twice_wraps_once():
    wrapped = Config.__dict__['_get_cfg_path']
    enable_package_scope()
    assert Config.__dict__['_get_cfg_path'] is wrapped
