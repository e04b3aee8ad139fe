"""Evaluate a checkpoint on a config's test set.

``python tools/test.py ARGS`` is ``gclhand test ARGS``: the code is
:mod:`gclhand.cli.test` (``gclhand test -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.test import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['test', *sys.argv[1:]]))
