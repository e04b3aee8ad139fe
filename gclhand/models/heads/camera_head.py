"""Camera head: weak-perspective camera per hand and the left/right root translation.

HandDGCL section 3.4: the 3D losses see root-aligned, scale-normalised hands, so "the absolute
position information and the scale information are learned by 2D hand joints loss" through a
predicted camera, and the transition loss supervises the relative translation of the hands.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn

from gclhand.registry import HEADS


@HEADS.register_module()
class CameraHead(nn.Module):
    """Pooled global feature -> weak-perspective cameras and relative root translation.

    The camera of hand ``h`` is ``(s, tx, ty)``: a root-relative normalised 3D point ``X``
    projects to normalised image coordinates ``u = s * X_xy + (tx, ty)``, where
    ``u = pixels / img_size`` (0 at the top-left corner, 1 at the bottom-right).

    Args:
        in_channels: channels of the last encoder stage.
        hidden_channels: width of the hidden layer.
        init_cam: output bias at initialisation, ``(s, tx, ty)``: a hand of a few normalised
            units centred in the crop.

    Shapes:
        - feats: list of encoder maps, fine -> coarse; ``feats[-1]`` ``(B, C, h, w)`` is used.
        - returns ``dict(cam=(B, 2, 3), rel_root=(B, 3))``; ``rel_root`` is left wrist minus
          right wrist in the estimator's normalised units (see ``TwoHandEstimator``).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 512,
                 init_cam: Sequence[float] = (0.1, 0.5, 0.5)):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.ReLU(inplace=True),
                                 nn.Linear(hidden_channels, 2 * 3 + 3))
        nn.init.normal_(self.mlp[-1].weight, std=1e-3)
        with torch.no_grad():
            self.mlp[-1].bias.zero_()
            self.mlp[-1].bias[:6] = torch.tensor(list(init_cam) * 2)

    def forward(self, feats: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        out = self.mlp(feats[-1].mean(dim=(2, 3)))
        return dict(cam=out[:, :6].view(-1, 2, 3), rel_root=out[:, 6:])
