"""List the configs shipped with gclhand.

    gclhand configs [PATTERN]

Each name works wherever a config path does - ``gclhand train gclhand::dgcl_synth.py`` -
and in a config's ``_base_ = ['gclhand::dgcl_synth.py']``.
"""
import argparse
import fnmatch

from gclhand.utils.package_configs import SCOPE_PREFIX, configs_root, shipped_configs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('pattern', nargs='?', default='*',
                   help="shell pattern, e.g. '*synth*' (default: all, _base_ files included)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    names = [n for n in shipped_configs() if fnmatch.fnmatch(n, args.pattern)]
    print(f'# {len(names)} config(s) in {configs_root()}')
    for name in names:
        print(SCOPE_PREFIX + name)
    return 0 if names else 1
