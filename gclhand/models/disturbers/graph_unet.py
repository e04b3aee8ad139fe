"""DGCL's learned disturber ``F_gen``: a graph U-Net (HandDGCL eq. 1, Gao & Ji, ICML 2019)."""
from typing import List, Optional, Tuple, Union

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GraphUNet

from gclhand.registry import DISTURBERS
from .base import Disturber, Graph, edge_weight_or_ones
from .dense_graph_unet import dense_adjacency, graph_unet

IMPLS = ('dense', 'sparse')


def _same_graph_key(old: Optional[Tuple], key: Tuple) -> bool:
    """Cache keys ``(edge_index, edge_weight, *values)``: the same graph tensors (identity,
    not equality: comparing contents every call would cost what the cache saves) and
    equal values."""
    return (old is not None and old[0] is key[0] and old[1] is key[1]
            and old[2:] == key[2:])


@DISTURBERS.register_module()
class GraphUNetDisturber(Disturber):
    r"""Regenerate the graph features through a graph U-Net: :math:`\hat{\mathbf{G}} =
    F_{gen}(\mathbf{G})` (HandDGCL eq. 1).

    The network and its parameters are :class:`torch_geometric.nn.GraphUNet`'s (GCN
    convolutions, gPool = ``TopKPooling`` down, gUnpool up, skip connections between
    matching levels), applied to each of the M samples, so top-k pooling keeps ``ratio`` of
    the nodes of *each* sample. Two evaluations of the same network, chosen by ``impl``:

    - ``'dense'`` (default): the M samples share one small graph, so the U-Net runs as
      batched dense products over the ``GraphUNet``'s own parameters
      (:mod:`~gclhand.models.disturbers.dense_graph_unet`; ~10x cheaper on the CPU, see
      there); the dense adjacency is built once per graph.
    - ``'sparse'``: ``GraphUNet.forward`` itself on the M samples as one disconnected batch
      graph (:meth:`torch_geometric.data.Batch.from_data_list`, built once per graph and M).
      The reference the dense path is tested against.

    Both work with plain PyTorch (no torch-scatter / pyg-lib needed; checked with PyG 2.8).

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
        impl: ``'dense'`` or ``'sparse'`` (see above); the parameters are the same.

    Shapes:
        x: (M, N, C) -> (M, N, C); the graph is returned unchanged.
    """

    def __init__(self, channels: int, hidden_channels: int = None, depth: int = 2,
                 pool_ratios: Union[float, List[float]] = 0.5, sum_res: bool = True,
                 act: str = 'relu', impl: str = 'dense'):
        super().__init__()
        if depth < 1:
            raise ValueError(f'GraphUNetDisturber.depth must be >= 1, got {depth}')
        if impl not in IMPLS:
            raise ValueError(f'GraphUNetDisturber.impl must be one of {IMPLS}, got {impl!r}')
        self.impl = impl
        self.channels = channels
        self.unet = GraphUNet(channels, hidden_channels or channels, channels, depth=depth,
                              pool_ratios=pool_ratios, sum_res=sum_res, act=act)
        self._batch_key: Optional[Tuple] = None
        self._batch: Optional[Batch] = None
        self._dense_key: Optional[Tuple] = None
        self._dense: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    def reset_parameters(self) -> None:
        self.unet.reset_parameters()

    def disturb(self, g: Graph) -> Graph:
        x = g.x
        m, n, c = x.shape
        if c != self.channels:
            raise ValueError(f'GraphUNetDisturber was built with channels={self.channels} '
                             f'but the graph features have {c}; set '
                             f'model.dgcl.disturber.channels={c}')
        # fp32 with autocast off: the sparse path squares a sparse adjacency (augment_adj),
        # and the CPU sparse kernels have no bf16/fp16 (training with --amp raised otherwise);
        # the dense path follows so that both give the same numbers under autocast
        with torch.autocast(x.device.type, enabled=False):
            if self.impl == 'dense':
                out = graph_unet(self.unet, x.float(), *self.dense_graph(g))
            else:
                batch = self.batch_graph(g, m)
                out = self.unet(x.float().reshape(m * n, c), batch.edge_index,
                                batch=batch.batch, edge_weight=batch.edge_weight)
        return g._replace(x=out.to(x.dtype).view(m, n, c))

    def dense_graph(self, g: Graph) -> Tuple[torch.Tensor, torch.Tensor]:
        """``dense_adjacency`` of ``g``'s graph in fp32: (N, N) and (N,) (cached)."""
        key = (g.edge_index, g.edge_weight, g.x.size(1), g.x.device)
        if not _same_graph_key(self._dense_key, key):
            weight = edge_weight_or_ones(g).float()
            self._dense = dense_adjacency(g.edge_index, weight, g.x.size(1))
            self._dense_key = key
        return self._dense

    def batch_graph(self, g: Graph, m: int) -> Batch:
        """The block-diagonal batch graph of ``m`` copies of ``g``'s graph (cached)."""
        key = (g.edge_index, g.edge_weight, m, g.x.dtype)
        if not _same_graph_key(self._batch_key, key):
            one = Data(edge_index=g.edge_index, edge_weight=edge_weight_or_ones(g),
                       num_nodes=g.x.size(1))
            self._batch = Batch.from_data_list([one] * m)
            self._batch_key = key
        return self._batch
