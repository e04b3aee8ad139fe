"""Run the Table 2 ablation: train and test each config, print the table beside the paper's.

    python tools/ablation.py [CONFIG ...] [--dataset synth|interhand] [--work-dir-root DIR]
                             [--cfg-options k=v ...] [--epochs N] [--synth-num TRAIN VAL TEST]
                             [--skip-train]
                             [--checkpoint last|best] [--out results.md]

Each config runs in its own processes: ``tools/train.py CONFIG --work-dir ROOT/<name>``
then ``tools/test.py CONFIG <checkpoint> --out ROOT/<name>/test_results.json``, with the
same ``--cfg-options`` for both (logs: ``ROOT/<name>/{train,test}.log``). The IntagHand
MPJPE / MPVPE of every run are read from the JSON and printed as a markdown table in the
layout of Table 2 of Han et al., "HandDGCL: Two-hand 3D reconstruction based disturbing
graph contrastive learning", CAVW 2023, with the paper's numbers beside them and the data,
input size and iteration settings that were used. ``ROOT/ablation.json`` keeps everything.

Without CONFIG the seven Table 2 rows of ``--dataset`` (default: the synthetic-data
twins) run in the paper's order. ``--skip-train`` evaluates the checkpoints already in
``ROOT/<name>`` (``last_checkpoint``, or the newest ``epoch_*.pth``; ``--checkpoint best``
takes ``best_*.pth``). A failed run is reported in its row and the tool carries on; the
exit status is then 1.

Examples::

    # the full synthetic ablation (CPU: ~10 min a row)
    python tools/ablation.py --out work_dirs/ablation/results.md
    # a quick check on 64 training samples, one epoch, two rows
    GCLHAND_SYNTH_ROOT=/tmp/synth_small python tools/ablation.py \\
        configs/gcn_baseline_synth.py configs/dgcl_synth.py --synth-num 64 16 16 --epochs 1
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)

CITATION = ('Han et al., "HandDGCL: Two-hand 3D reconstruction based disturbing graph '
            'contrastive learning", CAVW 2023, Table 2 (InterHand2.6M interacting test set, '
            'IntagHand protocol, mm)')
#: Table 2 of the paper, in its order: config stem -> (row, MPJPE, MPVPE)
TABLE2 = OrderedDict([
    ('gcn_baseline', ('GCN baseline', 9.97, 10.63)),
    ('egd_mask', ('+ random mask', 10.35, 10.65)),
    ('egd_noise', ('+ random noise', 10.56, 10.89)),
    ('egd_edge_add', ('+ random edge', 10.59, 10.93)),
    ('egd_edge_flip', ('+ flip edge', 10.92, 11.30)),
    ('dgclnet', ('+ DGCLNet', 9.02, 9.31)),
    ('dgcl', ('+ DGCLNet + similarity distinguish (HandDGCL)', 8.86, 9.14)),
])
DATASETS = ('synth', 'interhand')


def default_configs(dataset: str = 'synth') -> List[str]:
    """The seven Table 2 configs of ``dataset`` in the paper's order."""
    return [osp.join('configs', f'{stem}_{dataset}.py') for stem in TABLE2]


DEFAULT_CONFIGS = default_configs('synth')
#: the test-output keys shown in the table
METRIC_KEYS = ('intaghand/mpjpe', 'intaghand/mpvpe')
DATASET_SUFFIXES = ('_synth', '_interhand')


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
                        help='passed unchanged to tools/train.py and tools/test.py')
    parser.add_argument('--epochs', type=int,
                        help='shorthand for --cfg-options train_cfg.max_epochs=N')
    parser.add_argument('--synth-num', type=int, nargs=3, metavar=('TRAIN', 'VAL', 'TEST'),
                        help='synthetic samples per split, set for every dataloader')
    parser.add_argument('--skip-train', action='store_true',
                        help='only test the checkpoints already in the work dirs')
    parser.add_argument('--checkpoint', choices=['last', 'best'], default='last',
                        help='which checkpoint to test (default: the last one)')
    parser.add_argument('--out', help='also write the markdown report to this file')
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------ helpers

