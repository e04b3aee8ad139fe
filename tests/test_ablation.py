"""gclhand ablation: runs train / test per config and prints the Table 2 layout."""
import json
import os
import re
from pathlib import Path

import pytest
import torch
from gclhand.datasets.synth import apply_synthetic_settings
from test_configs import parse_cfg_options, tiny_cfg_options, tiny_data  # noqa: F401

from gclhand.registry import MODELS
from gclhand.apis import ablation, register_all_modules
from gclhand.cli import ablation as ablation_cli
from gclhand.cli.config import load_config
from gclhand.cli.errors import run_tool

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [str(ROOT / 'configs' / 'gcn_baseline_synth.py'),
           str(ROOT / 'configs' / 'dgcl_synth.py')]


def table_rows(report: str, header: str):
    """The data rows (lists of cells) of the markdown table whose header starts ``header``."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([c.strip() for c in line.strip('|').split('|')])
    return lines[start], rows


def save_tiny_checkpoint(config, options, work_dir: Path, seed: int) -> Path:
    """A freshly initialised tiny model of ``config`` saved the way the Runner does."""
    register_all_modules()
    cfg = load_config(config, parse_cfg_options(options))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    work_dir.mkdir(parents=True)
    path = work_dir / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    (work_dir / 'last_checkpoint').write_text(str(path))
    return path


def test_skip_train_tests_checkpoints_and_tabulates(tiny_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    options = tiny_cfg_options(CONFIGS[0], tiny_data)
    for seed, config in enumerate(CONFIGS):
        save_tiny_checkpoint(config, options, tmp_path / ablation.config_name(config), seed)
    out = tmp_path / 'results.md'
    status = ablation_cli.main([*CONFIGS, '--work-dir-root', str(tmp_path), '--skip-train',
                            '--out', str(out), '--cfg-options', *options])
    printed = capsys.readouterr().out
    assert status == 0, printed

    header, rows = table_rows(printed, '| Table 2 row |')
    assert [c.strip() for c in header.strip('|').split('|')] == [
        'Table 2 row', 'config', 'MPJPE (mm)', 'MPVPE (mm)', 'paper MPJPE', 'paper MPVPE',
        'MPJPE / image-blind constant']  # the synthetic configs test with ImageBlindMetric
    assert [r[0] for r in rows] == ['GCN baseline',
                                    '+ DGCLNet + similarity distinguish (HandDGCL)']
    assert [r[4:6] for r in rows] == [['9.97', '10.63'], ['8.86', '9.14']]
    for row, config in zip(rows, CONFIGS):
        name = ablation.config_name(config)
        metrics = json.loads((tmp_path / name / 'test_results.json').read_text())['metrics']
        assert row[1] == f'`{config}`'
        assert row[2:4] == [f"{metrics['intaghand/mpjpe']:.2f}",
                            f"{metrics['intaghand/mpvpe']:.2f}"]  # parsed from test --out
        assert row[6] == f"{metrics['blind/model_to_constant']:.2f}"
        assert (tmp_path / name / 'test.log').is_file()
        assert not (tmp_path / name / 'train.log').exists()  # --skip-train
    # two seeds, two models: the numbers really come from each run
    assert rows[0][2:4] != rows[1][2:4]

    _, settings = table_rows(printed, '| config | data |')
    # input px, train / test samples, batch, epochs, iterations
    assert [s[3:9] for s in settings] == [['64', '4', '2', '2', '1', '2']] * 2
    assert 'InterHandIntagDataset' in settings[0][1] and '(synthetic)' in settings[0][1]
    assert out.read_text().strip() == printed[printed.index('## Ablation'):].strip()
    saved = json.loads((tmp_path / 'ablation.json').read_text())
    assert [r['status'] for r in saved['results']] == ['ok', 'ok']


def test_missing_checkpoint_and_config(tmp_path, capsys):
    status = ablation_cli.main([CONFIGS[0], '--work-dir-root', str(tmp_path), '--skip-train'])
    captured = capsys.readouterr()
    assert status == 1
    _, rows = table_rows(captured.out, '| Table 2 row |')
    assert rows[0][2:4] == ['no checkpoint', 'no checkpoint']
    assert 'train first or drop --skip-train' in captured.err

    assert run_tool(ablation_cli.main, ['configs/nope.py', '--work-dir-root',
                                        str(tmp_path)]) == 2
    assert 'configs/nope.py' in capsys.readouterr().err


def test_table_rows_and_shorthands():
    assert ablation.table_row('configs/egd_edge_flip_interhand.py') == ('+ flip edge', 10.92,
                                                                         11.30)
    assert ablation.table_row('x/dgclnet_synth.py') == ('+ DGCLNet', 9.02, 9.31)
    assert ablation.table_row('configs/dgcl_nodedrop_synth.py') == ('dgcl_nodedrop_synth',
                                                                    None, None)
    assert [ablation.config_name(c) for c in ablation.default_configs()] == [
        f'{stem}_synth' for stem in ('gcn_baseline', 'egd_mask', 'egd_noise', 'egd_edge_add',
                                     'egd_edge_flip', 'dgclnet', 'dgcl')]
    assert ablation.default_configs('interhand')[-1] == 'gclhand::dgcl_interhand.py'
    opts = ablation.shorthand_options(3, (8, 2, 2))
    assert opts == ['train_cfg.max_epochs=3', 'synthetic.num.train=8', 'synthetic.num.val=2',
                    'synthetic.num.test=2']
    # the shorthands are valid --cfg-options of a synthetic config and reach every loader
    cfg = load_config(CONFIGS[1], parse_cfg_options(opts))
    apply_synthetic_settings(cfg)
    assert cfg.val_dataloader.dataset.synthetic.num == dict(train=8, val=2, test=2)


def test_find_checkpoint(tmp_path):
    assert ablation.find_checkpoint(str(tmp_path)) is None
    for n in (2, 9, 10):
        (tmp_path / f'epoch_{n}.pth').write_bytes(b'')
    assert ablation.find_checkpoint(str(tmp_path)).endswith('epoch_10.pth')  # numeric order
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    assert ablation.find_checkpoint(str(tmp_path)).endswith('epoch_9.pth')
    (tmp_path / 'best_intaghand_mpjpe_epoch_2.pth').write_bytes(b'')
    assert ablation.find_checkpoint(str(tmp_path), 'best').endswith(
        'best_intaghand_mpjpe_epoch_2.pth')


def test_report_marks_failures_and_missing_numbers():
    results = [dict(config='a_synth.py', row='GCN baseline', paper=(9.97, 10.63), status='ok',
                    metrics={'intaghand/mpjpe': 12.345}, seconds=dict(train=61.2, test=3.9),
                    settings=None),
               dict(config='b.py', row='b', paper=(None, None), status='train failed',
                    metrics={}, seconds={}, settings=None)]
    report = ablation.format_report(results, 'python tools/ablation.py a_synth.py b.py')
    _, rows = table_rows(report, '| Table 2 row |')
    assert rows == [['GCN baseline', '`a_synth.py`', '12.35', 'n/a', '9.97', '10.63'],
                    ['b', '`b.py`', 'train failed', 'train failed', 'n/a', 'n/a']]
    _, settings = table_rows(report, '| config | data |')
    assert settings[0][-2:] == ['61', '4'] and settings[1][-2:] == ['-', '-']
    assert re.search(r'CAVW 2023, Table 2', report)
    assert 'Command: `python tools/ablation.py a_synth.py b.py`' in report


@pytest.mark.slow
def test_train_and_test_end_to_end(tiny_data, tmp_path, capsys, monkeypatch):
    """The whole path, training included, on one tiny config (``pytest -m slow``)."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    options = tiny_cfg_options(CONFIGS[1], tiny_data)
    assert ablation_cli.main([CONFIGS[1], '--work-dir-root', str(tmp_path),
                          '--cfg-options', *options]) == 0
    _, rows = table_rows(capsys.readouterr().out, '| Table 2 row |')
    assert len(rows) == 1 and float(rows[0][2]) > 0
    name = ablation.config_name(CONFIGS[1])
    assert 'loss_cross_contrast' in (tmp_path / name / 'train.log').read_text()
    assert os.path.isfile(tmp_path / name / 'epoch_1.pth')


