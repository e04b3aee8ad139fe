"""tools/train.py and tools/test.py end to end on the toy config (CPU)."""
import json
import os.path as osp
import subprocess
import sys

import torch
from tool_test_utils import KILLED_CFG, ROOT, TOY_CFG

from gclhand.cli import print_config, train
from gclhand.cli import test as test_tool
from gclhand.engine import checkpoint_safe_globals


def weights(path):
    with checkpoint_safe_globals():
        return torch.load(path, map_location='cpu')['state_dict']  # weights_only=True


def test_torchrun_two_cpu_processes_shard_the_data(tmp_path, subprocess_env):
    """``torchrun --nproc_per_node 2 ... --launcher pytorch`` trains with gloo on CPU."""
    env = dict(subprocess_env, PYTHONFAULTHANDLER='1')  # a native abort prints where it was
    for attempt in range(2):
        work_dir = tmp_path / f'attempt{attempt}'
        cmd = ['torchrun', '--standalone', '--nproc_per_node', '2', 'tools/train.py', TOY_CFG,
               '--work-dir', str(work_dir), '--launcher', 'pytorch']
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180)
        # One rank of this run died once in CI (2026-12-01) by SIGABRT ("terminate called
        # without an active exception", a C++ abort inside PyTorch's gloo/elastic code,
        # not reproduced in ~60 local runs with and without load).  A native abort is
        # retried once; any Python error, wrong shard or missing checkpoint still fails.
        if proc.returncode == 0 or 'Signal 6 (SIGABRT)' not in proc.stderr:
            break
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = [json.load(open(work_dir / f'seen_rank{r}.json')) for r in (0, 1)]
    per_epoch = 16 // 2  # 16 samples, 2 ranks
    for epoch in range(2):
        shard0, shard1 = (set(s[epoch * per_epoch:(epoch + 1) * per_epoch]) for s in seen)
        assert len(shard0) == len(shard1) == per_epoch
        assert not shard0 & shard1 and shard0 | shard1 == set(range(16))
    # max_keep_ckpts=1: only the last checkpoint stays, and last_checkpoint names it
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_2.pth')
    assert not (work_dir / 'epoch_1.pth').exists()
    assert set(weights(work_dir / 'epoch_2.pth')) == {
        'net.0.weight', 'net.0.bias', 'net.3.weight', 'net.3.bias'}


