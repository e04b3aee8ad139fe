"""Plot training curves from work dirs.

``python tools/plot_curves.py ARGS`` is ``gclhand plot-curves ARGS``: the code is
:mod:`gclhand.cli.plot_curves` (``gclhand plot-curves -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.plot_curves import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['plot-curves', *sys.argv[1:]]))
