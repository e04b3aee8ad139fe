"""DGCL's learned disturber ``F_gen``: a graph U-Net (HandDGCL eq. 1, Gao & Ji, ICML 2019)."""
from typing import List, Union

import torch
from torch import Tensor
from torch_geometric.nn import GraphUNet

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph, edge_weight_or_ones


@DISTURBERS.register_module()
class GraphUNetDisturber(Disturber):
    r"""Regenerate the graph features through a graph U-Net: :math:`\hat{\mathbf{G}} =
    F_{gen}(\mathbf{G})` (HandDGCL eq. 1).

    :class:`torch_geometric.nn.GraphUNet` (GCN convolutions, gPool = ``TopKPooling`` down,
    gUnpool up, skip connections between matching levels) runs on the M samples as one
    disconnected batch graph (the shared graph replicated M times, ``batch`` vector per
    sample), so top-k pooling keeps ``ratio`` of the nodes of *each* sample.  It works with
    plain PyTorch (no torch-scatter / pyg-lib needed; checked with PyG 2.8).

    There is no identity path from input to output (:math:`\hat{\mathbf{G}} \ne \mathbf{G}
    + f(\mathbf{G})`): every output is produced by graph convolutions, part of it through the
    pooled bottleneck, so :math:`\hat{\mathbf{G}}` is close to :math:`\mathbf{G}` only as
    far as training (the consistency loss, eq. 4/10, and the self contrast, eq. 3/13) makes
    it, and cannot copy it exactly; this is the "disturbance" of section 3.2.  The module is
    learned: its parameters receive gradient from the DGCL losses.

    Args:
        channels: C, input and output feature channels (the decoder input's C0).
        hidden_channels: channels inside the U-Net (default ``channels``).
        depth: number of pooling levels of the bottleneck.
        pool_ratios: node ratio kept by each pooling (float, or one per level).
        sum_res: combine skip connections by sum (``True``) or concatenation.
        act: activation name (see :class:`~torch_geometric.nn.GraphUNet`).

    Shapes:
        x: (M, N, C) -> (M, N, C); the graph is returned unchanged.
    """

    def __init__(self, channels: int, hidden_channels: int = None, depth: int = 2,
                 pool_ratios: Union[float, List[float]] = 0.5, sum_res: bool = True,
                 act: str = 'relu'):
        super().__init__()
        if depth < 1:
            raise ValueError(f'GraphUNetDisturber.depth must be >= 1, got {depth}')
        self.channels = channels
        self.unet = GraphUNet(channels, hidden_channels or channels, channels, depth=depth,
                              pool_ratios=pool_ratios, sum_res=sum_res, act=act)

    def reset_parameters(self) -> None:
        self.unet.reset_parameters()

    def disturb(self, g: Graph) -> Graph:
        x = g.x
        m, n, c = x.shape
        if c != self.channels:
            raise ValueError(f'GraphUNetDisturber was built with channels={self.channels} '
                             f'but the graph features have {c}; set '
                             f'model.dgcl.disturber.channels={c}')
        edge_index, edge_weight = self._replicate(g.edge_index, edge_weight_or_ones(g), m, n)
        batch = torch.arange(m, device=x.device).repeat_interleave(n)
        out = self.unet(x.reshape(m * n, c), edge_index, batch=batch, edge_weight=edge_weight)
        return Graph(out.view(m, n, c), g.edge_index, g.edge_weight)

    @staticmethod
    def _replicate(edge_index: Tensor, edge_weight: Tensor, m: int, n: int):
        """Block-diagonal batch graph: ``m`` copies of an ``n``-node graph."""
        offsets = torch.arange(m, device=edge_index.device).repeat_interleave(
            edge_index.size(1)) * n
        return edge_index.repeat(1, m) + offsets, edge_weight.repeat(m)
