"""Command-line arguments shared by the subcommands (``--cfg-options``, ``--launcher``)."""
import argparse
import os

from mmengine.config import DictAction


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--cfg-options k=v ...`` (MMEngine's syntax; ``+k=v`` adds a new key)."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help="override config values, e.g. 'model.dgcl.self_contrast.tau=0.2 "
        "train_dataloader.batch_size=4'; a key must already exist in the config unless written '+key=value'")


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and the ``--local-rank`` that ``torch.distributed.launch`` passes."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='how the processes were started')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def parse_tool_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` and export ``LOCAL_RANK`` (MMEngine's launcher reads it)."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


__all__ = ['add_cfg_options', 'add_launcher_args', 'parse_tool_args']
