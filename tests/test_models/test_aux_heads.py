"""AuxMapHead: IntagHand's auxiliary dense outputs on the encoder maps."""
import pytest
import torch

from gclhand.registry import HEADS
from gclhand.utils.build import build_component

CHANNELS = (8, 16, 32, 64)


def feats(b=2, size=16):
    return [torch.randn(b, c, size >> i, size >> i) for i, c in enumerate(CHANNELS)]


def test_outputs_shapes_and_ranges():
    torch.manual_seed(0)
    head = build_component(HEADS, dict(type='AuxMapHead', channels=8), in_channels=CHANNELS)
    out = head(feats())
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        'heatmaps': (2, 42, 16, 16), 'mask': (2, 2, 16, 16), 'dense': (2, 6, 16, 16)}
    assert 0 <= out['mask'].min() and out['mask'].max() <= 1
    assert 0 <= out['dense'].min() and out['dense'].max() <= 1


def test_every_fused_level_reaches_the_output():
    torch.manual_seed(0)
    head = build_component(HEADS, dict(type='AuxMapHead', outputs=('heatmaps', ),
                                       levels=(0, 2)), in_channels=CHANNELS).eval()
    fs = feats(1)
    base = head(fs)['heatmaps']
    changed = [f.clone() for f in fs]
    changed[2] = torch.randn_like(fs[2])
    assert not torch.allclose(head(changed)['heatmaps'], base)
    changed = [f.clone() for f in fs]
    changed[1] = torch.randn_like(fs[1])     # level 1 is not fused
    torch.testing.assert_close(head(changed)['heatmaps'], base)


def test_config_errors():
    with pytest.raises(ValueError, match='subset'):
        build_component(HEADS, dict(type='AuxMapHead', outputs=('depth', )),
                        in_channels=CHANNELS)
    with pytest.raises(ValueError, match='levels'):
        build_component(HEADS, dict(type='AuxMapHead', levels=(0, 4)), in_channels=CHANNELS)


def test_outputs_are_the_fused_maps_computed_by_hand():
    """Lateral 1x1 convs summed after bilinear upsampling (align_corners=False), 3x3 conv
    without bias + BN + ReLU, a 1x1 conv; channels split heatmaps (raw) | mask | dense
    (sigmoid) in that order."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    head = build_component(HEADS, dict(type='AuxMapHead', channels=8, levels=(0, 1)),
                           in_channels=CHANNELS).eval()
    assert [m.kernel_size for m in head.lateral] == [(1, 1), (1, 1)]
    assert head.fuse[0].bias is None and isinstance(head.fuse[1], torch.nn.BatchNorm2d)
    torch.nn.init.normal_(head.fuse[1].running_mean)
    fs = feats(1)
    x = head.lateral[0](fs[0]) + F.interpolate(head.lateral[1](fs[1]), size=(16, 16),
                                               mode='bilinear', align_corners=False)
    fused = head.fuse[0](x)
    bn = head.fuse[1]
    fused = (fused - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + bn.eps) * bn.weight[:, None, None] \
        + bn.bias[:, None, None]
    maps = head.out(fused.clamp_min(0))
    out = head(fs)
    torch.testing.assert_close(out['heatmaps'], maps[:, :42])
    torch.testing.assert_close(out['mask'], maps[:, 42:44].sigmoid())
    torch.testing.assert_close(out['dense'], maps[:, 44:50].sigmoid())
