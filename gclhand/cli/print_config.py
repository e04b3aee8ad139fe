"""Print the fully resolved config (``_base_`` merged, ``--cfg-options`` applied).

    gclhand print-config CONFIG [--cfg-options k=v ...] [--save-path out.py]
"""
import argparse

from .args import add_cfg_options
from .config import check_model_types, check_registered_types, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print the resolved config')
    parser.add_argument('config', help='config file path')
    add_cfg_options(parser)
    parser.add_argument('--save-path', help='also write the resolved config here (.py/.json/.yaml)')
    parser.add_argument('--no-check', action='store_true',
                        help='do not check that every type= of the components the Runner '
                        'and the model build names a registered class')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    from gclhand.apis import register_all_modules
    register_all_modules()
    if not args.no_check:  # the Runner's components, then the model's own
        check_registered_types(cfg)
        check_model_types(cfg)
    print(cfg.pretty_text)
    if args.save_path:
        cfg.dump(args.save_path)