def config_name(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def table_row(config: str):
    """(row label, paper MPJPE, paper MPVPE) of a config; unknown configs get their name."""
    name = config_name(config)
    for suffix in DATASET_SUFFIXES:
        if name.endswith(suffix) and name[:-len(suffix)] in TABLE2:
            return TABLE2[name[:-len(suffix)]]
    return name, None, None


def shorthand_options(epochs: Optional[int], synth_num: Optional[Sequence[int]]) -> List[str]:
    """``--cfg-options`` strings for ``--epochs`` and ``--synth-num``."""
    opts = [] if epochs is None else [f'train_cfg.max_epochs={epochs}']
    if synth_num is not None:
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            opts += [f'{loader}.dataset.synthetic.num.{split}={n}'
                     for split, n in zip(('train', 'val', 'test'), synth_num)]
    return opts


def run_logged(cmd: List[str], log_path: str) -> int:
    """Run ``cmd`` with stdout and stderr in ``log_path``; return its exit status."""
    with open(log_path, 'w') as log:
        log.write(' '.join(cmd) + '\n\n')
        log.flush()
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode


def log_tail(log_path: str, n: int = 5) -> str:
    with open(log_path, errors='replace') as f:
        lines = [line.rstrip() for line in f if line.strip()]
    error_lines = [line for line in lines if line.startswith('error: ')]
    return '\n'.join(error_lines[-1:] or lines[-n:])


def find_checkpoint(work_dir: str, which: str = 'last') -> Optional[str]:
    """The checkpoint to test in ``work_dir``, or ``None``.

    ``last``: the file named by ``last_checkpoint`` (MMEngine's pointer), else the newest
    ``epoch_*.pth``; ``best``: the newest ``best_*.pth`` written by ``save_best``.
    """
    if which == 'best':
        found = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')), key=osp.getmtime)
        return found[-1] if found else None
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        path = open(pointer).read().strip()
        path = path if osp.isabs(path) else osp.join(work_dir, osp.basename(path))
        if osp.isfile(path):
            return path
    found = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    found.sort(key=lambda p: int(osp.basename(p)[len('epoch_'):-len('.pth')] or 0))
    return found[-1] if found else None


def read_metrics(json_path: str) -> Dict[str, float]:
    """The aggregate metrics of a ``tools/test.py --out`` JSON (``{"metrics": {...}}``)."""
    with open(json_path) as f:
        return json.load(f)['metrics']


def run_settings(config: str, cfg_options: Sequence[str]) -> Dict[str, object]:
    """Data, input size and schedule of ``config`` after ``cfg_options`` (for the report)."""
    from mmengine.logging import MMLogger

    from gclhand.utils.cli import add_cfg_options, load_config
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    options = parser.parse_args(['--cfg-options', *cfg_options]).cfg_options if \
        cfg_options else None
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # no "Using env variable ..." lines between the progress lines
    try:
        cfg = load_config(config, options)
    finally:
        logger.setLevel(level)
    train, test = cfg.train_dataloader, cfg.test_dataloader
    sizes = [t.get('size') for t in test.dataset.get('pipeline', [])
             if t.get('type') == 'ResizeHand']
    synthetic = train.dataset.get('synthetic')
    num_train = synthetic['num']['train'] if synthetic else None
    num_test = synthetic['num']['test'] if synthetic else None
    epochs = cfg.train_cfg.get('max_epochs')
    iters = (math.ceil(num_train / train.batch_size) * epochs
             if num_train and epochs else None)
    enc = cfg.model.encoder
    return OrderedDict(
        data=f"{test.dataset.type} at {test.dataset.get('data_root')}"
        + (' (synthetic)' if synthetic else ''),
        encoder=f"{enc.type}-{enc.get('depth', '?')}"
        + (f" (base {enc.base_channels} ch)" if enc.get('base_channels') else ''),
        input_px=sizes[0] if sizes else None,
        train_samples=num_train, test_samples=num_test, batch=train.batch_size,
        epochs=epochs, iterations=iters,
        lr=cfg.optim_wrapper.get('optimizer', {}).get('lr'))


# ------------------------------------------------------------------------------- report

def _num(value: Optional[float]) -> str:
    return 'n/a' if value is None or not math.isfinite(value) else f'{value:.2f}'


def format_report(results: List[dict], command: str) -> str:
    """Markdown: the Table 2 layout (ours beside the paper's) and the settings used."""
    lines = ['## Ablation in the layout of HandDGCL Table 2', '',
             '| Table 2 row | config | MPJPE (mm) | MPVPE (mm) | paper MPJPE | paper MPVPE |',
             '|---|---|---:|---:|---:|---:|']
    for r in results:
        ours = [_num(r['metrics'].get(k)) for k in METRIC_KEYS] if r['status'] == 'ok' \
            else [r['status']] * 2
        lines.append(f"| {r['row']} | `{r['config']}` | {ours[0]} | {ours[1]} | "
                     f"{_num(r['paper'][0])} | {_num(r['paper'][1])} |")
    lines += ['', f'Paper: {CITATION}. Ours: the IntagHand protocol (root-aligned, '
              'scale-normalised per hand) on each config\'s test split; numbers on other '
              'data or at another scale are comparable between rows, not with the paper.',
              '', '### Settings', '',
              '| config | data | encoder | input px | train samples | test samples | batch | '
              'epochs | iterations | lr | train s | test s |',
              '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in results:
        s = r.get('settings') or {}
        cells = [s.get(k) for k in ('data', 'encoder', 'input_px', 'train_samples',
                                   'test_samples', 'batch', 'epochs', 'iterations', 'lr')]
        times = [f"{r['seconds'][k]:.0f}" if r['seconds'].get(k) is not None else '-'
                 for k in ('train', 'test')]
        lines.append(f"| `{r['config']}` | " + ' | '.join(
            '?' if c is None else str(c) for c in cells) + ' | ' + ' | '.join(times) + ' |')
    lines += ['', f'Command: `{command}`', '']
    return '\n'.join(lines)


# --------------------------------------------------------------------------------- main

def run_config(config: str, args, cfg_options: List[str]) -> dict:
    name = config_name(config)
    row, paper_mpjpe, paper_mpvpe = table_row(config)
    work_dir = osp.join(args.work_dir_root, name)
    os.makedirs(work_dir, exist_ok=True)
    result = dict(config=config, row=row, paper=(paper_mpjpe, paper_mpvpe), work_dir=work_dir,
                  status='ok', metrics={}, seconds={}, checkpoint=None, settings=None)
    try:
        result['settings'] = run_settings(config, cfg_options)
    except Exception as e:  # noqa: BLE001 - the train step reports the same problem
        print(f'[{name}] settings unavailable: {type(e).__name__}: {e}', file=sys.stderr)
    opts = ['--cfg-options', *cfg_options] if cfg_options else []

    if not args.skip_train:
        log = osp.join(work_dir, 'train.log')
        print(f'[{name}] training -> {log}', flush=True)
        start = time.monotonic()
        rc = run_logged([sys.executable, osp.join(TOOLS, 'train.py'), config, '--work-dir',
                         work_dir, *opts], log)
        result['seconds']['train'] = time.monotonic() - start
        if rc != 0:
            result['status'] = 'train failed'
            print(f'[{name}] training failed (exit {rc}):\n{log_tail(log)}', file=sys.stderr)
            return result

    ckpt = find_checkpoint(work_dir, args.checkpoint)
    if ckpt is None:
        result['status'] = 'no checkpoint'
        print(f'[{name}] no {args.checkpoint} checkpoint in {work_dir} (last_checkpoint, '
              'epoch_*.pth or best_*.pth); train first or drop --skip-train', file=sys.stderr)
        return result
    result['checkpoint'] = ckpt
    out = osp.join(work_dir, 'test_results.json')
    if osp.exists(out):
        os.remove(out)  # never report a previous run's numbers
    log = osp.join(work_dir, 'test.log')
    print(f'[{name}] testing {ckpt} -> {log}', flush=True)
    start = time.monotonic()
    rc = run_logged([sys.executable, osp.join(TOOLS, 'test.py'), config, ckpt, '--work-dir',
                     work_dir, '--out', out, *opts], log)
    result['seconds']['test'] = time.monotonic() - start
    if rc != 0 or not osp.isfile(out):
        result['status'] = 'test failed'
        print(f'[{name}] testing failed (exit {rc}):\n{log_tail(log)}', file=sys.stderr)
        return result
    result['metrics'] = read_metrics(out)
    print(f'[{name}] ' + ', '.join(f'{k} {_num(result["metrics"].get(k))}'
                                   for k in METRIC_KEYS), flush=True)
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    args.configs = args.configs or default_configs(args.dataset)
    # the default (relative) configs also work when called from outside the repository
    args.configs = [c if osp.isfile(c) or osp.isabs(c) or not osp.isfile(osp.join(REPO, c))
                    else osp.join(REPO, c) for c in args.configs]
    missing = [c for c in args.configs if not osp.isfile(c)]
    if missing:
        print(f"error: config file(s) not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    cfg_options = shorthand_options(args.epochs, args.synth_num) + list(args.cfg_options)
    command = ' '.join(['python', 'tools/ablation.py', *(argv if argv is not None
                                                          else sys.argv[1:])])
    if os.environ.get('GCLHAND_SYNTH_ROOT'):
        command = f"GCLHAND_SYNTH_ROOT={os.environ['GCLHAND_SYNTH_ROOT']} {command}"
    results = [run_config(c, args, cfg_options) for c in args.configs]

    report = format_report(results, command)
    print(report)
    os.makedirs(args.work_dir_root, exist_ok=True)
    with open(osp.join(args.work_dir_root, 'ablation.json'), 'w') as f:
        json.dump(dict(command=command, cfg_options=cfg_options, citation=CITATION,
                       results=results), f, indent=1, default=str)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(report)
    return 0 if all(r['status'] == 'ok' for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
