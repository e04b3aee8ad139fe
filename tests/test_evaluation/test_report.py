import json
import math

import numpy as np
import torch

from gclhand.evaluation import dump_results, format_table


def test_format_table_columns_and_missing_values():
    table = format_table({'MPJPE': (1.234, 2.0, 1.617), 'MRRPE': (None, float('nan'), 3.5)},
                         title='T')
    lines = table.splitlines()
    assert lines[0] == 'T'
    assert 'left' in lines[2] and 'right' in lines[2] and 'all' in lines[2]
    assert '1.23' in table and '1.62' in table and '3.50' in table
    mrrpe_row = next(line for line in lines if 'MRRPE' in line)
    assert mrrpe_row.count(' - ') == 2
    assert len({len(line) for line in lines[1:]}) == 1  # aligned


def test_dump_results_round_trip(tmp_path):
    path = dump_results({'a/mpjpe': np.float32(2.5), 'a/none': math.nan},
                        [{'sample_idx': 0, 'mpjpe': [torch.tensor(1.5).item(), None],
                          'arr': np.arange(3)}],
                        str(tmp_path / 'sub' / 'out.json'))
    with open(path) as f:
        data = json.load(f)
    assert data['metrics'] == {'a/mpjpe': 2.5, 'a/none': None}
    assert data['per_sample'] == [{'sample_idx': 0, 'mpjpe': [1.5, None], 'arr': [0, 1, 2]}]


def test_format_table_exact_layout():
    table = format_table({'MPJPE': (1.0, 12.345, None), 'skipped hands': (0, 3, 3)})
    assert table == '\n'.join([
        '+---------------+------+-------+-----+',
        '|               | left | right | all |',
        '+---------------+------+-------+-----+',
        '| MPJPE         | 1.00 | 12.35 |   - |',
        '| skipped hands |    0 |     3 |   3 |',
        '+---------------+------+-------+-----+'])
    assert format_table({'a': (1.0, )}, columns=('x', ), precision=3).splitlines()[3] == \
        '| a | 1.000 |'


def test_dump_results_converts_tensors_and_is_readable(tmp_path):
    path = dump_results({'m': torch.tensor(2.5, dtype=torch.float64)},
                        [{'err': torch.tensor([[1.0, float('nan')]])}], str(tmp_path / 'r.json'))
    text = open(path).read()
    assert text.startswith('{\n "metrics": {\n  "m": 2.5\n }')  # indented, one key a line
    assert json.loads(text)['per_sample'] == [{'err': [[1.0, None]]}]
