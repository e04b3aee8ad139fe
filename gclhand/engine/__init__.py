"""Runner, hooks and checkpoint helpers that drive training (see ``tools/train.py``)."""
from .checkpoint import (atomic_write_text, checkpoint_safe_globals, get_rng_state,
                         set_rng_state)
from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .runner import GCLHandRunner, build_runner, finish_distributed

__all__ = ['GCLHandRunner', 'build_runner', 'finish_distributed', 'atomic_write_text', 'checkpoint_safe_globals',
           'get_rng_state', 'set_rng_state'] + _hooks_all
