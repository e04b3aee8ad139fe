"""A disturber's output is checked where DGCLNet calls it (gclhand/models/disturbers/contract.py).

Each case is a plugin-style disturber that returns one wrong thing; DGCLNet must raise one
line that names the plugin class and what it returned (issue 15.5), before the decoder sees
it. The decoder and DGCLNet are the real ones (test_dgcl.py's tiny hierarchy).
"""
import types

import pytest
import torch
from torch_geometric.utils import coalesce

from gclhand.models.disturbers import (Disturber, DisturberContractError, Graph,
                                       check_disturber_output)
from gclhand.registry import MODELS
from test_dgcl import NUM_NODES, PADDING, dgcl_cfg, inputs, make_decoder, one_thread  # noqa: F401

N = NUM_NODES[0]


class PluginDisturber(Disturber):
    """Stands in for a third-party disturber that returns ``self.make(g)``."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def disturb(self, g: Graph):
        return self.make(g)


def graph_with(g, edges, weight=None):
    return g._replace(edge_index=edges, edge_weight=weight)


def sym_n(pairs, n):
    e = torch.tensor(pairs).t()
    return coalesce(torch.cat([e, e.flip(0)], 1), num_nodes=n)


def sym(pairs):
    return sym_n(pairs, N)


CASES = {  # case: (what the plugin returns, exactly what the message says it returned)
    'bare tensor': (lambda g: g.x, 'a Tensor (6, 6, 8) torch.float32 instead of a Graph'),
    'tuple': (lambda g: (g.x, g.edge_index), 'a builtins.tuple instead of a Graph'),
    'namespace': (lambda g: types.SimpleNamespace(x=g.x),
                  'a types.SimpleNamespace instead of a Graph'),
    'node count': (lambda g: g._replace(x=g.x[:, :4]),
                   'x of shape (6, 4, 8) for an input of shape (6, 6, 8) (M samples, N nodes, '
                   'C channels must be kept)'),
    'channels': (lambda g: g._replace(x=g.x[..., :5]),
                 'x of shape (6, 6, 5) for an input of shape (6, 6, 8) (M samples, N nodes, '
                 'C channels must be kept)'),
    'layout': (lambda g: g._replace(x=g.x.transpose(1, 2)),
               'x of shape (6, 8, 6) for an input of shape (6, 6, 8) (M samples, N nodes, '
               'C channels must be kept)'),
    'batch': (lambda g: g._replace(x=g.x[:3]),
              'x of shape (3, 6, 8) for an input of shape (6, 6, 8) (M samples, N nodes, '
              'C channels must be kept)'),
    'x not a tensor': (lambda g: g._replace(x=g.x.tolist()), 'x as a builtins.list'),
    'dtype': (lambda g: g._replace(x=g.x.double()),
              'x of dtype torch.float64 for input of dtype torch.float32'),
    'device': (lambda g: g._replace(x=g.x.to('meta')), 'x on meta for input on cpu'),
    'float edge_index': (lambda g: graph_with(g, g.edge_index.float()),
                         'edge_index a Tensor (2, 10) torch.float32 (expected int64 (2, E))'),
    'edge_index shape': (lambda g: graph_with(g, g.edge_index[0]),
                         'edge_index a Tensor (10,) torch.int64 (expected int64 (2, E))'),
    'edge_index rows': (lambda g: graph_with(g, torch.cat([g.edge_index, g.edge_index[:1]])),
                        'edge_index a Tensor (3, 10) torch.int64 (expected int64 (2, E))'),
    'edge_index list': (lambda g: graph_with(g, g.edge_index.tolist()),
                        'edge_index a builtins.list (expected int64 (2, E))'),
    'edge_index device': (lambda g: graph_with(g, g.edge_index.to('meta')),
                          'edge_index on meta for x on cpu'),
    'out of range': (lambda g: graph_with(g, sym([[0, 1], [1, 6]])),
                     'edge_index with node ids in [0, 6] for 6 nodes'),
    'negative id': (lambda g: graph_with(g, torch.tensor([[0, -1], [-1, 0]])),
                    'edge_index with node ids in [-1, 0] for 6 nodes'),
    'self loop': (lambda g: graph_with(g, torch.tensor([[0, 1, 2], [1, 0, 2]])),
                  'edge_index with 1 self loop(s)'),
    'asymmetric': (lambda g: graph_with(g, torch.tensor([[0, 1, 1], [1, 0, 2]])),
                   'an asymmetric graph (an edge i->j without j->i of the same weight)'),
    'asymmetric weight': (lambda g: graph_with(g, torch.tensor([[0, 1], [1, 0]]),
                                               torch.tensor([1.0, 2.0])),
                          'an asymmetric graph (an edge i->j without j->i of the same weight)'),
    'new weights only': (lambda g: g._replace(edge_weight=torch.arange(10.0)),
                         'an asymmetric graph (an edge i->j without j->i of the same weight)'),
    'weight length': (lambda g: graph_with(g, sym([[0, 1]]), torch.ones(3)),
                      'edge_weight a Tensor (3,) torch.float32 for 2 edges (expected float '
                      '(E,))'),
    'integer weight': (lambda g: graph_with(g, sym([[0, 1]]), torch.ones(2, dtype=torch.long)),
                       'edge_weight a Tensor (2,) torch.int64 for 2 edges (expected float '
                       '(E,))'),
    'weight device': (lambda g: graph_with(g, sym([[0, 1]]), torch.ones(2, device='meta')),
                      'edge_weight on meta for x on cpu'),
    'non-finite weight': (lambda g: graph_with(g, sym([[0, 1]]),
                                               torch.tensor([float('nan')] * 2)),
                          'non-finite edge_weight'),
    'padding node': (lambda g: graph_with(g, sym([[0, 1], [1, PADDING]])),
                     'edges to padding node(s) [5] (they must stay isolated)'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_disturber_output_is_one_line_naming_the_plugin(case):
    make, returned = CASES[case]
    dec = make_decoder()
    dgcl = MODELS.build(dgcl_cfg(disturber=PluginDisturber(make)))
    G, feats, _ = inputs()
    with pytest.raises(DisturberContractError) as info:
        dgcl.decode(G, feats, dec, dec.graph(0))
    assert str(info.value) == (f'disturber {__name__}.PluginDisturber (model.dgcl.disturber) '
                               f'returned {returned}; see the contract of gclhand.models.'
                               'disturbers.Disturber (docs/api/disturbers.md)')


def test_padding_nodes_listed_up_to_five():
    n = 12
    x = torch.randn(2, n, 3)
    mask = torch.arange(n) < 4
    ring = sym_n([[0, 1], [1, 2], [2, 3], [3, 0]], n)
    bad = sym_n([[0, 1], [1, 2], [2, 3], [3, 0]] + [[0, p] for p in range(4, 11)], n)
    with pytest.raises(DisturberContractError,
                       match=r'returned edges to padding node\(s\) \[4, 5, 6, 7, 8\] \(they'):
        check_disturber_output(PluginDisturber(None), Graph(x, bad, None, mask),
                               Graph(x, ring, None, mask))


@pytest.mark.parametrize('make', [
    lambda g: g,  # identity
    lambda g: g._replace(x=g.x * 2),  # feature disturber
    lambda g: g._replace(edge_index=g.edge_index.clone()),  # same graph, new objects
    lambda g: graph_with(g, sym([[0, 1], [2, 3]]), torch.ones(4)),  # new symmetric graph
])
def test_good_outputs_pass(make):
    x = torch.randn(6, N, 8)
    ei = sym([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]])
    mask = torch.arange(N) != PADDING
    g = Graph(x, ei, None, mask)
    check_disturber_output(PluginDisturber(make), make(g), g)


def test_checks_are_skipped_when_the_graph_is_kept():
    """Feature disturbers return the input graph objects: nothing to check there."""
    x = torch.randn(6, N, 8)
    odd = torch.tensor([[0], [1]])  # asymmetric, but it is the caller's own graph
    g = Graph(x, odd, None)
    check_disturber_output(PluginDisturber(lambda g: g), g._replace(x=x + 1), g)
