"""Attention blocks placed between the GCN decoder's levels (IntagHand, Li et al. CVPR 2022).

IntagHand refines the graph-node features of each level with (i) attention to image-feature
tokens (its "pose-aware attention") and (ii) attention to the other hand's nodes (its
"cross-hand attention").  Both are written as pre-norm transformer blocks whose attention
holds its parameters in :class:`torch.nn.MultiheadAttention` (state-dict compatible) and
computes it batch-first (:meth:`_AttentionBlock.multi_head_attention`).  Image attention
takes both hands' nodes as one query sequence per image; cross-hand attention batches the
two hands along the leading axis.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class _AttentionBlock(nn.Module):
    """``x <- x + MHA(LN(x), kv, kv)``; ``x <- x + FFN(LN(x))``  (pre-norm transformer)."""

    def __init__(self, channels: int, num_heads: int = 4, ffn_ratio: float = 2.0,
                 dropout: float = 0.0):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'attention channels ({channels}) must be divisible by '
                             f'num_heads ({num_heads})')
        self.norm_q = nn.LayerNorm(channels)
        # the parameters' container; the computation is multi_head_attention()
        self.attn = nn.MultiheadAttention(channels, num_heads, dropout=dropout,
                                          batch_first=True)
        self.norm_ffn = nn.LayerNorm(channels)
        hidden = int(channels * ffn_ratio)
        self.ffn = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                                 nn.Linear(hidden, channels))

    def attend(self, x: torch.Tensor, kv: torch.Tensor,
               x_normed: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x`` ``(M, L, C)`` attends to ``kv`` ``(M, S, C)``; ``x_normed``: ``norm_q(x)``
        when the caller already has it."""
        q = self.norm_q(x) if x_normed is None else x_normed
        x = x + self.multi_head_attention(q, kv)
        return x + self.ffn(self.norm_ffn(x))

    def multi_head_attention(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        """``self.attn(q, kv, kv, need_weights=False)[0]`` computed batch-first.

        The same projections (``attn.in_proj_weight`` split into query and key/value
        parts, as :func:`torch.nn.functional.multi_head_attention_forward` does when key
        is value), the same :func:`~torch.nn.functional.scaled_dot_product_attention` and
        output projection; written out because ``nn.MultiheadAttention`` transposes
        batch-first inputs to sequence-first and back, copying them (~15% of the
        decoder's attention time at batch 8 on CPU).  ``q`` ``(M, L, C)``, ``kv``
        ``(M, S, C)`` -> ``(M, L, C)``.
        """
        attn = self.attn
        C, heads = attn.embed_dim, attn.num_heads
        w_q, w_kv = attn.in_proj_weight.split([C, 2 * C])
        b_q, b_kv = attn.in_proj_bias.split([C, 2 * C])
        M, L, S = q.shape[0], q.shape[1], kv.shape[1]
        q = F.linear(q, w_q, b_q).view(M, L, heads, C // heads).transpose(1, 2)
        k, v = F.linear(kv, w_kv, b_kv).view(M, S, 2, heads, C // heads).unbind(2)
        out = F.scaled_dot_product_attention(
            q, k.transpose(1, 2), v.transpose(1, 2),
            dropout_p=attn.dropout if self.training else 0.0)
        return attn.out_proj(out.transpose(1, 2).reshape(M, L, C))


class ImageAttention(_AttentionBlock):
    """Graph nodes attend to the tokens of one encoder feature map.

    Args:
        channels: node feature width ``C``.
        feat_channels: channels ``C_f`` of the attended feature map (projected to ``C``).
        num_heads, ffn_ratio, dropout: transformer settings.

    Shapes:
        - x: ``(B, 2, N, C)`` node features of both hands.
        - feat: ``(B, C_f, H, W)`` feature map; its ``H*W`` tokens are shared by both hands.
        - output: ``(B, 2, N, C)``.
    """

    def __init__(self, channels: int, feat_channels: int, num_heads: int = 4,
                 ffn_ratio: float = 2.0, dropout: float = 0.0):
        super().__init__(channels, num_heads, ffn_ratio, dropout)
        self.proj = nn.Sequential(nn.Linear(feat_channels, channels), nn.LayerNorm(channels))
        # learned position of each token is what lets a node pick a region of the image
        self.pos = nn.Linear(2, channels)
        self._grids: Dict[Tuple, torch.Tensor] = {}

    def token_grid(self, h: int, w: int, device: torch.device,
                   dtype: torch.dtype) -> torch.Tensor:
        """``(1, h*w, 2)`` token centres in [-1, 1] (y, x), row-major; a constant, made
        once per size / device / dtype."""
        key = (h, w, device, dtype)
        grid = self._grids.get(key)
        if grid is None:
            ys = torch.linspace(-1, 1, h, device=device, dtype=dtype)
            xs = torch.linspace(-1, 1, w, device=device, dtype=dtype)
            grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1).view(1, h * w, 2)
            self._grids[key] = grid
        return grid

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        B, H, N, C = x.shape
        h, w = feat.shape[-2:]
        lin, norm = self.proj
        # self.proj on the tokens, with its Linear computed as W F on the map's own
        # (C_f, h*w) layout: the token-major F^T that nn.Linear takes would be copied whole
        # first (C_f * h*w floats an image, e.g. 2 MiB at 512 x 32 x 32); only the
        # C-channel result is transposed
        tokens = torch.baddbmm(lin.bias[:, None], lin.weight.expand(B, -1, -1),
                               feat.flatten(2))
        tokens = norm(tokens.transpose(1, 2))  # (B, h*w, C)
        tokens = tokens + self.pos(self.token_grid(h, w, feat.device, feat.dtype))
        # both hands' nodes form one query sequence over the image's tokens: attention is
        # per query, so this equals one sequence per hand with the tokens copied, but the
        # tokens' keys/values are projected once per image instead of once per hand
        return self.attend(x.reshape(B, H * N, C), tokens).view(B, H, N, C)


class CrossHandAttention(_AttentionBlock):
    """Each hand's nodes attend to the other hand's nodes (IntagHand's cross-hand attention).

    Shapes:
        - x: ``(B, 2, N, C)``; output ``(B, 2, N, C)``.  Hand ``h`` uses hand ``1 - h`` as keys
          and values; the block is symmetric in the two hands (shared weights).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, N, C = x.shape
        if H != 2:
            raise ValueError(f'CrossHandAttention needs 2 hands on axis 1, got shape {x.shape}')
        x_normed = self.norm_q(x)  # LayerNorm is per node: the keys are the queries flipped
        kv = x_normed.flip(1).reshape(B * H, N, C)
        return self.attend(x.reshape(B * H, N, C), kv,
                           x_normed.reshape(B * H, N, C)).view(B, H, N, C)
