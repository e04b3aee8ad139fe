"""gclhand's Runner: MMEngine's Runner with CPU multi-process training and safe checkpoints."""
import os
import os.path as osp
import pickle
import re
from typing import Dict, Optional

from mmengine.dist import get_dist_info, is_distributed, is_main_process
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.visualization import Visualizer
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gclhand.registry import MODEL_WRAPPERS, RUNNERS
from gclhand.utils import ConfigError
from gclhand.utils.dist import init_dist, is_cpu_device
from gclhand.utils.malloc import apply_malloc_cfg
from gclhand.utils.validation import validate_config
from .checkpoint import (checkpoint_safe_globals, commit_file, get_rng_state, set_rng_state,
                         tmp_path_for)
from .hooks import DGCLStepHook, EvalRNGIsolationHook, NonFiniteGuardHook, PlainMessageHubHook


@RUNNERS.register_module()
class GCLHandRunner(Runner):
    """:class:`mmengine.runner.Runner` with these changes, each a small override.

    1. :meth:`setup_env` applies ``env_cfg.malloc_cfg`` (glibc's malloc thresholds,
       :mod:`gclhand.utils.malloc`) and initialises the process group with ``gloo`` when
       CUDA is not available (MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and
       fails on CPU-only PyTorch); MMEngine then skips its own initialisation.
    2. :meth:`wrap_model` gives ``MMDistributedDataParallel`` ``device_ids=None`` on CPU
       (MMEngine passes ``[LOCAL_RANK]``, which DDP rejects for a CPU module).
    3. :meth:`save_checkpoint` writes through a temporary file and :func:`os.replace`:
       a crash during a save never leaves a partial file under a checkpoint's name.  It
       also records the RNG state (``meta['rng_states']``, one entry per rank when
       :class:`~gclhand.engine.hooks.AtomicCheckpointHook` gathers them) and the sampler seed.
    4. Checkpoints load under PyTorch's safe ``weights_only`` unpickler (default since
       PyTorch 2.6, which rejects MMEngine's own checkpoints): :meth:`register_hooks` adds
       :class:`~gclhand.engine.hooks.PlainMessageHubHook` and :meth:`load_checkpoint`
       allow-lists NumPy values only (:func:`~gclhand.engine.checkpoint_safe_globals`).
       :meth:`resume` restores the RNG state and sampler seed after MMEngine's resume.
    5. :meth:`register_hooks` also adds
       :class:`~gclhand.engine.hooks.EvalRNGIsolationHook` (validation does not shift the
       training run's random streams, so a resumed run matches an uninterrupted one) and
       :class:`~gclhand.engine.hooks.NonFiniteGuardHook` (NaN/Inf steps are skipped on
       every rank) and :class:`~gclhand.engine.hooks.DGCLStepHook` (DGCL's momentum encoder
       and queues advance once per optimiser step, also under DDP) unless the config lists
       them.
    6. :meth:`build_logger` and :meth:`build_visualizer` give every runner a logger,
       message hub and visualizer of its own: MMEngine returns the instance already made
       under a name, so a second runner in one process wrote into the first run's
       ``vis_data`` (a named visualizer) or log file (the same config in the same second).
    7. :meth:`_log_env` and :meth:`build_model`: the environment and the whole config are
       logged once the model is built, not before: a config error found while the model
       builds its own parts (a misspelt disturber) is then the only output instead of
       following ~250 lines of environment and config.

    Select it in a config with ``runner_type = 'GCLHandRunner'``.
    """

    def setup_env(self, env_cfg: Dict) -> None:
        apply_malloc_cfg(env_cfg.get('malloc_cfg'))
        if self.distributed and not is_distributed():
            init_dist(self.launcher, **dict(env_cfg.get('dist_cfg') or {}))
        super().setup_env(env_cfg)

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        # always on (a config may list them in custom_hooks to set their arguments)
        for hook_type in (PlainMessageHubHook, EvalRNGIsolationHook, NonFiniteGuardHook,
                          DGCLStepHook):
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())

    def build_logger(self, *args, **kwargs) -> MMLogger:
        """MMEngine's ``build_logger``, after making the experiment name unique in the
        process.

        MMEngine names the logger, the message hub and (by default) the visualizer after
        the experiment, ``{config}_{timestamp}`` to the second, and hands a runner the
        instance already made under its name: a second runner of the same config started
        within the same second logged into the first run's log file and shared its message
        hub.  A name that is taken gets ``_2``, ``_3``, ... appended.  (The logger is the
        first of these that the runner builds.)
        """
        base, n = self._experiment_name, 1
        while (MMLogger.check_instance_created(self._experiment_name)
               or MessageHub.check_instance_created(self._experiment_name)):
            n += 1
            self._experiment_name = f'{base}_{n}'
        return super().build_logger(*args, **kwargs)

    def build_visualizer(self, visualizer=None) -> Visualizer:
        """MMEngine's ``build_visualizer``, with a visualizer of this runner's own.

        MMEngine builds a visualizer config through ``Visualizer.get_instance(name, ...)``,
        which returns the instance already made under that name, with its ``save_dir``, and
        drops the new arguments.  A config that names its visualizer (OpenMMLab's
        ``name='visualizer'``, as ``configs/_base_/default_runtime.py`` does) then made the
        second runner of a process (a notebook, a sweep in one script) write its scalars
        and images into the first run's ``vis_data``.  A name that is taken gets this
        runner's (unique) experiment name appended.
        """
        if isinstance(visualizer, dict):
            vis_type = visualizer.get('type')
            # the class the build will use: each ManagerMixin class keeps its own names
            with MMENGINE_VISUALIZERS.switch_scope_and_registry(None) as registry:
                vis_cls = vis_type if isinstance(vis_type, type) else registry.get(vis_type)
            if vis_cls is not None:
                visualizer = dict(visualizer)
                name = visualizer.setdefault('name', self._experiment_name)
                if vis_cls.check_instance_created(name):
                    visualizer['name'] = f'{name}_{self._experiment_name}'
        return super().build_visualizer(visualizer)

    def _log_env(self, env_cfg: Dict) -> None:
        """Defer MMEngine's environment and config log to :meth:`build_model`."""
        self._env_cfg_to_log = env_cfg

    def build_model(self, model) -> nn.Module:
        """MMEngine's ``build_model``, then the environment and config log that MMEngine
        writes before it (see :meth:`_log_env`; written once, by the first build)."""
        built = super().build_model(model)
        env_cfg = self.__dict__.pop('_env_cfg_to_log', None)
        if env_cfg is not None:
            super()._log_env(env_cfg)
        return built

    def wrap_model(self, model_wrapper_cfg: Optional[Dict], model: nn.Module) -> nn.Module:
        if self.distributed and not is_model_wrapper(model) and is_cpu_device():
            wrapper_cfg = dict(model_wrapper_cfg or dict(
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters', False)))
            wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
            wrapper_type = MODEL_WRAPPERS.get(wrapper_cfg['type'])
            if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                             DistributedDataParallel):
                wrapper_cfg['device_ids'] = None
            model_wrapper_cfg = wrapper_cfg
        return super().wrap_model(model_wrapper_cfg, model)

    def _train_loader(self):
        """The built training data loader, or ``None`` before the train loop is built.

        MMEngine keeps ``self._train_dataloader`` as the config dict and builds the loader
        inside the train loop (``self._train_loop.dataloader``); a loader passed to the
        constructor as an object is used as it is.  Not ``self.train_dataloader``: that
        property would build the loop.
        """
        loop = self._train_loop
        loader = loop.dataloader if isinstance(loop, BaseLoop) else self._train_dataloader
        return None if loader is None or isinstance(loader, dict) else loader

    def _train_sampler(self):
        return getattr(self._train_loader(), 'sampler', None)

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Save a checkpoint atomically (local filesystems); same arguments as MMEngine's."""
        if not is_main_process():
            return
        meta = dict(meta or {})
        meta.setdefault('rng_states', [get_rng_state()])
        sampler = self._train_sampler()
        if getattr(sampler, 'seed', None) is not None:
            meta.setdefault('sampler_seed', sampler.seed)
        kwargs = dict(file_client_args=file_client_args, save_optimizer=save_optimizer,
                      save_param_scheduler=save_param_scheduler, meta=meta,
                      by_epoch=by_epoch, backend_args=backend_args)
        backend = get_file_backend(out_dir, backend_args=backend_args)
        if file_client_args is not None or not isinstance(backend, LocalBackend):
            # object stores (petrel, ...) upload a finished buffer: nothing to rename.
            super().save_checkpoint(out_dir, filename, **kwargs)
            return
        path = osp.join(out_dir, filename)
        tmp = tmp_path_for(path)
        try:
            super().save_checkpoint(out_dir, osp.basename(tmp), **kwargs)
            commit_file(tmp, path)
        finally:
            if osp.exists(tmp):
                # the save failed (or was interrupted) before the rename
                os.remove(tmp)

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):  # noqa: B006 (MMEngine's)
        if not osp.isfile(filename) and '://' not in filename:
            raise FileNotFoundError(f'checkpoint {filename} not found')
        try:
            with checkpoint_safe_globals():
                checkpoint = super().load_checkpoint(
                    filename, map_location=map_location, strict=strict,
                    revise_keys=revise_keys)
        except pickle.UnpicklingError as e:
            unsafe = re.findall(r'Unsupported global: GLOBAL (\S+)', str(e))
            raise ConfigError(
                f'checkpoint {filename} holds objects that PyTorch refuses to load safely '
                f'({", ".join(unsafe) or e}); re-save it with gclhand, or convert it with '
                "torch.load(..., weights_only=False) if you trust its source") from None
        self._loaded_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
        return checkpoint

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default') -> None:
        super().resume(filename, resume_optimizer=resume_optimizer,
                       resume_param_scheduler=resume_param_scheduler,
                       map_location=map_location)
        meta = getattr(self, '_loaded_meta', {})
        sampler = self._train_sampler()
        seed = meta.get('sampler_seed')
        if seed is not None and getattr(sampler, 'seed', seed) != seed:
            # the sampler was built (with a fresh seed) before the checkpoint was read
            sampler.seed = seed
            self.logger.info(f'restored the train sampler seed {seed} from the checkpoint')
        states = meta.get('rng_states')
        rank, world_size = get_dist_info()
        if not states:
            self.logger.warning(f'{filename} holds no RNG state: random streams restart '
                                'from the seed (a gclhand checkpoint restores them exactly)')
        elif len(states) != world_size:
            self.logger.warning(f'{filename} holds the RNG state of {len(states)} '
                                f'process(es) but {world_size} are running: random streams '
                                'restart from the seed')
        else:
            set_rng_state(states[rank])
            self.logger.info('restored the python/numpy/torch RNG state from the checkpoint')
        loader = self._train_loader()
        if (loader is not None and getattr(loader, 'num_workers', 0) > 0
                and getattr(loader, 'persistent_workers', False)):
            self.logger.warning(
                'train_dataloader.persistent_workers=True: the data-loader workers restart '
                'with fresh random streams at resume, so random augmentations differ from '
                'an uninterrupted run; set persistent_workers=False for a bit-exact resume')


