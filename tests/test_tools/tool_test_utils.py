"""Shared helpers of the tool tests (a uniquely named module: several test folders have a
``conftest.py``, so tests must not import from ``conftest``)."""
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
TOY_CFG = osp.join(HERE, 'configs', 'toy_train.py')
KILLED_CFG = osp.join(HERE, 'configs', 'toy_train_killed.py')

if HERE not in sys.path:  # the toy config's custom_imports=['toy_modules']
    sys.path.insert(0, HERE)
