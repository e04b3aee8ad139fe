"""Readable tables and JSON files of evaluation results."""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

COLUMNS = ('left', 'right', 'all')


def format_table(rows: Mapping[str, Sequence[Optional[float]]], title: str = '',
                 columns: Sequence[str] = COLUMNS, precision: int = 2) -> str:
    """Plain-text table with one row per measure and one column per hand.

    Args:
        rows: ``{name: values}``, one value per column; ``None`` or ``nan`` print as ``-``.
        title: printed above the table.
        columns: column headers.
        precision: decimals.

    Returns:
        the table as a multi-line string (for the log; plain text so it survives any sink).
    """
    def fmt(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return '-'
        return f'{value:.{precision}f}' if isinstance(value, float) else str(value)

    body = [[name] + [fmt(v) for v in values] for name, values in rows.items()]
    header = [''] + list(columns)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def row(cells):
        return '| ' + ' | '.join(c.rjust(w) if i else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + ' |'

    out = ([title] if title else []) + [line, row(header), line] + [row(r) for r in body] + [line]
    return '\n'.join(out)


def _to_builtin(obj):
    """Turn tensors / NumPy values into JSON-serialisable Python objects (NaN -> None)."""
    if hasattr(obj, 'detach'):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return _to_builtin(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # strict JSON has no NaN/inf; null means 'not evaluated'
    if isinstance(obj, Mapping):
        return {str(k): _to_builtin(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_builtin(v) for v in obj]
    return obj


def dump_results(metrics: Dict[str, float], per_sample: List[dict], path: str) -> str:
    """Write aggregate metrics and per-sample errors to one JSON file.

    The file holds ``{"metrics": {...}, "per_sample": [{...}, ...]}``; ``per_sample`` entries
    are whatever the metric stored per image (``sample_idx``, ``img_path`` and per-hand errors
    in mm, ``[left, right]``; ``null`` where a hand was not evaluated).  ``tools/test.py --out``
    calls it with the runner's final metrics, and every metric of
    :mod:`gclhand.evaluation.metrics` calls it itself when built with ``outfile_prefix``.

    Args:
        metrics: name -> value (e.g. the dict ``runner.test()`` returns).
        per_sample: one dict per evaluated sample (may be empty).
        path: output file; parent folders are created.

    Returns:
        ``path``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    payload = dict(metrics=_to_builtin(dict(metrics)), per_sample=_to_builtin(list(per_sample)))
    with open(path, 'w') as f:
        json.dump(payload, f, indent=1, allow_nan=False)
    return path
