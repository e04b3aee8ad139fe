"""Reading a config for a subcommand: ``--cfg-options`` checks, plugin and type errors.

Every problem a user can fix is raised as :class:`~gclhand.utils.ConfigError` (or
``FileNotFoundError``) with one line that names the key, the file or the plugin;
:func:`gclhand.cli.errors.run_tool` prints it and exits with status 2.
"""
import difflib
import logging
import os
import os.path as osp
from importlib import import_module
from typing import Iterator, List, Optional, Sequence, Set, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import Registry

from gclhand.apis.deploy import TRAINING_ONLY_KEYS, deployed_model_config

from gclhand.utils.build import ConfigError, did_you_mean
from gclhand.utils.plugins import RUNNER_CFG_SECTIONS, load_needed_plugins, unknown_types
from gclhand.utils.package_configs import config_file, config_name


def _walk(cfg, parts: Sequence[str]) -> Tuple[bool, str, List[str]]:
    """Follow ``parts`` into ``cfg``: (found, the part that failed, its siblings)."""
    node = cfg.to_dict() if isinstance(cfg, Config) else cfg
    for part in parts:
        if isinstance(node, (list, tuple)):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            return False, part, [str(i) for i in range(len(node))]
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        return False, part, list(node.keys()) if isinstance(node, dict) else []
    return True, '', []


def check_cfg_options(cfg: Config, options: Optional[dict]) -> dict:
    """Check that every ``--cfg-options`` key exists in ``cfg``; return the options to merge.

    A key written with a leading ``+`` may be new (its parent must exist or is created).

    Raises:
        ConfigError: a key is not in the config; the message suggests close matches.
    """
    checked = {}
    for key, value in (options or {}).items():
        if key.startswith('+'):
            checked[key[1:]] = value
            continue
        parts = key.split('.')
        found, part, siblings = _walk(cfg, parts)
        if not found:
            where = '.'.join(parts[:parts.index(part)])
            close = difflib.get_close_matches(part, siblings, n=3)
            hint = ('did you mean ' + ' or '.join(
                repr('.'.join(filter(None, [where, c]))) for c in close) + '? ') if close else ''
            raise ConfigError(f"--cfg-options key '{key}' is not in the config ({hint}write "
                              f"'+{key}=...' to add a new key)")
        checked[key] = value
    return checked


def load_config(path: str, cfg_options: Optional[dict] = None,
                deployed: bool = False) -> Config:
    """Read a config file (or a shipped ``gclhand::`` config) and apply checked
    ``--cfg-options``.

    Args:
        path: config file or ``gclhand::NAME``.
        cfg_options: ``--cfg-options`` (each key must exist unless written ``+key``).
        deployed: the caller builds the deployed model (test, demo, export): the
            training-only model keys (``model.dgcl``, ``model.aux_heads``) are removed, and a
            ``custom_imports`` plugin that only they needed may be missing (a warning).

    Raises:
        FileNotFoundError: the file (or one of its ``_base_`` files) does not exist.
        ConfigError: the file cannot be parsed or imported, or an option key is unknown.
    """
    path = config_file(path)
    try:
        cfg = Config.fromfile(path, import_custom_modules=not deployed)
    except (SyntaxError, ImportError) as e:
        plugin_message = _failed_custom_import(path, e)
        if plugin_message is not None:
            raise ConfigError(plugin_message) from e
        raise ConfigError(f'config file {path} could not be read: {type(e).__name__}: '
                          f'{e}') from e
    options = check_cfg_options(cfg, cfg_options)
    if options:
        cfg.merge_from_dict(options)
    if deployed:
        if isinstance(cfg.get('model'), dict):
            cfg.model = deployed_model_config(cfg.model)
        _import_custom_modules_for_deployment(path, cfg)
    return cfg


def _failed_custom_import(path: str, exc: ImportError) -> Optional[str]:
    """One-line message for a config whose ``custom_imports`` could not be imported.

    MMEngine wraps the original error in an ``ImportError`` that lists ``sys.path``; this
    unwraps it for :func:`_custom_import_message`.  ``None`` when ``exc`` is not MMEngine's
    custom-imports error.
    """
    cause = exc.__cause__
    if not str(exc).startswith('Failed to import custom modules') or \
            not isinstance(cause, ImportError):
        return None
    # mmengine raises ImportError('Failed to import <module>') while handling the real one
    while isinstance(cause.__cause__ or cause.__context__, ImportError):
        cause = cause.__cause__ or cause.__context__
    try:
        raw = Config.fromfile(path, import_custom_modules=False)
    except Exception:  # noqa: BLE001 - the message below still names the import
        raw = Config()
    return _custom_import_message(path, raw, cause)


