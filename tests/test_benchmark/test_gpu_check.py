"""The one-shot GPU check (gclhand.benchmark.gpu_check): its dry run on the CPU goes through
every section - paper configs shrunk, real train steps, deployed inference, a 1-process
torchrun of the training entry point, the data pipeline, torch.compile - and writes the
JSON the GPU run will write; the budget skips what would overrun and says so."""
import json
import os
import os.path as osp
import subprocess

import pytest

from gclhand.benchmark import gpu_check
from gclhand.cli import benchmark as bench_cli

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_dry_run_writes_every_section(tmp_path):
    out = tmp_path / 'gpu_check.json'
    r = gpu_check.run_gpu_check(gpu_check.dry_run_settings(), out=str(out),
                                log=lambda msg: None)
    assert json.loads(out.read_text())['sections'].keys() == r['sections'].keys()
    sec = r['sections']
    assert r['dry_run'] and list(sec) == ['environment', 'train_eager', 'inference', 'ddp',
                                          'data', 'train_compile']
    assert all(s['status'] == 'ok' for s in sec.values()), {
        k: s.get('error') or s.get('reason') for k, s in sec.items()}
    cells = {c['cell']: c for c in sec['train_eager']['cells']}
    assert set(cells) == {'bf16_b2_nchw', 'bf16_b2_cl', 'fp32_b2_nchw', 'fp32_b2_cl'}
    for c in cells.values():  # each config is timed, or says why not
        for name in ('dgcl', 'baseline'):
            assert c[name].get('samples_per_s', 0) > 0 or c[name]['error']
    fp32 = cells['fp32_b2_cl']
    assert fp32['dgcl']['peak_memory_mb'] > 0 and fp32['dgcl_over_baseline'] > 0
    for prec in ('fp32', 'bf16'):
        inf = sec['inference'][prec]
        assert inf['identical_graph'] and inf['ratios']['infer_vs_encoder_batch2'] > 0
    ddp = sec['ddp']
    assert ddp['backend'] == 'gloo' and ddp['logged_iterations'] == 2
    assert ddp['samples_per_s'] > 0 and ' --launcher pytorch' in ddp['command']
    assert sec['data']['per_worker']['samples_per_s'] > 0
    assert sec['data']['loader']['samples_per_s'] > 0
    for name, run in sec['train_compile']['runs'].items():  # both configs compile and train
        assert run['status'] == 'ok' and run['samples_per_s'] > 0, (name, run)
    summary = r['summary']
    assert summary['epochs'] == 50 and summary['train_samples'] == 366000
    assert summary['ddp_implied_hours'] == pytest.approx(
        50 * 366000 / summary['ddp_samples_per_s'] / 3600)


def test_command_line_counts_the_budget_from_the_process_start(tmp_path):
    """``--budget-s`` includes the interpreter's start-up: this test process started long
    before, so a 1 s budget leaves only the environment section."""
    out = tmp_path / 'g.json'
    r = bench_cli.main(['--preset', 'gpu-check', '--dry-run', '--budget-s', '1', '--json',
                        str(out)])
    assert r['sections']['train_eager']['status'] == 'skipped'
    assert json.loads(out.read_text())['elapsed_s'] >= r['sections']['environment']['seconds']


def test_budget_skips_and_says_so(tmp_path):
    """With no budget left only the environment is recorded; every other section says
    why it was skipped, and the JSON is complete."""
    out = tmp_path / 'g.json'
    r = gpu_check.run_gpu_check(gpu_check.dry_run_settings(budget_s=1.0), out=str(out),
                                log=lambda msg: None)
    sec = json.loads(out.read_text())['sections']
    assert sec['environment']['status'] == 'ok'
    for name in ('train_eager', 'inference', 'ddp', 'data', 'train_compile'):
        assert sec[name]['status'] == 'skipped' and 's of the budget left' in sec[name]['reason']
    assert 'best_dgcl_samples_per_s' not in r['summary']


def test_iteration_times_from_the_training_log(tmp_path):
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    rows = [dict(iter=i + 1, time=t, data_time=0.01) for i, t in enumerate([2.0, 0.5, 0.4,
                                                                             0.6, 0.5])]
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows))
    times = gpu_check._iteration_times(str(tmp_path), batch=32)
    assert times['logged_iterations'] == 5
    assert times['median_iter_s'] == 0.5  # the first quarter (1 iteration) is warm-up
    assert times['samples_per_s'] == pytest.approx(64.0)


def test_gpu_check_needs_cuda_without_dry_run(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip('a GPU is present')
    from gclhand.utils import ConfigError
    with pytest.raises(ConfigError, match='--dry-run'):
        gpu_check.run_gpu_check(gpu_check.GpuCheckSettings(), log=lambda msg: None)


def test_shell_wrapper_names_missing_dependencies(tmp_path):
    """tools/gpu_check.sh stops with one line when the interpreter lacks a dependency."""
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "torch mmengine"\n')
    fake.chmod(0o755)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'gpu_check.sh'),
                           str(tmp_path / 'o.json')], capture_output=True, text=True,
                          env=dict(os.environ, PYTHON=str(fake)))
    assert proc.returncode == 2 and 'lacks: torch mmengine' in proc.stderr
