"""EGD (d): flip the edges of the graph (HandDGCL section 3.2)."""
import torch
from torch_geometric.utils import dense_to_sparse, to_dense_adj

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph, edge_weight_or_ones


@DISTURBERS.register_module()
class EdgeFlip(Disturber):
    r"""Flip random node pairs: an existing edge is removed, a non-edge is added (weight 1).

    :math:`k` distinct unordered pairs :math:`\{i, j\}, i \neq j` are drawn uniformly from all
    :math:`N(N-1)/2` pairs, with :math:`k = \mathrm{round}(r \cdot E_u)` where :math:`E_u`
    is the number of undirected edges (``relative_to='edges'``, the default, so that
    ``ratio`` means the same as in :class:`EdgeAdd`) or :math:`k = \mathrm{round}(r \cdot
    N(N-1)/2)` (``relative_to='pairs'``). The result is symmetric with no self loops; the
    edges that are not flipped keep their weights.

    PyG has no edge-flip utility; the flip is an XOR on the dense (N, N) adjacency
    (:func:`~torch_geometric.utils.to_dense_adj` / :func:`~torch_geometric.utils.dense_to_sparse`),
    cheap at hand-graph sizes (tens to hundreds of nodes).

    One disturbed graph is drawn per call and shared by the batch; ``x`` is unchanged.

    Args:
        ratio: number of flipped pairs relative to ``relative_to``, in [0, 1].
        relative_to: ``'edges'`` or ``'pairs'``.
    """

    def __init__(self, ratio: float = 0.1, relative_to: str = 'edges'):
        super().__init__()
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'EdgeFlip.ratio must be in [0, 1], got {ratio}')
        if relative_to not in ('edges', 'pairs'):
            raise ValueError(f"EdgeFlip.relative_to must be 'edges' or 'pairs', "
                             f"got {relative_to!r}")
        self.ratio = ratio
        self.relative_to = relative_to

    def num_flips(self, num_nodes: int, num_edges: int) -> int:
        """Number of pairs flipped for a graph of ``num_edges`` directed edges."""
        num_pairs = num_nodes * (num_nodes - 1) // 2
        base = num_edges // 2 if self.relative_to == 'edges' else num_pairs
        return min(int(round(self.ratio * base)), num_pairs)

    def disturb(self, g: Graph) -> Graph:
        num_nodes = g.x.size(1)
        weight = edge_weight_or_ones(g)
        adj = to_dense_adj(g.edge_index, edge_attr=weight, max_num_nodes=num_nodes)[0]
        rows, cols = torch.triu_indices(num_nodes, num_nodes, offset=1, device=adj.device)
        k = self.num_flips(num_nodes, g.edge_index.size(1))
        pick = torch.randperm(rows.numel(), device=adj.device)[:k]
        r, c = rows[pick], cols[pick]
        flipped = (adj[r, c] == 0).to(adj.dtype)  # 1 where a non-edge becomes an edge
        adj[r, c] = flipped
        adj[c, r] = flipped
        edge_index, weight = dense_to_sparse(adj)
        return Graph(g.x, edge_index, weight)

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}, relative_to={self.relative_to!r}'
