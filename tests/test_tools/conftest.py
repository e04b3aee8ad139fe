"""Fixtures for the tool tests: the toy config, the tools as modules, subprocess env."""
import importlib.util
import os
import os.path as osp
import sys

import pytest

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
TOY_CFG = osp.join(HERE, 'configs', 'toy_train.py')
KILLED_CFG = osp.join(HERE, 'configs', 'toy_train_killed.py')

if HERE not in sys.path:  # the toy config's custom_imports=['toy_modules']
    sys.path.insert(0, HERE)


def load_tool(name: str):
    """Import ``tools/{name}.py`` as a module (the tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f'gclhand_tool_{name}',
                                                  osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def subprocess_env():
    """Environment for running the tools in a child process."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [HERE, ROOT, env.get('PYTHONPATH')]))
    env.pop('GCLHAND_DEBUG', None)
    env['OMP_NUM_THREADS'] = '1'
    return env
