"""The Table 2 ablation: train and test each config, report it beside the paper's table.

:func:`run_ablation` runs every config in its own processes - ``gclhand train CONFIG
--work-dir ROOT/<name>`` then ``gclhand test CONFIG <checkpoint> --out
ROOT/<name>/test_results.json``, with the same ``--cfg-options`` for both (logs:
``ROOT/<name>/{train,test}.log``) - reads the IntagHand MPJPE / MPVPE of every run from the
JSON and returns them with a markdown report in the layout of Table 2 of Han et al.,
"HandDGCL: Two-hand 3D reconstruction based disturbing graph contrastive learning", CAVW
2023, with the paper's numbers beside them and the data, input size and iteration settings
that were used.  The command line is ``gclhand ablation`` (:mod:`gclhand.cli.ablation`).

Example::

    from gclhand.apis.ablation import default_configs, run_ablation
    results, report = run_ablation(default_configs('synth')[:2], 'work_dirs/ablation',
                                   cfg_options=['train_cfg.max_epochs=1'])
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
from typing import Dict, List, Optional, Sequence, Tuple

from gclhand.utils.package_configs import SCOPE_PREFIX, config_name, configs_root

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
#: the test-output keys shown in the table
METRIC_KEYS = ('intaghand/mpjpe', 'intaghand/mpvpe')
#: the model's MPJPE over the image-blind constant's (ImageBlindMetric), shown when present
BLIND_KEY = 'blind/model_to_constant'
DATASET_SUFFIXES = ('_synth', '_interhand')
CHECKPOINTS = ('last', 'best')


def default_configs(dataset: str = 'synth') -> List[str]:
    """The seven Table 2 configs of ``dataset`` in the paper's order (shipped configs)."""
    return [f'{SCOPE_PREFIX}{stem}_{dataset}.py' for stem in TABLE2]


def locate_config(config: str) -> str:
    """``config`` itself when it is a file or a ``gclhand::`` name; a ``configs/...`` path
    that does not exist here is looked up among the shipped configs (so the repository's
    relative names work from any folder)."""
    if osp.isfile(config) or osp.isabs(config) or config.startswith(SCOPE_PREFIX):
        return config
    shipped = osp.join(osp.dirname(configs_root()), config)
    return shipped if osp.isfile(shipped) else config


