"""Write the procedural hand model (MANO layout).

``python tools/make_hand_model.py ARGS`` is ``gclhand make-hand-model ARGS``: the code is
:mod:`gclhand.cli.make_hand_model` (``gclhand make-hand-model -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.make_hand_model import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['make-hand-model', *sys.argv[1:]]))
