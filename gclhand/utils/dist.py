"""Distributed set-up that also works on CPU-only PyTorch.

MMEngine's :func:`mmengine.dist.init_dist` calls ``torch.cuda.set_device`` for the
``pytorch`` and ``slurm`` launchers, which raises on a CPU-only build of PyTorch.
:func:`init_dist` here uses MMEngine's path whenever CUDA is available (NCCL on GPUs,
unchanged behaviour) and otherwise initialises the default process group itself with
the ``gloo`` backend.  :meth:`mmengine.runner.Runner.setup_env` only calls MMEngine's
``init_dist`` when no process group exists yet, so calling :func:`init_dist` first (the
tools and :class:`gclhand.engine.GCLHandRunner` do) is all that CPU training needs.
"""
import datetime
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import init_dist as mmengine_init_dist
from mmengine.dist import is_distributed
from mmengine.logging import print_log

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def default_backend() -> str:
    """``'nccl'`` when CUDA devices are visible, ``'gloo'`` otherwise."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def _slurm_env(port: Optional[int]) -> None:
    """Map SLURM's variables to the ``RANK``/``WORLD_SIZE``/``MASTER_*`` ones torch reads.

    Same mapping as MMEngine's ``_init_dist_slurm`` minus ``torch.cuda.set_device``.
    """
    node_list = os.environ['SLURM_NODELIST']
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def init_dist(launcher: str, backend: Optional[str] = None, **kwargs) -> str:
    """Initialise ``torch.distributed`` for ``launcher``; a no-op when already initialised.

    Args:
        launcher: ``'pytorch'`` (torchrun), ``'slurm'`` or ``'mpi'``.
        backend: process-group backend. ``None`` picks :func:`default_backend`.  A request
            for ``'nccl'`` without CUDA falls back to ``'gloo'`` with a log line, so a GPU
            config runs unchanged on a CPU machine.
        **kwargs: passed to ``init_process_group``; ``timeout`` may be given in seconds
            (as in MMEngine's ``env_cfg.dist_cfg``).

    Returns:
        The backend of the (now) initialised default process group.
    """
    if launcher not in LAUNCHERS or launcher == 'none':
        raise ValueError(f"launcher must be one of {LAUNCHERS[1:]}, got '{launcher}'")
    if is_distributed():
        return torch_dist.get_backend()
    backend = backend or default_backend()
    if torch.cuda.is_available():
        mmengine_init_dist(launcher, backend=backend, **kwargs)
        return backend
    if backend == 'nccl':
        print_log("CUDA is not available: using the 'gloo' backend instead of 'nccl'",
                  logger='current')
        backend = 'gloo'
    if isinstance(kwargs.get('timeout'), (int, float)):
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    if launcher == 'slurm':
        _slurm_env(kwargs.pop('port', None))
    elif launcher == 'mpi':
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
        os.environ.setdefault('MASTER_PORT', '29500')
    torch_dist.init_process_group(
        backend=backend, rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    return backend


def is_cpu_device() -> bool:
    """Whether MMEngine places models on the CPU (no CUDA/NPU/MLU/MUSA/MPS device)."""
    from mmengine.device import get_device
    return get_device() == 'cpu'
