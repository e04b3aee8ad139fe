"""Discovery of third-party plugins through the ``gclhand.plugins`` entry-point group."""
from importlib import import_module
from importlib.metadata import entry_points
from typing import List

from mmengine.logging import print_log


def load_plugins(group: str = 'gclhand.plugins') -> List[str]:
    """Import every installed package that declares an entry point in ``group``.

    A plugin registers its components into gclhand's registries when imported, so after
    this call a config can name them without ``custom_imports``. A plugin that fails to
    import is reported with its name and the error, not silently skipped.

    Returns:
        The imported module names.
    """
    loaded = []
    for ep in entry_points(group=group):
        try:
            import_module(ep.value.split(':')[0])
        except Exception as exc:  # a broken plugin must not hide behind a KeyError later
            raise ImportError(f"gclhand plugin '{ep.name}' ({ep.value}) failed to import: "
                              f'{exc}') from exc
        loaded.append(ep.value)
    if loaded:
        print_log(f'gclhand: loaded plugins {loaded}', logger='current')
    return loaded
