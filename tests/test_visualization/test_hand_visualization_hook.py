"""HandVisualizationHook: grid images reach the visualizer's LocalVisBackend."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.visualization import Visualizer

from gclhand.engine.hooks import HandVisualizationHook
from gclhand.hand import build_hand_model
from gclhand.registry import HOOKS, VISUALIZERS
from gclhand.structures.hand_data_sample import HANDS, HandDataSample

SIZE = 48


def _batch(hm, n=3):
    """A fake val batch: uint8 inputs and samples with GT and predictions."""
    R = torch.tensor([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # palm towards the camera
    verts = torch.stack([(hm.template(s) - hm.joints_from_vertices(hm.template(s)[None], s)[0, 0])
                         for s in HANDS]) @ R.T
    K = torch.tensor([[80.0, 0, SIZE / 2], [0, 80.0, SIZE / 2], [0, 0, 1]])
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.full((3, SIZE, SIZE), 60 + 20 * i, dtype=torch.uint8))
        s = HandDataSample(metainfo=dict(sample_idx=i))
        s.gt_verts_3d = verts + torch.tensor([[[-0.12, 0, 0.6]], [[0.12, 0, 0.6]]])
        s.cam_K, s.hand_valid = K, torch.ones(2)
        s.pred_verts_3d = verts
        s.pred_cam = torch.tensor([[0.12, 0.15, 0.5], [0.12, 0.85, 0.5]])
        s.pred_rel_root = torch.tensor([-0.2, 0.0, 0.0])
        s.pred_joints_2d = torch.rand(2, 21, 2) * SIZE
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples), samples


def _visualizer(vis_type: str, name: str, save_dir) -> Visualizer:
    """A ``HandVisualizer`` (through the registry) or MMEngine's plain ``Visualizer``
    writing PNGs under ``save_dir`` (LocalVisBackend)."""
    vis_cfg = dict(name=name, save_dir=str(save_dir),
                   vis_backends=[dict(type='LocalVisBackend')])
    if vis_type == 'HandVisualizer':
        return VISUALIZERS.build(dict(type=vis_type, **vis_cfg))
    return Visualizer(**vis_cfg)


@pytest.mark.parametrize('vis_type', ['HandVisualizer', 'Visualizer'])
def test_hook_writes_grid_every_interval(tmp_path, vis_type):
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    vis = _visualizer(vis_type, f'hook_test_{vis_type}', tmp_path)
    runner = SimpleNamespace(visualizer=vis, iter=7, _train_loop=SimpleNamespace(),
                             model=SimpleNamespace(hand_model=hm, canonical_length=0.09))
    hook = HOOKS.build(dict(type='HandVisualizationHook', interval=2, max_samples=2))
    assert isinstance(hook, HandVisualizationHook)
    data_batch, outputs = _batch(hm)
    img_dir = osp.join(tmp_path, 'vis_data', 'vis_image')  # LocalVisBackend layout
    hook.after_val_iter(runner, 1, data_batch, outputs)  # 1 % 2 != 0: nothing
    assert not osp.exists(osp.join(img_dir, 'val_hands_b1_7.png'))
    hook.after_val_iter(runner, 2, data_batch, outputs)
    path = osp.join(img_dir, 'val_hands_b2_7.png')
    assert osp.isfile(path)
    grid = cv2.imread(path)[..., ::-1]
    # 2 rows (max_samples) of [input | GT | prediction | side], 2-px white gaps
    assert grid.shape == (2 * SIZE + 2, 4 * SIZE + 3 * 2, 3)
    pred_panel = grid[:SIZE, 2 * (SIZE + 2):3 * SIZE + 4].astype(int)
    assert ((pred_panel[..., 2] - pred_panel[..., 0]) > 40).sum() > 5  # blue left hand
    assert ((pred_panel[..., 0] - pred_panel[..., 2]) > 40).sum() > 5  # orange right hand
    gt_panel = grid[:SIZE, SIZE + 2:2 * SIZE + 2].astype(int)
    assert (np.abs(gt_panel - 60).sum(-1) > 30).sum() > 20  # GT meshes drawn over the input
    hook.after_test_iter(runner, 0, data_batch, outputs)
    assert osp.isfile(osp.join(img_dir, 'test_hands_b0_7.png'))


def test_hook_rejects_bad_interval():
    with pytest.raises(ValueError, match='interval'):
        HandVisualizationHook(interval=0)


class _UnbuiltTrainLoopRunner(SimpleNamespace):
    """A runner whose train loop is still a config: reading ``iter`` would build it."""

    @property
    def iter(self):
        raise AssertionError('runner.iter read: MMEngine would build the train loop')


@pytest.mark.parametrize('train_loop', [None, dict(type='EpochBasedTrainLoop')])
def test_hook_never_builds_the_train_loop(tmp_path, train_loop):
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    vis = VISUALIZERS.build(dict(type='HandVisualizer', name=f'hook_loop_{train_loop is None}',
                                 save_dir=str(tmp_path),
                                 vis_backends=[dict(type='LocalVisBackend')]))
    runner = _UnbuiltTrainLoopRunner(visualizer=vis, _train_loop=train_loop,
                                     model=SimpleNamespace(hand_model=hm, canonical_length=0.09))
    hook = HandVisualizationHook(interval=1, max_samples=1)
    data_batch, outputs = _batch(hm, n=1)
    hook.after_test_iter(runner, 0, data_batch, outputs)
    hook.after_val_iter(runner, 0, data_batch, outputs)
    img_dir = osp.join(tmp_path, 'vis_data', 'vis_image')
    assert osp.isfile(osp.join(img_dir, 'test_hands_b0_0.png'))
    assert osp.isfile(osp.join(img_dir, 'val_hands_b0_0.png'))


@pytest.mark.parametrize('vis_type', ['HandVisualizer', 'Visualizer'])
def test_hook_draws_with_the_models_hand_model_and_length(tmp_path, vis_type):
    """The drawer (the runner's HandVisualizer, else the hook's own) takes the unwrapped
    model's hand model and ``canonical_length``, so predictions in normalised units are
    drawn at the model's scale with its faces."""
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    vis = _visualizer(vis_type, f'hook_model_{vis_type}', tmp_path)
    model = torch.nn.Module()
    model.hand_model, model.canonical_length = hm, 0.123
    runner = SimpleNamespace(visualizer=vis, iter=0, _train_loop=SimpleNamespace(),
                             model=torch.nn.DataParallel(model))
    hook = HandVisualizationHook(interval=1)
    drawer = hook._drawer(runner)
    assert (drawer is vis) == (vis_type == 'HandVisualizer')
    assert drawer.hand_model is hm and drawer.canonical_length == 0.123
    assert hook._drawer(runner) is drawer  # the hook's own drawer is made once
    hook.after_val_iter(runner, 0, dict(inputs=[], data_samples=[]), [])  # nothing to draw
    assert not osp.exists(osp.join(tmp_path, 'vis_data', 'vis_image', 'val_hands_b0_0.png'))