def _custom_import_message(path: str, cfg: Config, cause: ImportError) -> str:
    """Name the plugin module that ``cfg``'s ``custom_imports`` could not import, the types
    the config needs from it, and how to install it (``pip install -e plugins/<module>``
    for the plugins shipped in this repository)."""
    imports = (cfg.get('custom_imports') or {}).get('imports') or []
    imports = [imports] if isinstance(imports, str) else list(imports)
    missing = getattr(cause, 'name', None) or ''
    plugin = next((m for m in imports if missing and (m == missing or m.startswith(
        missing + '.'))), None)
    try:  # which types the config needs from the plugin; a bonus, never a new error
        from gclhand.apis import register_all_modules
        register_all_modules(init_default_scope=False)
        load_needed_plugins(cfg)  # the types of installed entry-point plugins are not its
        unknown = _types_in_built_keys_first(cfg, unknown_types(cfg))
    except Exception:  # noqa: BLE001
        unknown = []
    needs = ''
    if unknown:
        from gclhand import registry
        names = {reg.name for reg in vars(registry).values() if isinstance(reg, Registry)}
        kinds = {key: getattr(registry, attr).name for key, _, attr in _registry_sections(cfg)}
        parts = []
        for key, type_ in unknown:
            kind = kinds.get(key) or key.rsplit('.', 1)[-1]
            kind = kind if kind in names else 'type'
            parts.append(f"unknown {kind} '{type_}' at config key '{key}'")
        needs = ' without it: ' + '; '.join(parts[:3]) + ('; ...' if len(parts) > 3 else '') \
            + ' —'
    if plugin is None:  # the plugin itself imports something missing, or failed otherwise
        return (f'config file {path}: custom_imports={imports} failed: '
                f'{type(cause).__name__}: {cause} —{needs} fix the plugin\'s installation '
                '(did you install/import the plugin and its dependencies?)')
    top = plugin.split('.')[0]
    repo_plugin = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                           'plugins', top)
    if osp.isdir(repo_plugin):
        rel = osp.relpath(repo_plugin)
        install = f'pip install -e {repo_plugin if rel.startswith(os.pardir) else rel}'
    else:
        install = f'pip install {top}'
    return (f"config file {path}: custom_imports could not import the plugin module "
            f"'{plugin}' ({type(cause).__name__}: {cause}) —{needs} did you install/import "
            f'the plugin? Install it with `{install}` (or put its folder on PYTHONPATH)')


def _types_in_built_keys_first(cfg: Config, unknown: List[Tuple[str, str]]
                               ) -> List[Tuple[str, str]]:
    """``unknown`` with each type once: at a key of something the Runner builds if it
    appears there (not at a helper variable such as ``train_pipeline`` that only feeds
    one), else at its first key."""
    built = {key.split('.')[0] for key, _, _ in _registry_sections(cfg)}
    ordered = sorted(unknown, key=lambda kt: kt[0].split('.')[0] not in built)
    seen: Set[str] = set()
    return [(k, t) for k, t in ordered if not (t in seen or seen.add(t))]


def _import_custom_modules_for_deployment(path: str, cfg: Config) -> None:
    """Import ``cfg.custom_imports`` for a deployed model: a module that cannot be imported
    is only a warning when everything the deployed config builds is registered without it
    (it served the training-only parts), else the one-line plugin error."""
    custom = cfg.get('custom_imports') or {}
    imports = custom.get('imports') or []
    for module in [imports] if isinstance(imports, str) else imports:
        try:
            import_module(module)
        except ImportError as exc:
            from gclhand.apis import register_all_modules
            register_all_modules(init_default_scope=False)
            load_needed_plugins(cfg)  # what installed entry-point plugins provide is found
            if unknown_types(cfg) and not custom.get('allow_failed_imports', False):
                raise ConfigError(_custom_import_message(path, cfg, exc)) from exc
            print_log(f"custom_imports '{module}' could not be imported "
                      f'({type(exc).__name__}: {exc}); the deployed model does not need it '
                      f"(training-only {', '.join('model.' + k for k in TRAINING_ONLY_KEYS)} "
                      'are not built)', logger='current', level=logging.WARNING)


