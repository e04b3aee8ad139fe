"""One-line errors and exit statuses of the command line.

A subcommand's ``main`` runs inside :func:`run_tool`, which turns the errors a user can fix
(a missing file, a missing or malformed data file, a mistyped ``type=``, a bad
``--cfg-options`` key, a plugin clash, a training run whose losses stayed non-finite) into
one line on stderr and exit status 2.  ``GCLHAND_DEBUG=1`` re-raises them with the full
traceback.
"""
import os
import re
import sys
from typing import Callable, List, Optional

from gclhand.datasets.errors import DatasetError
from gclhand.utils.build import ConfigError

DEBUG_ENV = 'GCLHAND_DEBUG'
#: MMEngine's ``Registry.build`` message for an unknown type.
_UNKNOWN_TYPE = re.compile(r'(\S+) is not in the (\S+) registry')


def format_known_error(exc: BaseException) -> Optional[str]:
    """One-line message for an error the user can fix; ``None`` for anything else."""
    if isinstance(exc, (ConfigError, DatasetError, FileNotFoundError, FloatingPointError)):
        message = str(exc)
    elif isinstance(exc, KeyError) and exc.args and _UNKNOWN_TYPE.search(str(exc.args[0])):
        name, scope = _UNKNOWN_TYPE.search(str(exc.args[0])).groups()
        message = (f"unknown type '{name}' (not in the {scope} registry) — check the "
                   'spelling, or import the plugin that registers it '
                   '(custom_imports=dict(imports=[...]))')
    else:
        return None
    return ' '.join(message.split())


def run_tool(main: Callable[[Optional[List[str]]], object],
             argv: Optional[List[str]] = None) -> int:
    """Run ``main(argv)``; print known errors as ``error: ...`` and return status 2.

    Returns:
        ``main``'s return value when it is an ``int`` (its own exit status), else 0;
        2 for a known error (``GCLHAND_DEBUG=1`` re-raises it instead).
    """
    try:
        status = main(argv)
    except (ConfigError, DatasetError, FileNotFoundError, KeyError, FloatingPointError) as e:
        message = format_known_error(e)
        if message is None or os.environ.get(DEBUG_ENV, '0') not in ('', '0'):
            raise
        print(f'error: {message}', file=sys.stderr)
        return 2
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


__all__ = ['DEBUG_ENV', 'format_known_error', 'run_tool']
