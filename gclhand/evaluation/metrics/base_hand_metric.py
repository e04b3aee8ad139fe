"""What every two-hand metric shares: reading samples, per-hand means, the table, the dump."""
import math
from abc import abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from torch import Tensor

from ..report import dump_results, format_table

Rows = Dict[str, Sequence[Optional[float]]]


def _as_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu().to(torch.float64)
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


class NonFinitePredictionError(FloatingPointError, ValueError):
    """A prediction handed to a metric holds NaN or inf (a ``ValueError`` of the input and a
    ``FloatingPointError`` of the run; the command line prints it as one line)."""


def stack_field(data_samples: Sequence[Any], key: str, owner: str = 'metric',
                shape: Optional[Tuple[int, ...]] = None) -> Tensor:
    """Stack one field of a batch of data samples into a float64 CPU tensor.

    Args:
        data_samples: ``HandDataSample`` objects or the dicts that ``BaseDataElement.to_dict()``
            makes of them (what MMEngine's ``Evaluator`` passes); values may be tensors or
            arrays.
        key: field name, e.g. ``'pred_joints_3d'``.
        owner: the metric's name, for the error message.
        shape: expected per-sample shape; ``-1`` matches any size.

    Returns:
        ``(N, *shape)``.

    Raises:
        NonFinitePredictionError: a prediction (``key`` starting with ``'pred_'``) holds
            NaN or inf.
            Such a sample cannot be scored, and leaving it out (``nan`` also marks a hand
            that is not evaluated) would make the averages better than the model is;
            IntagHand's and InterHand2.6M's scripts print NaN for it instead.
    """
    values = []
    for i, sample in enumerate(data_samples):
        value = sample.get(key, None)
        if value is None:
            raise KeyError(
                f"{owner}: data sample {i} has no '{key}'. Ground truth comes from the "
                f"pipeline's PackHandInputs, predictions from the estimator's predict(); see "
                f"the field list in gclhand/structures/hand_data_sample.py.")
        value = _as_tensor(value)
        if shape is not None and (value.dim() != len(shape) or any(
                s != -1 and s != v for s, v in zip(shape, value.shape))):
            raise ValueError(f"{owner}: '{key}' of data sample {i} has shape "
                             f'{tuple(value.shape)}, expected {shape} (-1 = any)')
        if key.startswith('pred_') and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise NonFinitePredictionError(
                f"{owner}: '{key}' of data sample {i} ({sample_meta(sample)}) holds {bad} "
                f'NaN/inf value(s) of {value.numel()}: the model\'s output diverged (a NaN '
                f'loss, an fp16 overflow). A prediction that is not a number cannot be scored, '
                f'and leaving it out would improve the averages; check the training log and '
                f'the checkpoint.')
        values.append(value)
    return torch.stack(values)


def hand_valid(data_samples: Sequence[Any]) -> Tensor:
    """``(N, 2)`` bool; a sample without ``hand_valid`` counts both hands as annotated."""
    valid = [sample.get('hand_valid', None) for sample in data_samples]
    return torch.stack([torch.ones(2, dtype=torch.bool) if v is None else _as_tensor(v) > 0
                        for v in valid])


def sample_meta(sample: Any) -> dict:
    """The identifying metainfo stored with each per-sample result."""
    return {k: sample.get(k, None) for k in ('sample_idx', 'img_path')}


def nanmean(values: Sequence[float]) -> float:
    """Mean of the finite entries (``nan`` marks a hand that was not evaluated)."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float('nan')


def per_hand(results: List[dict], key: str) -> np.ndarray:
    """``(N, 2)`` array of a per-hand result entry, ``nan`` where not evaluated."""
    return np.array([[math.nan if v is None else v for v in r[key]] for r in results],
                    dtype=np.float64).reshape(-1, 2)


def masked_to_list(errors: Tensor, valid: Tensor) -> List[List[Optional[float]]]:
    """``(N, 2)`` errors -> nested lists with ``None`` for invalid hands (JSON friendly)."""
    return [[float(e) if ok else None for e, ok in zip(err_row, ok_row)]
            for err_row, ok_row in zip(errors.tolist(), valid.tolist())]


class BaseHandMetric(BaseMetric):
    """Base of gclhand's metrics: per-sample errors in ``process``, means in ``compute_metrics``.

    Subclasses implement :meth:`process_samples` (a batch of data samples -> one result dict
    per sample, errors in mm, ``[left, right]`` lists with ``None`` for skipped hands) and
    :meth:`summarize` (all results -> metric dict and table rows).  ``compute_metrics`` logs
    the table (columns left / right / all, titled with :attr:`table_unit`) and, with
    ``outfile_prefix``, writes ``{outfile_prefix}.{prefix}.json`` through
    :func:`gclhand.evaluation.dump_results`.

    Args:
        outfile_prefix: path prefix of the JSON with the metrics and the per-sample errors;
            ``None`` writes nothing.
        collect_device, prefix, collect_dir: see :class:`mmengine.evaluator.BaseMetric`.
    """

    #: unit of the logged table's values, in its title; a metric of fractions, or one that
    #: names each row's unit (``InterpenetrationMetric``), sets its own or ``None``
    table_unit: Optional[str] = 'mm'

    def __init__(self, outfile_prefix: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.outfile_prefix = outfile_prefix

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Compute and store the per-sample errors of one batch (``data_batch`` is unused:
        ground truth travels in the data samples)."""
        if len(data_samples):
            self.results.extend(self.process_samples(data_samples))

    def joints_and_valid(self, data_samples: Sequence[Any]):
        """Predicted and GT joints ``(B, 2, 21, 3)`` and the hand mask ``(B, 2)``."""
        name = type(self).__name__
        pred = stack_field(data_samples, 'pred_joints_3d', name, (2, -1, 3))
        gt = stack_field(data_samples, 'gt_joints_3d', name, (2, -1, 3))
        return pred, gt, hand_valid(data_samples)

    def table_note(self) -> str:
        """Text appended to the logged table's title (e.g. a caveat on comparability)."""
        return ''

    @abstractmethod
    def process_samples(self, data_samples: Sequence[Any]) -> List[dict]:
        """One result dict per data sample."""

    @abstractmethod
    def summarize(self, results: List[dict]) -> Tuple[Dict[str, float], Rows]:
        """Aggregate: ``(metrics, table rows {name: (left, right, all)})``."""

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics, rows = self.summarize(results)
        unit = f', {self.table_unit}' if self.table_unit else ''
        title = f'{type(self).__name__} ({len(results)} samples{unit}){self.table_note()}'
        MMLogger.get_current_instance().info('\n' + format_table(rows, title=title))
        if self.outfile_prefix:
            named = {f'{self.prefix}/{k}' if self.prefix else k: v for k, v in metrics.items()}
            path = dump_results(named, results, f'{self.outfile_prefix}.{self.prefix}.json')
            MMLogger.get_current_instance().info(f'{type(self).__name__}: wrote {path}')
        return metrics
