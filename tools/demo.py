"""Reconstruct two hands from images.

``python tools/demo.py ARGS`` is ``gclhand demo ARGS``: the code is
:mod:`gclhand.cli.demo` (``gclhand demo -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.demo import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['demo', *sys.argv[1:]]))
