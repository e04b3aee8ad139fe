"""Tests of the synthetic two-hand dataset generator (layout, determinism, labels, resume)."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch

from gclhand.datasets.annotation import validate_intag_annotation
from gclhand.datasets.io import load_pickle_restricted
from gclhand.datasets.synth import generator as gen
from gclhand.datasets.synth import (decode_annotation, ensure_synthetic_dataset,
                                    generate_synthetic_dataset, rasterize, resolve_splits)
from gclhand.datasets.synth.sampler import (FINGER_LIMITS, PALM_TONE, PoseSampler, SkinSampler,
                                          palm_frame, palmar_weight, pca_basis)
from gclhand.hand import build_hand_model

SIZE, NUM = 64, 4


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    """The machine is shared: torch's intra-op threads only add contention at these sizes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def hm():
    return build_hand_model(dict(gen.DEFAULT_HAND_MODEL))


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth') / 'data')
    generate_synthetic_dataset(root, NUM, seed=0, img_size=SIZE, splits='train,val',
                               progress=False)
    return root


def _files(split_dir):
    return sorted(osp.relpath(osp.join(d, f), split_dir) for d, _, fs in os.walk(split_dir)
                  for f in fs)


def _expected_files(num):
    """Files of a complete split of ``num`` samples with all auxiliary maps."""
    return sorted(['meta.json'] + [f'{d}/{i}.{e}' for i in range(num) for d, e in
                                   (('img', 'jpg'), ('anno', 'pkl'), ('mask', 'jpg'),
                                    ('dense', 'jpg'))] +
                  [f'hms/{i}_{k}_{s}.jpg' for i in range(num) for k in range(7)
                   for s in ('left', 'right')])


def test_layout_keys_and_meta(dataset, hm):
    for split in ('train', 'val'):
        split_dir = osp.join(dataset, split)
        assert _files(split_dir) == _expected_files(NUM)
        meta = json.load(open(osp.join(split_dir, 'meta.json')))
        assert meta['count'] == NUM and meta['seed'] == 0 and meta['img_size'] == SIZE
        assert meta['generator_version'] == gen.GENERATOR_VERSION
        assert meta['hand_model_hash'] == hm.content_hash
        anno = load_pickle_restricted(osp.join(split_dir, 'anno', '0.pkl'))
        assert set(anno) == {'image', 'annotation', 'mano_params', 'camera'}
        assert {'file_name', 'height', 'width'} <= set(anno['image'])
        assert (anno['image']['height'], anno['image']['width']) == (SIZE, SIZE)
        assert anno['annotation']['hand_type'] == 'interacting'
        assert anno['annotation']['hand_type_valid'] == 1
        for side in ('left', 'right'):
            p = anno['mano_params'][side]
            assert set(p) == {'R', 'pose', 'shape', 'trans'}
            assert {k: v.shape for k, v in p.items()} == {
                'R': (1, 3, 3), 'pose': (1, 45), 'shape': (1, 10), 'trans': (1, 3)}
        assert {k: v.shape for k, v in anno['camera'].items()} == {
            'R': (3, 3), 't': (3, ), 'camera': (3, 3)}
        # the dataset class's schema check accepts it
        validate_intag_annotation(anno, 'anno/0.pkl')


def test_same_seed_identical_files_any_workers(dataset, tmp_path):
    other = str(tmp_path / 'again')
    generate_synthetic_dataset(other, NUM, seed=0, img_size=SIZE, splits='train', workers=2,
                               progress=False)
    a, b = osp.join(dataset, 'train'), osp.join(other, 'train')
    assert _files(a) == _files(b)
    _, mismatch, errors = filecmp.cmpfiles(a, b, _files(a), shallow=False)
    assert mismatch == [] and errors == []


def test_different_seed_or_split_differs(dataset, tmp_path):
    other = str(tmp_path / 'seed1')
    generate_synthetic_dataset(other, 2, seed=1, img_size=SIZE, splits='train', progress=False)
    for i in range(2):
        for rel in (f'img/{i}.jpg', f'anno/{i}.pkl'):
            assert not filecmp.cmp(osp.join(dataset, 'train', rel), osp.join(other, 'train', rel),
                                   shallow=False)
    # splits draw different samples for the same index
    assert not filecmp.cmp(osp.join(dataset, 'train', 'img/0.jpg'),
                           osp.join(dataset, 'val', 'img/0.jpg'), shallow=False)


