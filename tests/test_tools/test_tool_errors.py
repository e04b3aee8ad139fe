"""Errors a user can fix end in one ``error: ...`` line and exit status 2."""
import subprocess
import sys

import pytest
from tool_test_utils import ROOT, TOY_CFG

from gclhand.cli import print_config, train
from gclhand.cli import test as test_tool
from gclhand.cli.errors import format_known_error, run_tool
from gclhand.utils import ConfigError


def run(tool, argv, capsys):
    status = run_tool(tool.main, argv)
    return status, capsys.readouterr().err.strip().splitlines()


def test_missing_config(capsys):
    status, err = run(train, ['configs/x.py'], capsys)
    assert status == 2
    assert err == ['error: config file configs/x.py not found']


def test_bad_cfg_options_key_suggests(capsys, tmp_path):
    status, err = run(train, [TOY_CFG, '--work-dir', str(tmp_path),
                              '--cfg-options', 'model.dropot=0.1'], capsys)
    assert status == 2 and len(err) == 1
    assert err[0].startswith("error: --cfg-options key 'model.dropot' is not in the config")
    assert "did you mean 'model.dropout'?" in err[0]


def test_cfg_options_list_index_and_plus_prefix(capsys):
    status, err = run(print_config, [TOY_CFG, '--cfg-options', 'custom_hooks.3.type=X'], capsys)
    assert status == 2 and "'custom_hooks.3.type' is not in the config" in err[0]
    assert print_config.main([TOY_CFG, '--cfg-options', '+model.extra=3',
                               'custom_hooks.0.type=RecordIndicesHook']) is None
    assert 'extra=3' in capsys.readouterr().out


def test_unknown_type_names_key_and_close_match(capsys, tmp_path):
    status, err = run(train, [TOY_CFG, '--work-dir', str(tmp_path),
                              '--cfg-options', 'default_hooks.checkpoint.type=AtomicCkptHook'],
                      capsys)
    assert status == 2 and len(err) == 1
    assert err[0].startswith("error: unknown hook 'AtomicCkptHook' at config key "
                             "'default_hooks.checkpoint'")
    assert "'AtomicCheckpointHook'" in err[0]
    assert not (tmp_path / 'last_checkpoint').exists()  # failed before building anything


def test_unknown_type_inside_model_build(capsys, tmp_path):
    """A part built by the model itself (build_component) fails at Runner build time."""
    status, err = run(train, [TOY_CFG, '--work-dir', str(tmp_path),
                              '--cfg-options', '+model.aux.type=NoSuchLoss',
                              'log_level=INFO'], capsys)
    assert status == 2 and len(err) == 1
    assert "unknown loss 'NoSuchLoss' at config key 'model.aux'" in err[0]
    # the error is the only output: MMEngine's environment and config log (~250 lines on
    # the console and in the log file) comes once the model is built (GCLHandRunner)
    logs = list(tmp_path.glob('*/*.log'))
    assert len(logs) == 1 and 'System environment' not in logs[0].read_text()
    assert 'Config:' not in logs[0].read_text()


def test_print_config_checks_the_types_inside_the_model(capsys):
    """``print-config`` builds nothing, so it checks the model's own components too (found
    by an outside user: a misspelt disturber only logged 'still missing' and exited 0)."""
    cfg = 'configs/dgcl_synth.py'
    status, err = run(print_config, [cfg, '--cfg-options',
                                     'model.dgcl.disturber.type=FeatureMsk'], capsys)
    assert status == 2 and len(err) == 1
    assert err[0].startswith("error: unknown disturber 'FeatureMsk' at config key "
                             "'model.dgcl.disturber' — did you mean 'FeatureMask'")
    status, err = run(print_config, [cfg, '--cfg-options',
                                     '+model.losses.bones.type=BoneLenghtLoss'], capsys)
    assert status == 2 and err[0].startswith(
        "error: unknown component 'BoneLenghtLoss' at config key 'model.losses.bones' — did "
        "you mean 'BoneLengthLoss'")
    assert run(print_config, [cfg, '--no-check', '--cfg-options',
                              'model.dgcl.disturber.type=FeatureMsk'], capsys)[0] == 0
    assert run(print_config, [cfg], capsys)[0] == 0


