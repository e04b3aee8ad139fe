"""Installed plugins: packages that declare an entry point in the ``gclhand.plugins`` group.

A plugin registers its components into gclhand's registries when its module is imported.
gclhand imports installed plugins **only when a config asks for a type that no registry
knows** (:func:`load_plugins_for`), one plugin at a time in entry-point name order until
every missing type is found.  So:

* a run that needs no plugin never imports one: a broken or clashing plugin installed
  beside gclhand cannot break it;
* a plugin that fails to import while gclhand looks for a missing type is skipped with one
  warning line; the run fails only if a type is still missing, and then the error lists
  the plugins that could not be imported;
* a plugin that registers a name some other package already registered - gclhand itself
  or another plugin, with or without ``force=True`` - is a clash, reported in one line
  naming both packages (:class:`PluginError`): its registrations are undone and, like a
  broken plugin, it is skipped with that line as a warning; the run fails only if a type
  it was needed for is still missing (or, with ``GCLHAND_PLUGINS=all``, at once).

``GCLHAND_PLUGINS`` chooses the policy: unset or ``auto`` (on demand, as above), ``none``
(never import entry points: only ``custom_imports`` and imports in your own code), ``all``
(import every installed plugin when the modules are registered, the eager behaviour of
earlier versions), or a comma-separated list of entry-point names (only those, on demand).
``custom_imports`` in a config keeps working independently of this.
"""
import logging
import os
import re
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points, packages_distributions
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from mmengine.logging import print_log
from mmengine.registry import Registry

from .build import ConfigError, did_you_mean

GROUP = 'gclhand.plugins'
ENV = 'GCLHAND_PLUGINS'
#: MMEngine's ``register_module`` error for a name that is taken
_TAKEN = re.compile(r'(\S+) is already registered in (.+?) at (\S+)')
#: entry-point name -> None (imported) or the one-line reason it could not be
_ATTEMPTED: Dict[str, Optional[str]] = {}
#: entry-point name of a clashing plugin -> (the names its import registered before it was
#: undone, whether the import stopped at the clash: names after it are then unknown)
_CLASHED: Dict[str, Tuple[Set[str], bool]] = {}


class PluginError(ConfigError):
    """An installed plugin clashes with a registered name; the message names both packages."""


def plugin_policy() -> Tuple[str, Optional[Set[str]]]:
    """``(mode, names)`` from ``$GCLHAND_PLUGINS``: mode ``'auto'``, ``'none'`` or ``'all'``;
    ``names`` restricts the candidates to those entry points (``None``: all)."""
    value = os.environ.get(ENV, '').strip()
    if value.lower() in ('', 'auto'):
        return 'auto', None
    if value.lower() in ('none', '0', 'off', 'false'):
        return 'none', None
    if value.lower() == 'all':
        return 'all', None
    return 'auto', {n.strip() for n in value.split(',') if n.strip()}


def installed_plugins(group: str = GROUP) -> List[EntryPoint]:
    """The installed entry points of ``group`` allowed by ``$GCLHAND_PLUGINS``, by name."""
    mode, names = plugin_policy()
    if mode == 'none':
        return []
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    return [ep for ep in found if names is None or ep.name in names]


def _gclhand_registries() -> List[Registry]:
    from gclhand import registry
    return [r for r in vars(registry).values() if isinstance(r, Registry)]


def _package_of_module(module: str) -> str:
    """``'gclhand_nodedrop.node_drop'`` -> ``"package 'gclhand-nodedrop'"`` (or gclhand)."""
    top = module.split('.')[0]
    if top == 'gclhand':
        return f'gclhand itself ({module})'
    dists = packages_distributions().get(top) or []
    return f"package '{dists[0]}' ({module})" if dists else f"module '{module}'"


#: how every clash message starts (:func:`plugin_clash` finds them by it)
CLASH_PREFIX = 'gclhand plugin clash:'


def _describe(ep: EntryPoint) -> str:
    dist = getattr(ep, 'dist', None)
    package = f"package '{dist.name}'" if dist is not None else f"module '{ep.value}'"
    return f"{package} (entry point '{ep.name}' = {ep.value})"


def _clash_message(ep: EntryPoint, kind: str, name: str, owner_module: str) -> str:
    owner = _package_of_module(owner_module)
    fix = ('a plugin must not replace a gclhand component: register it under a new name'
           if owner.startswith('gclhand itself') else
           'rename the component in one of them, or uninstall one')
    return (f"{CLASH_PREFIX} {_describe(ep)} registers {kind} '{name}', which "
            f'{owner} already registers — {fix} (or set {ENV}=none to load no entry-point '
            'plugins)')


