"""A non-editable install ships the configs: the wheel holds ``gclhand/.mim/configs`` and,
installed outside the checkout, resolves ``gclhand::`` names from there."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SOURCES = ('pyproject.toml', 'setup.py', 'MANIFEST.in', 'README.md', 'gclhand', 'configs')


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """A wheel built from a copy of the source tree (the checkout stays untouched)."""
    pytest.importorskip('setuptools')
    src = tmp_path_factory.mktemp('src')
    for name in SOURCES:
        path = osp.join(ROOT, name)
        if osp.isdir(path):
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.egg-info'))
        else:
            shutil.copy(path, src / name)
    dist = tmp_path_factory.mktemp('dist')
    proc = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                           '--no-build-isolation', '-q', '-w', str(dist), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = dist.glob('gclhand-*.whl')
    return found


def test_wheel_ships_every_config_and_the_console_script(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n[len('gclhand/.mim/configs/'):] for n in names
               if n.startswith('gclhand/.mim/configs/')}
    in_repo = {osp.relpath(osp.join(d, f), osp.join(ROOT, 'configs'))
               for d, _, fs in os.walk(osp.join(ROOT, 'configs')) for f in fs
               if f.endswith('.py')}
    assert shipped == in_repo
    entry_points = next(n for n in names if n.endswith('entry_points.txt'))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert 'gclhand = gclhand.cli:main' in text


def test_installed_copy_resolves_its_own_configs(wheel, tmp_path):
    target = tmp_path / 'site'
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
                           '--target', str(target), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    work = tmp_path / 'elsewhere'
    work.mkdir()
    (work / 'mine.py').write_text("_base_ = ['gclhand::dgcl_synth.py']\n"
                                  'train_cfg = dict(max_epochs=1)\n')
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run(
        [sys.executable, '-c',
         'import gclhand; from gclhand.cli.config import load_config; '
         'from gclhand.utils.package_configs import configs_root; '
         "print(gclhand.__file__); print(configs_root()); "
         "print(load_config('mine.py').train_cfg.max_epochs)"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    package_file, root, epochs = proc.stdout.strip().splitlines()[-3:]
    assert package_file.startswith(str(target))  # the installed copy, not the checkout
    assert root == str(target / 'gclhand' / '.mim' / 'configs')
    assert epochs == '1'
