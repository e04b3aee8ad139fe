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


def test_pieces_follow_each_other(tmp_path):
    """Piece 2 (load_from, counting from 0 again) continues where piece 1 ended."""
    one, two = tmp_path / 'one', tmp_path / 'two'
    write_run(one, [dict(loss=3.0, step=10), dict(loss=2.0, step=20),
                    {'intaghand/mpjpe': 50.0, 'step': 1}, {'intaghand/mpjpe': 45.0, 'step': 2}])
    write_run(two, [dict(loss=1.5, step=10), {'intaghand/mpjpe': 44.0, 'step': 1}])
    runs = [plot.load_scalars(str(d), ['loss'], ['intaghand/mpjpe']) for d in (one, two)]
    train, val, train_starts, val_starts = plot.chain_pieces(runs)
    assert train == {'loss': [(10.0, 3.0), (20.0, 2.0), (30.0, 1.5)]}
    assert val == {'intaghand/mpjpe': [(1.0, 50.0), (2.0, 45.0), (3.0, 44.0)]}
    assert (train_starts, val_starts) == ([20.0], [2.0])
    out = tmp_path / 'long.png'
    assert plot.main([str(one), str(two), '--pieces', '--labels', 'HandDGCL', '--out',
                      str(out)]) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(SystemExit, match=r'--pieces draws one run: give one label'):
        plot.main([str(one), str(two), '--pieces', '--labels', 'a', 'b', '--out', str(out)])