@pytest.mark.parametrize('draw_gt,draw_pred', [(False, True), (True, False)])
def test_hook_passes_its_panel_switches_to_the_drawer(tmp_path, draw_gt, draw_pred):
    """``draw_gt`` / ``draw_pred`` reach ``draw_hands``: the written row is exactly the
    drawer's row with those switches (and differs from the default, both drawn)."""
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    vis = _visualizer('HandVisualizer', f'switch_{draw_gt}_{draw_pred}', tmp_path)
    runner = SimpleNamespace(visualizer=vis, iter=3, _train_loop=SimpleNamespace(),
                             model=SimpleNamespace(hand_model=hm, canonical_length=0.09))
    hook = HandVisualizationHook(interval=1, max_samples=1, draw_gt=draw_gt,
                                 draw_pred=draw_pred)
    data_batch, outputs = _batch(hm, n=1)
    hook.after_val_iter(runner, 0, data_batch, outputs)
    grid = cv2.imread(osp.join(tmp_path, 'vis_data', 'vis_image', 'val_hands_b0_3.png'))
    image = data_batch['inputs'][0].permute(1, 2, 0).numpy()
    expected = vis.draw_hands(image, outputs[0], draw_gt, draw_pred)
    both = vis.draw_hands(image, outputs[0], True, True)
    assert expected.shape != both.shape
    np.testing.assert_array_equal(grid[..., ::-1], expected)