def test_reprojected_joints_land_on_rendered_hands(dataset, hm):
    faces = torch.cat([hm.faces('left'), hm.faces('right') + hm.num_verts])
    renderer = gen.SyntheticRenderer(img_size=SIZE)
    inside, total = 0, 0
    for i in range(NUM):
        anno = load_pickle_restricted(osp.join(dataset, 'train', 'anno', f'{i}.pkl'))
        geo = decode_annotation(anno, hm)          # annotation -> hand model -> camera
        # the generator's own silhouette of this sample, independent of the pickle
        _, _, mask = renderer.render(0, 'train', i, return_mask=True)
        # the silhouette of the decoded mesh must be the rendered one
        frags = rasterize(torch.as_tensor(geo['verts'].reshape(-1, 3)), faces,
                          torch.as_tensor(anno['camera']['camera'], dtype=torch.float64), SIZE)
        iou = (frags.mask & mask).sum() / (frags.mask | mask).sum()
        assert iou > 0.99, f'sample {i}: decoded-mesh silhouette IoU {iou:.3f}'
        # projected joints fall on the hands (1 px tolerance for joints on the boundary)
        grown = torch.nn.functional.max_pool2d(mask[None, None].float(), 3, 1, 1)[0, 0] > 0
        uv = np.rint(geo['joints_2d'].reshape(-1, 2)).astype(int)
        ok = (uv >= 0).all(1) & (uv < SIZE).all(1)
        assert ok.all(), f'sample {i}: joints outside the image'
        inside += int(grown[uv[:, 1], uv[:, 0]].sum())
        total += len(uv)
        # both hands are in front of the camera and fill the crop
        assert (geo['verts'][..., 2] > 0.1).all()
        assert mask.float().mean() > 0.1
    assert inside / total > 0.9


def test_resume_after_interruption(dataset, tmp_path, monkeypatch):
    root = str(tmp_path / 'resume')
    real_write = gen.SyntheticRenderer.write
    calls = []

    def flaky_write(self, *task):
        if len(calls) == 2:
            raise KeyboardInterrupt('simulated interruption')
        calls.append(task[-2])                       # the scene index (one view per scene)
        return real_write(self, *task)

    monkeypatch.setattr(gen.SyntheticRenderer, 'write', flaky_write)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_dataset(root, NUM, seed=0, img_size=SIZE, splits='train',
                                   progress=False)
    split_dir = osp.join(root, 'train')
    assert not osp.exists(osp.join(split_dir, 'meta.json'))     # detected as incomplete
    assert not gen.split_is_complete(split_dir, NUM, {})
    calls.clear()
    generate_synthetic_dataset(root, NUM, seed=0, img_size=SIZE, splits='train',
                               progress=False)
    assert sorted(calls) == [2, 3]                               # only the missing ones
    ref = osp.join(dataset, 'train')
    _, mismatch, errors = filecmp.cmpfiles(ref, split_dir, _files(ref), shallow=False)
    assert mismatch == [] and errors == [] and _files(ref) == _files(split_dir)
    calls.clear()
    generate_synthetic_dataset(root, NUM, seed=0, img_size=SIZE, splits='train',
                               progress=False)
    assert calls == []                                           # complete: nothing to do
    # a smaller count keeps the first samples, drops the rest
    generate_synthetic_dataset(root, 2, seed=0, img_size=SIZE, splits='train', progress=False)
    assert calls == [] and _files(split_dir) == _expected_files(2)


def test_refuses_foreign_data(tmp_path):
    os.makedirs(tmp_path / 'train' / 'anno')
    (tmp_path / 'train' / 'anno' / '0.pkl').write_bytes(b'not ours')
    with pytest.raises(FileExistsError, match='generator did not write'):
        generate_synthetic_dataset(str(tmp_path), 1, img_size=SIZE, splits='train',
                                   progress=False)
    assert (tmp_path / 'train' / 'anno' / '0.pkl').read_bytes() == b'not ours'


def test_ensure_generates_once(tmp_path, monkeypatch):
    root = str(tmp_path / 'ens')
    assert ensure_synthetic_dataset(root, 1, seed=3, splits='val', img_size=32,
                                    progress=False) == root
    assert json.load(open(osp.join(root, 'val', 'meta.json')))['seed'] == 3

    def boom(*args, **kwargs):
        raise AssertionError('must not regenerate a complete dataset')

    monkeypatch.setattr(gen, 'generate_synthetic_dataset', boom)
    ensure_synthetic_dataset(root, 1, seed=3, splits='val', img_size=32, progress=False)
    with pytest.raises(AssertionError, match='must not regenerate'):   # other seed: regenerate
        ensure_synthetic_dataset(root, 1, seed=4, splits='val', img_size=32, progress=False)


