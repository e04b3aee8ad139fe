"""Environment set-up: registering every module under the ``gclhand`` scope.

It lives in :mod:`gclhand.apis`, the top layer, because it imports every other
subpackage; ``gclhand.utils`` (which those subpackages import) must not.
"""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every gclhand module that registers something and set the default scope.

    Installed entry-point plugins are imported later, when a config names a type that is
    not registered (:mod:`gclhand.utils.plugins`), unless ``GCLHAND_PLUGINS=all``.

    Args:
        init_default_scope: make ``gclhand`` the current default scope so that MMEngine's
            Runner builds ``type='...'`` names from gclhand's registries first.
    """
    import gclhand.datasets  # noqa: F401
    import gclhand.engine  # noqa: F401
    import gclhand.evaluation  # noqa: F401
    import gclhand.hand  # noqa: F401
    import gclhand.models  # noqa: F401
    import gclhand.visualization  # noqa: F401
    from gclhand.utils.plugins import load_plugins, plugin_policy
    if plugin_policy()[0] == 'all':  # else plugins load when a config needs one
        load_plugins()

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('gclhand')
        if never_created:
            DefaultScope.get_instance('gclhand', scope_name='gclhand')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'gclhand':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "gclhand", '
                          '`register_all_modules` will force the current'
                          'default scope to be "gclhand". If this is not '
                          'expected, please set `init_default_scope=False`.')
            new_instance_name = f'gclhand-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='gclhand')
