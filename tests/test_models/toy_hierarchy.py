"""A tiny graph hierarchy of rings for decoder and DGCL tests (the attributes the decoder
reads from ``gclhand.hand.GraphHierarchy``)."""
import types
from typing import Optional, Sequence

import torch
from torch_geometric.utils import to_undirected


def ring(n: int, num_real: Optional[int] = None) -> torch.Tensor:
    """Undirected ring over the first ``num_real`` of ``n`` nodes; the rest stay isolated
    (padding nodes, as in the real hierarchy)."""
    real = n if num_real is None else num_real
    i = torch.arange(real)
    return to_undirected(torch.stack([i, (i + 1) % real]), num_nodes=n)


def ring_hierarchy(num_nodes: Sequence[int], num_real: Optional[Sequence[int]] = None,
                   weighted: bool = False) -> types.SimpleNamespace:
    """Levels of rings; node i of level l+1 copies node i // 2 of level l; a fixed random
    row-stochastic map from the finest level to 778 vertices. ``weighted``: a seeded random
    weight in [0.5, 1.5) per *directed* edge (not symmetric), else unit weights."""
    num_real = num_real or [None] * len(num_nodes)
    ups = []
    for n0, n1 in zip(num_nodes[:-1], num_nodes[1:]):
        up = torch.zeros(n1, n0)
        up[torch.arange(n1), torch.arange(n1) // 2] = 1
        ups.append(up)
    mesh = torch.rand(778, num_nodes[-1], generator=torch.Generator().manual_seed(0))
    edges = [ring(n, r) for n, r in zip(num_nodes, num_real)]
    weights = [torch.rand(e.size(1), generator=torch.Generator().manual_seed(n)) + 0.5
               if weighted else torch.ones(e.size(1)) for n, e in zip(num_nodes, edges)]
    return types.SimpleNamespace(num_nodes=list(num_nodes), edge_index=edges,
                                 edge_weight=weights,
                                 upsample=ups, mesh_upsample=mesh / mesh.sum(1, keepdim=True))
