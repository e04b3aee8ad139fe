"""Build step only; the package metadata is in pyproject.toml.

``pip install .`` (and every wheel) ships the repository's ``configs/`` inside the package
as ``gclhand/.mim/configs``, the layout OpenMMLab packages use, so that an installed
gclhand resolves ``_base_ = ['gclhand::dgcl_synth.py']`` and ``gclhand train
gclhand::dgcl_synth.py`` (see ``gclhand/utils/package_configs.py``).  The configs stay in
``configs/`` in the repository; an editable install reads them from there.
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


class BuildPyWithConfigs(build_py):
    """``build_py`` that also copies ``configs/`` to ``<build>/gclhand/.mim/configs``."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return  # an editable install reads configs/ from the checkout
        source = osp.join(HERE, 'configs')
        target = osp.join(self.build_lib, 'gclhand', '.mim', 'configs')
        if osp.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(source, target,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        target = osp.join(self.build_lib, 'gclhand', '.mim', 'configs')
        for folder, _, files in os.walk(osp.join(HERE, 'configs')):
            rel = osp.relpath(folder, osp.join(HERE, 'configs'))
            outputs += [osp.normpath(osp.join(target, rel, f)) for f in files
                        if f.endswith('.py')]
        return outputs


setup(cmdclass={'build_py': BuildPyWithConfigs})
