"""PyG's :class:`~torch_geometric.nn.GraphUNet` evaluated on dense adjacency matrices.

Why by hand: :class:`~torch_geometric.nn.GraphUNet` runs on one sparse batch graph; each call
squares the batch adjacency with a sparse product (``augment_adj``), sorts the scores of all
M * N nodes and filters the edge list, all on the CPU's sparse and scatter kernels. DGCL
disturbs M = 2B hands that share one small graph (N0 = 63 nodes at the main job's size), so
the same network is a few batched dense products: on 2 CPU threads the U-Net's forward +
backward falls from ~30 ms to ~3 ms per step (``tools/benchmark.py --profile``, M = 64,
N0 = 63, C0 = 64; docs/benchmarks.md). PyG's ``DenseGCNConv`` has parameters of its own and
*sets* the self-loop weight, so these functions apply the :class:`GraphUNet`'s own
``GCNConv`` and ``TopKPooling`` parameters instead: a checkpoint trained either way loads
in the other, and ``tests/test_models/test_disturbers.py`` checks both give the same
output and gradients.

Adjacency convention: ``adj[..., i, j]`` is the weight of the edge ``j -> i`` (target,
source), so ``adj @ x`` aggregates each target's incoming messages as PyG's
``source_to_target`` flow does.
"""
from typing import List, Tuple

import torch
from torch import Tensor
from torch_geometric.nn import GCNConv, GraphUNet, TopKPooling


