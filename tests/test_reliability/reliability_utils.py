"""Helpers for the reliability tests: a tiny *real* HandDGCL config and tool runners.

Every test here drives the library's own registry and classes (configs/dgcl_synth.py with a
tiny ResNet, a narrow decoder, 64-px images, a 16-entry pool and a few synthetic samples
generated into ``tmp_path``); nothing is a stand-in for a library part.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE_CFG = osp.join(ROOT, 'configs', 'dgcl_synth.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')

#: samples per split of the tiny synthetic set (the same dict for every loader on the root)
SYNTH = dict(num=dict(train=8, val=4, test=4), seed=0, img_size=64)


def tiny_cfg(data_root: str, *, batch_size: int = 2, num_workers: int = 0,
             max_epochs: int = 3, shuffle: bool = True, val_interval: int = 1,
             norm_eval: bool = False, extra: Optional[dict] = None) -> Config:
    """``configs/dgcl_synth.py`` shrunk to seconds on a CPU (real classes throughout).

    8 training samples at batch 2 = 4 iterations an epoch; a checkpoint every epoch (all
    kept); validation every ``val_interval`` epochs; deterministic algorithms, seed 0; the
    learning rate warms up for 4 iterations and ``TrainLossPlateauLR`` (stepped by the
    runtime's ``TrainLossParamSchedulerHook``) halves it after epoch 2 (``threshold=100``:
    only epoch 1, compared with +inf, counts as an improvement), so a lost plateau state
    changes the losses after a resume from epoch 1.
    """
    cfg = Config.fromfile(BASE_CFG)
    pipe_train = [dict(type='LoadHandImage'),
                  dict(type='RandomHandAffine', scale_range=(0.9, 1.1), rotate_range=20.,
                       shift_range=0.05),
                  dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
                  dict(type='ResizeHand', size=64), dict(type='PackHandInputs')]
    pipe_test = [dict(type='LoadHandImage'), dict(type='ResizeHand', size=64),
                 dict(type='PackHandInputs')]
    loader = dict(num_workers=num_workers, persistent_workers=False)
    options = {
        'model.encoder': dict(type='ResNet', depth=18, base_channels=8,
                              stage_blocks=(1, 1, 1, 1), norm_eval=norm_eval),
        'model.hand_split.hidden_channels': 32,
        'model.decoder': dict(channels=(16, 8, 8), num_heads=2),
        'model.camera_head.hidden_channels': 32,
        # the CPU config's hand-mask supervision is off: these pipelines read no masks
        'model.aux_heads': None,
        'model.losses.mask': None,
        'model.dgcl.projector': dict(hidden_channels=16, out_channels=8),
        'model.dgcl.pool.size': 16,
        'train_dataloader': dict(loader, batch_size=batch_size,
                                 sampler=dict(type='DefaultSampler', shuffle=shuffle),
                                 dataset=dict(data_root=data_root, synthetic=SYNTH,
                                              pipeline=pipe_train)),
        'val_dataloader': dict(loader, batch_size=4,
                               dataset=dict(data_root=data_root, synthetic=SYNTH,
                                            pipeline=pipe_test)),
        'test_dataloader': dict(loader, batch_size=4,
                                dataset=dict(data_root=data_root, synthetic=SYNTH,
                                             pipeline=pipe_test)),
        'train_cfg.max_epochs': max_epochs,
        'train_cfg.val_interval': val_interval,
        'param_scheduler': [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                                 end=4),
                            dict(type='TrainLossPlateauLR', monitor='train/loss', factor=0.5,
                                 patience=0, threshold=100.0, threshold_rule='abs',
                                 min_value=1e-6, by_epoch=True)],
        'default_hooks.logger.interval': 1,
        'log_processor.window_size': 1,  # per-iteration values in scalars.json
        'default_hooks.checkpoint': dict(type='AtomicCheckpointHook', interval=1,
                                         max_keep_ckpts=-1, save_best=None),
        'randomness': dict(seed=0, deterministic=True),
        'log_level': 'WARNING',
    }
    cfg.merge_from_dict(options)
    if extra:
        cfg.merge_from_dict(extra)
    return cfg


def dump_cfg(cfg: Config, path) -> str:
    cfg.dump(str(path))
    return str(path)


def train_cmd(cfg_path: str, work_dir, *extra: str) -> List[str]:
    return [sys.executable, TRAIN, cfg_path, '--work-dir', str(work_dir), *extra]


def run_train(cfg_path: str, work_dir, env, *extra: str, timeout: int = 120):
    proc = subprocess.run(train_cmd(cfg_path, work_dir, *extra), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def iter_losses(work_dir) -> Dict[int, dict]:
    """``{iteration: {loss key: value}}`` from every ``vis_data/scalars.json`` of a work dir
    (a resumed run appends a second timestamped folder; later values win)."""
    out: Dict[int, dict] = {}
    paths = sorted(p for p in (os.path.join(dp, f) for dp, _, fs in os.walk(work_dir)
                               for f in fs) if p.endswith(osp.join('vis_data', 'scalars.json')))
    for path in paths:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'iter' in rec and any(k.startswith('loss') for k in rec):
                    out[rec['iter']] = {k: v for k, v in rec.items()
                                        if k.startswith('loss') or k == 'lr'}
    return out


def run_gloo_ranks(worker, world_size: int = 2, timeout: float = 60) -> list:
    """Run ``worker(rank, world_size, queue)`` in ``world_size`` forked processes that form
    one gloo process group on a free local port; returns what they put on ``queue``, sorted.

    The worker must put exactly one value; the group is set up and torn down here.
    """
    import multiprocessing as mp
    import socket

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]

    def target(rank, queue):
        import torch.distributed as dist
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
        dist.init_process_group('gloo', rank=rank, world_size=world_size)
        try:
            worker(rank, world_size, queue)
        finally:
            dist.destroy_process_group()

    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(r, queue)) for r in range(world_size)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=timeout) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    return results
