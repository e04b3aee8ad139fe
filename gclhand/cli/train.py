"""Train a model from a config.

    gclhand train CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                         [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
    torchrun --nproc_per_node N -m gclhand train CONFIG --launcher pytorch   # CPU or GPU

CONFIG is a file or a shipped config (``gclhand::dgcl_synth.py``).

Errors a user can fix print one line (``error: ...``) and exit with status 2;
``GCLHAND_DEBUG=1`` shows the traceback instead.
"""
import argparse
import os.path as osp

from gclhand.utils import ConfigError
from .args import add_cfg_options, add_launcher_args, parse_tool_args
from .config import check_registered_types, load_config, resolve_work_dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a gclhand model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto', metavar='CKPT',
        help='resume from CKPT, or (no value) from the checkpoint named by '
        'WORK_DIR/last_checkpoint; restores model, optimizer, schedulers and RNG state')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (needs a CUDA device)')
    add_cfg_options(parser)
    add_launcher_args(parser)
    return parse_tool_args(parser, argv)


def enable_amp(cfg) -> None:
    """Switch ``optim_wrapper`` to MMEngine's ``AmpOptimWrapper`` (dynamic loss scale)."""
    import torch
    if not torch.cuda.is_available():
        raise ConfigError('--amp needs a CUDA device (AmpOptimWrapper uses torch.cuda.amp); '
                          'run without --amp on this machine')
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type == 'AmpOptimWrapper':
        return
    if wrapper_type != 'OptimWrapper':
        raise ConfigError(f"--amp replaces optim_wrapper.type 'OptimWrapper', but the config "
                          f"sets '{wrapper_type}'; set AmpOptimWrapper in the config instead")
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    from gclhand.apis import register_all_modules
    register_all_modules()
    cfg.launcher = args.launcher
    cfg.work_dir = resolve_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None  # the Runner reads WORK_DIR/last_checkpoint
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint {args.resume} not found')
        cfg.resume, cfg.load_from = True, args.resume
    check_registered_types(cfg)

    from gclhand.engine import build_runner, finish_distributed
    runner = build_runner(cfg)
    runner.train()
    finish_distributed()
