"""Generate gclhand's synthetic two-hand dataset in the IntagHand layout.

Examples::

    # 2000 samples in each of train, val and test
    gclhand make-synth --out data/synth --num 2000
    # 10000 samples in total, split 80/10/10
    gclhand make-synth --out data/synth --num 10000 --fractions 0.8,0.1,0.1
    # a 16-image preview with the ground-truth joints drawn on
    gclhand make-synth --out /tmp/synth --num 16 --split train \\
        --contact-sheet docs/images/synth_contact_sheet.png

Rerunning the same command resumes an interrupted generation (only missing samples are
made) and is a no-op on a complete dataset; output does not depend on --workers.
"""
import argparse
import json
import os.path as osp
import sys
import time


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', required=True, help='output root; split S goes to OUT/S/{img,anno}')
    p.add_argument('--num', type=int, required=True,
                   help='samples PER SPLIT; with --fractions, the TOTAL over all splits')
    p.add_argument('--seed', type=int, default=0,
                   help='dataset seed; sample i of split S depends only on (seed, S, i)')
    p.add_argument('--workers', type=int, default=1, help='rendering processes (default 1)')
    p.add_argument('--img-size', type=int, default=256, help='side of the square images')
    p.add_argument('--split', default='train,val,test',
                   help='comma-separated split names (default train,val,test)')
    p.add_argument('--fractions', default=None,
                   help='comma-separated fractions of --num per split, e.g. 0.8,0.1,0.1 '
                   '(same order as --split)')
    p.add_argument('--jpeg-quality', type=int, default=95)
    p.add_argument('--sampler', default=None, metavar='JSON',
                   help='keyword arguments of the scene sampler as JSON, e.g. '
                   '\'{"placement": {"orientation": "upright"}}\' (the synthetic.sampler '
                   'of a dataset config)')
    p.add_argument('--contact-sheet', default=None, metavar='PNG',
                   help='also write a sheet of the first 16 images of the first split with '
                   'the GT joints decoded from the annotations')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from gclhand.datasets.synth import DEFAULT_HAND_MODEL, generate_synthetic_dataset
    from gclhand.datasets.synth.generator import resolve_splits

    names = [s.strip() for s in args.split.split(',') if s.strip()]
    if args.fractions:
        fracs = [float(f) for f in args.fractions.split(',')]
        if len(fracs) != len(names):
            sys.exit(f'--fractions has {len(fracs)} values but --split names {len(names)} '
                     f'splits ({",".join(names)})')
        splits = dict(zip(names, fracs))
    else:
        splits = names
    try:
        counts = resolve_splits(args.num, splits)
    except ValueError as e:
        sys.exit(f'error: {e}')

    try:
        sampler = json.loads(args.sampler) if args.sampler else None
    except json.JSONDecodeError as e:
        sys.exit(f'error: --sampler is not valid JSON ({e})')
    start = time.perf_counter()
    dirs = generate_synthetic_dataset(args.out, args.num, seed=args.seed, workers=args.workers,
                                      img_size=args.img_size, splits=counts,
                                      progress=not args.no_progress,
                                      jpeg_quality=args.jpeg_quality, sampler=sampler)
    elapsed = time.perf_counter() - start
    total = sum(counts.values())
    print(f'{total} samples ({", ".join(f"{k}: {v}" for k, v in counts.items())}) in '
          f'{args.out} [{elapsed:.1f} s, {total / max(elapsed, 1e-9):.1f} samples/s '
          'including already present ones]')

    if args.contact_sheet:
        from gclhand.datasets.synth.preview import contact_sheet
        from gclhand.hand import build_hand_model
        first = names[0]
        n = min(16, counts[first])
        contact_sheet(dirs[first], build_hand_model(dict(DEFAULT_HAND_MODEL)),
                      args.contact_sheet, indices=range(n), scale=max(1, 256 // args.img_size))
        print(f'contact sheet -> {osp.abspath(args.contact_sheet)}')
    return 0
