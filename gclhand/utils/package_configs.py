"""The configs shipped with gclhand and MMEngine's ``gclhand::`` config scope.

A config outside the repository inherits gclhand's configs the way OpenMMLab configs
inherit each other::

    _base_ = ['gclhand::dgcl_synth.py']                 # a Table 2 row
    _base_ = ['gclhand::_base_/default_runtime.py']     # a base file

and the command line takes them directly (``gclhand train gclhand::dgcl_synth.py``).

Where the configs are: ``pip install`` copies the repository's ``configs/`` into the
package as ``gclhand/.mim/configs`` (the OpenMMLab layout; ``setup.py``'s build step), an
editable install or a checkout reads ``configs/`` beside the package.

Why gclhand resolves the scope itself: MMEngine 0.10's resolver
(``mmengine.config.utils._get_package_and_cfg_path``) accepts only the OpenMMLab packages
of its ``MODULE2PACKAGE`` table, only paths with a folder (``pkg::dir/file.py``), and
finds the package through ``pkg_resources``, which setuptools >= 81 no longer ships
(mmengine issue #1410).  :func:`enable_package_scope` - run by ``import gclhand`` - routes
``gclhand::`` paths to :func:`resolve_config_path` and leaves every other path to
MMEngine unchanged.  Python code that calls ``Config.fromfile`` on such a config must
``import gclhand`` first.
"""
import difflib
import glob
import os.path as osp

PACKAGE = 'gclhand'
SCOPE_PREFIX = PACKAGE + '::'
#: the installed location of ``configs/`` inside the package (OpenMMLab's ``.mim`` layout)
INSTALLED_CONFIGS = osp.join('.mim', 'configs')


def configs_root() -> str:
    """The folder holding gclhand's shipped configs (installed copy, else the checkout's).

    Raises:
        FileNotFoundError: neither exists (a wheel built without ``setup.py``'s build step).
    """
    package_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.join(package_dir, INSTALLED_CONFIGS),
                 osp.join(osp.dirname(package_dir), 'configs')):
        if osp.isfile(osp.join(root, '_base_', 'default_runtime.py')):
            return root
    raise FileNotFoundError(
        f"gclhand's configs are not installed (no {osp.join(package_dir, INSTALLED_CONFIGS)}"
        ' and no configs/ beside the package): reinstall gclhand with pip from its source '
        'tree or a wheel built from it')


def shipped_configs() -> list:
    """Paths of the shipped configs relative to :func:`configs_root`, sorted."""
    root = configs_root()
    found = glob.glob(osp.join(root, '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, root) for p in found)


def resolve_config_path(path: str) -> str:
    """``'gclhand::dgcl_synth.py'`` -> the shipped file's absolute path; other paths as given.

    Raises:
        FileNotFoundError: a ``gclhand::`` path that names no shipped config; the message
            suggests close names.
    """
    if not path.startswith(SCOPE_PREFIX):
        return path
    relative = path[len(SCOPE_PREFIX):]
    root = configs_root()
    full = osp.normpath(osp.join(root, relative))
    if osp.isfile(full) and full.startswith(osp.join(root, '')):
        return full
    close = difflib.get_close_matches(relative, shipped_configs(), n=3)
    hint = f"; did you mean {' or '.join(SCOPE_PREFIX + c for c in close)}?" if close else ''
    raise FileNotFoundError(f"config '{path}' is not one of gclhand's configs (in {root})"
                            f"{hint} `gclhand configs` lists them")


def config_name(config: str) -> str:
    """``configs/dgcl_synth.py`` or ``gclhand::dgcl_synth.py`` -> ``dgcl_synth``."""
    return osp.splitext(osp.basename(config.split('::')[-1]))[0]


def config_file(path: str) -> str:
    """:func:`resolve_config_path`, which must name a file.

    Raises:
        FileNotFoundError: naming the file, and its ``gclhand::`` name when it looks like
            a shipped config's ``configs/...`` path (:func:`shipped_config_hint`).
    """
    resolved = resolve_config_path(path)
    if not osp.isfile(resolved):
        raise FileNotFoundError(f'config file {resolved} not found'
                                f'{shipped_config_hint(resolved)}')
    return resolved


def shipped_config_hint(path: str) -> str:
    """``"; gclhand's own configs/X.py is gclhand::X.py"`` when a missing ``path`` ends
    like a shipped config (a ``configs/...`` path from the docs, run outside a checkout),
    else ``''``."""
    norm = path.replace(osp.sep, '/')
    for name in shipped_configs():
        name = name.replace(osp.sep, '/')
        if norm == name or norm.endswith('configs/' + name):
            return (f"; outside a checkout, gclhand's own configs/{name} is "
                    f'{SCOPE_PREFIX}{name}')
    return ''


def enable_package_scope() -> None:
    """Let MMEngine's ``Config`` resolve ``gclhand::`` in ``_base_`` (idempotent).

    Wraps the static ``Config._get_cfg_path``: ``gclhand::`` paths resolve through
    :func:`resolve_config_path` with scope ``'gclhand'`` (what MMEngine returns for an
    OpenMMLab package); all other paths go to MMEngine's own method.
    """
    from mmengine.config import Config

    original = Config.__dict__['_get_cfg_path'].__func__
    if getattr(original, 'gclhand_scope', False):
        return
    # gclhand is deliberately not added to MMEngine's MODULE2PACKAGE table: the registries
    # would then fall back to an OpenMMLab-style ``gclhand.utils.register_all_modules``

    def _get_cfg_path(cfg_path: str, filename: str):
        if cfg_path.startswith(SCOPE_PREFIX):
            return resolve_config_path(cfg_path), PACKAGE
        return original(cfg_path, filename)

    _get_cfg_path.gclhand_scope = True
    _get_cfg_path.__doc__ = original.__doc__
    Config._get_cfg_path = staticmethod(_get_cfg_path)


__all__ = ['config_file', 'config_name', 'configs_root', 'enable_package_scope',
           'resolve_config_path', 'shipped_config_hint', 'shipped_configs']
