"""``gclhand make-synth``: ahead-of-time generation of exactly what a config reads."""
import json
import logging
from pathlib import Path

import pytest
from mmengine.logging import MMLogger

from gclhand.cli import main as gclhand_main
from gclhand.cli.config import load_config
from gclhand.datasets.synth import generator
from gclhand.datasets.synth.generator import ensure_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs' / 'dgcl_synth.py')


def meta(root, split='train'):
    with open(root / split / 'meta.json') as f:
        return json.load(f)


def test_config_data_is_what_training_reads(tmp_path, monkeypatch):
    """--config writes the config's synthetic settings; the training run's own check then
    finds the data complete and generates nothing."""
    out = tmp_path / 'synth'
    assert gclhand_main(['make-synth', '--config', CONFIG, '--out', str(out), '--no-progress',
                         '--cfg-options', 'synthetic.num=5']) == 0
    settings = load_config(CONFIG, {'synthetic.num': 5}).synthetic.to_dict()
    m = meta(out)
    assert (m['count'], m['img_size'], m['views_per_scene'], m['aux_maps'], m['sampler']) == (
        5, settings['img_size'], settings['views_per_scene'], list(settings['aux_maps']),
        settings['sampler'])
    assert meta(out, 'test')['count'] == 5

    def no_generation(*args, **kwargs):
        raise AssertionError('the data make-synth wrote was generated again')
    monkeypatch.setattr(generator, 'generate_synthetic_dataset', no_generation)
    num = settings.pop('num')
    ensure_synthetic_dataset(str(out), num_per_split=num, progress=False, **settings)


def test_generator_options(tmp_path):
    out = tmp_path / 'synth'
    assert gclhand_main(['make-synth', '--out', str(out), '--num', '4', '--split', 'train',
                         '--img-size', '32', '--views-per-scene', 'train=2',
                         '--aux-maps', 'none', '--no-progress']) == 0
    m = meta(out)
    assert (m['count'], m['img_size'], m['views_per_scene'], m['aux_maps']) == (
        4, 32, {'train': 2}, [])
    assert not (out / 'train' / 'mask').exists()
    assert gclhand_main(['make-synth', '--out', str(out / 'b'), '--num', '2', '--split', 'val',
                         '--img-size', '32', '--views-per-scene', '3', '--aux-maps', 'mask',
                         '--no-progress']) == 0
    m = meta(out / 'b', 'val')
    assert (m['views_per_scene'], m['aux_maps']) == (3, ['mask'])
    assert len(list((out / 'b' / 'val' / 'mask').iterdir())) == 2


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def warnings_of(argv):
    """Run ``gclhand argv``; the WARNING messages MMEngine's current logger received."""
    logger, handler = MMLogger.get_current_instance(), Records()
    logger.addHandler(handler)
    try:
        assert gclhand_main(argv) == 0
    finally:
        logger.removeHandler(handler)
    return [r.getMessage() for r in handler.records if r.levelno == logging.WARNING]


def test_other_settings_are_named_before_regeneration(tmp_path):
    out = tmp_path / 'synth'
    common = ['make-synth', '--out', str(out), '--num', '2', '--split', 'train', '--img-size',
              '32', '--aux-maps', 'none', '--no-progress']
    assert warnings_of(common) == []
    assert warnings_of(common) == []  # complete: nothing to say
    said = warnings_of(common + ['--seed', '3'])
    assert said == [f"'{out / 'train'}' holds 2 synthetic samples made with other settings "
                    '(seed: 0 -> 3); deleting them and generating anew']
    assert meta(out)['seed'] == 3


@pytest.mark.parametrize('argv, message', [
    (['--config', CONFIG, '--num', '5'], '--num cannot be combined with --config; change the '
     "config's settings with --cfg-options synthetic.KEY=VALUE"),
    (['--config', str(REPO / 'configs' / 'gcn_baseline_interhand.py')],
     'has no top-level `synthetic` dict'),
    (['--out', 'x'], 'give --config CONFIG, or --out DIR and --num N'),
    (['--out', 'x', '--num', '2', '--cfg-options', 'synthetic.num=3'],
     '--cfg-options needs --config'),
    (['--out', 'x', '--num', '2', '--views-per-scene', 'train=x'],
     "--views-per-scene takes a number or split=number pairs such as 'train=4,val=1', got "
     "'train=x'"),
    (['--out', 'x', '--num', '2', '--aux-maps', 'mask,foo'],
     '--aux-maps: unknown map(s) foo; choose from mask,dense,hms or none'),
    (['--config', CONFIG, '--cfg-options', 'synthetic.nmu=3'], "'synthetic.num'"),
])
def test_errors_are_one_line_with_status_2(argv, message, capsys, tmp_path, monkeypatch):
    if argv[0] == '--out':
        monkeypatch.chdir(tmp_path)  # relative --out: nothing may appear there
    assert gclhand_main(['make-synth', *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ') and message in err[0]
    assert not (tmp_path / 'x').exists()
