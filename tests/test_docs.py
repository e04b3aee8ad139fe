"""The documentation builds warning-free (``mkdocs build --strict``), API pages included."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip('mkdocs')
    pytest.importorskip('mkdocstrings')
    pytest.importorskip('mkdocstrings_handlers.python')
    site = tmp_path / 'site'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get(
        'PYTHONPATH')])))
    proc = subprocess.run(
        [sys.executable, '-m', 'mkdocs', 'build', '--strict', '-f',
         osp.join(ROOT, 'mkdocs.yml'), '-d', str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'mkdocs build --strict failed:\n{log[-6000:]}'
    assert 'WARNING' not in log, log[-6000:]
    # the API reference was rendered from the docstrings, not left as '::: ...' text
    api = (site / 'api' / 'disturbers' / 'index.html').read_text()
    assert 'FeatureMask' in api and ':::' not in api
    assert (site / 'demo' / 'index.html').is_file()
