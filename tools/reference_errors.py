"""MPJPE of reference predictors on a split.

``python tools/reference_errors.py ARGS`` is ``gclhand reference-errors ARGS``: the code is
:mod:`gclhand.cli.reference_errors` (``gclhand reference-errors -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.reference_errors import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['reference-errors', *sys.argv[1:]]))
