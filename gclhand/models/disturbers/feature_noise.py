"""EGD (b): random noise on the feature space (HandDGCL section 3.2)."""
import torch

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph


@DISTURBERS.register_module()
class FeatureNoise(Disturber):
    r"""Add Gaussian noise to the graph features.

    .. math::
        \hat{\mathbf{G}} = \mathbf{G} + \sigma s\, \boldsymbol{\epsilon}, \qquad
        \epsilon_{mnc} \sim \mathcal{N}(0, 1)

    with :math:`s = 1` (absolute noise) or, when ``relative=True``, :math:`s_m` the standard
    deviation of sample :math:`m`'s features over all its nodes and channels (detached), so
    that ``sigma`` is a signal-to-noise ratio independent of the feature scale.
    The graph structure is returned unchanged.

    Args:
        sigma: noise standard deviation (absolute, or relative to the feature std).
        relative: scale the noise by each sample's feature std.

    Shapes:
        x: (M, N, C) -> (M, N, C).
    """

    def __init__(self, sigma: float = 0.1, relative: bool = False):
        super().__init__()
        if sigma < 0:
            raise ValueError(f'FeatureNoise.sigma must be >= 0, got {sigma}')
        self.sigma = sigma
        self.relative = relative

    def disturb(self, g: Graph) -> Graph:
        x = g.x
        scale = self.sigma
        if self.relative:
            scale = self.sigma * x.detach().flatten(1).std(dim=1).view(-1, 1, 1)
        return g._replace(x=x + scale * torch.randn_like(x))

    def extra_repr(self) -> str:
        return f'sigma={self.sigma}, relative={self.relative}'
