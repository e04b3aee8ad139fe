"""IntagHand's auxiliary dense outputs on the encoder: joint heatmaps, hand masks, dense maps."""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from gclhand.registry import HEADS

#: Output name -> (channels, activation) of IntagHand's three auxiliary maps.
AUX_OUTPUTS = {'heatmaps': (42, None), 'mask': (2, 'sigmoid'), 'dense': (6, 'sigmoid')}


@HEADS.register_module()
class AuxMapHead(nn.Module):
    """Dense 2D predictions from the encoder's feature maps (IntagHand's encoder supervision).

    IntagHand (Li et al., CVPR 2022) supervises its encoder with both hands' joint heatmaps,
    masks and dense-correspondence maps at a quarter of the input resolution. Here a light
    top-down fusion reads the encoder maps ``levels`` (fine -> coarse, the first one sets
    the output resolution: level 0 of a ResNet is stride 4): each is projected by a 1x1
    convolution to ``channels``, upsampled bilinearly and summed, then a 3x3 conv + BN +
    ReLU and a 1x1 conv give every output's channels:

    - ``heatmaps`` (B, 42, h, w): left hand's 21 joints then the right's, raw (MSE target
      in [0, 1]);
    - ``mask`` (B, 2, h, w): (left, right) silhouettes, sigmoid;
    - ``dense`` (B, 6, h, w): the dense-correspondence colour seen on the left hand
      (channels 0-2) and on the right hand (3-5), sigmoid.

    Training-only by default (``model.aux_heads``, removed by ``deploy()``).

    Args:
        in_channels: channels of every encoder map, fine -> coarse (the estimator fills it).
        outputs: names to predict, a subset of ``heatmaps``, ``mask``, ``dense``.
        levels: encoder maps fused; the first sets the output resolution.
        channels: width of the fusion.
    """

    def __init__(self, in_channels: Sequence[int],
                 outputs: Sequence[str] = ('heatmaps', 'mask', 'dense'),
                 levels: Sequence[int] = (0, 1, 2), channels: int = 64):
        super().__init__()
        unknown = set(outputs) - set(AUX_OUTPUTS)
        if unknown or not outputs:
            raise ValueError(f'AuxMapHead.outputs must be a non-empty subset of '
                             f'{tuple(AUX_OUTPUTS)}, got {tuple(outputs)}')
        if max(levels) >= len(in_channels):
            raise ValueError(f'AuxMapHead.levels {tuple(levels)} exceed the encoder\'s '
                             f'{len(in_channels)} feature maps')
        self.outputs = tuple(outputs)
        self.levels = tuple(levels)
        self.lateral = nn.ModuleList(nn.Conv2d(in_channels[lvl], channels, 1) for lvl in levels)
        self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(channels, sum(AUX_OUTPUTS[o][0] for o in self.outputs), 1)

    def forward(self, feats: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        size = feats[self.levels[0]].shape[-2:]
        x = 0
        for lateral, lvl in zip(self.lateral, self.levels):
            y = lateral(feats[lvl])
            x = x + (y if y.shape[-2:] == size else
                     F.interpolate(y, size=size, mode='bilinear', align_corners=False))
        maps = self.out(self.fuse(x))
        out, start = {}, 0
        for name in self.outputs:
            n, act = AUX_OUTPUTS[name]
            y = maps[:, start:start + n]
            out[name] = torch.sigmoid(y) if act == 'sigmoid' else y
            start += n
        return out
