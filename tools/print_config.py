"""Print the resolved config.

``python tools/print_config.py ARGS`` is ``gclhand print-config ARGS``: the code is
:mod:`gclhand.cli.print_config` (``gclhand print-config -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.print_config import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['print-config', *sys.argv[1:]]))
