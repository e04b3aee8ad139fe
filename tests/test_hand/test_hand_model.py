import numpy as np
import pytest
import torch

from gclhand.hand import MANOHandModel, build_hand_model
from gclhand.hand.mano_io import MANO_URL


def test_forward_shapes_and_joints_from_vertices(hand_model):
    pose = torch.randn(3, 45) * 0.3
    betas = torch.randn(3, 10)
    orient, transl = torch.randn(3, 3), torch.randn(3, 3) * 0.1
    for side in ('left', 'right'):
        out = hand_model(side=side, hand_pose=pose, betas=betas, global_orient=orient,
                         transl=transl)
        assert out.vertices.shape == (3, 778, 3) and out.joints.shape == (3, 21, 3)
        torch.testing.assert_close(hand_model.joints_from_vertices(out.vertices, side),
                                   out.joints, atol=1e-6, rtol=0)
        tips = out.vertices[:, hand_model.fingertip_ids]
        torch.testing.assert_close(out.joints[:, [4, 8, 12, 16, 20]], tips)


def test_pca_pose_equals_axis_angle(hand_model):
    pca = build_hand_model(dict(type='MANOHandModel', use_pca=True, num_pca_comps=45,
                                flat_hand_mean=True))
    coeffs = torch.randn(2, 45) * 0.5
    comps = torch.as_tensor(pca.arrays['right']['hands_components'], dtype=torch.float32)
    a = pca(side='right', hand_pose=coeffs).vertices
    b = hand_model(side='right', hand_pose=coeffs @ comps).vertices
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    few = build_hand_model(dict(type='MANOHandModel', use_pca=True, num_pca_comps=6))
    assert few(side='left', hand_pose=torch.zeros(1, 6)).vertices.shape == (1, 778, 3)
    with pytest.raises(ValueError, match=r'\(B, 6\)'):
        few(side='left', hand_pose=torch.zeros(1, 45))


def test_left_mirrors_right_for_mirrored_pose(hand_model):
    pose = torch.randn(2, 45) * 0.4
    mirrored = (pose.view(2, 15, 3) * torch.tensor([1., -1., -1.])).view(2, 45)
    r = hand_model(side='right', hand_pose=pose).vertices
    l = hand_model(side='left', hand_pose=mirrored).vertices
    torch.testing.assert_close(l, r * torch.tensor([-1., 1., 1.]), atol=1e-5, rtol=0)


def test_faces_point_outwards(hand_model):
    for side in ('left', 'right'):
        v = hand_model.template(side).double()
        f = hand_model.faces(side)
        c = v.mean(0)
        vol = torch.linalg.det(torch.stack([v[f[:, 0]] - c, v[f[:, 1]] - c, v[f[:, 2]] - c],
                                           1)).sum() / 6
        assert vol > 1e-4  # m^3, a hand is ~3-4e-4


def test_memoised_and_hashed(hand_model):
    again = build_hand_model(dict(type='MANOHandModel', use_pca=False, flat_hand_mean=True))
    assert again is hand_model
    other = build_hand_model(dict(type='MANOHandModel'))
    assert other is not hand_model and other.content_hash == hand_model.content_hash
    assert isinstance(hand_model.content_hash, str) and len(hand_model.content_hash) == 16


def test_copies_share_the_instance_and_pickling_keeps_it_working(hand_model):
    """A deep copy of a network (an EMA/SWA copy) shares the read-only hand model, and a
    pickled one (a spawned data-loader worker) works, its lock and lazy layers included."""
    import copy
    import pickle
    holder = torch.nn.Linear(2, 2)
    holder.hand_model = hand_model
    twin = copy.deepcopy(holder)
    assert twin.hand_model is hand_model and twin.weight is not holder.weight
    restored = pickle.loads(pickle.dumps(hand_model))
    pose = torch.randn(2, 45, dtype=torch.float64) * 0.3
    torch.testing.assert_close(restored(side='left', hand_pose=pose).joints,
                               hand_model(side='left', hand_pose=pose).joints)
    assert restored._lock is not hand_model._lock


def test_gradients_and_float64(hand_model):
    pose = torch.zeros(1, 45, dtype=torch.float64, requires_grad=True)
    out = hand_model(side='right', hand_pose=pose)
    assert out.vertices.dtype == torch.float64
    out.joints[:, 12].sum().backward()
    assert pose.grad.abs().sum() > 0


