import cv2
import numpy as np
import pytest
import torch

from gclhand.apis import inference, init_model
from gclhand.registry import MODELS

SIZE = 64


def tiny_config(**model_kw):
    model = dict(
        type='TwoHandEstimator',
        encoder=dict(type='ResNet', depth=18, base_channels=8, stage_blocks=(1, 1, 1, 1),
                     init_cfg=dict(type='Pretrained', checkpoint='/nonexistent/r18.pth')),
        hand_split=dict(type='HandSplit', hidden_channels=16),
        decoder=dict(type='ChebGCNDecoder', channels=(8, 8, 8), K=2, num_heads=2,
                     image_attention=False),
        camera_head=dict(type='CameraHead', hidden_channels=16))
    model.update(model_kw)
    return dict(model=model, input_size=SIZE, default_scope='gclhand')


def test_init_model_loads_checkpoint_and_deploys(tmp_path):
    cfg = tiny_config()
    torch.manual_seed(0)
    src = MODELS.build(dict(cfg['model'], encoder=dict(cfg['model']['encoder'], init_cfg=None)))
    ckpt = tmp_path / 'model.pth'
    state = src.state_dict()
    state['dgcl.pool.queue'] = torch.zeros(4, 8)  # a DGCL checkpoint's training-only entry
    torch.save(dict(state_dict=state, meta=dict()), ckpt)
    # the encoder's pretrained path does not exist: init_model must not need it
    model = init_model(cfg, str(ckpt))
    assert not model.training and model.input_size == SIZE
    assert getattr(model, 'dgcl', None) is None
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_model(cfg, str(tmp_path / 'missing.pth'))
    # 'none', the command line's word for the untrained model, means None here too
    torch.manual_seed(1)
    a = init_model(cfg, 'none')
    torch.manual_seed(1)
    b = init_model(cfg, None)
    for k, v in a.state_dict().items():
        assert torch.equal(b.state_dict()[k], v), k


def test_inference_on_arrays_and_paths(tmp_path):
    torch.manual_seed(0)
    model = init_model(tiny_config())
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)  # H=96, W=128
    path = tmp_path / 'img.png'
    cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    results = inference(model, [big, str(path)])
    assert len(results) == 2
    r = results[0]
    assert r.pred_verts_3d.shape == (2, 778, 3) and r.pred_joints_3d.shape == (2, 21, 3)
    assert r.pred_cam.shape == (2, 3) and r.pred_rel_root.shape == (3, )
    # a path and the same pixels as an array give the same result (png is lossless, RGB order)
    torch.testing.assert_close(results[1].pred_verts_3d, r.pred_verts_3d)
    # 2D joints come back in the original image's pixels: resized-input pixels * (W/S, H/S)
    resized = cv2.resize(big, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    direct = model.test_step(dict(inputs=[torch.from_numpy(resized).permute(2, 0, 1)]))[0]
    torch.testing.assert_close(r.pred_joints_2d,
                               direct.pred_joints_2d * torch.tensor([128 / SIZE, 96 / SIZE]))
    with pytest.raises(ValueError, match='uint8'):
        inference(model, [big.astype(np.float32)])


def randomise_batch_norms(model, seed=1):
    """Running statistics and affine parameters far from a batch norm's identity start
    (where folding any batch norm into any convolution changes nothing)."""
    g = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in norms:
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.25)
            m.weight.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.copy_(torch.randn(n, generator=g))
    return len(norms)


def test_init_model_folds_batch_norms_after_loading(tmp_path):
    """``fuse_conv_bn=True`` folds the *loaded* statistics: the fused model predicts what the
    unfused one does, with no batch norm left (each one an ``nn.Identity``)."""
    cfg = tiny_config()
    torch.manual_seed(0)
    src = MODELS.build(dict(cfg['model'], encoder=dict(cfg['model']['encoder'], init_cfg=None)))
    num_norms = randomise_batch_norms(src)
    assert num_norms == 1 + 4 * 2 + 3  # stem, two per basic block, three downsamplings
    ckpt = tmp_path / 'model.pth'
    torch.save(dict(state_dict=src.state_dict(), meta=dict()), ckpt)
    plain = init_model(cfg, str(ckpt))
    fused = init_model(cfg, str(ckpt), fuse_conv_bn=True)
    assert not fused.training
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert sum(isinstance(m, torch.nn.Identity) for m in fused.encoder.modules()) == num_norms
    assert fused.encoder.conv1.bias is not None and plain.encoder.conv1.bias is None
    image = np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    want, got = inference(plain, [image])[0], inference(fused, [image])[0]
    assert not torch.equal(got.pred_verts_3d, want.pred_verts_3d)  # another computation...
    torch.testing.assert_close(got.pred_verts_3d, want.pred_verts_3d, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.pred_joints_2d, want.pred_joints_2d, rtol=1e-4, atol=1e-3)