def test_resolve_splits():
    assert resolve_splits(5, 'train') == {'train': 5}
    assert resolve_splits(5, ['train', 'test']) == {'train': 5, 'test': 5}
    assert resolve_splits(100, {'train': 0.8, 'val': 0.1, 'test': 0.1}) == {
        'train': 80, 'val': 10, 'test': 10}
    assert resolve_splits({'train': 3, 'val': 1}, 'train,val') == {'train': 3, 'val': 1}
    with pytest.raises(ValueError, match='number of samples'):
        resolve_splits(None, 'train')
    with pytest.raises(ValueError, match='fraction'):
        resolve_splits(10, {'train': 1.5})


def test_pose_sampler_respects_joint_limits(hm):
    ps = PoseSampler(hm)
    rng = np.random.default_rng(0)
    for side in ('left', 'right'):
        comps, mean = pca_basis(hm, side)
        flex = []
        for _ in range(20):
            aa = (ps.sample(rng, side) @ comps + mean).reshape(15, 3)
            comp = np.einsum('mij,mj->mi', ps.frames[side], aa)
            for m in range(12):                   # finger joints (MANO 1..12)
                level = m % 3 + 1
                lim = np.array(FINGER_LIMITS[level])
                assert (comp[m] >= lim[:, 0] - 1e-6).all() and (comp[m] <= lim[:, 1] + 1e-6).all()
            flex.append(comp[:12, 1])
        # the model's mean pose is a slightly curled hand: in these frames its flexion is
        # positive (towards the palm), which checks the palm-normal convention per side
        mean_flex = np.einsum('mij,mj->mi', ps.frames[side], mean.reshape(15, 3))[:12, 1]
        assert (mean_flex > 0).mean() > 0.8
        assert np.std(flex) > 0.1                  # poses vary


def _right_hand_axes(hm, scene):
    """Camera-frame unit vectors: right hand's wrist -> middle MCP, and its palm normal."""
    from gclhand.datasets.synth.sampler import hand_forward, palm_frame
    _, j = hand_forward(hm, 'right', scene.hands['right'])
    frame, _ = palm_frame(j, 'right')
    cam = scene.cam_R.astype(np.float64)
    return cam @ frame[:, 1], cam @ frame[:, 2]


@pytest.mark.parametrize('tilt', [0.0, 30.0])
def test_upright_orientation_fingers_up_any_yaw(hm, tilt):
    """'upright': the right hand's fingers point up in the image (camera -y) within the tilt
    (+ the camera's own 10 deg), while the palm normal turns freely about the vertical."""
    sampler = gen.SceneSampler(hm, img_size=SIZE, placement=dict(
        orientation='upright', max_tilt_deg=tilt))
    rng = np.random.default_rng(0)
    ups, normals = [], []
    for _ in range(12):
        up, normal = _right_hand_axes(hm, sampler.sample(rng))
        ups.append(up)
        normals.append(normal)
    ups, normals = np.array(ups), np.array(normals)
    tol = np.deg2rad(tilt + 10.0 + 1e-3)
    assert (np.arccos(np.clip(-ups[:, 1], -1, 1)) <= tol).all()
    # yaw spreads the palm normal around the vertical axis: both facing towards the camera
    # (-z) and away (+z) occur in 12 draws of a uniform 360 deg yaw
    assert normals[:, 2].min() < -0.3 and normals[:, 2].max() > 0.3


def test_uniform_orientation_includes_upside_down(hm):
    sampler = gen.SceneSampler(hm, img_size=SIZE)
    rng = np.random.default_rng(0)
    ups = np.array([_right_hand_axes(hm, sampler.sample(rng))[0] for _ in range(12)])
    assert ups[:, 1].max() > 0.3  # some hands point down in the image


def test_unknown_orientation_is_refused(hm):
    with pytest.raises(ValueError, match="unknown orientation 'sideways'"):
        gen.SceneSampler(hm, placement=dict(orientation='sideways'))


def test_palmar_weight_marks_the_palm_side(hm):
    """Rest mesh: vertices weighted > 0.5 lie on the palm-normal side of the palm centre
    (the side the fingers curl towards), those weighted < 0.5 behind it; weights in [0, 1]."""
    for side in ('left', 'right'):
        v = hm.template(side).double().numpy()
        joints = hm.joints_from_vertices(hm.template(side)[None], side)[0].double().numpy()
        w = palmar_weight(v, hm.faces(side).numpy(), joints, side)
        frame, centre = palm_frame(joints, side)
        palm = (np.linalg.norm(v - centre, axis=1) < 0.03)          # the palm itself
        height = (v - centre) @ frame[:, 2]
        assert w.min() >= 0 and w.max() <= 1
        assert 0.3 < (w > 0.5).mean() < 0.7
        assert (height[palm & (w > 0.9)] > 0).all() and (height[palm & (w < 0.1)] < 0).all()


