"""Fixtures for the reliability tests (helpers: ``reliability_utils.py``)."""
import os
from typing import Dict

import pytest
from reliability_utils import ROOT, SYNTH


@pytest.fixture(scope='session')
def synth_root(tmp_path_factory) -> str:
    """A tiny synthetic set, generated once for the session (64 px, ~1 s)."""
    from gclhand.datasets.synth import ensure_synthetic_dataset
    root = str(tmp_path_factory.mktemp('synth'))
    ensure_synthetic_dataset(root, num_per_split=SYNTH['num'], seed=SYNTH['seed'],
                             img_size=SYNTH['img_size'], progress=False)
    return root


@pytest.fixture
def tool_env() -> Dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [ROOT, env.get('PYTHONPATH')]))
    env.pop('GCLHAND_DEBUG', None)
    env['OMP_NUM_THREADS'] = '1'
    env['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'
    return env


