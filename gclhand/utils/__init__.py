from .build import ConfigError, build_component
from .setup_env import register_all_modules

__all__ = ['ConfigError', 'build_component', 'register_all_modules']
