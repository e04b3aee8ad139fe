"""The output contract of a disturber, checked where DGCLNet calls it.

A disturber from a plugin that returns the wrong thing would otherwise fail deep inside the
decoder or a head (or, for an asymmetric graph, not at all); this check names the plugin
class and what it returned in one line.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor
from torch_geometric.utils import is_undirected

from gclhand.utils.build import ConfigError, class_name

from .base import Graph

CONTRACT = ('see the contract of gclhand.models.disturbers.Disturber (docs/api/'
            'disturbers.md)')


class DisturberContractError(ConfigError):
    """A disturber returned something that breaks the contract of :class:`Disturber`."""


def _describe(obj) -> str:
    if isinstance(obj, Tensor):
        return f'a {type(obj).__name__} {tuple(obj.shape)} {obj.dtype}'
    return f'a {class_name(obj)}'


def _edge_problem(out: Graph, n: int, device: torch.device,
                  node_mask: Optional[Tensor]) -> Optional[str]:
    """What is wrong with ``out``'s graph for ``n`` nodes, or ``None``."""
    ei, ew = out.edge_index, out.edge_weight
    if not isinstance(ei, Tensor) or ei.dim() != 2 or ei.size(0) != 2 \
            or ei.dtype != torch.long:
        return f'edge_index {_describe(ei)} (expected int64 (2, E))'
    if ei.device != device:
        return f'edge_index on {ei.device} for x on {device}'
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        return (f'edge_index with node ids in [{int(ei.min())}, {int(ei.max())}] for '
                f'{n} nodes')
    if bool((ei[0] == ei[1]).any()):
        return f'edge_index with {int((ei[0] == ei[1]).sum())} self loop(s)'
    if ew is not None:
        if not isinstance(ew, Tensor) or tuple(ew.shape) != (ei.size(1),) \
                or not ew.is_floating_point():
            return f'edge_weight {_describe(ew)} for {ei.size(1)} edges (expected float (E,))'
        if ew.device != device:
            return f'edge_weight on {ew.device} for x on {device}'
        if not bool(torch.isfinite(ew).all()):
            return 'non-finite edge_weight'
    if not is_undirected(ei, ew, num_nodes=n):
        return 'an asymmetric graph (an edge i->j without j->i of the same weight)'
    if node_mask is not None:
        padding = (~node_mask)[ei].any(0)
        if bool(padding.any()):
            nodes = sorted(set(ei[:, padding].flatten().tolist()) - set(
                node_mask.nonzero().flatten().tolist()))
            return f'edges to padding node(s) {nodes[:5]} (they must stay isolated)'
    return None


def check_disturber_output(disturber: nn.Module, out, g: Graph) -> None:
    """Raise one :class:`DisturberContractError` line if ``out`` breaks the contract.

    Args:
        disturber: the module that was called (named in the message).
        out: what it returned for the input ``g``.
        g: the input :class:`Graph` (``x`` (M, N, C), the clean graph, ``node_mask``).

    The graph checks run only when the disturber changed the graph (returned other
    ``edge_index``/``edge_weight`` objects than it was given).
    """
    name = class_name(disturber)

    def fail(what: str):
        raise DisturberContractError(f'disturber {name} (model.dgcl.disturber) returned '
                                     f'{what}; {CONTRACT}')

    if not isinstance(out, Graph):
        fail(f'{_describe(out)} instead of a Graph')
    x = out.x
    if not isinstance(x, Tensor):
        fail(f'x as {_describe(x)}')
    if x.shape != g.x.shape:
        fail(f'x of shape {tuple(x.shape)} for an input of shape {tuple(g.x.shape)} '
             '(M samples, N nodes, C channels must be kept)')
    if x.dtype != g.x.dtype:
        fail(f'x of dtype {x.dtype} for input of dtype {g.x.dtype}')
    if x.device != g.x.device:
        fail(f'x on {x.device} for input on {g.x.device}')
    if out.edge_index is g.edge_index and out.edge_weight is g.edge_weight:
        return
    problem = _edge_problem(out, g.x.size(1), g.x.device, g.node_mask)
    if problem is not None:
        fail(problem)
