"""Building registered components with errors that name the problem."""
import difflib
import inspect
from typing import Any, Optional

import torch
from mmengine.registry import Registry


def class_name(obj: Any) -> str:
    """``module.QualifiedName`` of ``obj``'s class, how errors name a component."""
    return f'{type(obj).__module__}.{type(obj).__qualname__}'


def did_you_mean(name: str, names) -> str:
    """``"did you mean 'A' or 'B'? "`` for the registered ``names`` close to ``name``
    (:func:`difflib.get_close_matches`, else a match that differs only in case), or ``''``."""
    names = sorted(names)
    close = difflib.get_close_matches(name, names, n=3) or [
        n for n in names if n.lower() == name.lower()]
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ''


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and how to fix it."""


def require_scalar_tensor(value: Any, returned_by: str, rule: str) -> None:
    """Raise :class:`ConfigError` ``'{returned_by} returned {what}; {rule}'`` unless ``value``
    is a 0-d tensor: MMEngine would average a per-sample vector silently (ignoring any
    validity mask) and refuse a float far from the component that returned it."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return
    got = (f'a tensor of shape {tuple(value.shape)}' if isinstance(value, torch.Tensor)
           else f'a {type(value).__name__}')
    raise ConfigError(f'{returned_by} returned {got}; {rule}')


def build_component(registry: Registry, cfg: Optional[dict], key: str = '', **default_args: Any):
    """Build ``cfg`` from ``registry``, failing with one clear line for an unknown ``type``.

    MMEngine raises a long ``KeyError`` from deep inside ``build_from_cfg``; researchers
    mostly hit it when a plugin that registers the component is not installed or imported,
    so that is what the message says.  An unknown type first makes gclhand import the
    installed entry-point plugins (:func:`gclhand.utils.plugins.load_plugins_for`).

    Args:
        registry: the registry to build from, e.g. ``DISTURBERS``.
        cfg: a config dict with a ``type`` key, an already built object, or ``None``.
        key: the config key the dict came from (for the message), e.g. ``model.dgcl.disturber``.
        **default_args: passed to the constructor unless the config sets them.
    """
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    if 'type' not in cfg:
        raise ConfigError(f"config key '{key or registry.name}' needs a 'type' "
                          f"naming a registered {registry.name}")
    type_ = cfg['type']
    if isinstance(type_, str):
        registry.import_from_location()
        _load_plugin_for(registry, type_)
        if registry.get(type_) is None:
            from .plugins import clash_cause, unknown_type_note
            clash = clash_cause(f"the {registry.name} '{type_}'"
                                f"{' at config key ' + repr(key) if key else ''}", type_,
                                registry.module_dict)
            if clash is not None:  # the likely cause comes first
                raise ConfigError(clash)
            known = ', '.join(sorted(registry.module_dict)) or 'none'
            hint = did_you_mean(type_, registry.module_dict)
            raise ConfigError(
                f"unknown {registry.name} '{type_}'"
                f"{' at config key ' + repr(key) if key else ''} — {hint}did you install/"
                f"import the plugin that registers it (custom_imports=dict(imports=[...]))? "
                f"Registered: {known}" + unknown_type_note())
    try:
        return registry.build(cfg, default_args=default_args or None)
    except TypeError as e:
        # the usual cause: a child config merged into a base one of another type keeps the
        # base's keys (MMEngine merges dicts key by key)
        if 'unexpected keyword argument' not in str(e) or not isinstance(type_, str):
            raise
        raise ConfigError(f"config key '{key or registry.name}' (type '{type_}'): {e}. If "
                          'the key comes from a base config that sets another type, replace '
                          "that dict whole: add _delete_=True beside 'type'") from e


def _load_plugin_for(registry: Registry, type_: str) -> None:
    """Load the installed entry-point plugins if ``type_`` is not registered yet."""
    if registry.get(type_) is None:
        from .plugins import load_plugins_for
        load_plugins_for(lambda: [type_] if registry.get(type_) is None else [])


#: ``__init__`` methods that take no configuration although their signature has
#: ``**kwargs`` (a class that defines no ``__init__`` inherits one of these).
_TAKE_NOTHING = (torch.nn.Module.__init__, object.__init__)


def fill_defaults(registry: Registry, cfg: Optional[dict], **candidates: Any) -> Optional[dict]:
    """Return a copy of ``cfg`` with each ``candidates`` key its class accepts and lacks.

    Lets a parent module pass sizes it knows (channels, node counts) to a configured child
    without every config repeating them; keys the child's ``__init__`` does not take, and
    ``None`` values, are ignored. ``cfg`` values always win.
    """
    if not isinstance(cfg, dict) or not isinstance(cfg.get('type'), str):
        return cfg
    registry.import_from_location()
    type_ = cfg['type']
    _load_plugin_for(registry, type_)  # as the build that follows would, so its sizes fill
    cls = registry.get(type_)
    if cls is None:  # unknown: the build that follows says so
        return cfg
    if cls.__init__ in _TAKE_NOTHING:  # no __init__ of its own: nn.Module's **kwargs
        return dict(cfg)                # would accept the sizes, then raise on them
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    out = dict(cfg)
    for key, value in candidates.items():
        if value is not None and key not in out and (key in params or takes_any):
            out[key] = value
    return out
