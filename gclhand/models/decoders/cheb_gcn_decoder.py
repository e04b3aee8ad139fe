"""Hierarchical Chebyshev GCN decoder: coarse graph features -> 778 MANO vertices per hand.

HandDGCL section 3 / Fig. 2 ("the main GCN"): Chebyshev spectral graph convolutions
(Defferrard et al., NeurIPS 2016) over a hierarchy of coarsened hand-mesh graphs with fixed
Laplacians, upsampled coarse -> fine by fixed matrices and finally mapped linearly onto the
778 MANO vertices ("up sample layer ... in standard MANO way").  As in the IntagHand baseline
(Li et al., CVPR 2022) an image-attention and a cross-hand-attention block can follow each
level; both are switches in the config.

Both hands go through the same convolutions in one call and one shared graph serves every
sample, so no Python loop runs over samples or nodes.  The graph operator is applied in one
of three ways that compute the same function with the same parameters (to float rounding,
< 1e-5; a speed setting only):

* ``laplacian='csr'`` (default): node features are laid out **node-major**, ``(N, M, C)``
  with ``M = B * 2``, so every fixed graph matrix (the scaled Laplacian, the level-to-level
  copy, the mesh upsampling) multiplies one ``(N, M * C)`` matrix in a single call instead of
  ``M`` broadcast batched products; the Laplacian is a sparse CSR matrix (a hand graph has
  ~5 neighbours per node, so a dense ``(N, N)`` product does ~50x the work at N = 252) and
  the copy to the next level is a row gather.
* ``laplacian='dense'``: the same node-major layout with a dense ``(N, N)`` Laplacian (what
  ONNX export and other back ends without sparse kernels can run).
* ``laplacian='sparse'``: PyG's message passing (:class:`~torch_geometric.nn.ChebConv` with
  ``node_dim=-2``) on ``(M, N, C)``, the reference implementation.

``docs/benchmarks.md`` has the measured costs.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch_geometric.nn import ChebConv
from torch_geometric.utils import to_dense_adj

from gclhand.hand.graph import LAMBDA_MAX, scaled_laplacian
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


LAPLACIAN_MODES = ('csr', 'dense', 'sparse')


def dense_scaled_laplacian(edge_index: torch.Tensor, edge_weight: Optional[torch.Tensor],
                           num_nodes: int, lambda_max: float = LAMBDA_MAX) -> torch.Tensor:
    r"""The dense operator that :class:`~torch_geometric.nn.ChebConv` applies (``'sym'``).

    .. math::
        \tilde L = \frac{2}{\lambda_{max}} (I - D^{-1/2} A D^{-1/2}) - I

    built from :func:`gclhand.hand.graph.scaled_laplacian` (the library's one definition,
    also :meth:`GraphHierarchy.scaled_laplacian`), with ``A[i, j]`` the summed weight of
    edges ``i -> j`` (self loops dropped) and ``D = diag(A 1)``; isolated nodes get
    ``D^{-1/2} = 0``.  PyG's message passing sends ``x_i`` along ``i -> j``, i.e. computes
    :math:`\tilde L^\top x`, so the **transpose** is returned: ``out = P @ x`` then equals
    PyG's propagation exactly, for directed graphs too.

    Args:
        edge_index: ``(2, E)`` long.
        edge_weight: ``(E,)`` or ``None`` (ones).
        num_nodes: ``N``.
        lambda_max: eigenvalue bound (default :data:`~gclhand.hand.graph.LAMBDA_MAX` = 2,
            exact for the symmetric normalised Laplacian's spectrum).

    Returns:
        ``(N, N)`` float tensor ``P = \tilde L^\top`` on ``edge_index``'s device.
    """
    if edge_weight is not None:
        edge_weight = edge_weight.float()
    ei, ew = scaled_laplacian(edge_index, edge_weight, num_nodes, lambda_max)
    return to_dense_adj(ei, edge_attr=ew, max_num_nodes=num_nodes)[0].t().contiguous()


def cheb_conv(conv: ChebConv, x: torch.Tensor, apply_op: Callable) -> torch.Tensor:
    r"""``ChebConv``'s filter :math:`\sum_{k<K} \Theta_k T_k(\tilde L) x + b` with ``conv``'s own
    weights, the operator given as a function ``apply_op(t) = \tilde L t`` (on the node axis of
    ``t``, whatever the layout), the channels last: ``(..., C_in) -> (..., C_out)``.

    Chebyshev recursion: ``T_0 x = x``, ``T_1 x = P x``, ``T_k x = 2 P T_{k-1} x - T_{k-2} x``.
    """
    tx0 = x
    out = conv.lins[0](tx0)
    if len(conv.lins) > 1:
        tx1 = apply_op(x)
        out = out + conv.lins[1](tx1)
        for lin in conv.lins[2:]:
            tx2 = 2.0 * apply_op(tx1) - tx0
            out = out + lin(tx2)
            tx0, tx1 = tx1, tx2
    if conv.bias is not None:
        out = out + conv.bias
    return out


def cheb_conv_dense(conv: ChebConv, x: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
    r""":func:`cheb_conv` with a dense operator ``lap`` ``(N, N)`` (from
    :func:`dense_scaled_laplacian`) for ``x`` of shape ``(M, N, C_in)`` -> ``(M, N, C_out)``."""
    lap = lap.to(x.dtype)  # no-op in fp32; under autocast matmul casts anyway
    return cheb_conv(conv, x, lambda t: torch.matmul(lap, t))


def node_major_op(matrix: torch.Tensor) -> Callable:
    """``t (N, M, C) -> (matrix @ t.view(N, M * C)).view(N', M, C)`` for a dense or sparse
    CSR ``matrix`` ``(N', N)``: one matrix product for every sample and channel.

    A sparse product runs in fp32 with autocast off (CPU's sparse kernels have no bf16 /
    fp16, and it is a small share of the work), its result cast back to ``t``'s dtype: in
    fp32 that is the plain product, under AMP it is what the dense path gives to rounding.
    """
    def apply(t: torch.Tensor) -> torch.Tensor:
        flat = t.reshape(t.shape[0], -1)
        if matrix.layout == torch.sparse_csr:
            with torch.autocast(flat.device.type, enabled=False):
                out = torch.sparse.mm(matrix, flat.float()).to(flat.dtype)
        else:
            out = torch.matmul(matrix.to(flat.dtype), flat)
        return out.view(matrix.shape[0], *t.shape[1:])
    return apply


class ChebResBlock(nn.Module):
    """``x <- act(x + LN(Cheb(act(LN(Cheb(x))))))`` on one graph level.

    Shapes: with ``apply_op`` (a function applying the level's scaled Laplacian on the node
    axis, e.g. :func:`node_major_op`) ``x`` is in that function's layout with channels last
    (the decoder passes node-major ``(N, M, C)``); without it ``x`` is ``(M, N, C)`` and the
    graph goes through PyG's message passing as ``edge_index`` ``(2, E)`` + ``edge_weight``.
    Same result, same parameters.
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
                apply_op: Optional[Callable] = None) -> torch.Tensor:
        if apply_op is not None:
            y = self.act(self.norm1(cheb_conv(self.conv1, x, apply_op)))
            y = self.norm2(cheb_conv(self.conv2, y, apply_op))
            return self.act(x + y)
        # the library's operator bound (gclhand.hand.graph.LAMBDA_MAX); passing it saves
        # ChebConv a reduction per call
        y = self.act(self.norm1(self.conv1(x, edge_index, edge_weight, lambda_max=LAMBDA_MAX)))
        y = self.norm2(self.conv2(y, edge_index, edge_weight, lambda_max=LAMBDA_MAX))
        return self.act(x + y)


def _copy_rows(upsample: torch.Tensor) -> Optional[torch.Tensor]:
    """The parent index of each row when ``upsample`` is a 0/1 copy matrix with exactly one
    1 per row (then ``upsample @ x == x[parent]``), else ``None``."""
    ones = upsample == 1
    if not bool(((upsample == 0) | ones).all()) or not bool((ones.sum(1) == 1).all()):
        return None
    return ones.float().argmax(1)


@DECODERS.register_module()
class ChebGCNDecoder(nn.Module):
    """IntagHand-style GCN decoder over a coarse -> fine hand-mesh graph hierarchy.

    For each level ``l`` (coarse first): ``num_blocks`` :class:`ChebResBlock` of Chebyshev
    order ``K`` (the filter is :math:`\\sum_{k<K} \\theta_k T_k(\\tilde L) x` with
    :math:`\\tilde L = 2L/\\lambda_{max} - I`, ``L`` the symmetric-normalised Laplacian of the
    level's mesh graph), then optionally :class:`ImageAttention` to one encoder map and
    :class:`CrossHandAttention`; between levels the fixed copy matrix ``upsample[l]`` and a
    linear map ``C_l -> C_{l+1}``.  A per-hand linear head gives 3D node offsets on the
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
        laplacian: how the graph operator is applied (module docstring): ``'csr'``
            (default; node-major layout, sparse CSR Laplacian, row-gather level copies),
            ``'dense'`` (node-major, dense matrices; for exporters without sparse kernels)
            or ``'sparse'`` (PyG message passing).  Same parameters and outputs (to float
            rounding); the choice is a speed setting only and can be changed on a built
            decoder with :meth:`set_laplacian`.  A ``graph_override`` is converted to the
            mode's operator per call.

    Shapes (``forward``):
        - G: ``(B, 2, N0, C0)`` graph features on the coarsest level.
        - feats: list of encoder maps ``(B, C_i, H_i, W_i)``, fine -> coarse.
        - graph_override: optional ``(edge_index (2, E'), edge_weight (E',) or None)`` that
          replaces level 0's graph (edge disturbers of DGCL).
        - returns ``dict(verts=(B, 2, 778, 3), nodes=(B, 2, N_fine, 3),
          node_feats=(B, 2, N_fine, C_fine))``.

    Attributes:
        mesh_node_index: ``(R,)`` long, the finest level's nodes with a nonzero column in
            ``mesh_upsample`` (the hierarchy's padding nodes have none); DGCL's graph
            readout averages ``node_feats`` over these.
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
                 laplacian: str = 'csr'):
        super().__init__()
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
            parent = _copy_rows(up)
            self.register_buffer(f'upsample_parent_{lvl}', parent, persistent=False)
        self.register_buffer('mesh_upsample', _as_tensor(graph.mesh_upsample, torch.float),
                             persistent=False)
        # the finest level's nodes that reach the mesh (a padding node's column is zero):
        # what DGCL's readout averages over (gclhand.models.contrast.mesh_node_feats)
        self.register_buffer('mesh_node_index',
                             self.mesh_upsample.abs().sum(0).nonzero().flatten(),
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
        self._csr_cache: Dict[str, Tuple[torch.Tensor, int, torch.Tensor]] = {}
        self.set_laplacian(laplacian)

    def set_laplacian(self, mode: str) -> 'ChebGCNDecoder':
        """Switch how the graph operators are applied (a speed setting; same function)."""
        if mode not in LAPLACIAN_MODES:
            raise ValueError(f"ChebGCNDecoder.laplacian (model.decoder.laplacian) must be one "
                             f"of {LAPLACIAN_MODES}, got {mode!r}")
        self.laplacian = mode
        return self

    def graph(self, level: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(edge_index, edge_weight)`` of ``level`` (its adjacency, symmetric)."""
        return getattr(self, f'edge_index_{level}'), getattr(self, f'edge_weight_{level}')

    def _matrix(self, dense: torch.Tensor, name: Optional[str] = None) -> torch.Tensor:
        """The mode's form of a fixed graph matrix: sparse CSR in ``'csr'`` mode, else dense.

        ``name``: the buffer ``dense`` is, whose CSR form is cached; ``None`` for a matrix
        made for one call.

        The CSR form is not a buffer (sparse buffers would not survive DDP's buffer broadcast
        or a state-dict round trip on every back end) but a cache kept beside the module,
        made from the dense buffer and reused while that buffer is the same tensor at the
        same version: the conversion costs ~0.25 ms a matrix, ~1 ms of a ~19 ms decoder call
        at batch 1 (paper scale, 1 thread), and a training step calls the decoder three
        times.  Moving the module, loading a state dict into the buffer or a DDP broadcast
        (in-place copies bump the version) make it again; copies and pickles start empty.
        """
        if self.laplacian != 'csr':
            return dense
        if name is None:  # a matrix made for this call only (an edge disturber's graph)
            return dense.to_sparse_csr()
        hit = self._csr_cache.get(name)
        if hit is None or hit[0] is not dense or hit[1] != dense._version:
            hit = self._csr_cache[name] = (dense, dense._version, dense.to_sparse_csr())
        return hit[2]

    def __getstate__(self):
        state = super().__getstate__()
        return dict(state, _csr_cache={})

    def _node_op(self, level: int, graph_override=None) -> Callable:
        """Node-major operator of ``level``'s scaled Laplacian (``graph_override`` on 0)."""
        name = f'laplacian_{level}'
        lap = getattr(self, name)
        if level == 0 and graph_override is not None:
            edge_index, edge_weight = self.graph(0)
            if not (graph_override[0] is edge_index and graph_override[1] is edge_weight):
                lap, name = dense_scaled_laplacian(graph_override[0], graph_override[1],
                                                   self.num_nodes[0]), None
        return node_major_op(self._matrix(lap, name))

    def _next_level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        """Level ``level`` -> ``level + 1`` node-major features: the fixed copy matrix and
        the linear map ``C_l -> C_{l+1}``.  When every row copies one parent the copy is a
        row gather, and it commutes with the (row-wise) linear map: map the coarse nodes,
        then copy - the same numbers with half the rows through the linear map."""
        parent = getattr(self, f'upsample_parent_{level}')
        if parent is not None and self.laplacian == 'csr':
            return self.transitions[level](x).index_select(0, parent)
        return self.transitions[level](node_major_op(getattr(self, f'upsample_{level}'))(x))

    def forward(self, G: torch.Tensor, feats: List[torch.Tensor],
                graph_override: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]] = None
                ) -> Dict[str, torch.Tensor]:
        B, H, N, C = G.shape
        if (H, N, C) != (2, self.num_nodes[0], self.in_channels):
            raise ValueError(f'ChebGCNDecoder expects G of shape (B, 2, {self.num_nodes[0]}, '
                             f'{self.in_channels}), got {tuple(G.shape)}')
        if self.laplacian == 'sparse':
            return self._forward_message_passing(G, feats, graph_override)
        x = G.permute(2, 0, 1, 3).reshape(N, B * H, C)       # node-major (N, M, C)
        for lvl in range(self.num_levels):
            op = self._node_op(lvl, graph_override)
            for block in self.blocks[lvl]:
                x = block(x, None, None, op)
            if self.img_attn is not None or self.hand_attn is not None:
                n = self.num_nodes[lvl]
                x4 = x.view(n, B, H, -1).permute(1, 2, 0, 3)
                x4 = self._attend(lvl, x4, feats)
                x = x4.permute(2, 0, 1, 3).reshape(n, B * H, -1)
            if lvl < self.num_levels - 1:
                x = self._next_level(lvl, x)
        n = self.num_nodes[-1]
        x = x.view(n, B, H, self.out_channels)
        nodes = torch.einsum('nbhc,hcd->nbhd', x, self.head_weight) + self.head_bias[:, 0]
        mesh = node_major_op(self._matrix(self.mesh_upsample, 'mesh_upsample'))
        verts = mesh(nodes.reshape(n, B * H, 3)).view(-1, B, H, 3).permute(1, 2, 0, 3)
        return dict(verts=verts + self.template, nodes=nodes.permute(1, 2, 0, 3),
                    node_feats=x.permute(1, 2, 0, 3).contiguous())

    def _attend(self, lvl: int, x4: torch.Tensor, feats: List[torch.Tensor]) -> torch.Tensor:
        """Image and cross-hand attention of level ``lvl`` on ``(B, 2, N, C)``."""
        if self.img_attn is not None:
            x4 = self.img_attn[lvl](x4, feats[self.attn_feat_index[lvl]])
        if self.hand_attn is not None:
            x4 = self.hand_attn[lvl](x4)
        return x4

    def _forward_message_passing(self, G, feats, graph_override):
        """The reference path (``laplacian='sparse'``): PyG's ChebConv on ``(M, N, C)``."""
        B, H, N, C = G.shape
        x = G.reshape(B * H, N, C)
        for lvl in range(self.num_levels):
            edge_index, edge_weight = self.graph(lvl)
            if lvl == 0 and graph_override is not None:
                edge_index, edge_weight = graph_override
            for block in self.blocks[lvl]:
                x = block(x, edge_index, edge_weight)
            if self.img_attn is not None or self.hand_attn is not None:
                x4 = self._attend(lvl, x.view(B, H, self.num_nodes[lvl], -1), feats)
                x = x4.reshape(B * H, self.num_nodes[lvl], -1)
            if lvl < self.num_levels - 1:
                x = self.transitions[lvl](torch.matmul(getattr(self, f'upsample_{lvl}'), x))
        node_feats = x.view(B, H, self.num_nodes[-1], self.out_channels)
        nodes = torch.einsum('bhnc,hcd->bhnd', node_feats, self.head_weight) + self.head_bias
        verts = torch.matmul(self.mesh_upsample, nodes) + self.template  # (778, N) @ (B,2,N,3)
        return dict(verts=verts, nodes=nodes, node_feats=node_feats)
