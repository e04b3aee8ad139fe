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
