"""Fixtures of the engine tests: the toy config of the tool tests (its model, dataset and
metric live in ``tests/test_tools/toy_modules.py``, imported through the config)."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from gclhand.apis import register_all_modules

TOOLS_TESTS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_tools')
if TOOLS_TESTS not in sys.path:
    sys.path.insert(0, TOOLS_TESTS)


@pytest.fixture
def toy_cfg(tmp_path):
    cfg = Config.fromfile(osp.join(TOOLS_TESTS, 'configs', 'toy_train.py'))
    register_all_modules()
    cfg.work_dir = str(tmp_path)
    cfg.custom_hooks = []
    return cfg
