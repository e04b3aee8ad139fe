"""Every Table 2 config (HandDGCL, Han et al. CAVW 2023) loads, builds, and is a one-key diff.

The synthetic-data rows also train two iterations and evaluate through the real Runner at a
tiny size (64 px, 8-channel ResNet-18, 4 training samples generated once per session).
:func:`tiny_cfg_options` is shared with ``test_plugin_config.py`` and ``test_ablation.py``,
which pass the same overrides to the tools on their command line.
"""
import argparse
import copy
import math
import os.path as osp
from pathlib import Path
from typing import Dict, List, Sequence

import pytest
import torch
from mmengine.config import Config

from gclhand.registry import MODELS
from gclhand.apis import register_all_modules
from gclhand.cli.args import add_cfg_options
from gclhand.cli.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'

#: Table 2 rows in the paper's order: config stem -> its DGCL variant in
#: configs/_base_/models/dgcl/ (None: the baseline)
ROWS = {
    'gcn_baseline': None,
    'egd_mask': 'egd_mask',
    'egd_noise': 'egd_noise',
    'egd_edge_add': 'egd_edge_add',
    'egd_edge_flip': 'egd_edge_flip',
    'dgclnet': 'dgclnet',
    'dgcl': 'hand_dgcl',
}
#: what each row adds to the previous one ("the other setting remains the same", HandDGCL
#: 3.2): the model.dgcl keys that differ between consecutive rows
ROW_CHANGES = {
    'egd_mask': {'<all>'},  # the contrastive module with EGD (a)
    'egd_noise': {'disturber'},
    'egd_edge_add': {'disturber'},
    'egd_edge_flip': {'disturber'},
    'dgclnet': {'disturber'},  # F_gen replaces the EGD
    'dgcl': {'pool', 'key_encoder', 'cross_contrast'},  # the similarity distinguish
}
MAIN_LOSSES = {'loss_joints_3d', 'loss_verts_3d', 'loss_joints_2d', 'loss_bone_length',
               'loss_transition'}
CONTRAST = {'loss_self_contrast', 'loss_consistent'}
DGCL_LOSSES = {
    'gcn_baseline': set(),
    'egd_mask': CONTRAST, 'egd_noise': CONTRAST, 'egd_edge_add': CONTRAST,
    'egd_edge_flip': CONTRAST, 'dgclnet': CONTRAST,
    'dgcl': CONTRAST | {'loss_cross_contrast'},
}

#: tiny synthetic data: samples per split, image size (px) and batch size of the tiny runs
TINY_NUM = dict(train=4, val=2, test=2)
TINY_IMG = 64
TINY_BATCH = 2
#: the synthetic settings the tiny runs override (the rest come from the synth configs)
TINY_SYNTH = dict(img_size=TINY_IMG, seed=0, workers=1)
DATASETS = ['synth', 'interhand']


def config_path(stem: str, dataset: str) -> str:
    return str(CONFIG_DIR / f'{stem}_{dataset}.py')


def tiny_cfg_options(config: str, data_root: str, epochs: int = 1) -> List[str]:
    """``--cfg-options`` strings that shrink a synthetic-data config to a seconds-long run.

    An 8-channel one-block ResNet-18 at ``TINY_IMG`` px, 8-channel decoder, ``TINY_NUM``
    synthetic samples in ``data_root`` (the config's top-level ``synthetic`` settings, which
    every loader receives, as :func:`make_tiny_data` writes them), no worker processes
    and no serialised annotation copy, ``epochs`` training epochs without validation, a log
    line every iteration. The ``ResizeHand`` step is found in each pipeline of ``config``
    rather than assumed at a fixed index.
    """
    cfg = Config.fromfile(config)
    opts = [
        '+model.encoder.base_channels=8', '+model.encoder.stage_blocks=(1,1,1,1)',
        'model.encoder.depth=18', 'model.hand_split.hidden_channels=16',
        'model.decoder.channels=(8,8,8)', 'model.decoder.K=2', 'model.decoder.num_heads=2',
        'model.camera_head.hidden_channels=16',
        f'train_cfg.max_epochs={epochs}', f'+train_cfg.val_begin={epochs + 1}',  # no val
        'default_hooks.logger.interval=1',
    ]
    opts += [f'synthetic.{k}={v}' for k, v in TINY_SYNTH.items()]
    opts += [f'synthetic.num.{s}={n}' for s, n in TINY_NUM.items()]
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        opts += [f'{loader}.batch_size={TINY_BATCH}', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False', f'{loader}.dataset.data_root={data_root}',
                 # no pickled copy of the annotations (its gc.collect() costs ~1 s a dataset)
                 f'+{loader}.dataset.serialize_data=False']
        pipeline = cfg[loader].dataset.pipeline
        opts += [f'{loader}.dataset.pipeline.{i}.size={TINY_IMG}'
                 for i, t in enumerate(pipeline) if t['type'] == 'ResizeHand']
    return opts


def parse_cfg_options(options: Sequence[str]) -> dict:
    """Parse ``k=v`` strings exactly as the tools' ``--cfg-options`` does."""
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def make_tiny_data(root: str,
                   config: str = str(CONFIG_DIR / '_base_' / 'datasets' / 'synth_intag.py')
                   ) -> str:
    """Generate the ``TINY_NUM`` synthetic samples into ``root`` (about a second), with the
    ``synthetic`` settings of ``config`` (default: the synthetic configs' shared ones) as
    :func:`tiny_cfg_options` leaves them."""
    from gclhand.datasets import ensure_synthetic_dataset
    settings = dict(Config.fromfile(config).synthetic, **TINY_SYNTH)
    settings.pop('num')
    return ensure_synthetic_dataset(root, num_per_split=TINY_NUM, progress=False, **settings)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> str:
    """Tiny synthetic data shared by every test of the session (the other test files
    import this fixture; the fixed folder makes their calls cheap re-checks)."""
    return make_tiny_data(str(tmp_path_factory.getbasetemp() / 'tiny_synth'))


