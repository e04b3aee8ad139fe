"""The disturber interface of DGCLNet (HandDGCL section 3.2), modelled on PyGCL's augmentors.

A disturber maps a batch of graph features that share one graph structure to a disturbed
batch: ``G_hat = F_gen(G)`` (eq. 1) for the learned generator, or one of the explicit graph
disturbances (EGD: feature mask, feature noise, added edges, flipped edges).
"""
from abc import ABCMeta, abstractmethod
from typing import NamedTuple, Optional

import torch
import torch.nn as nn
from torch import Tensor


class Graph(NamedTuple):
    """A batch of graph features on one shared graph.

    Attributes:
        x: (M, N, C) node features, M samples (hands) of N nodes with C channels.
        edge_index: (2, E) LongTensor, the graph shared by all M samples.
        edge_weight: (E,) edge weights or ``None`` (all ones).
        node_mask: (N,) bool, ``True`` for the real nodes, ``False`` for the padding (fake)
            nodes of the graph hierarchy (docs/internals.md); ``None``: every node is real.
            Edge disturbers never wire a padding node into the graph.
    """
    x: Tensor
    edge_index: Tensor
    edge_weight: Optional[Tensor]
    node_mask: Optional[Tensor] = None

    def unfold(self):
        """Return ``(x, edge_index, edge_weight)``."""
        return self.x, self.edge_index, self.edge_weight


class Disturber(nn.Module, metaclass=ABCMeta):
    """Base class of the graph disturbers (``G_hat = F_gen(G)``, HandDGCL eq. 1).

    Subclasses implement :meth:`disturb`. Calling a disturber takes
    ``(x, edge_index, edge_weight=None, node_mask=None)`` with ``x`` of shape (M, N, C) and
    returns a :class:`Graph` (:func:`~gclhand.models.disturbers.check_disturber_output`
    lists the contract DGCLNet checks at each call). Feature disturbers draw independent
    randomness per sample and return the input ``edge_index``/``edge_weight`` objects
    unchanged (identity, not copies), so callers can test ``out.edge_index is edge_index``
    to know the structure was kept. Edge disturbers draw **one** disturbed graph per call,
    shared by the whole batch, because the decoder's graph convolution runs every sample on
    one graph (``graph_override``); they return ``x`` unchanged and add or remove edges only
    between real nodes (``node_mask``). Disturbers never modify their inputs in place and
    pass ``node_mask`` on.
    """

    @abstractmethod
    def disturb(self, g: Graph) -> Graph:
        """Return the disturbed graph batch."""

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                node_mask: Optional[Tensor] = None) -> Graph:
        """Disturb a batch.

        Args:
            x: (M, N, C) graph features.
            edge_index: (2, E) graph shared by the batch, symmetric, no self loops.
            edge_weight: (E,) or ``None``.
            node_mask: (N,) bool real-node mask or ``None`` (all nodes real).

        Returns:
            Graph: ``x`` (M, N, C), ``edge_index`` (2, E'), ``edge_weight`` (E',) or
            ``None``, the same ``node_mask``.
        """
        if x.dim() != 3:
            raise ValueError(f'{type(self).__name__} expects graph features of shape '
                             f'(M, N, C), got {tuple(x.shape)}; reshape (B, 2, N, C) hand '
                             'features with x.flatten(0, 1)')
        return self.disturb(Graph(x, edge_index, edge_weight, node_mask))


def edge_weight_or_ones(g: Graph) -> Tensor:
    """The graph's edge weights, ones of dtype ``x.dtype`` when it has none."""
    if g.edge_weight is not None:
        return g.edge_weight
    return g.x.new_ones(g.edge_index.size(1))


def real_nodes(g: Graph) -> Tensor:
    """Indices (R,) of the real nodes of ``g`` (all N nodes when it has no ``node_mask``)."""
    if g.node_mask is None:
        return torch.arange(g.x.size(1), device=g.x.device)
    return g.node_mask.nonzero().flatten()