def _registry_sections(cfg: Config) -> Iterator[Tuple[str, object, str]]:
    """(config key, sub-config, registry attribute name) of everything the Runner builds."""
    def items(key, value):
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield f'{key}.{i}', v
        elif value is not None:
            yield key, value

    yield 'model', cfg.get('model'), 'MODELS'
    if isinstance(cfg.get('model'), dict):
        yield 'model.data_preprocessor', cfg.model.get('data_preprocessor'), 'MODELS'
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            yield f'{split}_dataloader.sampler', loader.get('sampler'), 'DATA_SAMPLERS'
            dataset = loader.get('dataset')
            yield f'{split}_dataloader.dataset', dataset, 'DATASETS'
            if isinstance(dataset, dict):
                for key, t in items(f'{split}_dataloader.dataset.pipeline',
                                    dataset.get('pipeline')):
                    yield key, t, 'TRANSFORMS'
        if split != 'train':
            evaluator = cfg.get(f'{split}_evaluator')
            if isinstance(evaluator, dict) and 'metrics' in evaluator:
                yield f'{split}_evaluator', evaluator, 'EVALUATOR'
                evaluator = evaluator['metrics']
            for key, m in items(f'{split}_evaluator', evaluator):
                yield key, m, 'METRICS'
        yield f'{split}_cfg', cfg.get(f'{split}_cfg'), 'LOOPS'
    for name, hook in (cfg.get('default_hooks') or {}).items():
        yield f'default_hooks.{name}', hook, 'HOOKS'
    yield from ((k, h, 'HOOKS') for k, h in items('custom_hooks', cfg.get('custom_hooks')))
    optim = cfg.get('optim_wrapper')
    yield 'optim_wrapper', optim, 'OPTIM_WRAPPERS'
    if isinstance(optim, dict):
        yield 'optim_wrapper.optimizer', optim.get('optimizer'), 'OPTIMIZERS'
    yield from ((k, s, 'PARAM_SCHEDULERS')
                for k, s in items('param_scheduler', cfg.get('param_scheduler')))
    yield 'model_wrapper_cfg', cfg.get('model_wrapper_cfg'), 'MODEL_WRAPPERS'
    yield 'visualizer', cfg.get('visualizer'), 'VISUALIZERS'
    if isinstance(cfg.get('visualizer'), dict):
        yield from ((k, b, 'VISBACKENDS') for k, b in items(
            'visualizer.vis_backends', cfg.visualizer.get('vis_backends')))
    yield 'log_processor', cfg.get('log_processor'), 'LOG_PROCESSORS'
    if cfg.get('runner_type') is not None:
        yield 'runner_type', dict(type=cfg.runner_type), 'RUNNERS'


def check_registered_types(cfg: Config, skip_keys: Sequence[str] = ()) -> None:
    """Check every ``type=`` of the config names a registered class, before building.

    Installed plugins are imported first when any type of the config is missing
    (:func:`load_needed_plugins`).  The components the Runner builds are checked here with
    their registry (close names suggested); components built inside a model are checked
    where they are built (:func:`gclhand.utils.build_component`, whose errors also name
    the key).

    Args:
        cfg: the config.
        skip_keys: config keys whose components are not built (e.g. ``'model.dgcl'`` for
            a deployed model): their types are not needed.

    Raises:
        ConfigError: naming the key, the unknown type and close registered names.
    """
    from gclhand import registry
    load_needed_plugins(cfg, skip_keys)
    for key, sub, registry_name in _registry_sections(cfg):
        if not isinstance(sub, dict) or not isinstance(sub.get('type'), str):
            continue
        reg = getattr(registry, registry_name)
        reg.import_from_location()
        if reg.get(sub['type']) is not None:
            continue
        known, node = set(), reg
        while node is not None:
            known.update(node.module_dict)
            node = node.parent
        raise _unknown_type_error(reg.name, sub['type'], key, known)


def _unknown_type_error(kind: str, type_: str, key: str, known) -> ConfigError:
    """The one-line error for ``type_`` at ``key``, unknown to the ``kind`` registry
    whose names (with its parents') are ``known``."""
    from gclhand.utils.plugins import clash_cause, unknown_type_note
    clash = clash_cause(f"the config's {kind} '{type_}' at config key '{key}'", type_, known)
    if clash is not None:  # the likely cause comes first
        return ConfigError(clash)
    return ConfigError(
        f"unknown {kind} '{type_}' at config key '{key}' — {did_you_mean(type_, known)}check "
        'the spelling, or import the plugin that registers it '
        f'(custom_imports=dict(imports=[...])){unknown_type_note()}')


def check_model_types(cfg: Config, skip_keys: Sequence[str] = ()) -> None:
    """Check the ``type=`` of every component inside ``cfg.model`` (which the model builds
    itself, :func:`check_registered_types` leaves them to it) names a registered class;
    for tools that read a config without building the model (``gclhand print-config``).

    Raises:
        ConfigError: naming the first unknown type, its key and close names: of the
            registry the key names (``model.dgcl.disturber`` -> ``disturber``), else of
            every gclhand registry (``model.losses.bone`` -> a ``component``).
    """
    from gclhand import registry
    regs = {r.name: r for r in vars(registry).values() if isinstance(r, Registry)}
    for key, type_ in unknown_types(cfg, skip_keys):
        if key.startswith('model.'):
            reg = regs.get(key.rsplit('.', 1)[-1])
            known = reg.module_dict if reg is not None else {
                n for r in regs.values() for n in r.module_dict}
            raise _unknown_type_error(reg.name if reg else 'component', type_, key, known)


def resolve_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> str:
    """``--work-dir`` > ``work_dir`` in the config > ``./work_dirs/<config name>`` (the
    same folder for ``configs/dgcl_synth.py`` and the shipped ``gclhand::dgcl_synth.py``)."""
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', config_name(config_path))


__all__ = ['RUNNER_CFG_SECTIONS', 'check_cfg_options', 'check_model_types',
           'check_registered_types', 'load_config', 'load_needed_plugins',
           'resolve_work_dir', 'unknown_types']
