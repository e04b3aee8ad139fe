"""The IntagHand-supervision configs (``dgcl_intagaux_{synth,interhand}.py``): HandDGCL plus
IntagHand's dense encoder supervision, built and (synthetic twin) trained through the real
Runner at the tiny size of ``test_configs.py``, on tiny synthetic data that has the maps."""
import math

import pytest
import torch
from mmengine.config import Config

from gclhand.apis import register_all_modules
from gclhand.cli.config import load_config
from gclhand.datasets.errors import ImageError
from gclhand.registry import MODELS

from test_configs import (TINY_BATCH, TINY_NUM, cheap_config_text, config_path,  # noqa: F401
                          make_tiny_data, one_thread, parse_cfg_options, tiny_cfg_options,
                          tiny_data)

AUX_LOSSES = {'loss_heatmaps', 'loss_mask', 'loss_dense'}


@pytest.fixture(scope='module')
def tiny_aux_data(tmp_path_factory) -> str:
    return make_tiny_data(str(tmp_path_factory.mktemp('tiny_synth_aux')),
                          config_path('dgcl_intagaux', 'synth'))


@pytest.mark.parametrize('dataset', ['synth', 'interhand'])
def test_config_adds_the_three_heads_and_losses_to_handdgcl(dataset):
    """Only the supervision differs from HandDGCL; the deployed model drops the heads."""
    register_all_modules()
    cfg = Config.fromfile(config_path('dgcl_intagaux', dataset))
    base = Config.fromfile(config_path('dgcl', dataset))
    assert cfg.model.dgcl == base.model.dgcl
    aux = ('heatmaps', 'mask', 'dense')  # the synthetic twins already have a mask term
    assert ({k: v for k, v in cfg.model.losses.items() if k not in aux}
            == {k: v for k, v in base.model.losses.items() if k not in aux})
    weights = {k: cfg.model.losses[k].loss_weight for k in ('heatmaps', 'mask', 'dense')}
    assert weights == dict(heatmaps=100.0, mask=500.0, dense=30.0)  # IntagHand's
    steps = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert steps[:2] == ['LoadHandImage', 'LoadHandAuxMaps']
    side = next(t['size'] for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'ResizeHand')
    assert cfg.train_dataloader.dataset.pipeline[-1]['aux_size'] == side // 4
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert set(model.aux_heads) == {'maps'}
    assert model.deploy().aux_heads is None


def test_synth_config_keeps_the_main_jobs_data_root():
    cfg = Config.fromfile(config_path('dgcl_intagaux', 'synth'))
    main = Config.fromfile(config_path('dgcl', 'synth'))
    roots = {cfg[f'{s}_dataloader'].dataset.data_root for s in ('train', 'val', 'test')}
    assert len(roots) == 1 and roots != {main.train_dataloader.dataset.data_root}
    assert tuple(cfg.synthetic.aux_maps) == ('mask', 'dense', 'hms')


def test_synth_config_trains_with_the_aux_losses(tiny_aux_data, tmp_path, one_thread,
                                                 cheap_config_text):
    from gclhand.engine import build_runner
    register_all_modules()
    path = config_path('dgcl_intagaux', 'synth')
    cfg = load_config(path, parse_cfg_options(tiny_cfg_options(path, tiny_aux_data)))
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = 'test_intagaux_synth'
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    losses = {k[len('train/'):]: v for k, v in scalars.items() if k.startswith('train/loss_')}
    assert AUX_LOSSES <= set(losses)
    for name in AUX_LOSSES:
        values, _ = losses[name].data
        assert len(values) == math.ceil(TINY_NUM['train'] / TINY_BATCH)
        assert all(math.isfinite(v) and v > 0 for v in values), (name, values)


def test_split_without_the_maps_is_refused_naming_the_file(tiny_data):
    """``required=True`` in the InterHand2.6M config: a split converted without the maps
    stops the run, naming the missing file, instead of training without the supervision.
    (A synthetic data root is regenerated with the maps instead: its settings changed.)"""
    from gclhand.registry import TRANSFORMS
    register_all_modules()
    cfg = Config.fromfile(config_path('dgcl_intagaux', 'interhand'))
    step = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'LoadHandAuxMaps')
    load = TRANSFORMS.build(step)
    split = f'{tiny_data}/train'  # the main job's settings: masks only, no dense maps
    with pytest.raises(ImageError, match='dense'):
        load(dict(anno_path=f'{split}/anno/0.pkl', file_idx=0))
