"""Reductions shared by gclhand's losses."""
from typing import Optional

import torch
from torch import Tensor


def masked_mean(values: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Mean of ``values`` over the entries where ``valid`` is nonzero.

    Invalid entries are replaced (``torch.where``), not multiplied by 0, so a NaN/inf computed
    for a missing hand cannot leak into the loss; with no valid entry the result is a 0 that
    still carries a (zero) gradient, never NaN.

    Args:
        values: per-entry losses, e.g. ``(B, 2)`` per hand or ``(B,)`` per sample.
        valid: ``None`` (all valid) or a tensor of the same shape, nonzero where valid.

    Returns:
        scalar tensor.
    """
    if valid is None:
        return values.mean()
    if valid.shape != values.shape:
        raise ValueError(f'valid mask has shape {tuple(valid.shape)} but the loss has '
                         f'{tuple(values.shape)} entries; pass hand_valid as (B, 2) for '
                         f'per-hand losses and (B,) or (B, 2) for per-sample ones')
    valid = valid.to(device=values.device) > 0
    kept = torch.where(valid, values, torch.zeros_like(values))
    return kept.sum() / valid.sum().clamp(min=1).to(values.dtype)
