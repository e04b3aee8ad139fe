"""Config values are checked before anything is built; errors name the key and the fix."""
import os.path as osp

import pytest
from reliability_utils import ROOT, dump_cfg, tiny_cfg
from mmengine.config import Config

from gclhand.cli import train
from gclhand.cli.errors import run_tool
from gclhand.utils import ConfigError
from gclhand.utils.validation import validate_config

BAD = [
    ({'model.dgcl.pool.size': 8}, 2, 'model.dgcl.pool.size=8 must exceed', 'at least 9'),
    ({'model.dgcl.self_contrast.tau': 0.0}, 1, 'model.dgcl.self_contrast.tau=0.0', '> 0'),
    ({'model.dgcl.lambda_contrast': -1e-2}, 1, 'model.dgcl.lambda_contrast=-0.01', '>= 0'),
    ({'model.dgcl.lambda_consistent': float('nan')}, 1, 'model.dgcl.lambda_consistent=nan',
     '>= 0'),
    ({'model.dgcl.key_encoder.momentum': 1.0}, 1, 'model.dgcl.key_encoder.momentum=1.0',
     '[0, 1)'),
    ({'model.losses.joints_3d.loss_weight': -10.0}, 1,
     'model.losses.joints_3d.loss_weight=-10.0', '>= 0'),
    ({'model.decoder.channels': (16, 8)}, 1, 'model.decoder.channels (16, 8) has 2',
     'one channel count per graph level'),
    ({'model.graph.num_nodes': (126, 63, 252)}, 1, 'model.graph.num_nodes', 'must increase'),
    ({'train_dataloader.batch_size': 0}, 1, 'train_dataloader.batch_size=0', '>= 1'),
    ({'optim_wrapper.optimizer.lr': 0.0}, 1, 'optim_wrapper.optimizer.lr=0.0', '> 0'),
]


@pytest.mark.parametrize('options,world_size,key,fix', BAD,
                         ids=[next(iter(b[0])) for b in BAD])
def test_bad_value_names_key_and_fix(options, world_size, key, fix):
    cfg = tiny_cfg('unused', batch_size=2, extra=options)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, world_size=world_size)
    assert key in str(info.value) and fix in str(info.value)


def test_pool_size_counts_every_rank(monkeypatch):
    cfg = tiny_cfg('unused', batch_size=2)  # 4 hands a rank, pool 16
    validate_config(cfg, world_size=3)      # 12 < 16
    monkeypatch.setenv('WORLD_SIZE', '4')   # torchrun's: 16 hands, not < 16
    with pytest.raises(ConfigError, match=r'4 process\(es\) = 16'):
        validate_config(cfg)


def test_all_problems_reported_together():
    cfg = tiny_cfg('unused', extra={'model.dgcl.self_contrast.tau': -1,
                                    'model.dgcl.key_encoder.momentum': 2})
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, world_size=1)
    assert 'tau' in str(info.value) and 'momentum' in str(info.value)


TABLE2 = ['gcn_baseline', 'egd_mask', 'egd_noise', 'egd_edge_add', 'egd_edge_flip',
                'dgclnet', 'dgcl']


@pytest.mark.parametrize('name', [f'{n}_{d}' for d in ('synth', 'interhand')
                                  for n in TABLE2])
def test_shipped_configs_pass(name):
    validate_config(Config.fromfile(osp.join(ROOT, 'configs', f'{name}.py')), world_size=4)


def test_train_tool_fails_fast_with_one_line(tmp_path, capsys):
    cfg = dump_cfg(tiny_cfg(str(tmp_path / 'no_data'),
                            extra={'model.dgcl.self_contrast.tau': 0.0}), tmp_path / 'c.py')
    status = run_tool(train.main, [cfg, '--work-dir', str(tmp_path / 'wd')])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith('error: invalid config value(s):')
    assert 'model.dgcl.self_contrast.tau=0.0' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'no_data').exists()  # nothing was built or generated
