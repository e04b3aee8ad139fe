"""Fixtures for the tool tests (helpers live in tool_test_utils.py)."""
import os

import pytest

from tool_test_utils import HERE, ROOT


@pytest.fixture
def subprocess_env():
    """Environment for running the tools in a child process."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [HERE, ROOT, env.get('PYTHONPATH')]))
    env.pop('GCLHAND_DEBUG', None)
    env['OMP_NUM_THREADS'] = '1'
    return env
