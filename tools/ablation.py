"""Train and test the Table 2 rows and print the table.

``python tools/ablation.py ARGS`` is ``gclhand ablation ARGS``: the code is
:mod:`gclhand.cli.ablation` (``gclhand ablation -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.ablation import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['ablation', *sys.argv[1:]]))