def test_seeds_run_each_config_per_seed_and_report_mean_and_sample_std(tmp_path, monkeypatch):
    calls = []

    def fake_run_config(config, root, cfg_options, skip_train, checkpoint):
        seed = int(cfg_options[-1].split('=')[1])
        calls.append((config, root, list(cfg_options)))
        mpjpe = {0: 10.0, 1: 12.0, 2: 14.0}[seed] + (5.0 if 'dgcl' in config else 0.0)
        status = 'train failed' if ('dgcl' in config and seed == 1) else 'ok'
        return dict(config=config, row=config, paper=(None, None), status=status,
                    metrics={} if status != 'ok' else {'intaghand/mpjpe': mpjpe,
                                                       'interhand/mpjpe_single': None,
                                                       'intaghand/mpvpe': 2 * mpjpe,
                                                       'blind/model_to_constant': mpjpe / 20},
                    seconds=dict(train=10.0, test=1.0), settings=None)

    monkeypatch.setattr(ablation, 'run_config', fake_run_config)
    results, report = ablation.run_ablation(['gclhand::gcn_baseline_synth.py',
                                             'gclhand::dgcl_synth.py'], str(tmp_path),
                                            ['train_cfg.max_epochs=1'], seeds=[0, 1, 2])
    assert [c[1] for c in calls[:3]] == [str(tmp_path / f'seed{s}') for s in (0, 1, 2)]
    assert calls[1][2] == ['train_cfg.max_epochs=1', 'randomness.seed=1']
    base, dgcl = results
    assert base['status'] == 'ok' and base['seeds'] == [0, 1, 2]
    assert base['metrics']['intaghand/mpjpe'] == pytest.approx(12.0)
    assert base['metrics_std']['intaghand/mpjpe'] == pytest.approx(2.0)  # ddof=1
    assert base['metrics_std']['intaghand/mpvpe'] == pytest.approx(4.0)
    assert base['seconds'] == dict(train=30.0, test=3.0)
    assert 'interhand/mpjpe_single' not in base['metrics']  # null in the JSON: no mean
    assert dgcl['status'] == 'train failed'  # never a mean over fewer seeds
    _, rows = table_rows(report, '| Table 2 row |')
    assert rows[0][2:4] == ['12.00 ± 2.00', '24.00 ± 4.00'] and rows[0][-1] == '0.60 ± 0.10'
    assert rows[1][2] == 'train failed'
    assert 'over 3 seeds' in report
    with pytest.raises(ValueError, match='distinct'):
        ablation.run_ablation(['gclhand::dgcl_synth.py'], str(tmp_path), seeds=[0, 0])


def test_cli_seeds_flag(monkeypatch):
    seen = {}

    def fake(configs, root, cfg_options, skip_train, checkpoint, command, seeds):
        seen.update(seeds=seeds, command=command)
        return [], ''

    monkeypatch.setattr(ablation_cli, 'run_ablation', fake)
    assert ablation_cli.main(['gclhand::dgcl_synth.py', '--seeds', '0', '1', '2']) == 0
    assert seen['seeds'] == [0, 1, 2] and '--seeds 0 1 2' in seen['command']
