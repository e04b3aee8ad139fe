import os
import pickle
import sys
import types

import numpy as np
import pytest

from gclhand.hand.mano_io import (MANO_URL, UnsafePickleError, load_mano_arrays,
                                  safe_load_pickle)


class _System:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f'touch {self.path}', )


class _Eval:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return eval, (f"open({self.path!r}, 'w').write('pwned')", )


@pytest.mark.parametrize('payload', [_System, _Eval])
@pytest.mark.parametrize('protocol', [0, 2, 4])
def test_malicious_pickle_is_refused(tmp_path, payload, protocol):
    marker = tmp_path / 'side_effect'
    path = tmp_path / 'MANO_RIGHT.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'v_template': np.zeros((3, 3)), 'evil': payload(str(marker))}, f,
                    protocol=protocol)
    with pytest.raises(UnsafePickleError, match='refusing'):
        load_mano_arrays(str(path))
    assert not marker.exists()


def _fake_module(name, **attrs):
    mod = types.ModuleType(name)
    for k, v in attrs.items():
        v.__module__, v.__qualname__ = name, k
        setattr(mod, k, v)
    return mod


@pytest.fixture
def fake_chumpy_scipy(monkeypatch):
    """Classes named like chumpy.ch.Ch and scipy.sparse.csc.csc_matrix (state as theirs)."""

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty = set()

    class csc_matrix:  # noqa: N801 - the scipy name is what the pickle records
        def __init__(self, dense):
            rows, cols = np.nonzero(dense.T)  # column-major: indptr over columns
            self._shape = dense.shape
            self.indices = cols
            self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows,
                                                                      minlength=dense.shape[1]))])
            self.data = dense.T[rows, cols]
            self.maxprint = 50

    for name, mod in [('chumpy', _fake_module('chumpy')), ('scipy', _fake_module('scipy')),
                      ('scipy.sparse', _fake_module('scipy.sparse')), ('chumpy.ch', _fake_module(
            'chumpy.ch', Ch=Ch)), ('scipy.sparse.csc', _fake_module('scipy.sparse.csc',
                                                                   csc_matrix=csc_matrix))]:
        monkeypatch.setitem(sys.modules, name, mod)
    return Ch, csc_matrix


@pytest.mark.parametrize('protocol', [0, 2])
def test_chumpy_style_mano_file_loads(tmp_path, fake_chumpy_scipy, procedural_arrays,
                                      protocol):
    Ch, csc_matrix = fake_chumpy_scipy
    src = procedural_arrays['right']
    data = {k: src[k] for k in ('v_template', 'f', 'weights', 'kintree_table', 'posedirs',
                                'hands_components', 'hands_mean')}
    data['shapedirs'] = Ch(src['shapedirs'])
    data['J_regressor'] = csc_matrix(src['J_regressor'])
    data['bs_style'] = 'lbs'
    path = tmp_path / 'MANO_RIGHT.pkl'
    with open(path, 'wb') as f:
        pickle.dump(data, f, protocol=protocol)
    for name in ('chumpy', 'chumpy.ch', 'scipy', 'scipy.sparse', 'scipy.sparse.csc'):
        del sys.modules[name]  # loading must not need them
    out = load_mano_arrays(str(path))
    np.testing.assert_allclose(out['shapedirs'], src['shapedirs'])
    np.testing.assert_allclose(out['J_regressor'], src['J_regressor'])
    assert out['kintree_table'][0, 0] == -1 and out['bs_style'] == 'lbs'


def test_missing_and_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=MANO_URL):
        load_mano_arrays(str(tmp_path / 'MANO_RIGHT.pkl'))
    path = tmp_path / 'MANO_RIGHT.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'v_template': np.zeros((778, 3))}, f)
    with pytest.raises(ValueError, match="key 'f' missing"):
        load_mano_arrays(str(path))


def test_plain_arrays_roundtrip(tmp_path):
    path = tmp_path / 'a.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'a': np.arange(5.0), 'b': [np.int64(3), 'x', b'raw']}, f, protocol=2)
    out = safe_load_pickle(str(path))
    np.testing.assert_array_equal(out['a'], np.arange(5.0))
    assert out['b'][1:] == ['x', b'raw'] and out['b'][0] == 3


def _write_pair(folder, right, left):
    from gclhand.hand.mano_io import MANO_FILES, save_mano_arrays
    save_mano_arrays(right, str(folder / MANO_FILES['right']))
    save_mano_arrays(left, str(folder / MANO_FILES['left']))
    return str(folder)