def test_real_mano_dir_missing(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=MANO_URL):
        MANOHandModel(model_dir=str(tmp_path))
    monkeypatch.setenv('GCLHAND_MANO_DIR', str(tmp_path))
    with pytest.raises(FileNotFoundError, match='GCLHAND_MANO_DIR'):
        build_hand_model(dict(type='MANOHandModel'))


def test_real_mano_layout_from_dir(tmp_path, procedural_arrays):
    """A directory with MANO-named files is used as real MANO (default fingertips)."""
    import pickle
    for side, fn in (('right', 'MANO_RIGHT.pkl'), ('left', 'MANO_LEFT.pkl')):
        arr = {k: v for k, v in procedural_arrays[side].items() if k != 'fingertip_vertex_ids'}
        arr['f'] = procedural_arrays['right']['f']  # real MANO_LEFT repeats right's winding
        with open(tmp_path / fn, 'wb') as f:
            pickle.dump(arr, f, protocol=2)
    hm = MANOHandModel(model_dir=str(tmp_path))
    assert not hm.is_procedural
    assert hm.fingertip_ids.tolist() == [745, 317, 444, 556, 673]
    np.testing.assert_array_equal(hm.faces('left').numpy(), procedural_arrays['left']['f'])


def test_flat_hand_mean_default_adds_the_mean_pose(hand_model):
    """MANO's default (``flat_hand_mean=False``) poses the hand by ``hands_mean + pose``: a
    zero pose is the mean pose; with ``flat_hand_mean=True`` it is the rest template."""
    default = MANOHandModel(use_pca=False)
    assert default.flat_hand_mean is False
    zero = torch.zeros(1, 45)
    for side in ('left', 'right'):
        mean = torch.as_tensor(default.arrays[side]['hands_mean'], dtype=torch.float32)
        assert mean.abs().max() > 0.05
        torch.testing.assert_close(default(side=side, hand_pose=zero).vertices,
                                   hand_model(side=side, hand_pose=mean[None]).vertices,
                                   atol=1e-6, rtol=0)
        torch.testing.assert_close(hand_model(side=side, hand_pose=zero).vertices[0],
                                   hand_model.template(side), atol=1e-6, rtol=0)


def test_pca_component_count_bounds():
    assert MANOHandModel(num_pca_comps=1)(side='right', hand_pose=torch.ones(1, 1)) \
        .vertices.shape == (1, 778, 3)
    assert MANOHandModel(num_pca_comps=45).num_pca_comps == 45
    for bad in (0, 46):
        with pytest.raises(ValueError, match=rf'num_pca_comps must be in \[1, 45\], got {bad}'):
            MANOHandModel(num_pca_comps=bad)


def test_explicit_fingertip_ids(hand_model):
    """``fingertip_ids`` replaces the file's five tips (and changes the content hash); five
    ids below the vertex count are required."""
    tips = (10, 20, 30, 40, 777)
    custom = MANOHandModel(use_pca=False, flat_hand_mean=True, fingertip_ids=tips)
    assert custom.fingertip_ids.dtype == torch.long and custom.fingertip_ids.tolist() == \
        list(tips)
    assert list(tips) != hand_model.fingertip_ids.tolist()
    assert custom.content_hash != hand_model.content_hash
    out = custom(side='left', hand_pose=torch.randn(2, 45) * 0.3)
    torch.testing.assert_close(out.joints[:, [4, 8, 12, 16, 20]], out.vertices[:, list(tips)])
    with pytest.raises(ValueError, match=r'5 vertex ids < 778, got \[1, 2, 3, 4\]'):
        MANOHandModel(fingertip_ids=(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r'got \[1, 2, 3, 4, 778\]'):
        MANOHandModel(fingertip_ids=(1, 2, 3, 4, 778))


def test_procedural_model_is_generated_into_cache_dir(tmp_path, hand_model):
    model = MANOHandModel(cache_dir=str(tmp_path))
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*.pkl'))
    assert [f.split('/', 1)[1] for f in files] == ['MANO_LEFT.pkl', 'MANO_RIGHT.pkl']
    assert files[0].startswith('procedural_hand_v') and model.model_dir == str(
        tmp_path / files[0].split('/')[0])
    assert model.content_hash == hand_model.content_hash
