"""The ``gclhand`` command line: subcommands, ``python -m gclhand``, and tools/*.py as thin
wrappers with the same arguments."""
import importlib
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
from tool_test_utils import ROOT, TOY_CFG

from gclhand.cli import COMMANDS, main

TOOLS = sorted(osp.splitext(f)[0] for f in os.listdir(osp.join(ROOT, 'tools'))
               if f.endswith('.py'))


def test_every_tool_is_a_subcommand_and_a_thin_wrapper():
    """Each ``tools/NAME.py`` maps to ``gclhand NAME`` and re-exports that module's main."""
    assert sorted(m for m, _ in COMMANDS.values() if m != 'configs') == TOOLS
    for name in TOOLS:
        spec = importlib.util.spec_from_file_location(f'tool_{name}',
                                                      osp.join(ROOT, 'tools', f'{name}.py'))
        wrapper = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(wrapper)
        assert wrapper.main is importlib.import_module(f'gclhand.cli.{name}').main, name
        code = open(osp.join(ROOT, 'tools', f'{name}.py')).read()
        assert len([ln for ln in code.splitlines() if ln.strip()]) <= 12, name


def test_usage_and_unknown_subcommand(capsys):
    assert main(['--help']) == 0
    assert 'print-config' in capsys.readouterr().out
    assert main([]) == 2
    assert main(['trian']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unknown subcommand 'trian' (did you mean 'train'?); choose from "
                   + ', '.join(COMMANDS)]


def test_subcommand_runs_with_program_name_and_status(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['print-config', '--help'])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith('usage: gclhand print-config ')
    assert main(['print_config', TOY_CFG, '--cfg-options', 'train_dataloader.batch_size=3',
                 '--no-check']) == 0  # underscores are accepted too
    assert 'batch_size=3' in capsys.readouterr().out
    assert main(['test', TOY_CFG, 'nowhere.pth']) == 2
    assert capsys.readouterr().err.strip() == 'error: checkpoint nowhere.pth not found'


@pytest.mark.parametrize('entry', [['-m', 'gclhand'], ['tools/train.py']])
def test_module_and_wrapper_give_the_same_one_line_error(entry, subprocess_env):
    args = ['train', 'configs/x.py'] if entry[0] == '-m' else ['configs/x.py']
    proc = subprocess.run([sys.executable, *entry, *args], cwd=ROOT, env=subprocess_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ['error: config file configs/x.py not found']
