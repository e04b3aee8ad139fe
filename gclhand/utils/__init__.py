"""Helpers every layer may use: building components, config checks, distributed set-up.

``gclhand.utils`` depends on nothing else of gclhand except :mod:`gclhand.registry` objects
passed to it (``tests/test_structure.py`` checks it): models, engine, datasets and
evaluation import it, never the other way round.
"""
from .build import ConfigError, build_component, fill_defaults

__all__ = ['ConfigError', 'build_component', 'fill_defaults']

#: names that moved out of ``gclhand.utils`` -> where they are now
_MOVED = {'register_all_modules': 'gclhand.apis'}


def __getattr__(name: str):
    if name in _MOVED:  # ImportError: ``from ... import`` would swallow an AttributeError
        raise ImportError(f"gclhand.utils.{name} moved to {_MOVED[name]}: import it "
                          'from there (gclhand.utils depends on nothing above it)')
    raise AttributeError(f"module 'gclhand.utils' has no attribute '{name}'")
