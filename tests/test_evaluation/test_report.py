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
