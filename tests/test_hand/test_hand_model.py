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


def test_file_fingertips_are_used_as_long_and_every_file_enters_the_hash(
        tmp_path, procedural_arrays, hand_model, write_mano_dir):
    """A MANO-format file's own ``fingertip_vertex_ids`` (stored here as int32) become the
    long fingertip ids; the content hash changes with either hand's arrays and the tips."""
    base = {side: dict(procedural_arrays[side]) for side in ('left', 'right')}
    tips = np.array([11, 22, 33, 44, 55], dtype=np.int32)
    base['right']['fingertip_vertex_ids'] = tips
    own_tips = MANOHandModel(model_dir=write_mano_dir(tmp_path / 'tips', base))
    assert own_tips.fingertip_ids.dtype == torch.long
    assert own_tips.fingertip_ids.tolist() == tips.tolist()
    hashes = {hand_model.content_hash, own_tips.content_hash}
    for side in ('left', 'right'):
        changed = {s: dict(procedural_arrays[s]) for s in ('left', 'right')}
        changed[side]['v_template'] = changed[side]['v_template'] + 1e-4
        hashes.add(MANOHandModel(model_dir=write_mano_dir(tmp_path / side, changed))
                   .content_hash)
    assert len(hashes) == 4


def test_default_cache_dir_and_generation_happens_once(tmp_path, monkeypatch):
    from gclhand.hand import hand_model as hand_model_module
    monkeypatch.delenv('GCLHAND_CACHE', raising=False)
    monkeypatch.setenv('HOME', str(tmp_path))
    assert hand_model_module.default_cache_dir() == str(tmp_path / '.cache' / 'gclhand')
    monkeypatch.setenv('GCLHAND_CACHE', str(tmp_path / 'elsewhere'))
    assert hand_model_module.default_cache_dir() == str(tmp_path / 'elsewhere')
    root = hand_model_module.procedural_model_dir(str(tmp_path / 'cache'))

    def must_not_run():
        raise AssertionError('the cached procedural files were generated again')

    monkeypatch.setattr(hand_model_module, 'generate_procedural_hand', must_not_run)
    assert hand_model_module.procedural_model_dir(str(tmp_path / 'cache')) == root


def test_smplx_layers_are_silent_and_hold_no_parameters(capfd):
    """Every input reaches smplx per call, so its layers create no pose/shape/translation
    parameters (which a device copy or an optimizer would otherwise pick up), and smplx's
    notice about MANO's 10 shape components is not printed."""
    capfd.readouterr()
    model = MANOHandModel(use_pca=False, flat_hand_mean=True)
    captured = capfd.readouterr()
    assert captured.out == ''
    for side in ('left', 'right'):
        layer = model._layer(side, torch.device('cpu'), torch.float32)
        assert [name for name, _ in layer.named_parameters()] == []
        assert layer.num_betas == 10


def test_forward_input_forms_and_errors(hand_model):
    """Positional arguments, an integer pose (cast to float32), the pose width of each
    parameterisation in the error message, and an unknown side."""
    pose = torch.zeros(2, 45, dtype=torch.long)
    out = hand_model('right', pose)
    assert out.vertices.dtype == torch.float32
    torch.testing.assert_close(out.vertices[1], hand_model.template('right'), atol=1e-6,
                               rtol=0)
    axis_angle = MANOHandModel(use_pca=False, num_pca_comps=6)
    assert axis_angle('left', torch.zeros(1, 45)).vertices.shape == (1, 778, 3)
    with pytest.raises(ValueError, match=r'must be \(B, 45\) \(axis-angle\), got \(1, 6\)'):
        axis_angle('left', torch.zeros(1, 6))
    with pytest.raises(ValueError, match=r'must be \(B, 6\) \(PCA coefficients\), got'):
        MANOHandModel(num_pca_comps=6)('left', torch.zeros(1, 45))
    with pytest.raises(ValueError, match=r"side must be one of \('left', 'right'\), got 'both'"):
        hand_model('both', torch.zeros(1, 45))


def test_shape_orientation_and_translation_by_hand(hand_model):
    """At zero pose the mesh is the shaped template ``T + S beta`` rotated by
    ``global_orient`` about the shaped root joint ``J_0 = J_regressor[0] (T + S beta)``
    and shifted by ``transl`` (MANO's linear blend skinning with one moving joint)."""
    from scipy.spatial.transform import Rotation
    betas = torch.tensor([[1.5, -0.7, 0.3, 0.0, 0.9, -1.2, 0.4, 0.0, 0.2, -0.5]],
                         dtype=torch.float64)
    orient = torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64)
    transl = torch.tensor([[0.01, -0.02, 0.3]], dtype=torch.float64)
    for side in ('left', 'right'):
        arrays = hand_model.arrays[side]
        shaped = arrays['v_template'] + np.einsum('vck,k->vc', arrays['shapedirs'],
                                                  betas[0].numpy())
        root = arrays['J_regressor'][0] @ shaped
        rot = Rotation.from_rotvec(orient[0].numpy()).as_matrix()
        expected = (shaped - root) @ rot.T + root + transl[0].numpy()
        out = hand_model(side, torch.zeros(1, 45, dtype=torch.float64), betas=betas,
                         global_orient=orient, transl=transl)
        np.testing.assert_allclose(out.vertices[0].numpy(), expected, atol=1e-7, rtol=0)
        assert np.abs(shaped - arrays['v_template']).max() > 1e-3  # betas matter
        # smplx's kinematic joints: the root stays where the shaped rest root was, shifted
        assert out.joints_mano.shape == (1, 16, 3)
        np.testing.assert_allclose(out.joints_mano[0, 0].numpy(), root + transl[0].numpy(),
                                   atol=1e-7, rtol=0)
        # other dtypes of betas / orientation / translation follow the pose's
        mixed = hand_model(side, torch.zeros(1, 45, dtype=torch.float64),
                           betas=betas.float(), global_orient=orient.float(),
                           transl=transl.float())
        assert mixed.vertices.dtype == torch.float64
        np.testing.assert_allclose(mixed.vertices[0].numpy(), expected, atol=1e-6, rtol=0)


def test_default_config_and_float32_accessors(hand_model):
    """``build_hand_model()`` and a config without ``type`` give the default
    ``MANOHandModel``; the template and regressor come as float32 (the files hold
    float64)."""
    default = build_hand_model()
    assert type(default) is MANOHandModel is type(build_hand_model(dict(model_dir=None)))
    assert default.use_pca and not default.flat_hand_mean
    for side in ('left', 'right'):
        assert hand_model.template(side).dtype == torch.float32
        assert hand_model.joint_regressor(side).dtype == torch.float32
        assert hand_model.joint_regressor(side).shape == (16, 778)