def build_runner(cfg) -> Runner:
    """Build the Runner a config asks for (``runner_type``, default ``GCLHandRunner``).

    The installed entry-point plugins the config needs are imported first
    (:func:`gclhand.utils.plugins.load_needed_plugins`: MMEngine looks the Runner's
    components up without searching entry points), the config's top-level ``synthetic``
    settings are handed to its synthetic datasets
    (:func:`gclhand.datasets.synth.apply_synthetic_settings`), then config values are checked
    (:func:`gclhand.utils.validation.validate_config`): a wrong value fails in one message
    naming the key before model and data are built.
    """
    from gclhand.datasets.synth import apply_synthetic_settings
    from gclhand.utils.plugins import load_needed_plugins
    load_needed_plugins(cfg)
    apply_synthetic_settings(cfg)  # top-level ``synthetic`` -> every synthetic dataset
    validate_config(cfg)
    if cfg.get('runner_type') is None:
        cfg.runner_type = 'GCLHandRunner'
    return RUNNERS.build(cfg)


def finish_distributed() -> None:
    """End a distributed run cleanly: wait for every rank, then destroy the process group.

    A process that exits with the gloo process group still alive can abort in the C++
    teardown ("terminate called without an active exception", SIGABRT) while another rank
    still talks to it; every rank leaving together after ``destroy_process_group`` does
    not.  A no-op outside a distributed run.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