def _without_dgcl(cfg: Config) -> dict:
    """The config as a dict, less ``model.dgcl`` (nothing else is removed)."""
    d = copy.deepcopy(cfg.to_dict())
    d['model'].pop('dgcl', None)
    return d


def _dgcl(stem: str, dataset: str) -> dict:
    return Config.fromfile(config_path(stem, dataset)).model.get('dgcl') or {}


# ---------------------------------------------------------------------------- every config

@pytest.mark.parametrize('dataset', DATASETS)
@pytest.mark.parametrize('stem', list(ROWS))
def test_row_is_baseline_plus_dgcl(stem, dataset):
    """A Table 2 row differs from gcn_baseline_<dataset>.py only in ``model.dgcl``, which is
    its variant file's; the row is a short file without helper variables (issue 17.3)."""
    row = Config.fromfile(config_path(stem, dataset))
    base = Config.fromfile(config_path('gcn_baseline', dataset))
    assert set(row.keys()) == set(base.keys())  # no helper variable reaches the config
    assert _without_dgcl(row) == _without_dgcl(base)
    if ROWS[stem] is None:
        assert row.model.get('dgcl') is None
        return
    variant = Config.fromfile(str(CONFIG_DIR / '_base_' / 'models' / 'dgcl' /
                                  f'{ROWS[stem]}.py'))
    assert set(variant.keys()) == {'dgcl'}
    assert row.model.dgcl.to_dict() == variant.dgcl.to_dict()
    lines = Path(config_path(stem, dataset)).read_text().splitlines()
    assert len(lines) < 15, lines


@pytest.mark.parametrize('dataset', DATASETS)
def test_consecutive_rows_differ_in_exactly_the_named_component(dataset):
    """Table 2's rows, resolved through their _base_ files and built: each row changes only
    what its name says (issue 18.3)."""
    register_all_modules()
    stems = list(ROWS)
    built = {}
    for stem in stems[1:]:
        cfg = copy.deepcopy(_dgcl(stem, dataset).to_dict())
        torch.manual_seed(0)
        built[stem] = MODELS.build(dict(cfg, graph_channels=16, node_channels=8, num_nodes=63))
    for prev, stem in zip(stems, stems[1:]):
        a, b = _dgcl(prev, dataset), _dgcl(stem, dataset)
        changed = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
        assert (changed if a else {'<all>'}) == ROW_CHANGES[stem], (prev, stem, changed)
        if prev in built:  # the built modules agree on every unchanged sub-module
            mods = [dict(built[s].named_children()) for s in (prev, stem)]
            differ = {k for k in set(mods[0]) | set(mods[1])
                      if repr(mods[0].get(k)) != repr(mods[1].get(k))}
            assert differ == ROW_CHANGES[stem], (prev, stem, differ)
    # every contrastive row has the consistency head and the self-contrast queue
    for stem in stems[1:]:
        assert built[stem].consistency is not None and built[stem].self_queue is not None


@pytest.mark.parametrize('dataset', DATASETS)
@pytest.mark.parametrize('stem', list(ROWS))
def test_model_builds(stem, dataset):
    """The full-size model of every row builds through the registry."""
    register_all_modules()
    cfg = Config.fromfile(config_path(stem, dataset))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'TwoHandEstimator'
    depth = 18 if dataset == 'synth' else 50  # CPU-scale twin vs the paper's encoder
    assert cfg.model.encoder.depth == depth
    if ROWS[stem] is None:
        assert model.dgcl is None
    else:
        expected = cfg.model.dgcl.disturber.type
        assert type(model.dgcl.disturber).__name__ == expected
        model.deploy()  # the deployed model is the baseline
        assert getattr(model, 'dgcl', None) is None


# ------------------------------------------------------------- synthetic rows: train + test

@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cheap_config_text(monkeypatch):
    """The Runner formats the whole config with yapf about four times (seconds in all);
    the text is not under test here."""
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: self.text))


@pytest.mark.parametrize('stem', list(ROWS))
def test_synth_row_trains_and_evaluates(stem, tiny_data, tmp_path, one_thread,
                                        cheap_config_text):
    from gclhand.engine import build_runner
    register_all_modules()
    path = config_path(stem, 'synth')
    cfg = load_config(path, parse_cfg_options(tiny_cfg_options(path, tiny_data)))
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'test_configs_{stem}'  # own MessageHub / logger instances
    cfg.log_level = 'WARNING'
    cfg.test_evaluator = [dict(type='IntagHandMetric')]
    runner = build_runner(cfg)
    runner.train()

    scalars: Dict[str, object] = runner.message_hub.log_scalars
    losses = {k[len('train/'):]: v for k, v in scalars.items()
              if k.startswith('train/loss_')}
    # the CPU twins also supervise the encoder with the hand masks (gcn_baseline_synth.py)
    assert set(losses) == MAIN_LOSSES | {'loss_mask'} | DGCL_LOSSES[stem]
    iters = math.ceil(TINY_NUM['train'] / TINY_BATCH)
    for name, history in losses.items():
        values, counts = history.data
        assert len(values) == iters, name
        assert all(math.isfinite(v) for v in values), (name, values)
    assert osp.isfile(tmp_path / 'epoch_1.pth')

    metrics = runner.test()
    for key in ('intaghand/mpjpe', 'intaghand/mpvpe'):
        assert math.isfinite(metrics[key]) and metrics[key] > 0, key
