"""Hand split: image features -> per-hand graph features on the coarsest mesh graph.

HandDGCL Fig. 2 / DESIGN.md section 1.2: "the feature is divided into left hand and right hand
via positional embedding. Both of the hand features are further processed by two independent
MLP layers, and build up the graph feature".

Choice made here (the paper gives no sizes): as in IntagHand, the split starts from the
*pooled global* feature of the coarsest encoder stage (spatial detail reaches the decoder
later through its image-attention blocks).  For hand ``h``

.. math::
    \\mathbf{G}_h = \\mathrm{reshape}_{N_0 \\times C_0}\\big(
        \\mathrm{MLP}_h(\\mathrm{GAP}(F) + \\mathbf{p}_h)\\big) + \\mathbf{E}_h

with ``p_h`` a learned hand embedding (the positional embedding that separates left from
right) and ``E_h`` a learned per-node embedding that gives every node a distinct start.
"""
from typing import List

import torch
import torch.nn as nn

from gclhand.registry import NECKS


@NECKS.register_module()
class HandSplit(nn.Module):
    """Global feature -> left/right graph features ``G`` of shape ``(B, 2, N0, C0)``.

    Args:
        in_channels: channels of the last encoder stage (2048 for ResNet-50).
        num_nodes: ``N0``, nodes of the coarsest graph level.
        out_channels: ``C0``, the decoder's level-0 feature width.
        hidden_channels: width of the hidden layer of each hand's MLP.
        dropout: dropout before the output layer.

    Shapes:
        - feats: list of encoder maps, fine -> coarse; only ``feats[-1]`` ``(B, C, h, w)``
          is used.
        - output: ``(B, 2, N0, C0)``, hand axis ordered (left, right).
    """

    def __init__(self, in_channels: int, num_nodes: int, out_channels: int,
                 hidden_channels: int = 512, dropout: float = 0.0):
        super().__init__()
        self.num_nodes = num_nodes
        self.out_channels = out_channels
        self.hand_embed = nn.Parameter(torch.zeros(2, in_channels))
        self.node_embed = nn.Parameter(torch.zeros(2, num_nodes, out_channels))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.ReLU(inplace=True),
                          nn.Dropout(dropout), nn.Linear(hidden_channels,
                                                         num_nodes * out_channels))
            for _ in range(2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.hand_embed, std=0.02)
        nn.init.normal_(self.node_embed, std=0.02)

    def forward(self, feats: List[torch.Tensor]) -> torch.Tensor:
        g = feats[-1].mean(dim=(2, 3))  # (B, C) global average pool
        hands = [mlp(g + self.hand_embed[h]) for h, mlp in enumerate(self.mlps)]
        G = torch.stack(hands, 1).view(g.shape[0], 2, self.num_nodes, self.out_channels)
        return G + self.node_embed
