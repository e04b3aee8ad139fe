"""Readout + projector: one normalised embedding per hand for the contrastive losses."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP
from torch_geometric.nn.aggr import MeanAggregation

from gclhand.registry import MODELS


def mesh_node_feats(decoder: nn.Module, node_feats: Tensor) -> Tensor:
    """The decoder's node features at the nodes that reach the mesh.

    A graph hierarchy with padding nodes (IntagHand's coarsening adds isolated ones: 29 of
    the finest level's 252) gives them features that no vertex reads; the contrast
    compares hands by their mesh's nodes only (eq. 3, 5: ``G_k`` is the hand's graph
    feature).  A decoder lists those nodes in ``mesh_node_index``
    (:class:`~gclhand.models.decoders.ChebGCNDecoder` does); without it every node counts.

    Shapes:
        node_feats ``(..., N_f, C_f)`` -> ``(..., R, C_f)``.
    """
    index = getattr(decoder, 'mesh_node_index', None)
    if index is None or index.numel() == node_feats.size(-2):
        return node_feats
    return node_feats.index_select(-2, index)


@MODELS.register_module()
class GraphReadoutProjector(nn.Module):
    r"""Mean readout over nodes, then an MLP projector, then L2 normalisation.

    DGCLNet passes the decoder's last level at the nodes that reach the mesh
    (:func:`mesh_node_feats`), so :math:`N` here excludes the hierarchy's padding nodes.

    .. math::
        \mathbf{z}_m = \frac{g(\bar{\mathbf{h}}_m)}{\|g(\bar{\mathbf{h}}_m)\|}, \qquad
        \bar{\mathbf{h}}_m = \frac{1}{N} \sum_n \mathbf{H}_m[n]

    Section 3.2 compares graph features ``G_k`` of whole hands (eq. 3, 5) and normalises
    them; a mean over nodes (PyG's :class:`~torch_geometric.nn.aggr.MeanAggregation` over
    the node axis) gives a permutation-invariant vector per hand-sample, and the
    small projector :math:`g` (Linear-ReLU-Linear, as SimCLR/MoCo v2) keeps the contrastive
    geometry out of the decoder's features.

    Args:
        in_channels: C_f, channels of the decoder's node features.
        hidden_channels: hidden width of the projector (ignored when ``num_layers`` is 1).
        out_channels: D, embedding size.
        num_layers: number of linear layers.

    Shapes:
        (M, N, C_f) -> (M, D), unit rows.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 128, out_channels: int = 64,
                 num_layers: int = 2):
        super().__init__()
        channels: Sequence[int] = [in_channels] + [hidden_channels] * (num_layers - 1) \
            + [out_channels]
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.readout = MeanAggregation()
        self.mlp = MLP(channels, norm=None, act='relu')

    def forward(self, node_feats: Tensor) -> Tensor:
        if node_feats.dim() != 3 or node_feats.size(-1) != self.in_channels:
            raise ValueError(f'GraphReadoutProjector expects (M, N, {self.in_channels}) '
                             f'node features, got {tuple(node_feats.shape)}; set '
                             f"model.dgcl.projector.in_channels to the decoder's output channels")
        return F.normalize(self.mlp(self.readout(node_feats, dim=1).squeeze(1)), dim=-1)