def dense_adjacency(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tuple[Tensor,
                                                                                          Tensor]:
    """The graph as a dense matrix without self loops, and its self-loop weights.

    Args:
        edge_index: (2, E) source, target.
        edge_weight: (E,) weights; parallel edges add up (as PyG's scatter does).
        num_nodes: N.

    Returns:
        ``(adj, loops)``: ``adj`` (N, N) with a zero diagonal, ``loops`` (N,) the weight of
        each node's self loop, NaN where it has none (``GCNConv`` keeps an existing self
        loop's weight and adds ``fill`` = 2 (``improved``) where there is none).
    """
    adj = edge_weight.new_zeros(num_nodes, num_nodes)
    adj.index_put_((edge_index[1], edge_index[0]), edge_weight, accumulate=True)
    has_loop = torch.zeros(num_nodes, dtype=torch.bool, device=adj.device)
    has_loop[edge_index[0][edge_index[0] == edge_index[1]]] = True
    loops = torch.where(has_loop, adj.diagonal(), torch.full_like(adj.diagonal(), float('nan')))
    return adj.fill_diagonal_(0), loops


def gcn_conv(conv: GCNConv, x: Tensor, adj: Tensor, loops: Tensor = None) -> Tensor:
    r"""``conv(x, edge_index, edge_weight)`` on a dense graph (Kipf & Welling, 2017).

    :math:`\mathbf{X}' = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2}
    \mathbf{X} \mathbf{\Theta} + \mathbf{b}` with :math:`\hat{\mathbf{A}} = \mathbf{A} +
    \text{diag}(\text{loops})`, a missing loop weighing 2 (``improved``) or 1.

    Args:
        conv: the ``GCNConv`` whose ``lin`` and ``bias`` are applied.
        x: (M, n, C_in).
        adj: (n, n) shared or (M, n, n) per-sample adjacency with a zero diagonal.
        loops: (n,) self-loop weights, NaN where none (``None``: no node has one).

    Returns:
        (M, n, C_out).
    """
    fill = 2.0 if conv.improved else 1.0
    diag = adj.new_full(adj.shape[-1:], fill) if loops is None else loops.nan_to_num(fill)
    a_hat = adj + torch.diag_embed(diag.expand(adj.shape[:-1]))
    deg_inv_sqrt = a_hat.sum(-1).pow(-0.5)
    deg_inv_sqrt = deg_inv_sqrt.masked_fill(deg_inv_sqrt == float('inf'), 0.0)
    a_norm = deg_inv_sqrt.unsqueeze(-1) * a_hat * deg_inv_sqrt.unsqueeze(-2)
    out = a_norm @ conv.lin(x)
    return out if conv.bias is None else out + conv.bias


def square_adjacency(adj: Tensor) -> Tensor:
    r"""``GraphUNet.augment_adj``: :math:`(\mathbf{A} + \mathbf{I})^2` without its diagonal.

    Args:
        adj: (..., n, n) with a zero diagonal.
    """
    a = adj + torch.eye(adj.size(-1), dtype=adj.dtype, device=adj.device)
    return (a @ a).diagonal_scatter(adj.new_zeros(adj.shape[:-1]), dim1=-2, dim2=-1)


def topk_pool(pool: TopKPooling, x: Tensor, adj: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    r"""``TopKPooling`` (gPool, Gao & Ji 2019) of each sample on a dense graph.

    :math:`y = \tanh(\mathbf{X}\mathbf{p} / \|\mathbf{p}\|)`, keep the
    :math:`k = \lceil \text{ratio} \cdot n \rceil` nodes of largest :math:`y` per sample,
    :math:`\mathbf{X}' = \mathbf{X}_{idx} \odot y_{idx}`, :math:`\mathbf{A}' =
    \mathbf{A}_{idx, idx}`.

    Args:
        pool: the ``TopKPooling`` (``min_score=None``) whose ``select`` weight is applied.
        x: (M, n, C).
        adj: (n, n) shared or (M, n, n).

    Returns:
        ``(x (M, k, C), adj (M, k, k), idx (M, k))``.
    """
    select = pool.select
    if select.min_score is not None:
        raise ValueError('GraphUNetDisturber(impl="dense") supports TopKPooling with a ratio '
                         'only (min_score=None), as GraphUNet builds it')
    m, n, c = x.shape
    score = select.act((x * select.weight).sum(-1) / select.weight.norm(p=2, dim=-1))
    ratio = select.ratio
    # PyG's topk computes k in the features' float type; so does this, for equal rounding
    k = int(ratio) if ratio >= 1 else int(torch.tensor(float(ratio) * n, dtype=x.dtype).ceil())
    kept, idx = score.topk(k, dim=1)
    x = x.gather(1, idx.unsqueeze(-1).expand(m, k, c)) * kept.unsqueeze(-1)
    x = pool.multiplier * x if pool.multiplier != 1 else x
    if adj.dim() == 2:
        adj = adj[idx.unsqueeze(-1), idx.unsqueeze(-2)]
    else:
        rows = adj.gather(1, idx.unsqueeze(-1).expand(m, k, n))
        adj = rows.gather(2, idx.unsqueeze(1).expand(m, k, k))
    return x, adj, idx


def graph_unet(unet: GraphUNet, x: Tensor, adj: Tensor, loops: Tensor = None) -> Tensor:
    """``unet(x, edge_index, batch, edge_weight)`` for M samples of one shared graph.

    The steps of ``GraphUNet.forward`` (Gao & Ji, ICML 2019), per sample: GCN, then per
    level adjacency squaring, top-k pooling and GCN; up the levels, unpooling into zeros,
    skip connection (sum or concatenation) and GCN, with the activation after every
    convolution but the last.

    Args:
        unet: the :class:`~torch_geometric.nn.GraphUNet` whose parameters are applied.
        x: (M, N, C_in).
        adj, loops: :func:`dense_adjacency` of the shared graph, (N, N) and (N,).

    Returns:
        (M, N, C_out).
    """
    x = unet.act(gcn_conv(unet.down_convs[0], x, adj, loops))
    xs: List[Tensor] = [x]
    adjs: List[Tensor] = [adj]
    idxs: List[Tensor] = []
    for i in range(1, unet.depth + 1):
        x, adj, idx = topk_pool(unet.pools[i - 1], x, square_adjacency(adj))
        x = unet.act(gcn_conv(unet.down_convs[i], x, adj))
        if i < unet.depth:
            xs.append(x)
            adjs.append(adj)
        idxs.append(idx)
    for i in range(unet.depth):
        j = unet.depth - 1 - i
        res, idx = xs[j], idxs[j]
        up = torch.zeros_like(res).scatter(1, idx.unsqueeze(-1).expand_as(x), x)
        x = res + up if unet.sum_res else torch.cat((res, up), dim=-1)
        x = gcn_conv(unet.up_convs[i], x, adjs[j], loops if j == 0 else None)
        x = unet.act(x) if i < unet.depth - 1 else x
    return x
