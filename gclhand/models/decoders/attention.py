"""Attention blocks placed between the GCN decoder's levels (IntagHand, Li et al. CVPR 2022).

IntagHand refines the graph-node features of each level with (i) attention to image-feature
tokens (its "pose-aware attention") and (ii) attention to the other hand's nodes (its
"cross-hand attention").  Both are written as pre-norm transformer blocks on top of
:class:`torch.nn.MultiheadAttention`; the two hands are batched along the leading axis.
"""
import torch
import torch.nn as nn



class _AttentionBlock(nn.Module):
    """``x <- x + MHA(LN(x), kv, kv)``; ``x <- x + FFN(LN(x))``  (pre-norm transformer)."""

    def __init__(self, channels: int, num_heads: int = 4, ffn_ratio: float = 2.0,
                 dropout: float = 0.0):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'attention channels ({channels}) must be divisible by '
                             f'num_heads ({num_heads})')
        self.norm_q = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, num_heads, dropout=dropout,
                                          batch_first=True)
        self.norm_ffn = nn.LayerNorm(channels)
        hidden = int(channels * ffn_ratio)
        self.ffn = nn.Sequential(nn.Linear(channels, hidden), nn.GELU(),
                                 nn.Linear(hidden, channels))

    def attend(self, x: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm_q(x), kv, kv, need_weights=False)[0]
        return x + self.ffn(self.norm_ffn(x))


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

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        B, H, N, C = x.shape
        h, w = feat.shape[-2:]
        tokens = self.proj(feat.flatten(2).transpose(1, 2))  # (B, h*w, C)
        ys = torch.linspace(-1, 1, h, device=feat.device, dtype=feat.dtype)
        xs = torch.linspace(-1, 1, w, device=feat.device, dtype=feat.dtype)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1).view(1, h * w, 2)
        tokens = tokens + self.pos(grid)
        kv = tokens.unsqueeze(1).expand(B, H, h * w, C).reshape(B * H, h * w, C)
        return self.attend(x.reshape(B * H, N, C), kv).view(B, H, N, C)


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
        kv = self.norm_q(x.flip(1)).reshape(B * H, N, C)
        return self.attend(x.reshape(B * H, N, C), kv).view(B, H, N, C)
