"""tools/export.py: TorchScript / ONNX exports match PyTorch within 1e-4."""
import numpy as np
import pytest
import torch

from gclhand.apis import init_model
from gclhand.cli import export

from .conftest import SIZE


def _checkpoint(tmp_path, cfg):
    torch.manual_seed(0)
    model = init_model(cfg)
    path = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model, str(path)


def test_torchscript_export_matches_pytorch(tmp_path, tiny_config):
    cfg = tiny_config(attn=True)  # image + cross-hand attention in the exported graph
    model, ckpt = _checkpoint(tmp_path, cfg)
    out = tmp_path / 'm.pt'
    diffs = export.main([cfg, ckpt, '--format', 'torchscript', '--out', str(out)])
    assert set(diffs) == {'vertices', 'joints', 'cam', 'rel_root'}
    assert max(diffs.values()) <= 1e-4
    # independent check: the saved file against model.predict on a new batch size
    module = torch.jit.load(str(out))
    images = torch.rand(4, 3, SIZE, SIZE) * 255
    verts, joints, cam, rel_root = module(images)
    assert verts.shape == (4, 2, 778, 3) and joints.shape == (4, 2, 21, 3)
    assert cam.shape == (4, 2, 3) and rel_root.shape == (4, 3)
    data = model.data_preprocessor(dict(inputs=list(images)), False)
    preds = model.predict(data['inputs'])
    ref = torch.stack([p.pred_verts_3d for p in preds])
    assert (verts - ref).abs().max() <= 1e-4


def test_onnx_export_matches_pytorch(tmp_path, tiny_config):
    pytest.importorskip('onnx')
    ort = pytest.importorskip('onnxruntime')
    cfg = tiny_config(attn=True)
    model, ckpt = _checkpoint(tmp_path, cfg)
    out = tmp_path / 'm.onnx'
    diffs = export.main([cfg, ckpt, '--format', 'onnx', '--out', str(out)])
    assert max(diffs.values()) <= 1e-4
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    images = np.random.default_rng(0).uniform(0, 255, (1, 3, SIZE, SIZE)).astype(np.float32)
    verts = sess.run(['vertices'], {'images': images})[0]
    data = model.data_preprocessor(dict(inputs=list(torch.from_numpy(images))), False)
    ref = model.predict(data['inputs'])[0].pred_verts_3d.numpy()
    assert np.abs(verts[0] - ref).max() <= 1e-4
    meta = {p.key: p.value for p in __import__('onnx').load(str(out)).metadata_props}
    assert abs(float(meta['canonical_length']) - model.canonical_length) < 1e-9


def test_training_only_types_are_not_needed_to_export_or_demo(tmp_path, tiny_config):
    """A config whose training set (or transform) comes from a plugin that is not
    installed still exports and runs the demo: neither builds the training split."""
    import cv2

    from gclhand.cli import demo
    base = tiny_config()
    cfg = tmp_path / 'trainonly_missing.py'
    cfg.write_text(f"_base_ = [{base!r}]\ntrain_dataloader = dict(dataset=dict(_delete_=True, "
                   "type='ProprietaryTrainSet', root='/nowhere'))\n")
    _, ckpt = _checkpoint(tmp_path, base)
    diffs = export.main([str(cfg), ckpt, '--format', 'torchscript',
                         '--out', str(tmp_path / 'm.pt')])
    assert max(diffs.values()) <= 1e-4
    (tmp_path / 'imgs').mkdir()
    cv2.imwrite(str(tmp_path / 'imgs' / 'a.jpg'), np.full((SIZE, SIZE, 3), 90, np.uint8))
    demo.main([str(cfg), ckpt, '--input', str(tmp_path / 'imgs'), '--out',
               str(tmp_path / 'out')])
    assert any((tmp_path / 'out').iterdir())
