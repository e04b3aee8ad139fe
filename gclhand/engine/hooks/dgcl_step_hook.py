"""Advance DGCLNet's momentum encoder and queues once per optimiser step, under any wrapper."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gclhand.registry import HOOKS


@HOOKS.register_module()
class DGCLStepHook(Hook):
    """Call ``model.dgcl.step(model.decoder)`` after every optimiser step.

    :class:`~gclhand.models.TwoHandEstimator`'s own ``train_step`` already does this, but a
    model wrapper such as MMEngine's ``MMDistributedDataParallel`` runs its own
    ``train_step`` around the model's ``forward``; this hook covers that path. The step is
    taken when ``runner.optim_wrapper.should_update()`` (the last iteration of a
    gradient-accumulation window); an iteration whose update was skipped for a non-finite
    loss (``outputs['nonfinite_skipped']``) discards the window's entries instead.
    ``DGCLNet.step`` is a no-op when nothing is pending, so running both paths is safe.
    :class:`~gclhand.engine.GCLHandRunner` registers this hook itself.
    """

    priority = 'ABOVE_NORMAL'  # before checkpoint / logger hooks see the state

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dgcl = getattr(model, 'dgcl', None)
        if dgcl is None or not hasattr(dgcl, 'step'):
            return
        if outputs and 'nonfinite_skipped' in outputs:
            dgcl.discard_step()
            return
        should_update = getattr(runner.optim_wrapper, 'should_update', None)
        if should_update is None or should_update():
            dgcl.step(model.decoder)
