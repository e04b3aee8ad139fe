"""Export the deployed model to TorchScript / ONNX and verify it.

``python tools/export.py ARGS`` is ``gclhand export ARGS``: the code is
:mod:`gclhand.cli.export` (``gclhand export -h`` lists the arguments).
"""
import sys

from gclhand.cli import main as gclhand_main
from gclhand.cli.export import main  # noqa: F401 - this tool's main(argv), for scripts

if __name__ == '__main__':
    sys.exit(gclhand_main(['export', *sys.argv[1:]]))
