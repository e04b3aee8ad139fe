"""Building a dataset's transform pipeline from gclhand's registry."""
from typing import Callable, List, Sequence, Union

from gclhand.registry import TRANSFORMS
from gclhand.utils.build import build_component


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> List[Callable]:
    """Build the ``dict`` entries of ``pipeline`` from gclhand's ``TRANSFORMS``.

    MMEngine's ``Compose`` builds from its root registry under the *current default scope*,
    so a dataset built outside a gclhand Runner (tests, notebooks, tools) would not find
    ``LoadHandImage``.  Building here resolves gclhand's names (and, through the parent
    registry, MMEngine's) in any scope; already built transforms pass through.
    """
    return [build_component(TRANSFORMS, t, key=f'pipeline[{i}]') if isinstance(t, dict) else t
            for i, t in enumerate(pipeline)]
