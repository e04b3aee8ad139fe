"""Combining disturbers (as PyGCL's ``Compose`` / ``RandomChoice`` combine augmentors)."""
import random
from typing import List, Sequence, Union

import torch.nn as nn

from gclhand.registry import DISTURBERS
from gclhand.utils import build_component
from .base import Disturber, Graph


def _build_all(disturbers: Sequence[Union[dict, Disturber]], key: str) -> nn.ModuleList:
    if len(disturbers) == 0:
        raise ValueError(f'{key} needs at least one disturber config')
    return nn.ModuleList(
        build_component(DISTURBERS, cfg, key=f'{key}[{i}]') for i, cfg in enumerate(disturbers))


@DISTURBERS.register_module()
class Compose(Disturber):
    """Apply disturbers one after the other.

    Args:
        disturbers: configs (``dict(type=...)``) or built disturbers, applied in order.
    """

    def __init__(self, disturbers: Sequence[Union[dict, Disturber]]):
        super().__init__()
        self.disturbers = _build_all(disturbers, 'Compose.disturbers')

    def disturb(self, g: Graph) -> Graph:
        for d in self.disturbers:
            g = d.disturb(g)
        return g


@DISTURBERS.register_module()
class RandomChoice(Disturber):
    """Apply ``num_choices`` disturbers drawn without replacement at each call.

    The drawn disturbers run in their listed order. Python's ``random`` draws them, so
    ``random.seed`` (set by MMEngine's ``randomness`` config) makes the choice reproducible.

    Args:
        disturbers: configs or built disturbers to choose from.
        num_choices: how many to apply per call, ``1 <= num_choices <= len(disturbers)``.
    """

    def __init__(self, disturbers: Sequence[Union[dict, Disturber]], num_choices: int = 1):
        super().__init__()
        self.disturbers = _build_all(disturbers, 'RandomChoice.disturbers')
        if not 1 <= num_choices <= len(self.disturbers):
            raise ValueError(f'RandomChoice.num_choices must be in [1, {len(self.disturbers)}]'
                             f', got {num_choices}')
        self.num_choices = num_choices

    def disturb(self, g: Graph) -> Graph:
        idx: List[int] = sorted(random.sample(range(len(self.disturbers)), self.num_choices))
        for i in idx:
            g = self.disturbers[i].disturb(g)
        return g
