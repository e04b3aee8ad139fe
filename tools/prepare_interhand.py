"""Convert InterHand2.6M into the IntagHand layout.

``python tools/prepare_interhand.py ARGS`` is ``gclhand prepare-interhand ARGS``: the code is
:mod:`gclhand.cli.prepare_interhand` (``gclhand prepare-interhand -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.prepare_interhand import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['prepare-interhand', *sys.argv[1:]]))
