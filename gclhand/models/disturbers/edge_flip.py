"""EGD (d): flip the edges of the graph (HandDGCL section 3.2)."""
import torch
from torch_geometric.utils import coalesce, to_dense_adj

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph, edge_weight_or_ones, real_nodes


@DISTURBERS.register_module()
class EdgeFlip(Disturber):
    r"""Flip edges: remove :math:`k` existing edges and add :math:`k` absent ones.

    With :math:`E_u` undirected edges, :math:`k = \min(\mathrm{round}(r E_u), F)` where
    :math:`F` is the number of absent pairs between real nodes. The :math:`k` removed edges
    are drawn uniformly from the existing ones, the :math:`k` added edges (weight 1)
    uniformly from the pairs :math:`\{i, j\}, i \ne j`, of real nodes (``node_mask``) that
    are not edges of the input graph, so a flip keeps the number of edges and never wires a
    padding node in. The result is symmetric, coalesced, without self loops; the edges that
    are not removed keep their weights.

    Why not an XOR of random node pairs: the coarse hand graph has edges on ~8% of its node
    pairs, so toggling uniformly drawn pairs adds an edge ~92% of the time, i.e. it is almost
    :class:`EdgeAdd`. Why not PyG's ``dropout_edge`` + ``add_random_edge``: they drop each
    edge with probability :math:`r` and add about :math:`r E_u` negative samples, so the
    two counts differ from draw to draw, and neither knows padding nodes. The sampling here
    is two ``torch.randperm`` draws on the dense (N, N) adjacency (N = tens of nodes).

    One disturbed graph is drawn per call (torch RNG) and shared by the batch; ``x`` is
    unchanged.

    Args:
        ratio: flipped edges relative to the existing undirected edges, in [0, 1].
    """

    def __init__(self, ratio: float = 0.1):
        super().__init__()
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'EdgeFlip.ratio must be in [0, 1], got {ratio}')
        self.ratio = ratio

    def num_flips(self, num_edges: int, num_free_pairs: int) -> int:
        """Edges removed (= added) for ``num_edges`` directed edges and free real pairs."""
        return min(int(round(self.ratio * (num_edges // 2))), num_free_pairs)

    def disturb(self, g: Graph) -> Graph:
        n = g.x.size(1)
        weight = edge_weight_or_ones(g)
        row, col = g.edge_index
        upper = row < col
        edges, w = g.edge_index[:, upper], weight[upper]  # each undirected edge once
        real = real_nodes(g)
        adj = to_dense_adj(g.edge_index, max_num_nodes=n)[0] != 0
        free = ~adj[real][:, real]
        i, j = torch.triu_indices(real.numel(), real.numel(), offset=1, device=real.device)
        free_pairs = torch.stack([real[i], real[j]])[:, free[i, j]]
        k = self.num_flips(g.edge_index.size(1), free_pairs.size(1))
        kept = torch.randperm(edges.size(1), device=edges.device)[k:]
        added = free_pairs[:, torch.randperm(free_pairs.size(1), device=edges.device)[:k]]
        new = torch.cat([edges[:, kept], added], 1)
        new_w = torch.cat([w[kept], w.new_ones(k)])
        edge_index, weight = coalesce(torch.cat([new, new.flip(0)], 1),
                                      torch.cat([new_w, new_w]), num_nodes=n)
        return g._replace(edge_index=edge_index, edge_weight=weight)

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}'
