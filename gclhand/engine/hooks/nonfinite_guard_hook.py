"""Skip optimisation steps whose loss is NaN/Inf, name where it appeared, fail a run that
never updated."""
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from gclhand.registry import HOOKS
from gclhand.utils.nonfinite import NonFiniteTracer


def all_ranks_finite(loss: torch.Tensor) -> bool:
    """``True`` iff ``loss`` is finite on every rank (one ``all_reduce(MIN)`` under DDP).

    Every rank must take the same decision: a rank that steps while another skips would
    leave DDP's gradient all-reduce waiting, and the replicas would drift apart.
    """
    finite = torch.isfinite(loss.detach()).all().float().reshape(1)
    if is_distributed():
        torch_dist.all_reduce(finite, op=torch_dist.ReduceOp.MIN)
    return bool(finite.item())


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Non-finite loss guard: skip the step, warn, raise after ``max_consecutive`` in a row.

    The check must sit between the loss and ``optimizer.step()``, i.e. inside the model's
    ``train_step``:

    * a model with its own guard (``update_or_skip``, e.g.
      :class:`~gclhand.models.TwoHandEstimator`) keeps it - its warning names the
      non-finite loss terms, the batch's ``sample_idx`` and the first component whose
      output was non-finite - and this hook sets its threshold
      (``model.max_consecutive_nonfinite``) when ``max_consecutive`` is given;
    * any other model gets the same guard around ``optim_wrapper.update_params``
      (:func:`all_ranks_finite`, ``zero_grad`` and no step when it fails); the warning
      names the batch's ``sample_idx`` and the first non-finite component
      (:class:`~gclhand.utils.nonfinite.NonFiniteTracer`).

    Either way a non-finite loss never reaches the optimizer, every rank agrees to skip,
    and the hook logs ``train/nonfinite_skipped_total`` (saved with the checkpoint's
    message hub).  A run in which *every* update was skipped raises
    :class:`FloatingPointError` at the end of its first epoch (before that epoch's
    checkpoint and validation) or when training ends (it trained nothing: the command must
    not exit 0).  :class:`~gclhand.engine.GCLHandRunner` registers it with the defaults
    when a config does not; configure it with
    ``custom_hooks = [dict(type='NonFiniteGuardHook', max_consecutive=5)]``.

    Args:
        max_consecutive: raise :class:`FloatingPointError` after this many skipped steps in
            a row; ``None`` keeps the model's own setting (10 for models without one).
    """

    priority = 'HIGH'

    def __init__(self, max_consecutive: Optional[int] = None) -> None:
        if max_consecutive is not None and int(max_consecutive) < 1:
            raise ValueError('NonFiniteGuardHook.max_consecutive (custom_hooks) must be >= 1, '
                             f'got {max_consecutive}')
        self.max_consecutive = None if max_consecutive is None else int(max_consecutive)
        self._total = 0
        self._in_row = 0
        self._sample_ids = []
        self._updated = self._skipped = 0  # this run's steps
        self._tracer: Optional[NonFiniteTracer] = None
        self._model = None
        self._last_message = ''

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._model = model
        self._total = int(runner.message_hub.get_info('nonfinite_skipped_total', 0) or 0)
        self._updated = self._skipped = 0
        if hasattr(model, 'update_or_skip'):
            if self.max_consecutive is not None:
                model.max_consecutive_nonfinite = self.max_consecutive
            return
        self._tracer = NonFiniteTracer(model)
        self._wrap_update_params(runner.optim_wrapper)

    def _wrap_update_params(self, optim_wrapper) -> None:
        if getattr(optim_wrapper, '_gclhand_nonfinite_guard', False):
            return
        inner = optim_wrapper.update_params
        limit = self.max_consecutive or 10

        def update_params(loss, *args, **kwargs):
            if all_ranks_finite(loss):
                self._in_row = 0
                return inner(loss, *args, **kwargs)
            optim_wrapper.zero_grad()
            self._in_row += 1
            origin = self._tracer.describe() if self._tracer is not None else 'not traced'
            msg = (f'non-finite loss (sample_idx {self._sample_ids}); first non-finite: '
                   f'{origin}; skipped the update ({self._in_row} in a row)')
            self._last_message = msg
            if self._in_row >= limit:
                raise FloatingPointError(f'{msg}; reached NonFiniteGuardHook.max_consecutive='
                                         f'{limit}')
            print_log(msg, 'current', level=30)

        optim_wrapper.update_params = update_params
        optim_wrapper._gclhand_nonfinite_guard = True

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        samples = (data_batch or {}).get('data_samples') if isinstance(data_batch, dict) else None
        self._sample_ids = [getattr(s, 'metainfo', {}).get('sample_idx') for s in samples or []]
        if self._tracer is not None:
            self._tracer.start()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._tracer is not None:
            self._tracer.stop()
        skipped = bool(outputs and 'nonfinite_skipped' in outputs) or self._in_row > 0
        if skipped:
            self._total += 1
            self._skipped += 1
            runner.message_hub.update_info('nonfinite_skipped_total', self._total)
        else:
            self._updated += 1

    def _raise_if_nothing_trained(self) -> None:
        if self._skipped and not self._updated:
            last = getattr(self._model, 'last_nonfinite', None) or self._last_message
            raise FloatingPointError(
                f'every update of this run was skipped ({self._skipped} step(s) with a '
                f'non-finite loss; the last: {last}): nothing was trained')

    def after_train_epoch(self, runner) -> None:
        # before this epoch's checkpoint (CheckpointHook runs later) and validation, whose
        # metrics refuse the non-finite predictions of a model that never trained
        self._raise_if_nothing_trained()

    def after_train(self, runner) -> None:
        if self._tracer is not None:
            self._tracer.remove()
            self._tracer = None
        self._raise_if_nothing_trained()