def load_plugin(ep: EntryPoint) -> None:
    """Import one plugin.

    Raises:
        PluginError: the plugin registers a name that was already registered (MMEngine
            refused it, or the plugin forced it); every registration the import made is
            undone first, so gclhand's and the other plugins' components stay in place.
            Any other exception of the import is raised after the same undoing.
    """
    registries = _gclhand_registries()
    before = {id(r): dict(r.module_dict) for r in registries}

    def undo(clashed: Optional[str] = None, stopped: bool = False) -> None:
        if clashed is not None:  # what the plugin provides, for clash_cause
            _CLASHED[ep.name] = ({n for r in registries for n, c in r.module_dict.items()
                                  if before[id(r)].get(n) is not c} | {clashed}, stopped)
        for reg in registries:
            reg._module_dict.clear()
            reg._module_dict.update(before[id(reg)])

    try:
        module = import_module(ep.value.split(':')[0])
        _refuse_empty_namespace(module, registries, before)
    except Exception as exc:
        # a plugin that fails part-way (an ImportError after a forced registration, a
        # clash) leaves no registration behind: gclhand's own components stay in place
        taken = (_TAKEN.search(str(exc.args[0]) if exc.args else '')
                 if isinstance(exc, KeyError) else None)
        if taken is None:
            undo()
            raise
        name, kind, owner = taken.groups()
        undo(name, stopped=True)
        raise PluginError(_clash_message(ep, kind, name, owner)) from None
    for reg in registries:
        for name, cls in before[id(reg)].items():
            if reg.module_dict.get(name) is not cls:
                undo(name)
                raise PluginError(_clash_message(ep, reg.name, name, cls.__module__))


def _refuse_empty_namespace(module, registries: List[Registry], before: dict) -> None:
    """Raise ``ImportError`` when ``module`` is a namespace package that registered
    nothing: a folder named like the plugin on Python's path (the project folder of an
    editable install, seen from the folder that holds it) shadowed the installed module."""
    if getattr(module, '__file__', None) is not None:
        return
    if any(r.module_dict.keys() != before[id(r)].keys() for r in registries):
        return
    where = ', '.join(getattr(module, '__path__', None) or []) or '?'
    raise ImportError(
        f"'{module.__name__}' was imported as an empty namespace package from {where} "
        '(a folder of that name on the Python path, e.g. the project folder of an editable '
        'install, hides the installed module): run Python from another folder '
        '(docs/plugins.md, section 2)')


def load_plugins_for(missing: Callable[[], Iterable[str]]) -> List[str]:
    """Import installed plugins one by one until ``missing()`` is empty.

    Args:
        missing: returns the type names still unknown to every registry.

    Returns:
        The entry-point names imported by this call.  A plugin that fails to import or
        clashes is skipped with a one-line warning (see :func:`plugin_failures`).
    """
    loaded, wanted = [], sorted(set(missing()))
    for ep in installed_plugins():
        if not set(missing()):
            break
        if ep.name in _ATTEMPTED:
            continue
        try:
            load_plugin(ep)
        except Exception as exc:  # noqa: BLE001 - a bad plugin must not stop other runs
            if isinstance(exc, PluginError):  # the message names the plugin already
                reason = str(exc)
                line = f'gclhand: skipped a plugin: {reason}'
            else:
                reason = ' '.join(f'{type(exc).__name__}: {exc}'.split())
                line = f'gclhand: skipped plugin {_describe(ep)}: {reason}'
            _ATTEMPTED[ep.name] = reason
            print_log(line, logger='current', level=logging.WARNING)
            continue
        _ATTEMPTED[ep.name] = None
        loaded.append(ep.name)
    if loaded:
        still = sorted(set(missing()))
        print_log(f'gclhand: loaded plugins {loaded} looking for {wanted}'
                  + (f'; still missing: {still}' if still else ''), logger='current')
    return loaded


def policy_note() -> str:
    """`` (GCLHAND_PLUGINS=...: ...)`` when the setting kept installed plugins from being
    searched, to append to an "unknown type" error; ``''`` otherwise."""
    mode, names = plugin_policy()
    if mode == 'all' or (mode == 'auto' and names is None):
        return ''
    held_back = sorted(ep.name for ep in entry_points(group=GROUP)
                       if mode == 'none' or ep.name not in names)
    if not held_back:
        return ''
    return (f" ({ENV}={os.environ.get(ENV, '').strip()} kept these installed plugins from "
            f"being searched: {', '.join(held_back)})")


def unknown_type_note() -> str:
    """What an "unknown type" error appends about plugins: ``. Installed plugins that failed
    to import: NAME: REASON; ...`` when any did, then :func:`policy_note`."""
    failed = '; '.join(f'{n}: {r}' for n, r in plugin_failures().items())
    return (f'. Installed plugins that failed to import: {failed}' if failed else '') \
        + policy_note()


def plugin_failures() -> Dict[str, str]:
    """Entry-point name -> why it could not be imported, for plugins tried so far."""
    return {name: reason for name, reason in _ATTEMPTED.items() if reason}


