"""Hierarchical Chebyshev GCN decoder: coarse graph features -> 778 MANO vertices per hand.

HandDGCL section 3 / Fig. 2 ("the main GCN"): Chebyshev spectral graph convolutions
(Defferrard et al., NeurIPS 2016) over a hierarchy of coarsened hand-mesh graphs with fixed
Laplacians, upsampled coarse -> fine by fixed matrices and finally mapped linearly onto the
778 MANO vertices ("up sample layer ... in standard MANO way").  As in the IntagHand baseline
(Li et al., CVPR 2022) an image-attention and a cross-hand-attention block can follow each
level; both are switches in the config.

Both hands go through the same convolutions in one call: node features are laid out as
``(B * 2, N, C)`` and one shared graph serves every sample, so no Python loop runs over
samples or nodes.  The graph operator is applied either as PyG's sparse message passing
(``laplacian='sparse'``: :class:`~torch_geometric.nn.ChebConv` with ``node_dim=-2``) or as a
dense ``(N, N)`` scaled-Laplacian matmul (``laplacian='dense'``, the default).  The two agree
to float rounding (< 1e-5) and share parameters; for the hand graphs (N <= 252) the dense form
is ~3-4x faster per convolution on CPU (forward + backward at batch 32, see
``docs/benchmarks.md``), because it skips the per-call Laplacian normalisation and the
gather/scatter of message passing.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch_geometric.nn import ChebConv
from torch_geometric.utils import remove_self_loops

from gclhand.registry import DECODERS
from .attention import CrossHandAttention, ImageAttention


def _as_tensor(x, dtype=None) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if t.is_sparse:
        t = t.to_dense()
    return t.to(dtype) if dtype is not None else t


def build_graph(graph: Union[dict, object]):
    """Return a graph hierarchy: ``graph`` itself, or one built from a config dict.

    A dict is ``dict(hand_model=dict(type='MANOHandModel', ...), num_nodes=(63, 126, 252),
    cache_dir=None)`` and goes through :func:`gclhand.hand.build_graph_hierarchy`.
    """
    if not isinstance(graph, dict):
        return graph
    from gclhand.hand import build_graph_hierarchy, build_hand_model
    cfg = dict(graph)
    hm = build_hand_model(cfg.pop('hand_model', dict(type='MANOHandModel')))
    return build_graph_hierarchy(hm, **cfg)


LAPLACIAN_MODES = ('dense', 'sparse')


def dense_scaled_laplacian(edge_index: torch.Tensor, edge_weight: Optional[torch.Tensor],
                           num_nodes: int, lambda_max: float = 2.0) -> torch.Tensor:
    r"""The dense operator that :class:`~torch_geometric.nn.ChebConv` applies (``'sym'``).

    .. math::
        \tilde L = \frac{2}{\lambda_{max}} (I - D^{-1/2} A D^{-1/2}) - I

    with ``A[i, j]`` the summed weight of edges ``i -> j`` (self loops dropped, as
    :func:`torch_geometric.utils.get_laplacian` does) and ``D = diag(A 1)``; isolated nodes get
    ``D^{-1/2} = 0``.  PyG's message passing sends ``x_i`` along ``i -> j``, i.e. computes
    :math:`\tilde L^\top x`, so the **transpose** is returned: ``out = P @ x`` then equals
    PyG's propagation exactly, for directed graphs too.

    Args:
        edge_index: ``(2, E)`` long.
        edge_weight: ``(E,)`` or ``None`` (ones).
        num_nodes: ``N``.
        lambda_max: largest eigenvalue bound used by the decoder (2 for ``'sym'``).

    Returns:
        ``(N, N)`` float tensor ``P = \tilde L^\top`` on ``edge_index``'s device.
    """
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight.float())
    adj = torch.zeros(num_nodes, num_nodes, device=edge_index.device)
    adj.index_put_((edge_index[0], edge_index[1]), edge_weight, accumulate=True)
    deg = adj.sum(1)
    d = torch.where(deg > 0, deg.clamp_min(1e-12).rsqrt(), torch.zeros_like(deg))
    eye = torch.eye(num_nodes, device=edge_index.device)
    lap = eye - d[:, None] * adj * d[None, :]
    return (lap * (2.0 / lambda_max) - eye).t().contiguous()


def cheb_conv_dense(conv: ChebConv, x: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
    r"""``ChebConv``'s filter :math:`\sum_{k<K} \Theta_k T_k(\tilde L) x + b` with a dense
    operator ``lap`` ``(N, N)`` (from :func:`dense_scaled_laplacian`) and ``conv``'s own
    weights, for ``x`` of shape ``(M, N, C_in)`` -> ``(M, N, C_out)``.

    Chebyshev recursion: ``T_0 x = x``, ``T_1 x = P x``, ``T_k x = 2 P T_{k-1} x - T_{k-2} x``.
    """
    lap = lap.to(x.dtype)  # no-op in fp32; under autocast matmul casts anyway
    tx0 = x
    out = conv.lins[0](tx0)
    if len(conv.lins) > 1:
        tx1 = torch.matmul(lap, x)
        out = out + conv.lins[1](tx1)
        for lin in conv.lins[2:]:
            tx2 = 2.0 * torch.matmul(lap, tx1) - tx0
            out = out + lin(tx2)
            tx0, tx1 = tx1, tx2
    if conv.bias is not None:
        out = out + conv.bias
    return out


class ChebResBlock(nn.Module):
    """``x <- act(x + LN(Cheb(act(LN(Cheb(x))))))`` on one graph level.

    Shapes: ``x`` ``(M, N, C)`` with ``M = B * 2`` graphs sharing one graph, given as
    ``edge_index`` ``(2, E)`` + ``edge_weight`` (sparse message passing) or, when ``lap`` is
    passed, as the dense ``(N, N)`` operator of :func:`dense_scaled_laplacian` (same result,
    same parameters).
    """

    def __init__(self, channels: int, K: int):
        super().__init__()
        self.conv1 = ChebConv(channels, channels, K, normalization='sym')
        self.norm1 = nn.LayerNorm(channels)
        self.conv2 = ChebConv(channels, channels, K, normalization='sym')
        self.norm2 = nn.LayerNorm(channels)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, edge_index: Optional[torch.Tensor],
                edge_weight: Optional[torch.Tensor],
                lap: Optional[torch.Tensor] = None) -> torch.Tensor:
        if lap is not None:
            y = self.act(self.norm1(cheb_conv_dense(self.conv1, x, lap)))
            y = self.norm2(cheb_conv_dense(self.conv2, y, lap))
            return self.act(x + y)
        # lambda_max=2 is exact for the symmetric-normalised Laplacian's bound and saves
        # ChebConv a reduction per call
        y = self.act(self.norm1(self.conv1(x, edge_index, edge_weight, lambda_max=2.0)))
        y = self.norm2(self.conv2(y, edge_index, edge_weight, lambda_max=2.0))
        return self.act(x + y)


@DECODERS.register_module()
class ChebGCNDecoder(nn.Module):
    """IntagHand-style GCN decoder over a coarse -> fine hand-mesh graph hierarchy.

    For each level ``l`` (coarse first): ``num_blocks`` :class:`ChebResBlock` of Chebyshev
    order ``K`` (the filter is :math:`\\sum_{k<K} \\theta_k T_k(\\tilde L) x` with
    :math:`\\tilde L = 2L/\\lambda_{max} - I`, ``L`` the symmetric-normalised Laplacian of the
    level's mesh graph), then optionally :class:`ImageAttention` to one encoder map and
    :class:`CrossHandAttention`; between levels the fixed copy matrix ``upsample[l]`` and a
    linear map ``C_l -> C_{l+1}`` (applied before the copy when ``upsample[l]`` has one 1
    per row, which gives the same numbers with half the rows).  A per-hand linear head gives 3D node offsets on the
    finest level, the fixed ``mesh_upsample`` (778, N_fine) maps them to the MANO vertices,
    and the (optional) rest-pose ``template`` is added.

    Units: vertices are in a *normalised* scale in which one unit is the hand's
    wrist-to-middle-MCP length (the 3D losses compare against ground truth divided by that
    length, HandDGCL section 3.4); the decoder does not fix the origin — the estimator
    subtracts the predicted root joint.

    Args:
        graph: a graph hierarchy (:func:`gclhand.hand.build_graph_hierarchy`) or its config
            (see :func:`build_graph`); its matrices become non-persistent buffers.
        channels: feature width per level, coarse -> fine, e.g. ``(256, 128, 64)``.
        K: Chebyshev order (number of polynomial terms).
        num_blocks: residual Chebyshev blocks per level.
        feat_channels: channels of the encoder's maps, fine -> coarse (needed for image
            attention), e.g. ``(256, 512, 1024, 2048)``.
        image_attention: add an image-attention block after each level.
        cross_hand_attention: add a cross-hand-attention block after each level.
        attn_feat_index: index into ``feats`` of the map each level attends to (default: the
            coarsest map for level 0, then finer ones).
        num_heads: attention heads.
        template: optional ``(2, 778, 3)`` rest-pose vertices of (left, right) in the output
            units, added to the predicted vertices so that training starts from a hand shape
            (the estimator passes the hand model's template); zeros when ``None``.
        laplacian: how the graph operator is applied: ``'dense'`` (default; a cached
            ``(N, N)`` scaled Laplacian per level, one batched matmul per Chebyshev term) or
            ``'sparse'`` (PyG message passing over ``edge_index``).  Same parameters and
            outputs (to float rounding); the choice is a speed setting only.  A
            ``graph_override`` is converted to its dense operator per call in dense mode.

    Shapes (``forward``):
        - G: ``(B, 2, N0, C0)`` graph features on the coarsest level.
        - feats: list of encoder maps ``(B, C_i, H_i, W_i)``, fine -> coarse.
        - graph_override: optional ``(edge_index (2, E'), edge_weight (E',) or None)`` that
          replaces level 0's graph (edge disturbers of DGCL).
        - returns ``dict(verts=(B, 2, 778, 3), nodes=(B, 2, N_fine, 3),
          node_feats=(B, 2, N_fine, C_fine))``.
    """

    def __init__(self,
                 graph: Union[dict, object],
                 channels: Sequence[int] = (256, 128, 64),
                 K: int = 3,
                 num_blocks: int = 1,
                 feat_channels: Optional[Sequence[int]] = None,
                 image_attention: bool = True,
                 cross_hand_attention: bool = True,
                 attn_feat_index: Optional[Sequence[int]] = None,
                 num_heads: int = 4,
                 template: Optional[torch.Tensor] = None,
                 laplacian: str = 'dense'):
        super().__init__()
        if laplacian not in LAPLACIAN_MODES:
            raise ValueError(f"ChebGCNDecoder.laplacian (model.decoder.laplacian) must be one "
                             f"of {LAPLACIAN_MODES}, got {laplacian!r}")
        self.laplacian = laplacian
        graph = build_graph(graph)
        self.num_nodes = [int(n) for n in graph.num_nodes]
        self.num_levels = len(self.num_nodes)
        if len(channels) != self.num_levels:
            raise ValueError(f'ChebGCNDecoder.channels has {len(channels)} entries but the '
                             f'graph hierarchy has {self.num_levels} levels {self.num_nodes}')
        self.channels = tuple(channels)
        self.in_channels = self.channels[0]
        self.out_channels = self.channels[-1]
        for lvl in range(self.num_levels):
            self.register_buffer(f'edge_index_{lvl}', _as_tensor(graph.edge_index[lvl],
                                                                 torch.long), persistent=False)
            self.register_buffer(f'edge_weight_{lvl}', _as_tensor(graph.edge_weight[lvl],
                                                                  torch.float), persistent=False)
            if laplacian == 'dense':
                self.register_buffer(
                    f'laplacian_{lvl}',
                    dense_scaled_laplacian(getattr(self, f'edge_index_{lvl}'),
                                           getattr(self, f'edge_weight_{lvl}'),
                                           self.num_nodes[lvl]), persistent=False)
        for lvl in range(self.num_levels - 1):
            up = _as_tensor(graph.upsample[lvl], torch.float)
            expected = (self.num_nodes[lvl + 1], self.num_nodes[lvl])
            if tuple(up.shape) != expected:
                raise ValueError(f'graph.upsample[{lvl}] has shape {tuple(up.shape)}, '
                                 f'expected {expected}')
            self.register_buffer(f'upsample_{lvl}', up, persistent=False)
            # a copy matrix (one 1 per row: IntagHand's 2:1 unpooling) is a row gather, and
            # then commutes with the next level's linear map: map the coarse nodes, then
            # copy (same numbers, half the rows through the linear map, no dense matmul)
            copies = bool(((up == 0) | (up == 1)).all() and (up.sum(1) == 1).all())
            self.register_buffer(f'upsample_index_{lvl}',
                                 up.argmax(1) if copies else None, persistent=False)
        self.register_buffer('mesh_upsample', _as_tensor(graph.mesh_upsample, torch.float),
                             persistent=False)
        num_verts = self.mesh_upsample.shape[0]
        template = torch.zeros(2, num_verts, 3) if template is None else _as_tensor(
            template, torch.float)
        if tuple(template.shape) != (2, num_verts, 3):
            raise ValueError(f'ChebGCNDecoder.template must be (2, {num_verts}, 3), '
                             f'got {tuple(template.shape)}')
        self.register_buffer('template', template, persistent=False)

        if image_attention and feat_channels is None:
            raise ValueError('ChebGCNDecoder(image_attention=True) needs feat_channels, the '
                             'encoder out_channels (the estimator passes them by default)')
        if attn_feat_index is None:
            n_feats = len(feat_channels) if feat_channels is not None else 4
            attn_feat_index = [max(n_feats - 1 - lvl, 0) for lvl in range(self.num_levels)]
        self.attn_feat_index = tuple(attn_feat_index)

        self.blocks = nn.ModuleList(
            nn.ModuleList(ChebResBlock(c, K) for _ in range(num_blocks)) for c in channels)
        self.img_attn = nn.ModuleList(
            ImageAttention(c, feat_channels[i], num_heads)
            for c, i in zip(channels, self.attn_feat_index)) if image_attention else None
        self.hand_attn = nn.ModuleList(
            CrossHandAttention(c, num_heads) for c in channels) if cross_hand_attention else None
        self.transitions = nn.ModuleList(
            nn.Linear(channels[i], channels[i + 1]) for i in range(self.num_levels - 1))
        # one xyz head per hand (weights (2, C, 3)): mirrored geometry need not be shared
        self.head_weight = nn.Parameter(torch.zeros(2, self.out_channels, 3))
        self.head_bias = nn.Parameter(torch.zeros(2, 1, 3))
        nn.init.normal_(self.head_weight, std=self.out_channels**-0.5 * 0.1)

    def graph(self, level: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(edge_index, edge_weight)`` of ``level`` (its adjacency, symmetric)."""
        return getattr(self, f'edge_index_{level}'), getattr(self, f'edge_weight_{level}')

    def _operator(self, level: int, graph_override=None):
        """``(edge_index, edge_weight, dense operator or None)`` used on ``level``."""
        edge_index, edge_weight = self.graph(level)
        if level == 0 and graph_override is not None:
            own = graph_override[0] is edge_index and graph_override[1] is edge_weight
            edge_index, edge_weight = graph_override
            if self.laplacian == 'dense' and not own:
                return edge_index, edge_weight, dense_scaled_laplacian(
                    edge_index, edge_weight, self.num_nodes[0])
        lap = getattr(self, f'laplacian_{level}') if self.laplacian == 'dense' else None
        return edge_index, edge_weight, lap

    def forward(self, G: torch.Tensor, feats: List[torch.Tensor],
                graph_override: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]] = None
                ) -> Dict[str, torch.Tensor]:
        B, H, N, C = G.shape
        if (H, N, C) != (2, self.num_nodes[0], self.in_channels):
            raise ValueError(f'ChebGCNDecoder expects G of shape (B, 2, {self.num_nodes[0]}, '
                             f'{self.in_channels}), got {tuple(G.shape)}')
        x = G.reshape(B * H, N, C)
        for lvl in range(self.num_levels):
            edge_index, edge_weight, lap = self._operator(lvl, graph_override)
            for block in self.blocks[lvl]:
                x = block(x, edge_index, edge_weight, lap)
            if self.img_attn is not None or self.hand_attn is not None:
                x4 = x.view(B, H, self.num_nodes[lvl], -1)
                if self.img_attn is not None:
                    x4 = self.img_attn[lvl](x4, feats[self.attn_feat_index[lvl]])
                if self.hand_attn is not None:
                    x4 = self.hand_attn[lvl](x4)
                x = x4.reshape(B * H, self.num_nodes[lvl], -1)
            if lvl < self.num_levels - 1:
                index = getattr(self, f'upsample_index_{lvl}')
                if index is not None:
                    x = self.transitions[lvl](x)[:, index]
                else:
                    x = self.transitions[lvl](torch.matmul(getattr(self, f'upsample_{lvl}'), x))
        node_feats = x.view(B, H, self.num_nodes[-1], self.out_channels)
        nodes = torch.einsum('bhnc,hcd->bhnd', node_feats, self.head_weight) + self.head_bias
        verts = torch.matmul(self.mesh_upsample, nodes) + self.template  # (778, N) @ (B,2,N,3)
        return dict(verts=verts, nodes=nodes, node_feats=node_feats)
