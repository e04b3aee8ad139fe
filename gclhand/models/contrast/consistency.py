"""Consistency head: pose from the disturbed graph features (HandDGCL eq. 4, 10)."""
from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor
from torch_geometric.nn import MLP

from gclhand.models.losses.utils import masked_mean
from gclhand.registry import CONTRAST_HEADS


@CONTRAST_HEADS.register_module()
class ConsistencyHead(nn.Module):
    r""":math:`\mathbf{J}_k = MLP(\hat{\mathbf{G}})` (eq. 4) and
    :math:`L_{consistent} = \|\mathbf{J}_k - \bar{\mathbf{J}}_k\|_1` (eq. 10).

    The disturbed graph features of one hand, (N0, C0), are flattened and mapped linearly
    (``hidden_channels=()``: one ``Linear``, the paper's "linear MLP"; hidden layers are
    optional) to its root-relative joints. This keeps pose information inside
    :math:`\hat{\mathbf{G}}` so that the disturbance does not destroy what the contrastive
    pair must share (section 3.2).

    Units: the targets are the root-relative joints of the main 3D losses (section 3.4,
    "aligned with a root joint and scaled by a length parameter"): divided by the hand's
    wrist-to-middle-MCP length, so that at the paper's λ5 = 1 this term weighs against the
    3D joint loss as the paper intends (in metres it would be ~11x weaker).

    Args:
        num_nodes: N0, nodes of the coarsest graph level.
        in_channels: C0, channels of the graph features.
        num_joints: joints per hand.
        hidden_channels: hidden widths (empty = linear map).

    Shapes:
        forward: (M, N0, C0) -> (M, num_joints, 3) (normalised units).
    """

    def __init__(self, num_nodes: int, in_channels: int, num_joints: int = 21,
                 hidden_channels: Sequence[int] = ()):
        super().__init__()
        self.num_nodes = num_nodes
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.mlp = MLP([num_nodes * in_channels, *hidden_channels, num_joints * 3],
                       norm=None, act='relu')

    def forward(self, graph_feats: Tensor) -> Tensor:
        if graph_feats.shape[1:] != (self.num_nodes, self.in_channels):
            raise ValueError(f'ConsistencyHead was built for graph features (M, {self.num_nodes}'
                             f', {self.in_channels}), got {tuple(graph_feats.shape)}; set '
                             'model.dgcl.consistency.num_nodes / in_channels to the coarsest '
                             "graph level's size and the hand split's output channels")
        return self.mlp(graph_feats.flatten(1)).view(-1, self.num_joints, 3)

    def loss(self, graph_feats: Tensor, gt_joints_rel: Tensor,
             valid: Optional[Tensor] = None) -> Tensor:
        """Unweighted L1 consistency loss.

        Args:
            graph_feats: (M, N0, C0) disturbed graph features.
            gt_joints_rel: (M, J, 3) root-relative ground-truth joints in units of the
                hand's wrist-to-middle-MCP length.
            valid: (M,) bool/0-1 mask of annotated hands, or ``None``.

        Returns:
            Scalar: mean absolute error over valid hands' joint coordinates (0 when none).
        """
        err = (self(graph_feats) - gt_joints_rel).abs().mean(dim=(1, 2))  # (M,)
        return masked_mean(err, valid)
