"""``python -m gclhand SUBCOMMAND ...``: the same command line as the ``gclhand`` script."""
import sys

from gclhand.cli import main

if __name__ == '__main__':
    sys.exit(main())
