"""tools/demo.py end to end on tiny synthetic images with a tiny model."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from gclhand.apis import inference, init_model
from gclhand.cli import demo
from gclhand.visualization import read_obj

from .conftest import SIZE


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """Two 64-px synthetic two-hand crops; the second also padded to 64x96 (non-square)."""
    from gclhand.datasets.synth import generate_synthetic_dataset
    root = tmp_path_factory.mktemp('synth')
    generate_synthetic_dataset(str(root), num=dict(test=2), splits='test', img_size=SIZE,
                               progress=False)
    out = tmp_path_factory.mktemp('demo_in')
    a = cv2.imread(str(root / 'test' / 'img' / '0.jpg'))
    b = cv2.imread(str(root / 'test' / 'img' / '1.jpg'))
    cv2.imwrite(str(out / 'a.png'), a)
    cv2.imwrite(str(out / 'b_wide.png'), cv2.copyMakeBorder(b, 0, 0, 16, 16,
                                                            cv2.BORDER_CONSTANT))
    cv2.imwrite(str(out / 'b.png'), b)
    return out


def test_demo_on_two_images(tmp_path, tiny_config, images, capsys):
    cfg = tiny_config()
    torch.manual_seed(0)
    model = init_model(cfg)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'out'
    inp = tmp_path / 'two'
    inp.mkdir()
    for name in ('a.png', 'b_wide.png'):
        (inp / name).write_bytes((images / name).read_bytes())
    records = demo.main([cfg, str(ckpt), '--input', str(inp), '--out', str(out),
                         '--no-progress'])
    assert len(records) == 2
    assert 'centre-cropped the largest square (64x64) of the 96x64 image' in capsys.readouterr(
    ).out
    for name in ('a', 'b_wide'):
        for hand in ('left', 'right'):
            v, f = read_obj(str(out / f'{name}_{hand}.obj'))
            assert v.shape == (778, 3) and f.shape == (1538, 3)
        rec = json.loads((out / f'{name}.json').read_text())
        assert np.asarray(rec['hands']['left']['joints_3d']).shape == (21, 3)
        assert np.asarray(rec['hands']['right']['cam']).shape == (3, )
        overlay = cv2.imread(str(out / f'{name}_overlay.png'))
        assert overlay.shape == (SIZE, 3 * SIZE + 2 * 2, 3)

    # the files hold the model's predictions: right hand at the origin (its wrist), left hand
    # shifted by the predicted relative root; the padded image is centre-cropped back to b
    ref = inference(model, [cv2.imread(str(images / 'b.png'))[..., ::-1].copy()])[0]
    v_right, _ = read_obj(str(out / 'b_wide_right.obj'))
    v_left, _ = read_obj(str(out / 'b_wide_left.obj'))
    np.testing.assert_allclose(v_right, ref.pred_verts_3d[1].numpy(), atol=2e-6)
    np.testing.assert_allclose(v_left, (ref.pred_verts_3d[0] + ref.pred_rel_root).numpy(),
                               atol=2e-6)
    rec = json.loads((out / 'b_wide.json').read_text())
    assert rec['crop']['box_xyxy'] == [16.0, 0.0, 80.0, 64.0]
    # 2D joints in pixels of the original (padded) image: crop pixels + 16 in x
    np.testing.assert_allclose(np.asarray(rec['hands']['right']['joints_2d']),
                               ref.pred_joints_2d[1].numpy() + [16, 0], atol=1e-3)


def test_demo_bbox_crop_and_errors(tmp_path, tiny_config, images):
    box, note = demo.square_crop_box((100, 200), (50, 20, 90, 40), bbox_scale=1.5)
    np.testing.assert_allclose(box, [40, 0, 60])
    assert note == 'bbox'
    img = np.arange(64 * 80 * 3, dtype=np.uint8).reshape(64, 80, 3)
    np.testing.assert_array_equal(demo.crop(img, np.array([8.0, 0.0, 64.0]), 64), img[:, 8:72])
    with pytest.raises(ValueError, match='x0,y0,x1,y1'):
        demo.parse_bbox('1,2,3')
    with pytest.raises(FileNotFoundError, match='neither an image nor a folder'):
        demo.main([tiny_config(), 'none', '--input', str(tmp_path / 'nope')])
    out = tmp_path / 'ply'
    recs = demo.main([tiny_config(), 'none', '--input', str(images / 'a.png'), '--out',
                      str(out), '--bbox', '0,0,64,64', '--mesh-format', 'ply',
                      '--no-side-view'])
    assert recs[0]['crop']['how'] == 'bbox'
    assert osp.isfile(out / 'a_left.ply') and osp.isfile(out / 'a_right.ply')
    assert cv2.imread(str(out / 'a_overlay.png')).shape == (SIZE, 2 * SIZE + 2, 3)


def test_demo_fuse_conv_bn(tmp_path, tiny_config, images, monkeypatch):
    """``--fuse-conv-bn`` folds the loaded encoder's batch norms; the meshes stay those of
    the unfused model (to float rounding)."""
    import sys

    from test_apis import randomise_batch_norms
    apis_inference = sys.modules['gclhand.apis.inference']  # the package's `inference` is
    # the function of that name
    cfg = tiny_config()
    torch.manual_seed(0)
    model = init_model(cfg)
    randomise_batch_norms(model)
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    folded = []
    fold = apis_inference._fuse_conv_bn
    monkeypatch.setattr(apis_inference, '_fuse_conv_bn', lambda m: folded.append(m) or fold(m))
    demo.main([cfg, str(ckpt), '--input', str(images / 'a.png'), '--out', str(tmp_path),
               '--no-progress', '--no-side-view', '--fuse-conv-bn'])
    assert len(folded) == 1
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded[0].modules())
    ref = inference(model, [cv2.imread(str(images / 'a.png'))[..., ::-1].copy()])[0]
    v_right, _ = read_obj(str(tmp_path / 'a_right.obj'))
    np.testing.assert_allclose(v_right, ref.pred_verts_3d[1].numpy(), rtol=1e-4, atol=1e-5)
