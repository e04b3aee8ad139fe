"""ResNet image encoder (He et al., CVPR 2016) returning the four stage feature maps.

The paper's encoder is an ImageNet-pretrained ResNet-50 (HandDGCL section 4, "Implementation
Details"); IntagHand uses the same.  torchvision cannot be a dependency here (its PyPI wheel
does not import beside the CPU torch build) and mmcv-lite ships no backbones, so the network
is written out with ``mmcv.cnn`` building blocks.  Module names follow torchvision
(``conv1``, ``bn1``, ``layer1``..``layer4``, ``downsample.0/1``) so that a torchvision
ImageNet state dict loads without any key renaming; only its ``fc.*`` keys are dropped.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from gclhand.registry import ENCODERS


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.conv1 = build_conv_layer(None, inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        self.conv2 = build_conv_layer(None, planes, planes, 3, 1, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def last_norm(self) -> nn.Module:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, torchvision 'v1.5') -> 1x1 convolutions (ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = build_conv_layer(None, inplanes, planes, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        self.conv2 = build_conv_layer(None, planes, planes, 3, stride, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.conv3 = build_conv_layer(None, planes, out, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def last_norm(self) -> nn.Module:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@ENCODERS.register_module()
class ResNet(BaseModule):
    """ResNet encoder returning the outputs of its four stages, fine -> coarse.

    Args:
        depth: 18, 34, 50, 101 or 152.
        base_channels: width of the stem and of stage 1 (64 in the standard networks; tests
            use a small value).
        stage_blocks: blocks per stage; overrides the depth's standard layout (tiny test nets).
        frozen_stages: stages whose parameters are frozen and whose norms stay in eval
            mode; 0 freezes the stem, -1 freezes nothing.
        norm_eval: keep every BatchNorm in eval mode during training (small batches).
        zero_init_residual: zero the last norm's weight in each residual block.
        stem_pool: max-pool after the stem convolution (the standard network).  ``False``
            drops it, as ResNets for small images do: every map is twice as large (strides
            2, 4, 8, 16) and the stages cost 4x the FLOPs.
        norm_cfg: mmcv norm config (``dict(type='BN')``; ``'SyncBN'`` for multi-GPU).
        init_cfg: ``dict(type='Pretrained', checkpoint='path/resnet50.pth')`` loads ImageNet
            weights from a local file in torchvision's layout (also accepted: a dict with a
            ``state_dict`` entry, and keys prefixed ``backbone.`` or ``module.``).  Nothing is
            downloaded; a missing file raises :class:`FileNotFoundError` naming the path.

    Shapes:
        - input: ``(B, 3, H, W)`` normalised image.
        - output: list of 4 tensors ``(B, C_i, H / s_i, W / s_i)`` with strides
          ``s = (4, 8, 16, 32)`` (``(2, 4, 8, 16)`` without ``stem_pool``) and
          ``C = base * (1, 2, 4, 8) * expansion`` (ResNet-50: 256, 512, 1024, 2048).
          :attr:`out_channels` lists ``C``.
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int = 50,
                 base_channels: int = 64,
                 stage_blocks: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 zero_init_residual: bool = False,
                 stem_pool: bool = True,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'ResNet depth must be one of {sorted(self.arch_settings)}, '
                             f'got {depth}')
        block, blocks = self.arch_settings[depth]
        blocks = tuple(stage_blocks) if stage_blocks is not None else blocks
        if len(blocks) != 4:
            raise ValueError(f'ResNet stage_blocks needs 4 entries, got {blocks}')
        self.depth = depth
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual

        self.conv1 = build_conv_layer(None, 3, base_channels, 7, 2, 3, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, base_channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = (nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem_pool
                        else nn.Identity())

        inplanes = base_channels
        self.out_channels: Tuple[int, ...] = ()
        for i, num_blocks in enumerate(blocks):
            planes = base_channels * 2**i
            stride = 1 if i == 0 else 2
            layer, inplanes = self._make_layer(block, inplanes, planes, num_blocks, stride,
                                               norm_cfg)
            self.add_module(f'layer{i + 1}', layer)
            self.out_channels += (inplanes, )
        self._freeze_stages()

    @staticmethod
    def _make_layer(block, inplanes: int, planes: int, num_blocks: int, stride: int,
                    norm_cfg: dict) -> Tuple[nn.Sequential, int]:
        downsample = None
        out = planes * block.expansion
        if stride != 1 or inplanes != out:
            downsample = nn.Sequential(
                build_conv_layer(None, inplanes, out, 1, stride, bias=False),
                build_norm_layer(norm_cfg, out)[1])
        layers = [block(inplanes, planes, stride, downsample, norm_cfg)]
        layers += [block(out, planes, 1, None, norm_cfg) for _ in range(1, num_blocks)]
        return nn.Sequential(*layers), out

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            outs.append(x)
        return outs

    # -- training-mode options ----------------------------------------------------------
    def _freeze_stages(self) -> None:
        frozen = []
        if self.frozen_stages >= 0:
            frozen += [self.conv1, self.bn1]
        frozen += [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # -- initialisation ----------------------------------------------------------------
    def init_weights(self) -> None:
        """Kaiming/constant init, or ImageNet weights from ``init_cfg``'s local checkpoint.

        The checkpoint is read here rather than by MMEngine's ``PretrainedInit`` so that it is
        loaded with ``torch.load(weights_only=True)`` (no pickle code runs), a missing file
        gets an actionable message, and torchvision's classifier keys are dropped explicitly.
        """
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.load_pretrained(cfg['checkpoint'])
            self._is_init = True
            return
        if cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.constant_(m.last_norm.weight, 0)

    def load_pretrained(self, path: str) -> None:
        """Load a torchvision-layout ResNet state dict from the local file ``path``."""
        path = osp.expanduser(str(path))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"ResNet pretrained checkpoint '{path}' (model.encoder.init_cfg.checkpoint) "
                f'does not exist. Nothing is downloaded at run time: copy the torchvision '
                f"ImageNet weights (e.g. 'resnet{self.depth}-*.pth') to that path, or set "
                f'init_cfg=None to train from scratch.')
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
        cleaned = {}
        for k, v in state.items():
            for prefix in ('module.', 'backbone.', 'encoder.'):
                if k.startswith(prefix):
                    k = k[len(prefix):]
            if not k.startswith('fc.'):
                cleaned[k] = v
        missing, unexpected = self.load_state_dict(cleaned, strict=False)
        if missing or unexpected:
            raise KeyError(f"checkpoint '{path}' does not match ResNet-{self.depth}: missing "
                           f'{missing[:5]}..., unexpected {unexpected[:5]}... '
                           f'(expected torchvision key names such as layer1.0.conv1.weight)')
        print_log(f'ResNet-{self.depth}: loaded ImageNet weights from {path}', 'current')
