from .build import ConfigError, build_component, fill_defaults
from .setup_env import register_all_modules

__all__ = ['ConfigError', 'build_component', 'fill_defaults', 'register_all_modules']
