"""Plot training curves from the scalars MMEngine's visualizer logged in a work dir.

``gclhand train`` writes every logged scalar through MMEngine's ``LocalVisBackend`` to
``WORK_DIR/<timestamp>/vis_data/scalars.json`` (one JSON object per line: training records
carry ``loss``/``lr``/... with ``step`` = iteration, validation records carry the metrics with
``step`` = epoch).  This tool reads those files, so any run can be plotted after the fact;
TensorBoard users get the same scalars by adding ``TensorboardVisBackend`` to the
visualizer's ``vis_backends``.

Examples::

    gclhand plot-curves work_dirs/dgcl_synth --out docs/images/curves.png
    # two runs side by side, a reference line for the untrained model's test MPJPE
    gclhand plot-curves work_dirs/gcn_baseline_synth work_dirs/dgcl_synth \\
        --labels baseline DGCL --reference 81.9 --out curves.png
    # one run made of pieces, each started from the last one's weights (load_from): the
    # pieces follow each other on one axis, a dotted line where each begins
    gclhand plot-curves work_dirs/long_piece1 work_dirs/long_piece2 --pieces --out long.png

(A run continued with ``--resume`` keeps its iteration count in its own work dir and needs
no ``--pieces``.)
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List, Tuple

Series = Dict[str, List[Tuple[float, float]]]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('work_dirs', nargs='+', help='training work dirs (or vis_data folders)')
    p.add_argument('--labels', nargs='+', help='one legend label per work dir')
    p.add_argument('--train-keys', nargs='+', default=['loss'],
                   help='training scalars to plot against the iteration')
    p.add_argument('--val-keys', nargs='+', default=['intaghand/mpjpe', 'intaghand/mpvpe'],
                   help='validation scalars to plot against the epoch')
    p.add_argument('--smooth', type=int, default=5,
                   help='moving-average window over the logged training points')
    p.add_argument('--reference', type=float, default=None,
                   help='draw a horizontal line at this validation value (e.g. the '
                   'untrained model\'s MPJPE from gclhand test CONFIG none)')
    p.add_argument('--pieces', action='store_true',
                   help='the work dirs are consecutive pieces of one run (each started from '
                   "the previous one's weights with load_from, counting iterations and "
                   'epochs from 0 again): draw them as one line, each piece shifted by the '
                   'iterations and epochs of the pieces before it')
    p.add_argument('--title', default=None)
    p.add_argument('--out', required=True, help='PNG to write')
    return p.parse_args(argv)


def find_scalar_files(work_dir: str) -> List[str]:
    """``scalars.json`` files of ``work_dir`` (all its timestamped runs, oldest first)."""
    if osp.isfile(work_dir):
        return [work_dir]
    files = glob.glob(osp.join(work_dir, 'scalars.json'))
    files += glob.glob(osp.join(work_dir, 'vis_data', 'scalars.json'))
    files += glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    if not files:
        raise FileNotFoundError(f"no vis_data/scalars.json under '{work_dir}': pass the "
                                'work dir of a gclhand train run (the visualizer writes it)')
    return sorted(set(files), key=osp.getmtime)


def load_scalars(work_dir: str, train_keys, val_keys) -> Tuple[Series, Series]:
    """``(train, val)``: key -> [(step, value)], later runs (a resume) overriding a step."""
    train: Dict[str, Dict[float, float]] = {k: {} for k in train_keys}
    val: Dict[str, Dict[float, float]] = {k: {} for k in val_keys}
    for path in find_scalar_files(work_dir):
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{path}:{line_no}: not a JSON record ({e})') from e
                # validation records are the ones that carry a validation key
                target = val if any(k in rec for k in val_keys) else train
                for k in target:
                    if k in rec and 'step' in rec:
                        target[k][float(rec['step'])] = float(rec[k])
    as_list = lambda d: {k: sorted(v.items()) for k, v in d.items() if v}  # noqa: E731
    return as_list(train), as_list(val)


def chain_pieces(pieces: List[Tuple[Series, Series]]) -> Tuple[Series, Series, List[float],
                                                                List[float]]:
    """One run from consecutive pieces: each piece's training steps are shifted by the
    previous pieces' last training step and its validation epochs by their last epoch.

    Returns:
        ``(train, val, train_starts, val_starts)``: the joined series and where each piece
        after the first begins on the iteration and the epoch axis.
    """
    train: Series = {}
    val: Series = {}
    step_offset = epoch_offset = 0.0
    train_starts: List[float] = []
    val_starts: List[float] = []
    for i, (t, v) in enumerate(pieces):
        if i:
            train_starts.append(step_offset)
            val_starts.append(epoch_offset)
        for joined, series, offset in ((train, t, step_offset), (val, v, epoch_offset)):
            for key, pts in series.items():
                joined.setdefault(key, []).extend((x + offset, y) for x, y in pts)
        step_offset = max([step_offset] + [x for pts in train.values() for x, _ in pts])
        epoch_offset = max([epoch_offset] + [x for pts in val.values() for x, _ in pts])
    return train, val, train_starts, val_starts


def moving_average(values: List[float], window: int) -> List[float]:
    """Trailing mean over at most ``window`` points (same length as ``values``)."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.labels and len(args.labels) != (1 if args.pieces else len(args.work_dirs)):
        sys.exit(f'error: {len(args.labels)} --labels for {len(args.work_dirs)} work dirs'
                 + (' (--pieces draws one run: give one label)' if args.pieces else ''))
    labels = args.labels or [osp.basename(osp.normpath(w)) for w in args.work_dirs]
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_v) = plt.subplots(1, 2, figsize=(11, 4))
    runs = []
    for work_dir in args.work_dirs:
        try:
            runs.append(load_scalars(work_dir, args.train_keys, args.val_keys))
        except (FileNotFoundError, ValueError) as e:
            sys.exit(f'error: {e}')
    if args.pieces:
        train, val, train_starts, val_starts = chain_pieces(runs)
        runs = [(train, val)]
        labels = [args.labels[0] if args.labels else 'run']
        for ax, starts in ((ax_t, train_starts), (ax_v, val_starts)):
            for x in starts:
                ax.axvline(x, color='grey', linestyle=':', linewidth=1)
    for (train, val), label in zip(runs, labels):
        for key, pts in train.items():
            xs, ys = zip(*pts)
            ax_t.plot(xs, moving_average(list(ys), args.smooth), label=f'{label} {key}')
        for key, pts in val.items():
            xs, ys = zip(*pts)
            ax_v.plot(xs, ys, marker='o', label=f'{label} {key}')
    if args.reference is not None:
        ax_v.axhline(args.reference, color='grey', linestyle='--', label='reference')
    ax_t.set(xlabel='iteration', ylabel='training loss',
             title=f'training (moving average of {args.smooth} logged points)')
    ax_v.set(xlabel='epoch', ylabel='mm', title='validation')
    for ax in (ax_t, ax_v):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f'wrote {osp.abspath(args.out)}')
    return 0
