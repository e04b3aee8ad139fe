"""Config-value checks run before anything is built (``gclhand.engine.build_runner``).

Constructors check what they can see alone (``SelfContrastHead(tau<=0)`` raises, ...);
the checks here need more than one key - the pool size against the global batch, the
decoder's channels against the graph hierarchy - or should fail in one message before the
(slow) model and data are built.  Every problem names the config key and the fix; all of
them are reported together as one :class:`~gclhand.utils.ConfigError`.

Example:
    >>> from mmengine.config import Config
    >>> from gclhand.utils.validation import validate_config
    >>> validate_config(Config.fromfile('configs/dgcl_synth.py'), world_size=4)
"""
import math
import numbers
import os
from typing import List, Optional

from .build import ConfigError


def _num(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _world_size(world_size: Optional[int]) -> int:
    if world_size is not None:
        return int(world_size)
    try:  # torchrun / slurm set it before the process group exists
        return max(int(os.environ.get('WORLD_SIZE', '1')), 1)
    except ValueError:
        return 1


def _check_dgcl(dgcl: dict, batch: Optional[int], world_size: int, errors: List[str]) -> None:
    for key in ('lambda_consistent', 'lambda_contrast'):
        value = dgcl.get(key)
        if value is not None and (not _num(value) or not value >= 0 or math.isinf(value)):
            errors.append(f'model.dgcl.{key}={value!r} must be a finite number >= 0 (the '
                          'paper uses 1 for lambda_consistent and 1e-2 for lambda_contrast)')
    self_contrast = dgcl.get('self_contrast')
    if isinstance(self_contrast, dict) and 'tau' in self_contrast:
        tau = self_contrast['tau']
        if not _num(tau) or not tau > 0 or math.isinf(tau):
            errors.append(f'model.dgcl.self_contrast.tau={tau!r} must be a finite number > 0 '
                          '(a softmax temperature; 0.07-0.2 is usual)')
    key_encoder = dgcl.get('key_encoder')
    if isinstance(key_encoder, dict) and 'momentum' in key_encoder:
        m = key_encoder['momentum']
        if not _num(m) or not 0 <= m < 1:
            errors.append(f'model.dgcl.key_encoder.momentum={m!r} must be in [0, 1) (MoCo: '
                          '0.999; 1 would freeze the key encoder at its initial weights)')
    pool = dgcl.get('pool')
    if isinstance(pool, dict) and batch is not None and 'size' in pool:
        size = pool['size']
        hands = 2 * batch * world_size  # one entry per hand, gathered over the ranks
        if not isinstance(size, numbers.Integral) or size <= hands:
            errors.append(
                f'model.dgcl.pool.size={size!r} must exceed the hands one step enqueues: 2 x '
                f'train_dataloader.batch_size ({batch}) x {world_size} process(es) = {hands};'
                f' set model.dgcl.pool.size to at least {hands + 1} (paper: 2048)')


def _check_model(model: dict, errors: List[str]) -> None:
    for name, loss in (model.get('losses') or {}).items():
        if isinstance(loss, dict) and 'loss_weight' in loss:
            w = loss['loss_weight']
            if not _num(w) or not w >= 0 or math.isinf(w):
                errors.append(f'model.losses.{name}.loss_weight={w!r} must be a finite number '
                              '>= 0 (remove the entry to switch the term off)')
    decoder, graph = model.get('decoder'), model.get('graph')
    if isinstance(decoder, dict) and isinstance(graph, dict):
        channels, nodes = decoder.get('channels'), graph.get('num_nodes')
        if channels is not None and nodes is not None and len(channels) != len(nodes):
            errors.append(f'model.decoder.channels {tuple(channels)} has {len(channels)} '
                          f'entries but model.graph.num_nodes {tuple(nodes)} has {len(nodes)} '
                          'levels: give one channel count per graph level (coarse to fine)')
        if nodes is not None and list(nodes) != sorted(nodes):
            errors.append(f'model.graph.num_nodes {tuple(nodes)} must increase (coarse to '
                          'fine), e.g. (63, 126, 252)')
    n = model.get('max_consecutive_nonfinite')
    if n is not None and (not isinstance(n, numbers.Integral) or n < 1):
        errors.append(f'model.max_consecutive_nonfinite={n!r} must be an integer >= 1')


def validate_config(cfg, world_size: Optional[int] = None) -> None:
    """Check the config values that a wrong setting would turn into a late or silent failure.

    Args:
        cfg: an MMEngine ``Config`` (or dict) with ``model`` and optionally
            ``train_dataloader`` / ``optim_wrapper``.
        world_size: training processes; default ``$WORLD_SIZE`` (1 when unset).

    Raises:
        ConfigError: one line per problem, each naming the key and the fix.
    """
    errors: List[str] = []
    world_size = _world_size(world_size)
    loader = cfg.get('train_dataloader')
    batch = None
    if isinstance(loader, dict) and loader.get('batch_size') is not None:
        batch = loader['batch_size']
        if not isinstance(batch, numbers.Integral) or batch < 1:
            errors.append(f'train_dataloader.batch_size={batch!r} must be an integer >= 1')
            batch = None
    model = cfg.get('model')
    if isinstance(model, dict):
        _check_model(model, errors)
        if isinstance(model.get('dgcl'), dict):
            _check_dgcl(model['dgcl'], batch, world_size, errors)
    optim = cfg.get('optim_wrapper')
    optimizer = optim.get('optimizer') if isinstance(optim, dict) else None
    if isinstance(optimizer, dict) and 'lr' in optimizer:
        lr = optimizer['lr']
        if not _num(lr) or not lr > 0 or math.isinf(lr):
            errors.append(f'optim_wrapper.optimizer.lr={lr!r} must be a finite number > 0')
    if errors:
        raise ConfigError('invalid config value(s):\n  ' + '\n  '.join(errors))


__all__ = ['validate_config']
