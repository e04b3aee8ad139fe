"""Base of the estimator's loss terms: a weighted loss that names what it compares."""
from typing import Any, Dict, Mapping, Optional

from torch import Tensor, nn


class MissingLossInput(KeyError):
    """A loss names a prediction or target the model/batch does not provide."""


def pick(source: Mapping[str, Any], key: str, kind: str, owner: str) -> Any:
    """``source[key]``, or a :class:`MissingLossInput` naming ``owner`` and what exists."""
    if key not in source:
        raise MissingLossInput(f"{owner}: no {kind} '{key}' (the {kind}s are: "
                               f"{', '.join(sorted(source))})")
    return source[key]


class HandLoss(nn.Module):
    """A loss term of :class:`~gclhand.models.TwoHandEstimator`, configured by what it compares.

    The estimator gathers one training batch's **predictions** and **targets** into two dicts
    (their keys and units are listed in ``docs/internals.md``, "Losses") and calls every loss
    its config lists, summing them; it knows no loss by name. A loss config says which
    prediction and which target it compares, as mmpose's heads do::

        losses=dict(joints_3d=dict(type='JointLoss3D', loss_weight=10.0,
                                   pred='joints_3d', target='joints_3d'))

    ``pred`` / ``target`` default to the class's :attr:`default_pred` /
    :attr:`default_target`; ``valid`` names the target used as the per-hand mask (``None``:
    every hand counts). A subclass that needs more inputs overrides :meth:`select`.

    Args:
        loss_weight: the term's weight λ.
        pred: key into the predictions.
        target: key into the targets.
        valid: key into the targets of the validity mask, or ``None``.
    """

    default_pred: Optional[str] = None
    default_target: Optional[str] = None

    def __init__(self, loss_weight: float = 1.0, pred: Optional[str] = None,
                 target: Optional[str] = None, valid: Optional[str] = 'hand_valid') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.pred_key = pred or self.default_pred
        self.target_key = target or self.default_target
        self.valid_key = valid
        if self.pred_key is None or self.target_key is None:
            raise ValueError(f'{type(self).__name__} needs pred= and target= keys')

    def select(self, preds: Mapping[str, Tensor], targets: Mapping[str, Any]) -> Dict[str, Any]:
        """Keyword arguments of :meth:`forward` taken from the two dicts."""
        name = type(self).__name__
        return dict(pred=pick(preds, self.pred_key, 'prediction', name),
                    target=pick(targets, self.target_key, 'target', name),
                    valid=None if self.valid_key is None else pick(
                        targets, self.valid_key, 'target', name))

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, pred={self.pred_key!r}, '
                f'target={self.target_key!r}, valid={self.valid_key!r}')
