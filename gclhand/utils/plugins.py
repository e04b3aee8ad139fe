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
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from mmengine.logging import print_log
from mmengine.registry import Registry

from .build import ConfigError

GROUP = 'gclhand.plugins'
ENV = 'GCLHAND_PLUGINS'
#: MMEngine's ``register_module`` error for a name that is taken
_TAKEN = re.compile(r'(\S+) is already registered in (.+?) at (\S+)')
#: entry-point name -> None (imported) or the one-line reason it could not be
_ATTEMPTED: Dict[str, Optional[str]] = {}


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

    def undo() -> None:
        for reg in registries:
            reg._module_dict.clear()
            reg._module_dict.update(before[id(reg)])

    try:
        import_module(ep.value.split(':')[0])
    except Exception as exc:
        # a plugin that fails part-way (an ImportError after a forced registration, a
        # clash) leaves no registration behind: gclhand's own components stay in place
        undo()
        taken = (_TAKEN.search(str(exc.args[0]) if exc.args else '')
                 if isinstance(exc, KeyError) else None)
        if taken is None:
            raise
        name, kind, owner = taken.groups()
        raise PluginError(_clash_message(ep, kind, name, owner)) from None
    for reg in registries:
        for name, cls in before[id(reg)].items():
            if reg.module_dict.get(name) is not cls:
                undo()
                raise PluginError(_clash_message(ep, reg.name, name, cls.__module__))


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


def clash_cause(missing: str) -> Optional[str]:
    """``"<clash line>; because of it <missing> is not registered"`` when a plugin clash
    is the likely reason ``missing`` (e.g. ``"the disturber 'X' at config key '...'"``) is
    unknown; ``None`` when no plugin clashed."""
    clash = plugin_clash()
    return None if clash is None else f'{clash}; because of it {missing} is not registered'


def plugin_clash() -> Optional[str]:
    """The first clash among the plugins tried so far (its one-line message), or ``None``.

    A skipped clashing plugin is usually the reason a config's types are missing (two
    installed packages register the same name; the one imported first keeps it), so an
    "unknown type" error leads with it.
    """
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
                f'{exc} — {ENV}=all imports every installed plugin: fix or uninstall it, or '
                f'unset {ENV} to load plugins only when a config needs them') from exc
        _ATTEMPTED[ep.name] = None
        loaded.append(ep.value)
    if loaded:
        print_log(f'gclhand: loaded plugins {loaded}', logger='current')
    return loaded


__all__ = ['ENV', 'GROUP', 'PluginError', 'clash_cause', 'installed_plugins', 'load_plugin',
           'load_plugins', 'load_plugins_for', 'plugin_clash', 'plugin_failures',
           'plugin_policy', 'policy_note', 'unknown_type_note']
