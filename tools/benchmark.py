"""Train-step / inference / data speed of a config against its baseline.

``python tools/benchmark.py ARGS`` is ``gclhand benchmark ARGS``: the code is
:mod:`gclhand.cli.benchmark` (``gclhand benchmark -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.benchmark import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['benchmark', *sys.argv[1:]]))
