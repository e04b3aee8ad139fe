"""Building registered components with errors that name the problem."""
from typing import Any, Optional

from mmengine.registry import Registry


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and how to fix it."""


def build_component(registry: Registry, cfg: Optional[dict], key: str = '', **default_args: Any):
    """Build ``cfg`` from ``registry``, failing with one clear line for an unknown ``type``.

    MMEngine raises a long ``KeyError`` from deep inside ``build_from_cfg``; researchers
    mostly hit it when a plugin that registers the component is not installed or imported,
    so that is what the message says.

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
        if registry.get(type_) is None:
            known = ', '.join(sorted(registry.module_dict)) or 'none'
            raise ConfigError(
                f"unknown {registry.name} '{type_}'"
                f"{' at config key ' + repr(key) if key else ''} — did you install/import the "
                f"plugin that registers it (custom_imports=dict(imports=[...]))? "
                f"Registered: {known}")
    return registry.build(cfg, default_args=default_args or None)
