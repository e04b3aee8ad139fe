"""NodeDrop: zero the features of random nodes (GraphCL's node dropping, feature form)."""
import torch

from gclhand.models.disturbers import Disturber, Graph
from gclhand.registry import DISTURBERS


@DISTURBERS.register_module()
class NodeDrop(Disturber):
    r"""Zero all features of each node with probability ``p``, independently per sample.

    .. math::
        \hat{\mathbf{G}}_m[n] = b_{mn}\, \mathbf{G}_m[n], \qquad b_{mn} \sim
        \mathrm{Bernoulli}(1 - p)

    GraphCL (You et al., NeurIPS 2020) drops nodes from the graph; the decoder needs a
    fixed node set, so the nodes are kept and only their features are zeroed. The graph
    structure is returned unchanged.

    Args:
        p: probability that a node is dropped, in [0, 1].

    Shapes:
        x: (M, N, C) -> (M, N, C).
    """

    def __init__(self, p: float = 0.1):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'NodeDrop.p must be in [0, 1], got {p}')
        self.p = p

    def disturb(self, g: Graph) -> Graph:
        x = g.x
        keep = torch.rand(x.size(0), x.size(1), 1, device=x.device) >= self.p
        return g._replace(x=x * keep.to(x.dtype))  # the same graph, node_mask passed on

    def extra_repr(self) -> str:
        return f'p={self.p}'
