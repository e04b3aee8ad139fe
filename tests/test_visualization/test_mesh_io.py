"""OBJ / PLY writers: round trips through our reader and through trimesh."""
import numpy as np
import pytest

from gclhand.visualization import read_obj, write_mesh, write_obj


def _mesh():
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(50, 3)) * 0.05
    faces = rng.integers(0, 50, size=(80, 3))
    return verts, faces


def test_obj_round_trip(tmp_path):
    verts, faces = _mesh()
    path = write_obj(str(tmp_path / 'sub' / 'm.obj'), verts, faces)
    v, f = read_obj(path)
    assert v.shape == (50, 3) and f.shape == (80, 3)
    np.testing.assert_allclose(v, verts, atol=5e-7)  # %.6f
    np.testing.assert_array_equal(f, faces)
    text = open(path).read()
    assert '\nf ' in text and min(int(x) for line in text.splitlines() if line[:2] == 'f '
                                  for x in line.split()[1:]) >= 1  # OBJ is 1-based


def test_obj_with_colours_and_errors(tmp_path):
    verts, faces = _mesh()
    path = write_obj(str(tmp_path / 'c.obj'), verts, faces, colors=(0.3, 0.5, 0.9))
    first_v = next(line for line in open(path) if line.startswith('v '))
    assert len(first_v.split()) == 7
    v, _ = read_obj(path)
    np.testing.assert_allclose(v, verts, atol=5e-7)
    with pytest.raises(ValueError, match='face indices'):
        write_obj(str(tmp_path / 'bad.obj'), verts, faces + 50)
    with pytest.raises(ValueError, match='.stl'):
        write_mesh(str(tmp_path / 'x.stl'), verts, faces)


@pytest.mark.parametrize('ext', ['obj', 'ply'])
def test_trimesh_loads_written_meshes(tmp_path, ext):
    trimesh = pytest.importorskip('trimesh')
    from gclhand.hand import build_hand_model
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    verts, faces = hm.template('left').numpy(), hm.faces('left').numpy()
    path = write_mesh(str(tmp_path / f'left.{ext}'), verts, faces, colors=(0.3, 0.5, 0.9))
    mesh = trimesh.load(path, process=False, force='mesh')
    assert mesh.vertices.shape == (778, 3) and mesh.faces.shape == (len(faces), 3)
    np.testing.assert_allclose(mesh.vertices, verts, atol=5e-7)
    np.testing.assert_array_equal(mesh.faces, faces)
