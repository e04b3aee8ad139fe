#!/usr/bin/env python
"""Convert the official InterHand2.6M release into the IntagHand layout.

Example::

    gclhand prepare-interhand data/InterHand2.6M data/interhand \
        --split train --workers 8

writes ``data/interhand/train/img/{i}.jpg`` (256x256 crops around both hands),
``anno/{i}.pkl`` and IntagHand's auxiliary targets (``mask/``, ``dense/``, ``hms/``;
``data/interhand`` is what the InterHand2.6M configs read), and prints what it dropped, with a
count per reason.  Re-running the command resumes: finished samples are skipped.  See
docs/data.md; the work is done by :func:`gclhand.datasets.interhand_prepare.prepare_interhand`.
"""
import argparse

from gclhand.datasets.aux_maps import AUX_KINDS
from gclhand.datasets.geometry import INTAGHAND_HAND_RATIO
from gclhand.datasets.interhand_prepare import (converted_nothing, format_report,
                                                prepare_interhand)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='InterHand2.6M release root (annotations/, images/)')
    parser.add_argument('out', help='output root; the split goes to OUT/SPLIT/{img,anno}')
    parser.add_argument('--split', required=True, choices=['train', 'val', 'test'])
    parser.add_argument('--workers', type=int, default=1, help='worker processes')
    parser.add_argument('--img-size', type=int, default=256, help='crop side in pixels')
    parser.add_argument('--hand-ratio', type=float, default=INTAGHAND_HAND_RATIO,
                        help="fraction of the crop side spanned by the hands' projected "
                        "mesh vertices (IntagHand's HAND_BBOX_RATIO: 0.8)")
    parser.add_argument('--jpeg-quality', type=int, default=95)
    parser.add_argument('--chunk', type=int, default=64,
                        help='samples per work item (one batched hand-model call)')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='convert only the first N selected samples (for a quick try)')
    parser.add_argument('--mano-dir', default=None,
                        help='folder with MANO_RIGHT.pkl/MANO_LEFT.pkl (default: '
                        '$GCLHAND_MANO_DIR, else the procedural hand model)')
    parser.add_argument('--skip-bad-images', action='store_true',
                        help='skip missing/corrupt source images instead of stopping')
    parser.add_argument('--min-image-mean', type=float, default=10.0,
                        help='drop images darker than this mean intensity (0-255; IntagHand: '
                        '10); 0 keeps all')
    parser.add_argument('--no-aux-maps', action='store_true',
                        help="do not render IntagHand's auxiliary encoder targets (mask/, "
                        'dense/, hms/; written by default)')
    parser.add_argument('--annot-subset', default=None,
                        choices=['all', 'human_annot', 'machine_annot'],
                        help='annotation folder of a release before June 2021 (default: '
                        'annotations/SPLIT/, else annotations/all/, for val '
                        'annotations/machine_annot/)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    stats = prepare_interhand(
        args.root, args.out, args.split, workers=args.workers, img_size=args.img_size,
        hand_ratio=args.hand_ratio, jpeg_quality=args.jpeg_quality, chunk=args.chunk,
        max_samples=args.max_samples, mano_dir=args.mano_dir,
        skip_bad_images=args.skip_bad_images, min_image_mean=args.min_image_mean,
        aux_maps=() if args.no_aux_maps else AUX_KINDS, progress=not args.no_progress,
        annot_subset=args.annot_subset)
    print(format_report(args.split, stats))
    return 1 if converted_nothing(stats) else 0  # a failure, not an empty result
