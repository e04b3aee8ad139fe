import os.path as osp
from collections import Counter

import numpy as np
import pytest
import smplx
import torch

from gclhand.hand import procedural_model_dir
from gclhand.hand.procedural import generate_procedural_hand


def test_sizes(procedural_arrays):
    for side in ('left', 'right'):
        a = procedural_arrays[side]
        assert a['v_template'].shape == (778, 3)
        assert a['f'].shape == (1538, 3)
        assert a['weights'].shape == (778, 16)
        assert a['J_regressor'].shape == (16, 778)
        assert a['kintree_table'].shape == (2, 16)
        assert a['shapedirs'].shape == (778, 3, 10)
        assert a['posedirs'].shape == (778, 3, 135)
        assert a['hands_components'].shape == (45, 45)
        assert a['hands_mean'].shape == (45, )
        assert a['kintree_table'][0].tolist() == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0,
                                                   13, 14]


def test_topology_is_a_disk_with_16_edge_wrist(procedural_arrays):
    f = procedural_arrays['right']['f']
    assert len(np.unique(np.sort(f, 1), axis=0)) == len(f)
    half = Counter((int(a), int(b)) for tri in f for a, b in zip(tri, np.roll(tri, -1)))
    assert max(half.values()) == 1  # consistently oriented, manifold
    boundary = [e for e in half if (e[1], e[0]) not in half]
    assert len(boundary) == 16
    nxt = dict(boundary)
    loop = [boundary[0][0]]
    while nxt[loop[-1]] != loop[0]:
        loop.append(nxt[loop[-1]])
    assert len(loop) == 16  # one loop
    v = len(np.unique(f))
    e = (len(half) + len(boundary)) // 2
    assert v == 778 and v - e + len(f) == 1


def test_weights_regressor_and_pca(procedural_arrays):
    a = procedural_arrays['right']
    np.testing.assert_allclose(a['weights'].sum(1), 1.0, atol=1e-9)
    assert a['weights'].min() >= 0
    np.testing.assert_allclose(a['J_regressor'].sum(1), 1.0, atol=1e-9)
    c = a['hands_components']
    np.testing.assert_allclose(c @ c.T, np.eye(45), atol=1e-8)


def test_left_is_mirror_of_right(procedural_arrays):
    r, l = procedural_arrays['right'], procedural_arrays['left']
    np.testing.assert_allclose(l['v_template'], r['v_template'] * [-1, 1, 1])
    np.testing.assert_array_equal(l['f'], r['f'][:, [0, 2, 1]])
    np.testing.assert_allclose(l['shapedirs'][:, 0], -r['shapedirs'][:, 0])
    np.testing.assert_allclose(l['hands_mean'].reshape(15, 3),
                               r['hands_mean'].reshape(15, 3) * [1, -1, -1])
    np.testing.assert_array_equal(l['J_regressor'], r['J_regressor'])


def test_generation_is_deterministic(procedural_arrays):
    again = generate_procedural_hand()['right']
    for k in ('v_template', 'f', 'weights', 'hands_components', 'shapedirs'):
        np.testing.assert_array_equal(again[k], procedural_arrays['right'][k])


def test_smplx_loads_the_files_unmodified(hand_cache):
    """The public smplx path (it unpickles the file itself) works on the procedural files."""
    root = procedural_model_dir()
    assert osp.isfile(osp.join(root, 'MANO_RIGHT.pkl'))
    for is_rhand in (True, False):
        mano = smplx.MANO(root, is_rhand=is_rhand, use_pca=True, num_pca_comps=12)
        out = mano(hand_pose=torch.zeros(1, 12))
        assert out.vertices.shape == (1, 778, 3) and out.joints.shape == (1, 16, 3)


def test_zero_pose_is_an_open_hand(hand_model):
    out = hand_model(side='right', hand_pose=torch.zeros(1, 45))
    j = out.joints[0]
    wrist = j[0]
    tips, mcps = j[[4, 8, 12, 16, 20]], j[[1, 5, 9, 13, 17]]
    length = (j[12] - wrist).norm()
    assert 0.15 < length < 0.22  # wrist -> middle tip of an adult hand, metres
    assert ((tips - wrist).norm(dim=1) > (mcps - wrist).norm(dim=1)).all()
    # MANO frame: fingers along -x, thumb on +z for the right hand, index on the thumb side
    assert (tips[1:, 0] < wrist[0] - 0.1).all()
    assert j[4, 2] > j[8, 2] > j[12, 2] > j[16, 2] > j[20, 2]
    # fingers straight: middle finger joints collinear
    d = j[[10, 11, 12]] - j[[9, 10, 11]]
    cos = torch.nn.functional.cosine_similarity(d[:-1], d[1:], dim=1)
    assert (cos > 0.99).all()


@pytest.mark.parametrize('side', ['right', 'left'])
def test_finger_bends(hand_model, side):
    rest = hand_model(side=side, hand_pose=torch.zeros(1, 45))
    pose = torch.zeros(1, 45)
    flex = 1.2 if side == 'right' else -1.2  # mirrored axial vector: z flips
    pose[0, 3 * 3 + 2] = flex  # MANO joint 4 = middle MCP (pose index 3) about z
    bent = hand_model(side=side, hand_pose=pose)
    moved = (bent.joints[0] - rest.joints[0]).norm(dim=1)
    assert moved[12] > 0.04  # middle tip moves several cm
    kin = (bent.joints_mano[0] - rest.joints_mano[0]).norm(dim=1)
    assert kin[0] < 1e-6 and kin[4] < 1e-6  # wrist and middle MCP (MANO 4) are pivots
    assert moved[0] < 1e-6 and moved[9] < 0.002  # mesh-regressed: knuckle skin moves a bit
    assert moved[[4, 8, 16, 20]].max() < 1e-6  # other fingertips stay
    # it flexes towards the palm (-y)
    assert bent.joints[0, 12, 1] < rest.joints[0, 12, 1] - 0.03
    # skinning is smooth: no vertex jumps more than its tip does
    dv = (bent.vertices - rest.vertices).norm(dim=-1)
    assert dv.max() <= moved[12] + 1e-6


def test_shape_changes_finger_length(hand_model):
    def middle_len(betas):
        j = hand_model(side='right', hand_pose=torch.zeros(1, 45), betas=betas).joints[0]
        return (j[12] - j[9]).norm()

    betas = torch.zeros(1, 10)
    base = middle_len(betas)
    betas[0, 1] = 2.0
    assert middle_len(betas) > base * 1.1
    betas[0, 1] = -2.0
    assert middle_len(betas) < base * 0.9