def test_skin_sampler_lightens_the_palm(hm):
    templates = {s: hm.template(s).double().numpy() for s in ('left', 'right')}
    palmar = {s: np.linspace(0, 1, len(templates[s])) for s in templates}
    plain = SkinSampler(variation=0.0, channel_jitter=0.0, palm_lightening=(0, 0))
    full = SkinSampler(variation=0.0, channel_jitter=0.0, palm_lightening=(1, 1))
    a = plain.sample(np.random.default_rng(3), templates, palmar)
    b = full.sample(np.random.default_rng(3), templates, palmar)
    for s in templates:
        assert np.allclose(a[s], a[s][0])                         # one tone, no palm
        assert np.allclose(b[s][0], a[s][0])                      # weight 0: the tone
        assert np.allclose(b[s][-1], PALM_TONE, atol=1e-6)        # weight 1: the palm tone
    with pytest.raises(ValueError, match='palm_lightening'):
        SkinSampler(palm_lightening=(0.5, 0.2))


def test_views_of_a_scene(hm, tmp_path):
    """views_per_scene=3: view 0 of scene s is exactly the single-view sample s; the other
    views keep the articulation and shape and turn the pair about the vertical axis
    (upright orientation); every view's labels decode from its annotation and the files do
    not depend on the number of workers."""
    sampler = dict(placement=dict(orientation='upright'))
    single = str(tmp_path / 'single')
    multi = str(tmp_path / 'multi')
    generate_synthetic_dataset(single, 2, seed=0, img_size=SIZE, splits='train,val',
                               progress=False, sampler=sampler, aux_maps=())
    generate_synthetic_dataset(multi, dict(train=5, val=2), seed=0, img_size=SIZE,
                               splits='train,val', progress=False, sampler=sampler,
                               aux_maps=(), views_per_scene=dict(train=3), workers=2)
    # a split the dict leaves out has one view per scene: the single-view samples
    _, mismatch, _ = filecmp.cmpfiles(osp.join(single, 'val'), osp.join(multi, 'val'),
                                      ['img/0.jpg', 'img/1.jpg', 'anno/1.pkl'], shallow=False)
    assert mismatch == []
    load = lambda root, i: load_pickle_restricted(osp.join(root, 'train', 'anno', f'{i}.pkl'))  # noqa
    assert filecmp.cmp(osp.join(single, 'train', 'img', '0.jpg'),
                       osp.join(multi, 'train', 'img', '0.jpg'), shallow=False)
    a0, a1, a2 = (load(multi, i) for i in range(3))
    for a in (a1, a2):
        for side in ('left', 'right'):
            np.testing.assert_array_equal(a['mano_params'][side]['pose'],
                                          a0['mano_params'][side]['pose'])
            np.testing.assert_array_equal(a['mano_params'][side]['shape'],
                                          a0['mano_params'][side]['shape'])
        # the pair turned as a whole: the left hand's orientation relative to the right one
        # is kept, and the right palm's turn is about the world's vertical axis
        R = {s: a['mano_params'][s]['R'][0].astype(np.float64) for s in ('left', 'right')}
        R0 = {s: a0['mano_params'][s]['R'][0].astype(np.float64) for s in ('left', 'right')}
        np.testing.assert_allclose(R['right'].T @ R['left'], R0['right'].T @ R0['left'],
                                   atol=1e-5)
        turn = R['right'] @ R0['right'].T
        np.testing.assert_allclose(turn @ [0, 1, 0], [0, 1, 0], atol=1e-5)
        assert not np.allclose(turn, np.eye(3), atol=1e-3)
    # samples 3, 4 are views 0, 1 of scene 1, whose view 0 is the single-view sample 1
    np.testing.assert_array_equal(load(single, 1)['mano_params']['right']['pose'],
                                  load(multi, 3)['mano_params']['right']['pose'])
    one_worker = str(tmp_path / 'multi1')
    generate_synthetic_dataset(one_worker, dict(train=5, val=2), seed=0, img_size=SIZE,
                               splits='train,val', progress=False, sampler=sampler,
                               aux_maps=(), views_per_scene=dict(train=3))
    _, mismatch, errors = filecmp.cmpfiles(osp.join(multi, 'train'),
                                           osp.join(one_worker, 'train'),
                                           [f for f in _files(osp.join(multi, 'train'))
                                            if f != 'meta.json'], shallow=False)
    assert mismatch == [] and errors == []
    renderer = gen.SyntheticRenderer(img_size=SIZE, sampler=sampler, aux_maps=(),
                                     views_per_scene=3)
    for i in range(5):
        geo = decode_annotation(load(multi, i), hm)
        _, anno, mask = renderer.render(0, 'train', i, return_mask=True)
        frags = rasterize(torch.as_tensor(geo['verts'].reshape(-1, 3)),
                          torch.cat([hm.faces('left'), hm.faces('right') + hm.num_verts]),
                          torch.as_tensor(anno['camera']['camera'], dtype=torch.float64), SIZE)
        assert (frags.mask & mask).sum() / (frags.mask | mask).sum() > 0.99


