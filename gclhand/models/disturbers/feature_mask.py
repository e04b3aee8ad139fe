"""EGD (a): random mask on the feature dimension (HandDGCL section 3.2)."""
import torch

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph


@DISTURBERS.register_module()
class FeatureMask(Disturber):
    r"""Zero a random subset of feature channels, the same channels for every node of a sample.

    As GraphCL's / PyGCL's ``FeatureMasking``: for sample :math:`m`, draw
    :math:`\mathbf{b}_m \in \{0,1\}^C` with :math:`P(b_{mc}=0)=p` and return
    :math:`\hat{\mathbf{G}}_m = \mathbf{G}_m \operatorname{diag}(\mathbf{b}_m)`.
    There is no :math:`1/(1-p)` rescaling (unlike dropout), as in GraphCL; with
    ``model.dgcl.normalize='l2'`` (the paper's "all G are normalized", the default)
    DGCLNet then L2-normalises every node of :math:`\hat{\mathbf{G}}`, so the masked
    nodes come back to unit length.  The graph structure is returned unchanged.

    Args:
        p: probability that a channel is masked, in [0, 1].

    Shapes:
        x: (M, N, C) -> (M, N, C).
    """

    def __init__(self, p: float = 0.2):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'FeatureMask.p must be in [0, 1], got {p}')
        self.p = p

    def disturb(self, g: Graph) -> Graph:
        x = g.x
        keep = torch.rand_like(x[:, :1]) >= self.p  # (M, 1, C): one draw per channel
        return g._replace(x=x * keep.to(x.dtype))

    def extra_repr(self) -> str:
        return f'p={self.p}'
