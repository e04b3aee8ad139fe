"""2 CPU processes (gloo) at batch 1 each == 1 process at batch 2, after 4 steps.

Same global batches: ``DefaultSampler(shuffle=False)`` gives rank r the indices r::2, so
step k sees samples {2k, 2k+1} on both sides, and the pool gathers rank 0's hands before
rank 1's - the single process's order.  Made equal on purpose (each is expected DDP
behaviour, not a bug):

* BatchNorm frozen (``norm_eval=True``): per-rank batch statistics differ from the full
  batch's;
* no random augmentation: each rank has its own random stream;
* ``lambda_contrast=0``: the self and cross contrast use the *local* batch's hands as
  negatives/keys (as MoCo does), so their losses differ between 2x1 and 1x2.  The pool and
  the momentum encoder still run and are compared;
* SGD instead of Adam: Adam divides by sqrt(v), so a parameter whose gradient is ~0 moves
  by ~lr in a direction that float rounding decides (seen: 2e-4 after 4 steps); with SGD
  the update is linear in the gradient and the comparison is well conditioned.
"""
import subprocess
import sys

import torch
from reliability_utils import ROOT, dump_cfg, tiny_cfg

from gclhand.engine import checkpoint_safe_globals


def test_two_gloo_ranks_match_one_process(tmp_path, synth_root, tool_env):
    test_pipe = [dict(type='LoadHandImage'), dict(type='ResizeHand', size=64),
                 dict(type='PackHandInputs')]
    extra = {'model.dgcl.lambda_contrast': 0.0, 'train_dataloader.dataset.pipeline': test_pipe,
             'optim_wrapper.optimizer': dict(type='SGD', lr=0.01, momentum=0.9)}
    common = dict(max_epochs=1, shuffle=False, norm_eval=True, val_interval=100, extra=extra)
    ddp_cfg = dump_cfg(tiny_cfg(synth_root, batch_size=1, **common), tmp_path / 'ddp.py')
    one_cfg = dump_cfg(tiny_cfg(synth_root, batch_size=2, **common), tmp_path / 'one.py')
    ddp = subprocess.Popen(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node',
         '2', 'tools/train.py', ddp_cfg, '--work-dir', str(tmp_path / 'ddp'), '--launcher',
         'pytorch'], cwd=ROOT, env=tool_env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    one = subprocess.run([sys.executable, 'tools/train.py', one_cfg, '--work-dir',
                          str(tmp_path / 'one')], cwd=ROOT, env=tool_env,
                         capture_output=True, text=True, timeout=400)
    _, ddp_err = ddp.communicate(timeout=400)
    assert one.returncode == 0, one.stderr[-4000:]
    assert ddp.returncode == 0, ddp_err[-4000:]

    with checkpoint_safe_globals():
        a = torch.load(tmp_path / 'ddp' / 'epoch_1.pth', map_location='cpu')
        b = torch.load(tmp_path / 'one' / 'epoch_1.pth', map_location='cpu')
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    sa, sb = a['state_dict'], b['state_dict']
    assert set(sa) == set(sb)
    worst = 0.0
    for key, value in sb.items():
        if value.is_floating_point():
            diff = float((sa[key] - value).abs().max()) if value.numel() else 0.0
            worst = max(worst, diff)
            assert torch.allclose(sa[key], value, rtol=1e-4, atol=1e-5), (key, diff)
        else:
            assert torch.equal(sa[key], value), key
    # the pool: 4 steps x 4 hands = 16 entries, gathered in the single process's order
    assert int(sa['dgcl.pool.num_filled']) == 16 and int(sa['dgcl.pool.ptr']) == 0
    assert torch.equal(sa['dgcl.pool.poses'], sb['dgcl.pool.poses'])
    assert torch.equal(sa['dgcl.pool.valid'], sb['dgcl.pool.valid'])
    print(f'max |param difference| 2x1 vs 1x2: {worst:.3g}')