def clash_cause(missing: str, type_name: Optional[str] = None,
                known: Iterable[str] = ()) -> Optional[str]:
    """The clash line of a skipped plugin that is the likely reason ``type_name`` is
    unknown, followed by why; ``None`` when no clash explains it.

    Two installed packages that register the same name are the usual reason a config's
    types are missing (the one imported first keeps the name, the other is skipped whole),
    so an "unknown type" error leads with such a clash - but only when the skipped plugin
    registered ``type_name`` before it was undone, or its import stopped at the clash (the
    names it registers after that point are unknown) and ``type_name`` is not a near-miss
    of a ``known`` name (a typo).  Otherwise the clash is only listed among the plugins
    that could not be imported (:func:`unknown_type_note`).

    Args:
        missing: how the error names the type, e.g. ``"the disturber 'X' at config key
            '...'"``.
        type_name: the unknown type; ``None`` blames the first clash.
        known: the names registered in the type's registry.
    """
    for name, reason in plugin_failures().items():
        if not reason.startswith(CLASH_PREFIX):
            continue
        provided, stopped = _CLASHED.get(name, (set(), True))
        if type_name is None or type_name in provided:
            return f'{reason}; because of it {missing} is not registered'
        if stopped and not did_you_mean(type_name, known):
            return (f'{reason}; its import stopped there, so {missing} may be one of the '
                    'components it did not get to register')
    return None


def plugin_clash() -> Optional[str]:
    """The first clash among the plugins tried so far (its one-line message), or ``None``."""
    for reason in plugin_failures().values():
        if reason.startswith(CLASH_PREFIX):
            return reason
    return None


def load_plugins(group: str = GROUP) -> List[str]:
    """Import every installed plugin (``GCLHAND_PLUGINS=all``).

    Returns:
        The imported entry points' values.

    Raises:
        PluginError: a plugin fails to import or clashes (one line naming it).
    """
    loaded = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            load_plugin(ep)
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - name the plugin, keep the cause
            raise PluginError(
                f'gclhand plugin {_describe(ep)} failed to import: {type(exc).__name__}: '
                f'{exc} — load_plugins() ({ENV}=all) imports every installed plugin: fix or '
                f'uninstall it, or leave {ENV} unset and let gclhand load plugins only when '
                'a config needs them') from exc
        _ATTEMPTED[ep.name] = None
        loaded.append(ep.value)
    if loaded:
        print_log(f'gclhand: loaded plugins {loaded}', logger='current')
    return loaded


# -- which types a config needs -------------------------------------------------------
#: Top-level ``*_cfg`` keys whose ``type`` is looked up in a gclhand registry by the Runner.
RUNNER_CFG_SECTIONS = ('train_cfg', 'val_cfg', 'test_cfg', 'model_wrapper_cfg')


def _is_registered(registries: List[Registry], type_: str) -> bool:
    """Whether some registry builds ``type_``.  A name in a registry's own or an ancestor's
    table is found without ``Registry.get``, which for a name it lacks tries to import the
    name as a module path (~60 us a registry, every registry a type is not in)."""
    for reg in registries:
        node = reg
        while node is not None:
            if type_ in node.module_dict:
                return True
            node = node.parent
    return any(reg.get(type_) is not None for reg in registries)  # scoped / dotted names


def _unregistered_types(node, registries: List[Registry],
                        key: str = '') -> Iterator[Tuple[str, str]]:
    """(config key, type) of every ``type='Name'`` in ``node`` that no registry knows."""
    if isinstance(node, dict):
        type_ = node.get('type')
        if isinstance(type_, str) and not _is_registered(registries, type_):
            yield key, type_
        for k, v in node.items():
            # norm_cfg, init_cfg, ...: built by helpers from their own registries; the
            # runner's sections (train_cfg: LOOPS, ...) are gclhand registries' types
            if not str(k).endswith('_cfg') or (not key and k in RUNNER_CFG_SECTIONS):
                yield from _unregistered_types(v, registries, f'{key}.{k}' if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _unregistered_types(v, registries, f'{key}.{i}')


def unknown_types(cfg, skip_keys: Sequence[str] = ()) -> List[Tuple[str, str]]:
    """``(config key, type)`` of every ``type=`` in ``cfg`` (an MMEngine ``Config``) that no
    registry knows, outside ``custom_imports`` and the keys in ``skip_keys`` (and their
    sub-keys)."""
    registries = _gclhand_registries()
    for reg in registries:
        reg.import_from_location()
    skip = tuple(skip_keys) + ('custom_imports', )
    return [(k, t) for k, t in _unregistered_types(cfg.to_dict(), registries)
            if not any(k == s or k.startswith(s + '.') for s in skip)]


def load_needed_plugins(cfg, skip_keys: Sequence[str] = ()) -> List[str]:
    """Import installed entry-point plugins until every ``type=`` of ``cfg`` is registered
    (none when nothing is missing; a plugin that fails or clashes is skipped with a warning,
    above).  ``gclhand.engine.build_runner`` calls it: the Runner's own components
    (datasets, transforms, metrics, hooks, loops) are looked up by MMEngine, which does not
    search entry points."""
    return load_plugins_for(lambda: {t for _, t in unknown_types(cfg, skip_keys)})


__all__ = ['ENV', 'GROUP', 'PluginError', 'RUNNER_CFG_SECTIONS', 'clash_cause',
           'installed_plugins', 'load_needed_plugins', 'load_plugin', 'load_plugins',
           'load_plugins_for', 'plugin_clash', 'plugin_failures', 'plugin_policy', 'policy_note',
           'unknown_type_note', 'unknown_types']
