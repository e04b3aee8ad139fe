"""CheckpointHook whose bookkeeping survives a crash at any point of a save."""
import os.path as osp

from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from gclhand.registry import HOOKS
from ..checkpoint import atomic_write_text, get_rng_state, remove_stale_tmp_files


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` that never loses the last good checkpoint.

    MMEngine's hook deletes the oldest checkpoint *before* writing the new one (with
    ``max_keep_ckpts=1`` a crash mid-save leaves no checkpoint at all) and rewrites
    ``last_checkpoint`` in place.  This hook keeps every argument of the parent and

    1. writes the new checkpoint first (atomically, via
       :meth:`gclhand.engine.GCLHandRunner.save_checkpoint`),
    2. then points ``last_checkpoint`` at it, itself written atomically,
    3. and only then deletes checkpoints beyond ``max_keep_ckpts``.

    A kill at any instant therefore leaves ``last_checkpoint`` naming a complete file.
    It also gathers every rank's RNG state into the checkpoint (``meta['rng_states']``) so
    that ``--resume`` continues each process's random stream exactly, and removes
    temporary files left by an earlier crash when training starts.

    Use it in place of the default: ``default_hooks = dict(checkpoint=dict(
    type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3))``; it needs
    ``runner_type = 'GCLHandRunner'`` for the atomic file write itself.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and osp.isdir(self.out_dir):
            stale = remove_stale_tmp_files(self.out_dir)
            if stale:
                print_log(f'removed {len(stale)} partial checkpoint file(s) left by an '
                          f'interrupted save: {stale}', logger='current')
        from ..runner import GCLHandRunner  # here: the runner module imports this package
        if not isinstance(runner, GCLHandRunner):
            print_log("AtomicCheckpointHook: set runner_type='GCLHandRunner' for atomic "
                      'checkpoint files; this runner writes them in place',
                      logger='current', level=30)

    def _save_checkpoint_with_step(self, runner, step, meta):
        # every rank takes part in the gather, so it happens here and not in the
        # (main-process only) runner.save_checkpoint
        meta = dict(meta or {}, rng_states=all_gather_object(get_rng_state()))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            # the deque has maxlen=max_keep_ckpts: take the oldest out before it drops it
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_text(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        for old_step in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # DeepSpeed saves directories
                self.file_backend.rmtree(path)
