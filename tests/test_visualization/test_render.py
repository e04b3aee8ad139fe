"""Overlay rendering: weak-perspective / pinhole cameras through the library rasteriser."""
import numpy as np
import pytest
import torch

from gclhand.datasets.synth.renderer import render_mesh
from gclhand.hand import build_hand_model
from gclhand.structures.hand_data_sample import HANDS, HandDataSample
from gclhand.visualization import (GT_HAND_COLORS, HAND_COLORS, HandVisualizer,
                                   perspective_to_view, render_overlay, render_side_view,
                                   render_view, weak_perspective_to_view)

L = 0.09  # metres per normalised unit


@pytest.fixture(scope='module')
def hands():
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    verts, faces = [], []
    for side in HANDS:
        v = hm.template(side)
        wrist = hm.joints_from_vertices(v[None], side)[0, 0]
        verts.append(v - wrist)
        faces.append(hm.faces(side))
    # the template hand lies in the x-z plane: turn its palm towards the camera (-z)
    R = torch.tensor([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
    return hm, torch.stack(verts) @ R.T, faces


def test_weak_perspective_equation(hands):
    _, verts, _ = hands
    cam = torch.tensor([[0.2, 0.3, 0.4], [0.25, 0.7, 0.6]])
    H, W = 48, 80
    view = weak_perspective_to_view(verts, cam, (H, W), L)
    X = verts[1, 100]
    expect_u = W * (0.25 * X[0] / L + 0.7)
    expect_v = H * (0.25 * X[1] / L + 0.6)
    torch.testing.assert_close(view[1, 100, :2], torch.stack([expect_u, expect_v]))
    torch.testing.assert_close(view[1, 100, 2], 0.5 * (H + W) * 0.25 * X[2] / L)
    # rel_root moves the left hand in depth only
    moved = weak_perspective_to_view(verts, cam, (H, W), L, torch.tensor([0.0, 0.0, 0.09]))
    torch.testing.assert_close(moved[..., :2], view[..., :2])
    assert torch.allclose(moved[0, :, 2] - view[0, :, 2], torch.tensor(64 * 0.225))
    torch.testing.assert_close(moved[1], view[1])


def test_overlay_size_and_hand_colours_where_meshes_project(hands):
    _, verts, faces = hands
    H, W = 64, 96  # non-square on purpose
    cam = torch.tensor([[0.15, 0.1, 0.5], [0.15, 0.9, 0.5]])  # left hand left, right right
    view = weak_perspective_to_view(verts, cam, (H, W), L)
    background = np.full((H, W, 3), 128, np.uint8)
    img, index = render_view(list(view), faces, HAND_COLORS, (H, W), background, alpha=1.0)
    assert img.shape == (H, W, 3) and img.dtype == np.uint8 and index.shape == (H, W)
    for h in range(2):
        uv = np.round(view[h, :, :2].numpy()).astype(int)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
        assert inside.mean() > 0.95
        # every projected vertex lies on (within one pixel of) its own hand's silhouette;
        # the hands do not overlap, so that pixel shows hand h
        own = np.pad(index == h, 1)
        near = np.zeros(inside.sum(), bool)
        for dv in (-1, 0, 1):
            for du in (-1, 0, 1):
                near |= own[uv[inside, 1] + 1 + dv, uv[inside, 0] + 1 + du]
        assert near.mean() > 0.98, (h, near.mean())
        assert (index[uv[inside, 1], uv[inside, 0]] == 1 - h).sum() == 0
        pix = img[index == h].astype(int)
        assert len(pix) > 50
        blue_minus_red = (pix[:, 2] - pix[:, 0]).mean()
        assert blue_minus_red > 30 if h == 0 else blue_minus_red < -30  # left blue, right orange
    assert (img[index < 0] == 128).all()  # background untouched
    over = render_overlay(background, list(view), faces, alpha=0.5)
    assert over.shape == (H, W, 3)
    # half-transparent: between the opaque render and the background
    m = index >= 0
    assert np.abs(over[m].astype(int) - (img[m].astype(int) + 128) / 2).max() <= 1


def test_perspective_view_matches_the_library_renderer(hands):
    _, verts, faces = hands
    K = torch.tensor([[120.0, 0, 40], [0, 120.0, 30], [0, 0, 1]])
    cam_verts = verts[1] + torch.tensor([0.0, 0.0, 0.4])
    ref, frags = render_mesh(cam_verts, faces[1], K, (64, 80), torch.tensor([1.0, 0, 0]))
    _, index = render_view([perspective_to_view(cam_verts, K)], [faces[1]], [(1, 0, 0)],
                           (64, 80))
    ours = index >= 0
    theirs = frags.mask.numpy()
    iou = (ours & theirs).sum() / (ours | theirs).sum()
    assert theirs.sum() > 100 and iou > 0.98, iou


def test_side_view_fills_frame_with_both_hands(hands):
    _, verts, faces = hands
    cam = torch.tensor([[0.2, 0.3, 0.5], [0.2, 0.7, 0.5]])
    view = weak_perspective_to_view(verts, cam, (64, 64), L)
    img = render_side_view(list(view), faces, (64, 64), angle=90)
    assert img.shape == (64, 64, 3)
    bg = (img == np.array([237, 237, 237])).all(-1)
    assert 0.05 < (~bg).mean() < 0.9
    rgb = img[~bg].astype(int)
    assert ((rgb[:, 2] - rgb[:, 0]) > 30).any() and ((rgb[:, 0] - rgb[:, 2]) > 30).any()


def test_hand_visualizer_panels(hands):
    hm, verts, faces = hands
    K = torch.tensor([[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]])
    sample = HandDataSample()
    sample.gt_verts_3d = verts + torch.tensor([[[-0.05, 0, 0.5]], [[0.05, 0, 0.5]]])
    sample.cam_K = K
    sample.hand_valid = torch.tensor([1.0, 0.0])  # right hand not annotated: not drawn
    sample.gt_joints_2d = torch.rand(2, 21, 2) * 64
    sample.pred_verts_3d = verts
    sample.pred_cam = torch.tensor([[0.2, 0.3, 0.5], [0.2, 0.7, 0.5]])
    sample.pred_rel_root = torch.tensor([-0.1, 0.0, 0.0])
    vis = HandVisualizer(name='test_hand_visualizer_panels')
    vis.set_hand_model(hm, L)
    row = vis.draw_hands(np.zeros((64, 64, 3), np.uint8), sample)
    assert row.shape == (64, 4 * 64 + 3 * 2, 3)
    gt_panel = row[:, 66:130].astype(int)
    teal = np.array([int(255 * c) for c in GT_HAND_COLORS[0]])
    magenta = np.array([int(255 * c) for c in GT_HAND_COLORS[1]])
    # the annotated (left) GT hand is drawn in its colour family, the invalid one is not
    assert (np.abs(gt_panel - teal * 0.8).sum(-1) < 120).sum() > 20
    assert (np.abs(gt_panel - magenta * 0.8).sum(-1) < 60).sum() == 0
    only_gt = vis.draw_hands(np.zeros((64, 64, 3), np.uint8), sample, draw_pred=False)
    assert only_gt.shape == (64, 2 * 64 + 2, 3)
