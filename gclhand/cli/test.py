"""Evaluate a checkpoint on a config's test set.

    gclhand test CONFIG CHECKPOINT [--work-dir DIR] [--out results.json]
                        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

``--out`` writes ``{"metrics": {...}, "per_sample": [...]}`` through
:func:`gclhand.evaluation.dump_results`.  Errors a user can fix print one line
(``error: ...``) and exit with status 2; ``GCLHAND_DEBUG=1`` shows the traceback.
"""
import argparse
import glob
import os.path as osp
from typing import Dict, List, Optional

from .args import add_cfg_options, add_launcher_args, parse_tool_args
from .config import check_registered_types, load_config, resolve_work_dir

#: identifying keys shared by every metric's per-sample results
ID_KEYS = ('sample_idx', 'img_path')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a gclhand checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint',
                        help="checkpoint file, or 'last' / 'best' for the newest / best "
                             "checkpoint of the config's work dir, or 'none' for the untrained "
                             "model (initialised with the config's seed: the reference a "
                             "trained model is compared with)")
    parser.add_argument('--work-dir', help='folder for the test log')
    parser.add_argument('--out', metavar='JSON',
                        help='write the metrics and per-sample errors to this JSON file')
    add_cfg_options(parser)
    add_launcher_args(parser)
    return parse_tool_args(parser, argv)


def capture_per_sample(evaluator) -> Dict[str, List[dict]]:
    """Keep each metric's collected per-sample results (MMEngine clears them after use).

    Returns a dict filled during ``runner.test()``: metric prefix -> result dicts.  Done by
    wrapping the instances' ``compute_metrics`` (the only place where all ranks' results
    are together) so that no metric class needs to know about ``--out``.
    """
    captured: Dict[str, List[dict]] = {}
    for i, metric in enumerate(evaluator.metrics):
        name = metric.prefix or type(metric).__name__ + (f'.{i}' if i else '')

        def compute_metrics(results, _inner=metric.compute_metrics, _name=name):
            captured[_name] = results
            return _inner(results)

        metric.compute_metrics = compute_metrics
    return captured


def merge_per_sample(captured: Dict[str, List[dict]]) -> List[dict]:
    """One dict per sample: identifying keys plus ``{metric}/{key}`` from every metric."""
    merged: Dict[object, dict] = {}
    for name, results in captured.items():
        for pos, result in enumerate(results):
            if not isinstance(result, dict):
                continue
            # by dataset index where the samples carry one (a sample_idx of None, which
            # PackHandInputs without it in meta_keys stores, is no id), else by position
            ident = result.get('sample_idx')
            ident = pos if ident is None else ident
            entry = merged.setdefault(ident, {k: result[k] for k in ID_KEYS if k in result})
            entry.update({k if len(captured) == 1 else f'{name}/{k}': v
                          for k, v in result.items() if k not in ID_KEYS})
    return list(merged.values())


def resolve_checkpoint(checkpoint: str, work_dir: str) -> Optional[str]:
    """``'last'`` / ``'best'`` -> the work dir's newest / best checkpoint; ``'none'`` ->
    ``None`` (the untrained model); else the path."""
    if checkpoint == 'none':
        return None
    if checkpoint == 'last':
        pointer = osp.join(work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            raise FileNotFoundError(f"no '{pointer}': train the config first (gclhand train), "
                                    'or pass a checkpoint path')
        with open(pointer) as f:
            checkpoint = f.read().strip()
    elif checkpoint == 'best':
        found = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')), key=osp.getmtime)
        if not found:
            raise FileNotFoundError(f"no best_*.pth in '{work_dir}': train with "
                                    "default_hooks.checkpoint.save_best set, or pass a path")
        checkpoint = found[-1]
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} not found')
    return checkpoint


def main(argv=None) -> None:
    args = parse_args(argv)
    # a checkpoint is evaluated by the deployed model: training-only parts (model.dgcl, ...)
    # and the plugins only they need are not built; 'none' builds the whole config so that
    # the random initial weights are exactly those training starts from (the training-only
    # modules are built last but still draw from the random stream before init_weights)
    cfg = load_config(args.config, args.cfg_options, deployed=args.checkpoint != 'none')
    from gclhand.apis import register_all_modules
    register_all_modules()
    cfg.launcher = args.launcher
    cfg.work_dir = resolve_work_dir(cfg, args.config, args.work_dir)
    args.checkpoint = resolve_checkpoint(args.checkpoint, cfg.work_dir)
    cfg.load_from, cfg.resume = args.checkpoint, False
    from gclhand.engine import build_runner, finish_distributed
    from gclhand.engine.config_utils import evaluation_only_config
    evaluation_only_config(cfg)  # never builds the train/val splits ...
    check_registered_types(cfg)  # ... so their (plugin) types are not needed either
    runner = build_runner(cfg)
    if args.checkpoint is None:  # untrained: the weights train.py starts from
        runner.logger.info('checkpoint none: evaluating the untrained model')
        getattr(runner.model, 'module', runner.model).init_weights()
    captured = capture_per_sample(runner.test_loop.evaluator) if args.out else {}
    metrics = runner.test()
    from mmengine.dist import is_main_process
    if args.out and is_main_process():
        from gclhand.evaluation import dump_results
        path = dump_results(metrics, merge_per_sample(captured), args.out)
        runner.logger.info(f'wrote {path}')
    finish_distributed()