def test_debug_env_reraises(monkeypatch):
    monkeypatch.setenv('GCLHAND_DEBUG', '1')
    with pytest.raises(FileNotFoundError, match='configs/x.py'):
        run_tool(train.main, ['configs/x.py'])


def test_only_known_errors_are_shortened():
    registry_error = KeyError('Foo is not in the gclhand::model registry. Please check ...')
    assert format_known_error(registry_error).startswith(
        "unknown type 'Foo' (not in the gclhand::model registry)")
    assert format_known_error(KeyError('a bug')) is None  # keeps its traceback
    assert format_known_error(ValueError('x')) is None
    assert format_known_error(ConfigError('a\n  b')) == 'a b'
    from gclhand.datasets import AnnotationError, ImageError
    assert format_known_error(AnnotationError('a.json', 'file not found')) == \
        'a.json: file not found'
    assert format_known_error(ImageError('b.jpg', 'truncated')) == 'b.jpg: truncated'
    with pytest.raises(KeyError):
        run_tool(lambda argv: {}['missing'], [])



def test_broken_disturber_plugin_is_one_line_and_exit_2(capsys):
    """A plugin disturber that breaks the output contract (found by an outside user: a
    traceback and exit 1 before) gets the contract's one line and status 2."""
    from gclhand.models.disturbers import DisturberContractError

    def main(argv):
        raise DisturberContractError("disturber bad_disturbers.WrongNodeCount "
                                     "(model.dgcl.disturber) returned x of shape\n (4, 9, 8)")

    assert run_tool(main, []) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ['error: disturber bad_disturbers.WrongNodeCount (model.dgcl.disturber) '
                   'returned x of shape (4, 9, 8)']

def test_missing_checkpoint_for_test_tool(capsys):
    status, err = run(test_tool, [TOY_CFG, 'nowhere.pth'], capsys)
    assert (status, err) == (2, ['error: checkpoint nowhere.pth not found'])


def test_subprocess_prints_exactly_one_line(subprocess_env):
    proc = subprocess.run([sys.executable, 'tools/train.py', 'configs/x.py'], cwd=ROOT,
                          env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ['error: config file configs/x.py not found']


def test_shipped_configs_by_package_name(tmp_path, monkeypatch):
    """Outside a checkout (found by a new user following the docs): a ``configs/...`` path
    that does not exist is answered with its ``gclhand::`` name, a shipped config's work
    dir is ``work_dirs/<name>`` (not ``work_dirs/gclhand::<name>``), and ``init_model``
    takes the ``gclhand::`` name too."""
    from mmengine.config import Config

    from gclhand.apis import init_model
    from gclhand.cli.config import load_config, resolve_work_dir
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as exc:
        load_config('configs/dgcl_synth.py')
    assert str(exc.value) == ("config file configs/dgcl_synth.py not found; outside a "
                              "checkout, gclhand's own configs/dgcl_synth.py is "
                              'gclhand::dgcl_synth.py')
    with pytest.raises(FileNotFoundError, match=r'^config file mine\.py not found$'):
        load_config('mine.py')
    assert resolve_work_dir(Config(), 'gclhand::dgcl_synth.py', None) == \
        './work_dirs/dgcl_synth' == resolve_work_dir(Config(), 'configs/dgcl_synth.py', None)
    model = init_model('gclhand::gcn_baseline_synth.py')
    assert type(model).__name__ == 'TwoHandEstimator' and not model.training
    with pytest.raises(FileNotFoundError, match="gclhand::dgcl_synth.py"):
        init_model('configs/dgcl_synth.py')
