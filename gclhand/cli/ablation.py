"""Run the Table 2 ablation: train and test each config, print the table beside the paper's.

    gclhand ablation [CONFIG ...] [--dataset synth|interhand] [--work-dir-root DIR]
                     [--cfg-options k=v ...] [--epochs N] [--synth-num TRAIN VAL TEST]
                     [--skip-train] [--checkpoint last|best] [--seeds S ...]
                     [--out results.md]

Each config runs in its own processes: ``gclhand train CONFIG --work-dir ROOT/<name>``
then ``gclhand test CONFIG <checkpoint> --out ROOT/<name>/test_results.json``, with the
same ``--cfg-options`` for both (logs: ``ROOT/<name>/{train,test}.log``); see
:mod:`gclhand.apis.ablation`.  ``ROOT/ablation.json`` keeps everything.

Without CONFIG the seven Table 2 rows of ``--dataset`` (default: the synthetic-data
twins) run in the paper's order. ``--skip-train`` evaluates the checkpoints already in
``ROOT/<name>`` (``last_checkpoint``, or the newest ``epoch_*.pth``; ``--checkpoint best``
takes ``best_*.pth``). A failed run is reported in its row and the tool carries on; the
exit status is then 1.

Examples::

    # the full synthetic ablation (CPU: ~10 min a row)
    gclhand ablation --out work_dirs/ablation/results.md
    # baseline, the best EGD row and HandDGCL, 3 seeds each (mean ± std)
    gclhand ablation gclhand::gcn_baseline_synth.py gclhand::egd_mask_synth.py \\
        gclhand::dgcl_synth.py --seeds 0 1 2
    # a quick check on 64 training samples, one epoch, two rows
    GCLHAND_SYNTH_ROOT=/tmp/synth_small gclhand ablation \\
        gclhand::gcn_baseline_synth.py gclhand::dgcl_synth.py --synth-num 64 16 16 --epochs 1
"""
import argparse
import os
import os.path as osp
import sys

from gclhand.apis.ablation import (CHECKPOINTS, DATASETS, default_configs, run_ablation,
                                   shorthand_options)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test each config, then print the HandDGCL Table 2 layout '
        'with the paper\'s numbers beside the measured ones')
    parser.add_argument('configs', nargs='*', metavar='CONFIG',
                        help='configs to run, in table order (default: the 7 Table 2 rows '
                        'of --dataset)')
    parser.add_argument('--dataset', choices=DATASETS, default='synth',
                        help='whose Table 2 configs run when no CONFIG is given '
                        '(default: synth)')
    parser.add_argument('--work-dir-root', default=osp.join('work_dirs', 'ablation'),
                        help='one sub-folder per config (default: work_dirs/ablation)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed unchanged to gclhand train and gclhand test')
    parser.add_argument('--epochs', type=int,
                        help='shorthand for --cfg-options train_cfg.max_epochs=N')
    parser.add_argument('--synth-num', type=int, nargs=3, metavar=('TRAIN', 'VAL', 'TEST'),
                        help='synthetic samples per split, set for every dataloader')
    parser.add_argument('--skip-train', action='store_true',
                        help='only test the checkpoints already in the work dirs')
    parser.add_argument('--checkpoint', choices=CHECKPOINTS, default='last',
                        help='which checkpoint to test (default: the last one)')
    parser.add_argument('--seeds', type=int, nargs='+', metavar='S',
                        help='run every config once per seed (randomness.seed=S, work dirs '
                        'ROOT/seed<S>/<name>) and report mean ± std')
    parser.add_argument('--out', help='also write the markdown report to this file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg_options = shorthand_options(args.epochs, args.synth_num) + list(args.cfg_options)
    command = ' '.join(['gclhand ablation', *(argv if argv is not None else sys.argv[1:])])
    if os.environ.get('GCLHAND_SYNTH_ROOT'):
        command = f"GCLHAND_SYNTH_ROOT={os.environ['GCLHAND_SYNTH_ROOT']} {command}"
    results, report = run_ablation(args.configs or default_configs(args.dataset),
                                   args.work_dir_root, cfg_options, args.skip_train,
                                   args.checkpoint, command, args.seeds)
    print(report)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(report)
    return 0 if all(r['status'] == 'ok' for r in results) else 1