# ------------------------------------------------------------------------------ helpers

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
    if synth_num is not None:  # the config's one top-level synthetic dict (all loaders)
        opts += [f'synthetic.num.{split}={n}'
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
    """The aggregate metrics of a ``gclhand test --out`` JSON (``{"metrics": {...}}``)."""
    with open(json_path) as f:
        return json.load(f)['metrics']


def parse_cfg_options(cfg_options: Sequence[str]) -> Optional[dict]:
    """``['k=v', '+k2=v2', ...]`` -> ``{'k': v, 'k2': v2}`` (MMEngine's ``DictAction``)."""
    if not cfg_options:
        return None
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options', *cfg_options]).cfg_options
    return {k.lstrip('+'): v for k, v in options.items()}


def run_settings(config: str, cfg_options: Sequence[str]) -> Dict[str, object]:
    """Data, input size and schedule of ``config`` after ``cfg_options`` (for the report)."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from gclhand.utils.package_configs import resolve_config_path
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # no "Using env variable ..." lines between the progress lines
    try:
        cfg = Config.fromfile(resolve_config_path(config))
    finally:
        logger.setLevel(level)
    options = parse_cfg_options(cfg_options)
    if options:
        cfg.merge_from_dict(options)
    train, test = cfg.train_dataloader, cfg.test_dataloader
    sizes = [t.get('size') for t in test.dataset.get('pipeline', [])
             if t.get('type') == 'ResizeHand']
    synthetic = train.dataset.get('synthetic') or cfg.get('synthetic')
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


def combine_seeds(runs: List[dict], seeds: Sequence[int]) -> dict:
    """One config's runs with different ``randomness.seed`` -> one table row.

    ``metrics`` holds each metric's mean over the seeds whose run succeeded and
    ``metrics_std`` its sample standard deviation (``ddof=1``; 0 for a single run);
    ``seeds`` / ``runs`` keep the per-seed results.  The status is the first failure's, if
    any run failed (the row then shows it, not a mean over fewer seeds).
    """
    ok = [r for r in runs if r['status'] == 'ok']
    row = dict(runs[0], seeds=list(seeds), runs=runs, metrics={}, metrics_std={},
               seconds={k: sum(r['seconds'].get(k) or 0.0 for r in runs)
                        for k in ('train', 'test')})
    failed = [r['status'] for r in runs if r['status'] != 'ok']
    row['status'] = failed[0] if failed else 'ok'
    for key in sorted({k for r in ok for k in r['metrics']}):
        values = [r['metrics'].get(key) for r in ok]
        # only numbers every run has (a test JSON writes undefined metrics as null)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            continue
        values = [float(v) for v in values]
        mean = sum(values) / len(values)
        var = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)
               if len(values) > 1 else 0.0)
        row['metrics'][key], row['metrics_std'][key] = mean, math.sqrt(var)
    return row


def _cell(result: dict, key: str) -> str:
    value = result['metrics'].get(key)
    std = result.get('metrics_std', {}).get(key)
    if len(result.get('seeds') or ()) > 1 and std is not None and value is not None:
        return f'{_num(value)} ± {_num(std)}'
    return _num(value)


def format_report(results: List[dict], command: str) -> str:
    """Markdown: the Table 2 layout (ours beside the paper's) and the settings used."""
    seeds = max((len(r.get('seeds') or ()) for r in results), default=0)
    blind = any(BLIND_KEY in r['metrics'] for r in results)
    head = '| Table 2 row | config | MPJPE (mm) | MPVPE (mm) | paper MPJPE | paper MPVPE |'
    rule = '|---|---|---:|---:|---:|---:|'
    if blind:
        head, rule = head + ' MPJPE / image-blind constant |', rule + '---:|'
    lines = ['## Ablation in the layout of HandDGCL Table 2', '', head, rule]
    for r in results:
        keys = METRIC_KEYS + ((BLIND_KEY, ) if blind else ())
        ours = [_cell(r, k) for k in keys] if r['status'] == 'ok' else [r['status']] * len(keys)
        lines.append(f"| {r['row']} | `{r['config']}` | {ours[0]} | {ours[1]} | "
                     f"{_num(r['paper'][0])} | {_num(r['paper'][1])} |"
                     + (f' {ours[2]} |' if blind else ''))
    lines += ['', f'Paper: {CITATION}. Ours: the IntagHand protocol (root-aligned, '
              'scale-normalised per hand) on each config\'s test split; numbers on other '
              'data or at another scale are comparable between rows, not with the paper.']
    if seeds > 1:
        lines += ['', f'Ours: mean ± sample standard deviation over {seeds} seeds '
                  '(`randomness.seed`: initial weights, sample order, disturbances; the data '
                  'is the same); train / test seconds are the sums over the seeds.']
    if blind:
        lines += ['', 'MPJPE / image-blind constant: the model against the best constant '
                  'prediction, which ignores the image (`ImageBlindMetric`, `blind/'
                  'model_to_constant`); 1.0 means nothing was read from the pixels.']
    lines += ['', '### Settings', '',
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


# ----------------------------------------------------------------------------------- run

def gclhand_command(subcommand: str, *args: str) -> List[str]:
    """``python -m gclhand SUBCOMMAND ARGS``: the command line of this installation."""
    return [sys.executable, '-m', 'gclhand', subcommand, *args]


def run_config(config: str, work_dir_root: str, cfg_options: Sequence[str] = (),
               skip_train: bool = False, checkpoint: str = 'last') -> dict:
    """Train (unless ``skip_train``) and test one config in ``work_dir_root/<name>``.

    Returns:
        ``dict(config, row, paper, work_dir, status, metrics, seconds, checkpoint,
        settings)``; ``status`` is ``'ok'``, ``'train failed'``, ``'no checkpoint'`` or
        ``'test failed'`` (the reason is printed to stderr with the log's last error).
    """
    name = config_name(config)
    row, paper_mpjpe, paper_mpvpe = table_row(config)
    work_dir = osp.join(work_dir_root, name)
    os.makedirs(work_dir, exist_ok=True)
    result = dict(config=config, row=row, paper=(paper_mpjpe, paper_mpvpe), work_dir=work_dir,
                  status='ok', metrics={}, seconds={}, checkpoint=None, settings=None)
    try:
        result['settings'] = run_settings(config, cfg_options)
    except Exception as e:  # noqa: BLE001 - the train step reports the same problem
        print(f'[{name}] settings unavailable: {type(e).__name__}: {e}', file=sys.stderr)
    opts = ['--cfg-options', *cfg_options] if cfg_options else []

    if not skip_train:
        log = osp.join(work_dir, 'train.log')
        print(f'[{name}] training -> {log}', flush=True)
        start = time.monotonic()
        rc = run_logged(gclhand_command('train', config, '--work-dir', work_dir, *opts), log)
        result['seconds']['train'] = time.monotonic() - start
        if rc != 0:
            result['status'] = 'train failed'
            print(f'[{name}] training failed (exit {rc}):\n{log_tail(log)}', file=sys.stderr)
            return result

    ckpt = find_checkpoint(work_dir, checkpoint)
    if ckpt is None:
        result['status'] = 'no checkpoint'
        print(f'[{name}] no {checkpoint} checkpoint in {work_dir} (last_checkpoint, '
              'epoch_*.pth or best_*.pth); train first or drop --skip-train', file=sys.stderr)
        return result
    result['checkpoint'] = ckpt
    out = osp.join(work_dir, 'test_results.json')
    if osp.exists(out):
        os.remove(out)  # never report a previous run's numbers
    log = osp.join(work_dir, 'test.log')
    print(f'[{name}] testing {ckpt} -> {log}', flush=True)
    start = time.monotonic()
    rc = run_logged(gclhand_command('test', config, ckpt, '--work-dir', work_dir, '--out', out,
                                    *opts), log)
    result['seconds']['test'] = time.monotonic() - start
    if rc != 0 or not osp.isfile(out):
        result['status'] = 'test failed'
        print(f'[{name}] testing failed (exit {rc}):\n{log_tail(log)}', file=sys.stderr)
        return result
    result['metrics'] = read_metrics(out)
    print(f'[{name}] ' + ', '.join(f'{k} {_num(result["metrics"].get(k))}'
                                   for k in METRIC_KEYS), flush=True)
    return result


def run_ablation(configs: Sequence[str], work_dir_root: str, cfg_options: Sequence[str] = (),
                 skip_train: bool = False, checkpoint: str = 'last',
                 command: str = '', seeds: Optional[Sequence[int]] = None
                 ) -> Tuple[List[dict], str]:
    """Run every config (:func:`run_config`), write ``work_dir_root/ablation.json``.

    Args:
        configs: config files or ``gclhand::`` names, in table order.
        work_dir_root: one sub-folder per config.
        cfg_options: ``KEY=VALUE`` strings passed to every train and test run.
        skip_train: only test the checkpoints already in the work dirs.
        checkpoint: ``'last'`` or ``'best'``.
        command: the command line to record in the report.
        seeds: run every config once per seed (``randomness.seed=S``, work dirs
            ``work_dir_root/seed<S>/<name>``) and report mean ± std (:func:`combine_seeds`);
            ``None``: once, with the config's seed, in ``work_dir_root/<name>``.

    Returns:
        ``(results, report)``: one dict per config (see :func:`run_config`) and the markdown
        report of :func:`format_report`.

    Raises:
        FileNotFoundError: a config does not exist (nothing is run).
    """
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {CHECKPOINTS}, got '{checkpoint}'")
    configs = [locate_config(c) for c in configs]
    missing = [c for c in configs if not c.startswith(SCOPE_PREFIX) and not osp.isfile(c)]
    if missing:
        raise FileNotFoundError(f"config file(s) not found: {', '.join(missing)}")
    if seeds is None:
        results = [run_config(c, work_dir_root, cfg_options, skip_train, checkpoint)
                   for c in configs]
    else:
        if len(set(seeds)) != len(seeds) or not seeds:
            raise ValueError(f'seeds must be distinct and not empty, got {list(seeds)}')
        results = [combine_seeds([run_config(c, osp.join(work_dir_root, f'seed{seed}'),
                                             [*cfg_options, f'randomness.seed={seed}'],
                                             skip_train, checkpoint) for seed in seeds], seeds)
                   for c in configs]
    report = format_report(results, command)
    os.makedirs(work_dir_root, exist_ok=True)
    with open(osp.join(work_dir_root, 'ablation.json'), 'w') as f:
        json.dump(dict(command=command, cfg_options=list(cfg_options), citation=CITATION,
                       results=results), f, indent=1, default=str)
    return results, report


__all__ = ['CITATION', 'TABLE2', 'combine_seeds', 'default_configs', 'find_checkpoint', 'format_report',
           'run_ablation', 'run_config', 'shorthand_options', 'table_row']