def _first_shape_component_meshes(model_dir):
    """Rest-pose meshes of both hands with betas = e_0 (the component the bug affects)."""
    import torch

    from gclhand.hand import MANOHandModel
    hm = MANOHandModel(model_dir=model_dir, use_pca=False, flat_hand_mean=True)
    betas = torch.zeros(1, 10)
    betas[0, 0] = 3.0
    pose = torch.zeros(1, 45)
    return hm, {side: hm(side, pose, betas=betas).vertices[0] for side in ('left', 'right')}


def test_mano_left_shapedirs_sign_bug_is_fixed_on_load(tmp_path, procedural_arrays,
                                                       monkeypatch):
    """Official MANO_LEFT.pkl repeats MANO_RIGHT's shapedirs[:, 0, :] (smplx issue 48), so
    the same betas widen the left hand where they narrow the right one.  A pair carrying
    that bug must load as the correct mirror pair, with one log line."""
    import gclhand.hand.mano_io as mano_io
    logs = []
    monkeypatch.setattr(mano_io, 'print_log', lambda msg, **kw: logs.append(msg),
                        raising=False)
    right, good_left = procedural_arrays['right'], procedural_arrays['left']
    buggy_left = dict(good_left, shapedirs=good_left['shapedirs'].copy())
    buggy_left['shapedirs'][:, 0, :] = right['shapedirs'][:, 0, :]  # the official file's bug
    model_dir = _write_pair(tmp_path, right, buggy_left)

    hm, verts = _first_shape_component_meshes(model_dir)
    np.testing.assert_allclose(hm.arrays['left']['shapedirs'], good_left['shapedirs'])
    # left hand = mirror image (x -> -x) of the right hand, for the same betas
    mirrored = verts['right'] * verts['right'].new_tensor([-1., 1., 1.])
    assert float((verts['left'] - mirrored).abs().max()) < 1e-6
    assert len(logs) == 1 and 'shapedirs[:, 0, :]' in logs[0] and 'MANO_LEFT.pkl' in logs[0]
    _first_shape_component_meshes(model_dir)  # a second load of the same file logs nothing
    assert len(logs) == 1


def test_correct_mano_pair_is_loaded_unchanged(tmp_path, procedural_arrays, monkeypatch):
    import gclhand.hand.mano_io as mano_io
    logs = []
    monkeypatch.setattr(mano_io, 'print_log', lambda msg, **kw: logs.append(msg),
                        raising=False)
    model_dir = _write_pair(tmp_path, procedural_arrays['right'], procedural_arrays['left'])
    hm, verts = _first_shape_component_meshes(model_dir)
    for side in ('left', 'right'):
        np.testing.assert_array_equal(hm.arrays[side]['shapedirs'],
                                      procedural_arrays[side]['shapedirs'])
    mirrored = verts['right'] * verts['right'].new_tensor([-1., 1., 1.])
    assert float((verts['left'] - mirrored).abs().max()) < 1e-6
    assert logs == []


def test_left_shapedirs_sign_bug_uses_the_official_threshold():
    """InterHand2.6M / IntagHand flip when ``sum(|left_x - right_x|) < 1``; a pair whose left
    row is the mirror image is never flipped, however small its blend shapes."""
    from gclhand.hand.mano_io import left_shapedirs_has_sign_bug

    def pair(right_x, left_x):
        shape = np.zeros((4, 3, 10))
        right, left = shape.copy(), shape.copy()
        right[:, 0, :], left[:, 0, :] = right_x, left_x
        return dict(shapedirs=left), dict(shapedirs=right)

    right_x = np.full((4, 10), 0.05)  # sum |right_x| = 2
    off = np.zeros((4, 10))
    off[0, 0] = 0.9  # a copy off by 0.9 in all: still the official file's bug
    assert left_shapedirs_has_sign_bug(*pair(right_x, right_x + off))
    off[0, 0] = 1.1  # off by 1.1: not a copy by the official test
    assert not left_shapedirs_has_sign_bug(*pair(right_x, right_x + off))
    assert not left_shapedirs_has_sign_bug(*pair(right_x, -right_x))  # mirrored: correct
    tiny = np.full((4, 10), 1e-3)  # |left - right| sums to 0.08 < 1, but it is mirrored
    assert not left_shapedirs_has_sign_bug(*pair(tiny, -tiny))
    assert left_shapedirs_has_sign_bug(*pair(tiny, tiny))
    assert not left_shapedirs_has_sign_bug(*pair(0 * tiny, 0 * tiny))  # nothing to flip
