"""Generate the synthetic two-hand dataset.

``python tools/make_synth.py ARGS`` is ``gclhand make-synth ARGS``: the code is
:mod:`gclhand.cli.make_synth` (``gclhand make-synth -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.make_synth import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['make-synth', *sys.argv[1:]]))
