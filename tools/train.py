"""Train a model from a config.

``python tools/train.py ARGS`` is ``gclhand train ARGS``: the code is
:mod:`gclhand.cli.train` (``gclhand train -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.train import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['train', *sys.argv[1:]]))
