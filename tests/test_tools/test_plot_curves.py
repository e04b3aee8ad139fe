"""tools/plot_curves.py: reads MMEngine's vis_data/scalars.json and writes a PNG."""
import json

import pytest

from gclhand.cli import plot_curves as plot


def write_run(work_dir, records):
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    with open(vis / 'scalars.json', 'w') as f:
        for rec in records:
            f.write(json.dumps(rec) + '\n')


def test_train_and_val_records_are_separated(tmp_path):
    write_run(tmp_path, [
        dict(loss=3.0, lr=1e-3, step=10), dict(loss=2.0, lr=1e-3, step=20),
        {'intaghand/mpjpe': 50.0, 'intaghand/mpvpe': 52.0, 'step': 1},
        dict(loss=1.0, lr=1e-3, step=30),
        {'intaghand/mpjpe': 40.0, 'intaghand/mpvpe': 41.0, 'step': 2}])
    train, val = plot.load_scalars(str(tmp_path), ['loss'], ['intaghand/mpjpe'])
    assert train == {'loss': [(10.0, 3.0), (20.0, 2.0), (30.0, 1.0)]}
    assert val == {'intaghand/mpjpe': [(1.0, 50.0), (2.0, 40.0)]}
    out = tmp_path / 'curves.png'
    assert plot.main([str(tmp_path), '--reference', '80', '--out', str(out)]) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_moving_average_hand_computed():
    assert plot.moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]


def test_missing_scalars_name_the_folder(tmp_path):
    with pytest.raises(SystemExit, match='no vis_data/scalars.json under'):
        plot.main([str(tmp_path), '--out', str(tmp_path / 'x.png')])
