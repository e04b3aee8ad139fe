import pytest
import torch

from gclhand.registry import ENCODERS
from gclhand.utils.build import build_component


def _tiny(**kw):
    cfg = dict(type='ResNet', depth=18, base_channels=8, stage_blocks=(1, 1, 1, 1))
    cfg.update(kw)
    m = build_component(ENCODERS, cfg)
    m.init_weights()
    return m


@pytest.mark.parametrize('depth,expansion', [(18, 1), (50, 4)])
def test_resnet_multiscale_shapes(depth, expansion):
    m = _tiny(depth=depth)
    feats = m(torch.randn(2, 3, 64, 64))
    assert m.out_channels == tuple(8 * expansion * 2**i for i in range(4))
    assert [tuple(f.shape) for f in feats] == [
        (2, c, 64 // s, 64 // s) for c, s in zip(m.out_channels, (4, 8, 16, 32))]


def test_resnet_without_stem_pool_halves_every_stride():
    pooled, unpooled = _tiny(), _tiny(stem_pool=False)
    unpooled.load_state_dict(pooled.state_dict())  # same parameters: the pool has none
    x = torch.randn(2, 3, 64, 64)
    feats = unpooled(x)
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4]
    # the stem's output reaches stage 1 unpooled: equal to the pooled network fed the stem
    # output directly
    stem = pooled.relu(pooled.bn1(pooled.conv1(x)))
    assert torch.allclose(feats[0], pooled.layer1(stem), atol=1e-6)


def test_resnet_standard_sizes_match_torchvision():
    # torchvision resnet18 / resnet50 parameter counts minus their fc layer (512*1000+1000,
    # 2048*1000+1000)
    r18 = build_component(ENCODERS, dict(type='ResNet', depth=18))
    assert sum(p.numel() for p in r18.parameters()) == 11_689_512 - 513_000
    keys = set(r18.state_dict())
    assert {'conv1.weight', 'bn1.running_mean', 'layer1.0.conv2.weight',
            'layer2.0.downsample.0.weight', 'layer4.1.bn2.bias'} <= keys
    r50 = build_component(ENCODERS, dict(type='ResNet', depth=50))
    assert sum(p.numel() for p in r50.parameters()) == 25_557_032 - 2_049_000
    assert r50.out_channels == (256, 512, 1024, 2048)


def test_resnet_pretrained_from_local_torchvision_file(tmp_path):
    src = _tiny()
    state = {k: v + 1 if v.is_floating_point() else v for k, v in src.state_dict().items()}
    state['fc.weight'] = torch.zeros(10, 64)  # torchvision classifier keys are dropped
    state['fc.bias'] = torch.zeros(10)
    path = tmp_path / 'resnet.pth'
    torch.save(state, path)
    dst = _tiny(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    for k, v in dst.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_resnet_pretrained_missing_file_names_path(tmp_path):
    path = tmp_path / 'absent' / 'resnet50.pth'
    with pytest.raises(FileNotFoundError, match='absent/resnet50.pth'):
        _tiny(init_cfg=dict(type='Pretrained', checkpoint=str(path)))


def test_resnet_pretrained_wrong_architecture(tmp_path):
    path = tmp_path / 'r.pth'
    torch.save(_tiny(base_channels=16).state_dict(), path)
    with pytest.raises((KeyError, RuntimeError)):
        _tiny(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    torch.save({'layer9.weight': torch.zeros(1)}, path)
    with pytest.raises(KeyError, match='layer1.0.conv1.weight'):
        _tiny(init_cfg=dict(type='Pretrained', checkpoint=str(path)))


def test_resnet_frozen_stages_and_norm_eval():
    m = _tiny(frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in m.conv1.parameters())
    assert not any(p.requires_grad for p in m.layer1.parameters())
    assert all(p.requires_grad for p in m.layer2.parameters())
    assert not m.layer3[0].bn1.training  # norm_eval keeps every BN in eval mode
    m = _tiny(frozen_stages=0).train()
    assert not m.bn1.training and m.layer1[0].bn1.training


def test_resnet_bad_depth():
    with pytest.raises(ValueError, match='depth'):
        build_component(ENCODERS, dict(type='ResNet', depth=20))