def test_kill_during_save_then_resume_matches_uninterrupted(tmp_path, subprocess_env):
    """A kill halfway through writing epoch_2.pth leaves epoch_1.pth usable, and
    ``--resume`` then reproduces the uninterrupted run exactly (RNG state restored:
    the toy model uses dropout)."""
    killed = tmp_path / 'killed'
    proc = subprocess.run([sys.executable, 'tools/train.py', KILLED_CFG, '--work-dir',
                           str(killed)], cwd=ROOT, env=subprocess_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 17, proc.stderr[-3000:]  # KillDuringSaveHook's os._exit
    partial = [p.name for p in killed.iterdir() if p.name.startswith('.epoch_2.pth.tmp-')]
    assert len(partial) == 1 and not (killed / 'epoch_2.pth').exists()
    assert (killed / 'last_checkpoint').read_text() == str(killed / 'epoch_1.pth')
    assert weights(killed / 'epoch_1.pth')  # complete and loadable

    resume_args = ['--cfg-options', 'train_cfg.max_epochs=3']
    train.main([TOY_CFG, '--work-dir', str(killed), '--resume'] + resume_args)
    assert not any(p.name.startswith('.epoch_2') for p in killed.iterdir())  # cleaned up
    train.main([TOY_CFG, '--work-dir', str(tmp_path / 'straight')] + resume_args)
    resumed, straight = weights(killed / 'epoch_3.pth'), weights(tmp_path / 'straight' /
                                                                   'epoch_3.pth')
    for key in straight:
        assert torch.equal(resumed[key], straight[key]), key
    with checkpoint_safe_globals():  # optimizer and scheduler states match as well
        ckpt, ref = (torch.load(p) for p in (killed / 'epoch_3.pth',
                                             tmp_path / 'straight' / 'epoch_3.pth'))
    assert ckpt['meta']['epoch'] == 3 and len(ckpt['meta']['rng_states']) == 1
    assert ckpt['param_schedulers'] == ref['param_schedulers']
    assert ckpt['optimizer']['param_groups'] == ref['optimizer']['param_groups']
    assert abs(ckpt['optimizer']['param_groups'][0]['lr'] - 0.005) < 1e-12  # gamma 0.5 at 1
    for key, state in ref['optimizer']['state'].items():
        assert torch.equal(ckpt['optimizer']['state'][key]['momentum_buffer'],
                           state['momentum_buffer'])


def test_test_tool_writes_per_sample_json(tmp_path):
    train.main([TOY_CFG, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1'])
    out = tmp_path / 'res.json'
    test_tool.main([TOY_CFG, str(tmp_path / 'epoch_1.pth'), '--work-dir', str(tmp_path),
                    '--out', str(out)])
    result = json.load(open(out))
    per_sample = result['per_sample']
    assert [r['sample_idx'] for r in per_sample] == list(range(8))
    mae = sum(r['err'] for r in per_sample) / 8
    assert abs(result['metrics']['mae'] - mae) < 1e-9


def test_per_sample_entries_merge_by_sample_idx_else_by_position():
    """Two metrics' results join on ``sample_idx``; samples whose ``sample_idx`` is ``None``
    (``PackHandInputs`` without it in ``meta_keys``) join by position, not into one entry."""
    a = [dict(sample_idx=None, img_path=f'{i}.jpg', mpjpe=[i, i]) for i in range(3)]
    b = [dict(sample_idx=None, img_path=f'{i}.jpg', pa=[i, 0]) for i in range(3)]
    merged = test_tool.merge_per_sample({'intag': a, 'pa': b})
    assert [(m['img_path'], m['intag/mpjpe'], m['pa/pa']) for m in merged] == [
        (f'{i}.jpg', [i, i], [i, 0]) for i in range(3)]
    # with ids, results in another order still meet their own sample
    a = [dict(sample_idx=i, mpjpe=[i, i]) for i in (5, 7)]
    b = [dict(sample_idx=i, pa=[i, 0]) for i in (7, 5)]
    merged = test_tool.merge_per_sample({'intag': a, 'pa': b})
    assert {m['sample_idx']: (m['intag/mpjpe'][0], m['pa/pa'][0]) for m in merged} == {
        5: (5, 5), 7: (7, 7)}


def test_test_tool_none_is_the_model_training_starts_from(tmp_path):
    """``CHECKPOINT=none`` evaluates the seeded initial weights: the same numbers as a
    checkpoint saved after an epoch at a learning rate so small (1e-30; 0 is refused by
    the config check) that the float32 weights stay bit-identical to the initial ones."""
    train.main([TOY_CFG, '--work-dir', str(tmp_path), '--cfg-options',
                'train_cfg.max_epochs=1', 'optim_wrapper.optimizer.lr=1e-30'])
    results = {}
    for name, ckpt in (('none', 'none'), ('frozen', str(tmp_path / 'epoch_1.pth'))):
        out = tmp_path / f'{name}.json'
        test_tool.main([TOY_CFG, ckpt, '--work-dir', str(tmp_path), '--out', str(out)])
        results[name] = json.load(open(out))['metrics']['mae']
    assert results['none'] == results['frozen'] > 0
    assert test_tool.resolve_checkpoint('none', str(tmp_path)) is None


def test_print_config_applies_options(capsys):
    print_config.main([TOY_CFG, '--cfg-options', 'train_dataloader.batch_size=3'])
    assert 'batch_size=3' in capsys.readouterr().out
    assert osp.isfile(TOY_CFG)


def test_test_tool_does_not_need_the_training_sets_types(tmp_path):
    """Evaluation never builds the training split: a training set from a plugin that is
    not installed here is no reason to refuse ``gclhand test``."""
    train.main([TOY_CFG, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1'])
    test_tool.main([TOY_CFG, str(tmp_path / 'epoch_1.pth'), '--work-dir', str(tmp_path),
                    '--cfg-options', 'train_dataloader.dataset.type=ProprietaryTrainSet'])
