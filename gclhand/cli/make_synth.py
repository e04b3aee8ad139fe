"""Generate gclhand's synthetic two-hand dataset in the IntagHand layout.

Examples::

    # exactly the data a config trains and tests on (its top-level `synthetic` dict and
    # data_root), ahead of time - e.g. the README main job's
    gclhand make-synth --config configs/dgcl_synth.py
    # 2000 samples in each of train, val and test
    gclhand make-synth --out data/synth --num 2000
    # 10000 samples in total, split 80/10/10
    gclhand make-synth --out data/synth --num 10000 --fractions 0.8,0.1,0.1
    # a 16-image preview with the ground-truth joints drawn on
    gclhand make-synth --out /tmp/synth --num 16 --split train \\
        --contact-sheet docs/images/synth_contact_sheet.png

Rerunning the same command resumes an interrupted generation (only missing samples are
made) and is a no-op on a complete dataset; output does not depend on --workers.  A folder
holding synthetic data made with *other* settings is regenerated from scratch (the changed
settings are printed first); `--config` makes sure the settings are the training run's.
"""
import argparse
import json
import os.path as osp
import time
from typing import Dict, Optional, Tuple, Union

from gclhand.utils import ConfigError

from .args import add_cfg_options

#: make-synth's generator options: their defaults when neither they nor --config are given
GENERATOR_DEFAULTS = dict(num=None, seed=0, img_size=256, split='train,val,test',
                          fractions=None, jpeg_quality=95, sampler=None,
                          views_per_scene='1', aux_maps='mask,dense,hms')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=None,
                   help="generate what this config's loaders read: its top-level `synthetic` "
                   'settings into its data_root (--out overrides the folder; change a '
                   'setting with --cfg-options synthetic.KEY=VALUE). Excludes the '
                   'generator options below')
    add_cfg_options(p)
    p.add_argument('--out', default=None,
                   help='output root; split S goes to OUT/S/{img,anno} (required without '
                   '--config)')
    p.add_argument('--workers', type=int, default=None,
                   help="rendering processes (default: the config's synthetic.workers, else 1)")
    g = p.add_argument_group('generator options (without --config)')
    g.add_argument('--num', type=int, default=None,
                   help='samples PER SPLIT; with --fractions, the TOTAL over all splits')
    g.add_argument('--seed', type=int, default=None,
                   help='dataset seed; sample i of split S depends only on (seed, S, i) '
                   '(default 0)')
    g.add_argument('--img-size', type=int, default=None,
                   help='side of the square images (default 256)')
    g.add_argument('--split', default=None,
                   help='comma-separated split names (default train,val,test)')
    g.add_argument('--fractions', default=None,
                   help='comma-separated fractions of --num per split, e.g. 0.8,0.1,0.1 '
                   '(same order as --split)')
    g.add_argument('--jpeg-quality', type=int, default=None, help='default 95')
    g.add_argument('--sampler', default=None, metavar='JSON',
                   help='keyword arguments of the scene sampler as JSON, e.g. '
                   '\'{"placement": {"orientation": "upright"}}\' (the synthetic.sampler '
                   'of a dataset config)')
    g.add_argument('--views-per-scene', default=None, metavar='K',
                   help='samples rendered from each posed scene: one number, or per split, '
                   'e.g. train=4 (others 1); default 1 (docs/data.md)')
    g.add_argument('--aux-maps', default=None, metavar='KINDS',
                   help="IntagHand's auxiliary maps to write: comma-separated subset of "
                   'mask,dense,hms, or none (default all three)')
    p.add_argument('--contact-sheet', default=None, metavar='PNG',
                   help='also write a sheet of the first 16 images of the first split with '
                   'the GT joints decoded from the annotations')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def parse_views(text: str) -> Union[int, Dict[str, int]]:
    """``'4'`` -> 4; ``'train=4,val=1'`` -> ``{'train': 4, 'val': 1}``."""
    try:
        if '=' not in text:
            return int(text)
        return {k.strip(): int(v) for k, v in (kv.split('=', 1) for kv in text.split(','))}
    except ValueError:
        raise ConfigError(f"--views-per-scene takes a number or split=number pairs such as "
                          f"'train=4,val=1', got {text!r}") from None


def parse_aux_maps(text: str) -> Tuple[str, ...]:
    """``'mask,hms'`` -> ``('mask', 'hms')``; ``'none'`` -> ``()``."""
    from gclhand.datasets.synth.generator import AUX_KINDS
    kinds = () if text.strip().lower() == 'none' else tuple(
        k.strip() for k in text.split(',') if k.strip())
    bad = [k for k in kinds if k not in AUX_KINDS]
    if bad:
        raise ConfigError(f'--aux-maps: unknown map(s) {", ".join(bad)}; choose from '
                          f'{",".join(AUX_KINDS)} or none')
    return kinds


