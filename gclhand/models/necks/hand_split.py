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

"All G are normalized before use" (HandDGCL section 3.2): with ``normalize='l2'`` (the
default) every node's feature vector is divided by its L2 norm, so ``G`` enters the decoder,
and DGCLNet's disturber, on the unit sphere in every Table 2 row; ``normalize=None``
switches it off.
"""
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from gclhand.registry import NECKS


@NECKS.register_module()
class HandSplit(nn.Module):
    """Global feature -> left/right graph features ``G`` of shape ``(B, 2, N0, C0)``.

    The two hands' MLPs (``Linear -> ReLU -> Dropout -> Linear``, independent weights) are
    stored stacked, ``weight1`` ``(2, C, hidden)`` and ``weight2`` ``(2, hidden, N0*C0)``,
    and run as one batched matmul (:func:`torch.baddbmm`) per layer: the same arithmetic as
    two ``nn.Linear`` stacks, with the weights in the ``(in, out)`` layout that a batch-1
    matrix-vector product reads fastest (these weights are most of the deployed model's
    non-encoder parameters: 18.6 M at the paper's sizes).  Checkpoints written with the
    earlier per-hand ``mlps.{h}.{0,3}`` ``nn.Linear`` keys load unchanged.

    Args:
        in_channels: channels of the last encoder stage (2048 for ResNet-50).
        num_nodes: ``N0``, nodes of the coarsest graph level.
        out_channels: ``C0``, the decoder's level-0 feature width.
        hidden_channels: width of the hidden layer of each hand's MLP.
        dropout: dropout before the output layer.
        normalize: ``'l2'`` (paper: "all G are normalized") or ``None``.

    Shapes:
        - feats: list of encoder maps, fine -> coarse; only ``feats[-1]`` ``(B, C, h, w)``
          is used.
        - output: ``(B, 2, N0, C0)``, hand axis ordered (left, right).
    """

    def __init__(self, in_channels: int, num_nodes: int, out_channels: int,
                 hidden_channels: int = 512, dropout: float = 0.0,
                 normalize: Optional[str] = 'l2'):
        super().__init__()
        if normalize not in ('l2', None):
            raise ValueError(f"HandSplit.normalize (model.hand_split.normalize) must be 'l2' "
                             f'or None, got {normalize!r}')
        self.normalize = normalize
        self.num_nodes = num_nodes
        self.out_channels = out_channels
        self.hand_embed = nn.Parameter(torch.zeros(2, in_channels))
        self.node_embed = nn.Parameter(torch.zeros(2, num_nodes, out_channels))
        # initialised as nn.Linear layers, in the order (left 1, left 2, right 1, right 2)
        layers = [nn.Linear(i, o) for _ in range(2)
                  for i, o in ((in_channels, hidden_channels),
                               (hidden_channels, num_nodes * out_channels))]
        self.weight1 = nn.Parameter(torch.stack([layers[0].weight.t(), layers[2].weight.t()]))
        self.bias1 = nn.Parameter(torch.stack([layers[0].bias, layers[2].bias])[:, None])
        self.weight2 = nn.Parameter(torch.stack([layers[1].weight.t(), layers[3].weight.t()]))
        self.bias2 = nn.Parameter(torch.stack([layers[1].bias, layers[3].bias])[:, None])
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.hand_embed, std=0.02)
        nn.init.normal_(self.node_embed, std=0.02)

    def forward(self, feats: List[torch.Tensor]) -> torch.Tensor:
        g = feats[-1].mean(dim=(2, 3))  # (B, C) global average pool
        x = g[None] + self.hand_embed[:, None]  # (2, B, C): hand h's input
        hidden = self.dropout(torch.relu(torch.baddbmm(self.bias1, x, self.weight1)))
        out = torch.baddbmm(self.bias2, hidden, self.weight2)  # (2, B, N0 * C0)
        G = out.transpose(0, 1).reshape(g.shape[0], 2, self.num_nodes, self.out_channels)
        G = G + self.node_embed
        return F.normalize(G, dim=-1) if self.normalize == 'l2' else G

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # earlier checkpoints: one nn.Sequential per hand, ``mlps.{h}.0`` / ``mlps.{h}.3``
        legacy = {f'{prefix}mlps.{h}.{layer}.{kind}' for h in range(2) for layer in (0, 3)
                  for kind in ('weight', 'bias')}
        if legacy <= set(state_dict):
            for n, layer in ((1, 0), (2, 3)):
                w = [state_dict.pop(f'{prefix}mlps.{h}.{layer}.weight') for h in range(2)]
                b = [state_dict.pop(f'{prefix}mlps.{h}.{layer}.bias') for h in range(2)]
                state_dict[f'{prefix}weight{n}'] = torch.stack([t.t() for t in w])
                state_dict[f'{prefix}bias{n}'] = torch.stack(b)[:, None]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
