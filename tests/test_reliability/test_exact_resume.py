"""SIGKILL at an arbitrary point of a real HandDGCL run, ``--resume``, same losses.

The model is configs/dgcl_synth.py shrunk (tiny ResNet, 16-entry feature-pose pool, momentum
key encoder, graph U-Net disturber, random augmentation, plateau LR), trained through
tools/train.py on synthetic data in ``tmp_path``.  Every run is a subprocess.
"""
import os
import random
import signal
import subprocess
import time

import pytest
import torch
from reliability_utils import ROOT, dump_cfg, iter_losses, run_train, tiny_cfg, train_cmd

from gclhand.engine import checkpoint_safe_globals


def _wait_for(path, proc, timeout=150.0):
    start = time.monotonic()
    while not os.path.exists(path):
        assert proc.poll() is None, f'training ended before {path} appeared'
        assert time.monotonic() - start < timeout, f'{path} did not appear'
        time.sleep(0.05)


def _sleep_into_epoch_2_or_3(work_dir, rng):
    """Return at a random moment in epoch 2, in the save of ``epoch_2.pth`` or early in epoch 3.

    A fixed random delay raced a fast machine: epochs 2 and 3 together can take under a
    second, and a kill after ``epoch_3.pth`` tests nothing.  The delay is cut short to a
    few milliseconds into epoch 3 once ``epoch_2.pth`` exists (4 DGCL iterations and a
    save take far longer than that).
    """
    deadline = time.monotonic() + rng.uniform(0.0, 1.5)
    while time.monotonic() < deadline:
        if (work_dir / 'epoch_2.pth').exists():
            time.sleep(rng.uniform(0.0, 0.02))
            return
        time.sleep(0.002)


def _load(path):
    with checkpoint_safe_globals():
        return torch.load(path, map_location='cpu')  # weights_only=True


@pytest.mark.parametrize('num_workers', [0, pytest.param(2, marks=pytest.mark.slow)])
def test_sigkill_then_resume_reproduces_losses(tmp_path, synth_root, tool_env, num_workers):
    cfg_path = dump_cfg(tiny_cfg(synth_root, num_workers=num_workers), tmp_path / 'cfg.py')
    killed = tmp_path / 'killed'

    # 1. the uninterrupted run and the run to kill, side by side; SIGKILL once epoch 1's
    #    checkpoint exists, after a random delay (somewhere in epoch 2 or 3, possibly
    #    inside the save of epoch_2.pth).  All runs are subprocesses with one thread:
    #    in-process runs round differently (other thread pools / library state).
    straight = tmp_path / 'straight'
    ref_proc = subprocess.Popen(train_cmd(cfg_path, straight), cwd=ROOT, env=tool_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = subprocess.Popen(train_cmd(cfg_path, killed), cwd=ROOT, env=tool_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(killed / 'epoch_1.pth', proc)
        _sleep_into_epoch_2_or_3(killed, random.Random())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert ref_proc.wait(timeout=300) == 0, ref_proc.stderr.read()[-4000:]
    finally:
        for p in (proc, ref_proc):
            if p.poll() is None:
                p.kill()
    assert proc.returncode == -signal.SIGKILL, 'the run finished before the kill'
    assert not (killed / 'epoch_3.pth').exists()

    # 2. atomicity: last_checkpoint names a complete, loadable file
    last = (killed / 'last_checkpoint').read_text()
    resume_epoch = _load(last)['meta']['epoch']
    assert resume_epoch in (1, 2)

    # 3. resume
    killed_dirs = {p.name for p in killed.iterdir() if p.is_dir()}
    run_train(cfg_path, killed, tool_env, '--resume')
    assert not any(p.name.startswith('.epoch_') for p in killed.iterdir())  # tmp cleaned

    ref = iter_losses(straight)
    resumed_dir = [p for p in killed.iterdir() if p.is_dir() and p.name not in killed_dirs]
    assert len(resumed_dir) == 1
    got = iter_losses(resumed_dir[0])
    iters_per_epoch = 4
    assert sorted(got) == list(range(resume_epoch * iters_per_epoch + 1, 13))
    for it in got:
        assert got[it] == ref[it], f'iteration {it}: resumed {got[it]} != {ref[it]}'
    # the plateau scheduler halved the learning rate after epoch 2 in both runs
    assert got[12]['lr'] == ref[12]['lr'] == ref[8]['lr'] / 2

    # 4. final states are identical: weights, pool, momentum encoder, optimizer, schedulers
    a, b = _load(killed / 'epoch_3.pth'), _load(straight / 'epoch_3.pth')
    assert any(k.startswith('dgcl.pool.') for k in a['state_dict'])
    assert any(k.startswith('dgcl.key_encoder.ema.') for k in a['state_dict'])
    for key, value in b['state_dict'].items():
        assert torch.equal(a['state_dict'][key], value), key
    assert a['param_schedulers'] == b['param_schedulers']
    for key, state in b['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(a['optimizer']['state'][key][name]),
                               torch.as_tensor(value)), (key, name)