def test_placed_meshes_are_the_hand_model_of_the_stored_parameters(hm):
    """The generator renders the placer's rigidly placed meshes instead of running the hand
    model again; they must be what the annotation decodes to (float32 parameters)."""
    renderer = gen.SyntheticRenderer(img_size=SIZE)
    for i in range(3):
        scene = renderer.sampler.sample(gen.sample_rng(0, 'train', i))
        anno = gen.make_annotation(scene, i, 'train', 0, SIZE, np.zeros(4), gen.GENERATOR_VERSION)
        geo = decode_annotation(anno, hm)
        R, t = scene.cam_R.astype(np.float64), scene.cam_t.astype(np.float64)
        for h, side in enumerate(('left', 'right')):
            verts, joints = scene.world[side]
            np.testing.assert_allclose(verts @ R.T + t, geo['verts'][h], atol=2e-6)
            np.testing.assert_allclose(joints @ R.T + t, geo['joints'][h], atol=2e-6)


def test_rigid_probe_matches_the_distance_matrix_test(hm):
    """The k-d tree inside test of a rigidly placed hand equals the (P, V) distance-matrix
    test on the placed meshes."""
    from gclhand.datasets.synth.penetration import (RigidHandProbe, interpenetration,
                                                    placed_interpenetration)
    from gclhand.datasets.synth.renderer import vertex_normals
    from gclhand.datasets.synth.rotations import random_rotation
    rng = np.random.default_rng(0)
    canon = {}
    for side in ('left', 'right'):
        out = hm(side=side, hand_pose=torch.as_tensor(rng.normal(0, 1, (1, 45)), dtype=torch.float32))
        v = out.vertices[0].double().numpy()
        canon[side] = (v, out.joints[0, 0].double().numpy(),
                       vertex_normals(torch.as_tensor(v), hm.faces(side).long()).numpy())
    probes = [RigidHandProbe(v, n) for v, _, n in canon.values()]
    checked = 0
    for _ in range(20):
        poses, world, normals = [], [], []
        for v, root, n in canon.values():
            R, t = random_rotation(rng), rng.normal(0, 0.005, 3) - root
            poses.append((R, root, t))
            world.append((v - root) @ R.T + root + t)
            normals.append(n @ R.T)
        new = placed_interpenetration(probes, poses, world, stride=2)
        old = interpenetration(*(torch.as_tensor(x) for x in
                                 (world[0], normals[0], world[1], normals[1])), stride=2)
        np.testing.assert_allclose(new, old, atol=1e-9)
        checked += old[0] > 0
    assert checked >= 5  # most random placements overlap


def test_synthetic_data_loaded_with_another_hand_model_is_named_with_the_fix(tmp_path):
    """A plugin hand model (a subclass with its own content_hash) reading data the generator
    made with the default one: the error names the plugin class and the hash, not an
    'unknown' model, and says how to make the two agree for synthetic data."""
    from gclhand.datasets import InterHandIntagDataset
    from gclhand.datasets.provenance import HandModelMismatchError
    from gclhand.hand import MANOHandModel
    from gclhand.registry import HAND_MODELS

    @HAND_MODELS.register_module(force=True)
    class RehashedHandModelForTest(MANOHandModel):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.content_hash = 'f' * 16

    root = str(tmp_path / 'synth')
    generate_synthetic_dataset(root, 2, seed=0, img_size=SIZE, splits='train', progress=False)
    try:
        with pytest.raises(HandModelMismatchError) as err:
            InterHandIntagDataset(root, 'train',
                                  hand_model=dict(type='RehashedHandModelForTest'))
    finally:  # no test-only type left in the registry for the tests that list it
        HAND_MODELS._module_dict.pop('RehashedHandModelForTest', None)
    message = str(err.value)
    made = json.load(open(osp.join(root, 'train', 'meta.json')))['hand_model_hash']
    assert f'made with the hand model {made}, but the dataset loads the ' \
           f"RehashedHandModelForTest (procedural) hand model {'f' * 16}" in message
    assert 'unknown' not in message and 'synthetic.hand_model' in message