def settings_from_config(args: argparse.Namespace) -> Tuple[str, dict]:
    """``(out, synthetic settings)`` of ``args.config`` (its data_root unless ``--out``)."""
    given = [f'--{k.replace("_", "-")}' for k in GENERATOR_DEFAULTS
             if getattr(args, k) is not None]
    if given:
        raise ConfigError(f'{", ".join(given)} cannot be combined with --config; change the '
                          "config's settings with --cfg-options synthetic.KEY=VALUE")
    from .config import load_config
    cfg = load_config(args.config, args.cfg_options)
    settings = cfg.get('synthetic', None)
    if not settings:
        raise ConfigError(f'{args.config} has no top-level `synthetic` dict (the generator '
                          'settings of a synthetic-data config, configs/_base_/datasets/'
                          'synth_intag.py); give --out and --num instead')
    settings = settings.to_dict() if hasattr(settings, 'to_dict') else dict(settings)
    out = args.out or cfg.get('data_root', None)
    if not out:
        raise ConfigError(f'{args.config} has no data_root; give --out')
    return out, settings


def settings_from_args(args: argparse.Namespace) -> Tuple[str, dict]:
    """``(out, synthetic settings)`` from the generator options."""
    if args.cfg_options:
        raise ConfigError('--cfg-options needs --config')
    if args.out is None or args.num is None:
        raise ConfigError('give --config CONFIG, or --out DIR and --num N')
    opt = {k: (getattr(args, k) if getattr(args, k) is not None else v)
           for k, v in GENERATOR_DEFAULTS.items()}
    names = [s.strip() for s in opt['split'].split(',') if s.strip()]
    if opt['fractions']:
        fracs = [float(f) for f in opt['fractions'].split(',')]
        if len(fracs) != len(names):
            raise ConfigError(f'--fractions has {len(fracs)} values but --split names '
                              f'{len(names)} splits ({",".join(names)})')
        splits = dict(zip(names, fracs))
    else:
        splits = names
    try:
        sampler = json.loads(opt['sampler']) if opt['sampler'] else None
    except json.JSONDecodeError as e:
        raise ConfigError(f'--sampler is not valid JSON ({e})') from e
    return args.out, dict(num=opt['num'], splits=splits, seed=opt['seed'],
                          img_size=opt['img_size'], jpeg_quality=opt['jpeg_quality'],
                          sampler=sampler, views_per_scene=parse_views(opt['views_per_scene']),
                          aux_maps=parse_aux_maps(opt['aux_maps']))


def main(argv=None) -> int:
    args = parse_args(argv)
    from gclhand.datasets.synth import (DEFAULT_HAND_MODEL, generate_synthetic_dataset,
                                        split_synthetic_settings)
    from gclhand.datasets.synth.generator import DEFAULT_SPLITS, resolve_splits

    out, synthetic = settings_from_config(args) if args.config else settings_from_args(args)
    num, settings = split_synthetic_settings(synthetic)
    settings.setdefault('splits', DEFAULT_SPLITS)
    config_workers = settings.pop('workers', None)
    workers = config_workers if args.workers is None else args.workers
    try:
        counts = resolve_splits(num, settings['splits'])
    except ValueError as e:
        raise ConfigError(str(e)) from e
    settings['splits'] = counts
    names = list(counts)
    start = time.perf_counter()
    dirs = generate_synthetic_dataset(out, num, workers=workers or 1,
                                      progress=not args.no_progress, **settings)
    elapsed = time.perf_counter() - start
    total = sum(counts.values())
    print(f'{total} samples ({", ".join(f"{k}: {v}" for k, v in counts.items())}) in '
          f'{out} [{elapsed:.1f} s, {total / max(elapsed, 1e-9):.1f} samples/s '
          'including already present ones]')

    if args.contact_sheet:
        from gclhand.datasets.synth.preview import contact_sheet
        from gclhand.hand import build_hand_model
        first = names[0]
        n = min(16, counts[first])
        contact_sheet(dirs[first], build_hand_model(dict(DEFAULT_HAND_MODEL)),
                      args.contact_sheet, indices=range(n),
                      scale=max(1, 256 // settings.get('img_size', 256)))
        print(f'contact sheet -> {osp.abspath(args.contact_sheet)}')
    return 0
