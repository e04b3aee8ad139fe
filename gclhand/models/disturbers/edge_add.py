"""EGD (c): add random edges to the graph (HandDGCL section 3.2)."""
import torch
from torch_geometric.utils import add_random_edge, coalesce

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph, edge_weight_or_ones, real_nodes


@DISTURBERS.register_module()
class EdgeAdd(Disturber):
    r"""Add random new undirected edges of weight 1 between real nodes.

    Uses :func:`torch_geometric.utils.add_random_edge` with ``force_undirected=True`` on the
    subgraph of the real nodes (``node_mask``; padding nodes are isolated and stay so): it
    samples node pairs that are neither existing edges nor self loops
    (:func:`~torch_geometric.utils.negative_sampling`), so with :math:`E` directed edges
    (:math:`E/2` undirected) it adds :math:`\lfloor \mathrm{round}(rE)/2 \rfloor` undirected
    edges, i.e. a ratio :math:`r` of the existing ones up to rounding. The sampler makes
    three oversampled draws, so it returns fewer only when the graph has not that many free
    pairs or, with negligible probability on sparse graphs, when all three draws fall short.
    It draws with Python's ``random`` (seeded by MMEngine's ``randomness`` config). Existing
    edges keep their weights; the result is coalesced (sorted, symmetric, no self loops).

    One disturbed graph is drawn per call and shared by the batch; ``x`` is unchanged.

    Args:
        ratio: number of new edges relative to the number of existing edges, in [0, 1].
    """

    def __init__(self, ratio: float = 0.1):
        super().__init__()
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'EdgeAdd.ratio must be in [0, 1], got {ratio}')
        self.ratio = ratio

    def disturb(self, g: Graph) -> Graph:
        num_nodes = g.x.size(1)
        weight = edge_weight_or_ones(g)
        real = real_nodes(g)
        # relabel the real nodes 0..R-1 so that the sampler only sees them
        local = real.new_full((num_nodes,), -1)
        local[real] = torch.arange(real.numel(), device=real.device)
        _, added = add_random_edge(local[g.edge_index], p=self.ratio, force_undirected=True,
                                   num_nodes=real.numel())
        edge_index = torch.cat([g.edge_index, real[added]], 1)
        weight = torch.cat([weight, weight.new_ones(added.size(1))])
        edge_index, weight = coalesce(edge_index, weight, num_nodes=num_nodes)
        return g._replace(edge_index=edge_index, edge_weight=weight)

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}'
