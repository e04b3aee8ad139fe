"""DGCL's learned disturber ``F_gen``: a graph U-Net (HandDGCL eq. 1, Gao & Ji, ICML 2019)."""
from typing import List, Optional, Tuple, Union

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GraphUNet

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph, edge_weight_or_ones


@DISTURBERS.register_module()
class GraphUNetDisturber(Disturber):
    r"""Regenerate the graph features through a graph U-Net: :math:`\hat{\mathbf{G}} =
    F_{gen}(\mathbf{G})` (HandDGCL eq. 1).

    :class:`torch_geometric.nn.GraphUNet` (GCN convolutions, gPool = ``TopKPooling`` down,
    gUnpool up, skip connections between matching levels) runs on the M samples as one
    disconnected batch graph, so top-k pooling keeps ``ratio`` of the nodes of *each*
    sample.  The batch graph (the shared graph replicated M times, with its ``batch``
    vector) is :meth:`torch_geometric.data.Batch.from_data_list`'s, built once and reused
    while the input graph (same tensor objects) and M stay the same: building it costs
    ~0.4 ms against ~0.03 ms for a hand-written ``repeat`` + offsets, both negligible next
    to the U-Net's ~50+ ms forward + backward (M = 32, N = 63, C = 128, 2 CPU threads), so
    the library's batching is used and the cache removes the per-step construction. It
    works with plain PyTorch (no torch-scatter / pyg-lib needed; checked with PyG 2.8).

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
        self._batch_key: Optional[Tuple] = None
        self._batch: Optional[Batch] = None

    def reset_parameters(self) -> None:
        self.unet.reset_parameters()

    def disturb(self, g: Graph) -> Graph:
        x = g.x
        m, n, c = x.shape
        if c != self.channels:
            raise ValueError(f'GraphUNetDisturber was built with channels={self.channels} '
                             f'but the graph features have {c}; set '
                             f'model.dgcl.disturber.channels={c}')
        batch = self.batch_graph(g, m)
        # fp32 with autocast off: GraphUNet squares the sparse adjacency (augment_adj), and
        # the CPU sparse kernels have no bf16/fp16 (training with --amp raised otherwise)
        with torch.autocast(x.device.type, enabled=False):
            out = self.unet(x.float().reshape(m * n, c), batch.edge_index, batch=batch.batch,
                            edge_weight=batch.edge_weight)
        return g._replace(x=out.to(x.dtype).view(m, n, c))

    def batch_graph(self, g: Graph, m: int) -> Batch:
        """The block-diagonal batch graph of ``m`` copies of ``g``'s graph (cached)."""
        key = (g.edge_index, g.edge_weight, m, g.x.dtype)
        old = self._batch_key
        if old is None or old[0] is not key[0] or old[1] is not key[1] or old[2:] != key[2:]:
            one = Data(edge_index=g.edge_index, edge_weight=edge_weight_or_ones(g),
                       num_nodes=g.x.size(1))
            self._batch = Batch.from_data_list([one] * m)
            self._batch_key = key
        return self._batch
