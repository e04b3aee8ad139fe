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
    missing = str(tmp_path / 'MANO_RIGHT.pkl')
    with pytest.raises(FileNotFoundError) as err:
        load_mano_arrays(missing)
    found_nowhere = f'MANO model file {missing!r} not found or unreadable. Download the MANO'
    assert str(err.value).startswith(found_nowhere) and MANO_URL in str(err.value)
    assert str(err.value).endswith(
        "set it as the hand model's model_dir in the config or in the GCLHAND_MANO_DIR "
        'environment variable. Leave both unset to use the licence-free procedural hand.')
    path = tmp_path / 'MANO_RIGHT.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'v_template': np.zeros((778, 3))}, f)
    with pytest.raises(ValueError, match="key 'f' missing") as err:
        load_mano_arrays(str(path))
    assert f'MANO model file {str(path)!r}' in str(err.value)
    with open(path, 'wb') as f:
        pickle.dump([np.zeros((778, 3))], f)
    with pytest.raises(ValueError, match=r'expected a dict of arrays \(MANO layout\), got '
                       r'list\. MANO model file'):
        load_mano_arrays(str(path))


def test_wrong_array_shapes_are_named_and_types_normalised(tmp_path, procedural_arrays):
    path = str(tmp_path / 'MANO_RIGHT.pkl')
    good = dict(procedural_arrays['right'])
    good['f'] = good['f'].astype(np.uint32)
    good['kintree_table'] = good['kintree_table'].astype(np.uint32)  # root 4294967295
    good['kintree_table'][0, 0] = 4294967295
    with open(path, 'wb') as f:
        pickle.dump(good, f, protocol=2)
    out = load_mano_arrays(path)
    assert out['f'].dtype == out['kintree_table'].dtype == np.int64
    assert out['kintree_table'][0, 0] == -1 and out['v_template'].dtype == np.float64
    for key, bad, expected in [('v_template', np.zeros((778, 4)), r"\('\*', 3\)"),
                               ('posedirs', np.zeros((778, 3, 10)), r"\('\*', 3, 135\)"),
                               ('hands_mean', np.zeros(44), r'\(45,\)')]:
        with open(path, 'wb') as f:
            pickle.dump(dict(good, **{key: bad}), f, protocol=2)
        with pytest.raises(ValueError, match=rf"key '{key}' has shape {_escaped(bad.shape)}, "
                           rf'expected {expected}$'):
            load_mano_arrays(path)


def _escaped(shape):
    import re
    return re.escape(str(shape))


def test_plain_arrays_roundtrip(tmp_path):
    path = tmp_path / 'a.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'a': np.arange(5.0), 'b': [np.int64(3), 'x', b'raw']}, f, protocol=2)
    out = safe_load_pickle(str(path))
    np.testing.assert_array_equal(out['a'], np.arange(5.0))
    assert out['b'][1:] == ['x', b'raw'] and out['b'][0] == 3


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
                                                       monkeypatch, write_mano_dir):
    """Official MANO_LEFT.pkl repeats MANO_RIGHT's shapedirs[:, 0, :] (smplx issue 48), so
    the same betas widen the left hand where they narrow the right one.  A pair carrying
    that bug must load as the correct mirror pair, with one log line."""
    import gclhand.hand.mano_io as mano_io
    logs = []
    monkeypatch.setattr(mano_io, 'print_log', lambda msg, **kw: logs.append((msg, kw)),
                        raising=False)
    right, good_left = procedural_arrays['right'], procedural_arrays['left']
    buggy_left = dict(good_left, shapedirs=good_left['shapedirs'].copy())
    buggy_left['shapedirs'][:, 0, :] = right['shapedirs'][:, 0, :]  # the official file's bug
    model_dir = write_mano_dir(tmp_path, dict(right=right, left=buggy_left))

    hm, verts = _first_shape_component_meshes(model_dir)
    np.testing.assert_allclose(hm.arrays['left']['shapedirs'], good_left['shapedirs'])
    # left hand = mirror image (x -> -x) of the right hand, for the same betas
    mirrored = verts['right'] * verts['right'].new_tensor([-1., 1., 1.])
    assert float((verts['left'] - mirrored).abs().max()) < 1e-6
    assert len(logs) == 1 and logs[0][1] == dict(logger='current')
    assert logs[0][0].startswith(f"{tmp_path / 'MANO_LEFT.pkl'}: shapedirs[:, 0, :] has "
                                 "MANO_RIGHT's sign (the known MANO_LEFT bug, smplx issue 48)")
    _first_shape_component_meshes(model_dir)  # a second load of the same file logs nothing
    assert len(logs) == 1


def test_correct_mano_pair_is_loaded_unchanged(tmp_path, procedural_arrays, monkeypatch,
                                               write_mano_dir):
    import gclhand.hand.mano_io as mano_io
    logs = []
    monkeypatch.setattr(mano_io, 'print_log', lambda msg, **kw: logs.append(msg),
                        raising=False)
    model_dir = write_mano_dir(tmp_path, procedural_arrays)
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
    quarter = np.full((4, 10), 0.25)
    off = np.zeros((4, 10))
    off[0, 0] = 1.0  # a summed difference of exactly 1 is not below the threshold
    assert not left_shapedirs_has_sign_bug(*pair(quarter, quarter + off))
    left, right = pair(quarter, quarter)
    left['shapedirs'] = left['shapedirs'][:, :, :5]  # other shape sizes: not comparable
    assert not left_shapedirs_has_sign_bug(left, right)


def _dense_with_pattern():
    """A rectangular matrix whose transpose, row/column swap or lost entry all differ."""
    dense = np.zeros((4, 3))
    dense[0, 1], dense[2, 0], dense[3, 2], dense[1, 2] = 1.5, -2.0, 3.25, 0.5
    return dense


@pytest.mark.parametrize('protocol', [0, 2, 5])
@pytest.mark.parametrize('kind', ['matrix', 'array'])
@pytest.mark.parametrize('fmt', ['csc', 'csr', 'coo'])
def test_scipy_sparse_pickles_load_as_dense_arrays(fmt, kind, protocol):
    """Sparse matrices and arrays pickled by the installed scipy (whose COO layout changed
    from ``row``/``col`` to ``coords`` in 1.13) become the same dense arrays, unimported."""
    sparse = pytest.importorskip('scipy.sparse')
    dense = _dense_with_pattern()
    obj = getattr(sparse, f'{fmt}_{kind}')(dense)
    out = safe_load_pickle_bytes(pickle.dumps({'J_regressor': obj}, protocol=protocol))
    assert isinstance(out['J_regressor'], np.ndarray)
    np.testing.assert_array_equal(out['J_regressor'], dense)


def safe_load_pickle_bytes(payload: bytes):
    import io

    from gclhand.hand.mano_io import RestrictedUnpickler, _to_plain
    return _to_plain(RestrictedUnpickler(io.BytesIO(payload), encoding='latin1').load())


@pytest.mark.parametrize('coords', ['row_col', 'coords'])
def test_coo_state_of_every_scipy_version_sums_duplicates(monkeypatch, coords):
    """A COO matrix's state before scipy 1.13 (``row``, ``col``) and since (``coords``),
    with a repeated entry that scipy's ``toarray`` sums; ``shape`` as very old scipy."""

    class coo_matrix:  # noqa: N801 - the scipy name is what the pickle records
        def __init__(self):
            row, col = np.array([0, 2, 2, 1]), np.array([1, 0, 0, 3])
            if coords == 'coords':
                self.coords = (row, col)
            else:
                self.row, self.col = row, col
            self.data = np.array([1.0, 2.0, 0.5, -4.0], dtype=np.float32)
            self.shape = (3, 4)

    for name, mod in [('scipy', _fake_module('scipy')),
                      ('scipy.sparse', _fake_module('scipy.sparse', coo_matrix=coo_matrix))]:
        monkeypatch.setitem(sys.modules, name, mod)
    payload = pickle.dumps(coo_matrix(), protocol=2)
    out = safe_load_pickle_bytes(payload)
    expected = np.zeros((3, 4), dtype=np.float32)
    expected[0, 1], expected[2, 0], expected[1, 3] = 1.0, 2.5, -4.0
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_empty_sparse_matrix_is_float64_zeros():
    sparse = pytest.importorskip('scipy.sparse')
    out = safe_load_pickle_bytes(pickle.dumps(sparse.csc_matrix((2, 3), dtype=np.int8)))
    assert out.shape == (2, 3) and out.dtype == np.float64 and not out.any()


def test_chumpy_object_without_array_state_is_refused(monkeypatch):
    """Only terminal chumpy arrays (state with ``x``) can be read without chumpy; a
    derived expression, or a state that is not a dict, says so instead of loading
    something else."""

    class Select:
        def __init__(self):
            self.a, self.idxs = np.zeros(3), np.arange(2)

    class Ch:
        def __getstate__(self):
            return ['x', np.zeros(3)]

        def __setstate__(self, state):
            pass

    monkeypatch.setitem(sys.modules, 'chumpy', _fake_module('chumpy', Select=Select, Ch=Ch))
    for obj in (Select(), Ch()):
        with pytest.raises(pickle.UnpicklingError) as err:
            safe_load_pickle_bytes(pickle.dumps(obj, protocol=2))
        assert str(err.value) == (
            'a chumpy object in the MANO file is not a plain Ch array (no "x" state); only '
            'terminal chumpy arrays can be read without chumpy')


def test_object_arrays_of_chumpy_arrays_become_numeric(fake_chumpy_scipy):
    Ch, _ = fake_chumpy_scipy
    holder = np.empty((2, 1), dtype=object)
    holder[0, 0], holder[1, 0] = Ch(np.array([1.0, 2.0])), Ch(np.array([3.0, 4.0]))
    out = safe_load_pickle_bytes(pickle.dumps({'rows': holder}, protocol=2))['rows']
    assert out.dtype == np.float64 and out.shape == (2, 1, 2)
    np.testing.assert_array_equal(out[:, 0], [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize('protocol', [0, 2, 4, 5])
def test_numpy_arrays_of_every_protocol_roundtrip(protocol):
    """dtype, shape, memory order and values survive, including protocol 5's
    ``_frombuffer`` path and the ``numpy.core`` module names of numpy 1 pickles."""
    arrays = {'f': np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
              'c': np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
              'u': np.array([4294967295, 7], dtype=np.uint32),
              'b': np.array([True, False]), 's': np.float64(2.5)}
    payload = pickle.dumps(arrays, protocol=protocol)
    variants = [payload]
    if protocol == 0:  # what numpy < 2 (and every official MANO file) writes
        variants.append(payload.replace(b'numpy._core.', b'numpy.core.'))
        assert variants[1] != payload
    for data in variants:
        out = safe_load_pickle_bytes(data)
        for key, arr in arrays.items():
            assert out[key].dtype == arr.dtype and out[key].shape == arr.shape
            np.testing.assert_array_equal(out[key], arr)
        assert out['f'].flags.f_contiguous and not out['f'].flags.c_contiguous


@pytest.mark.parametrize('payload, match', [
    # copyreg reconstruction of a class that is not a stand-in (here ``list``)
    (b'ccopy_reg\n_reconstructor\n(c__builtin__\nlist\nc__builtin__\nobject\nNtR.',
     'copyreg._reconstructor'),
    # a stand-in rebuilt on a base other than object
    (b'ccopy_reg\n_reconstructor\n(cchumpy.ch\nCh\nc__builtin__\nlist\nNtR.',
     'copyreg._reconstructor'),
    # _codecs.encode is only latin-1 (how protocol 2 stores bytes)
    (b'c_codecs\nencode\n(Vimport os\nVrot13\ntR.', 'encoding'),
    (b'cbuiltins\ngetattr\n(c__builtin__\nobject\nV__subclasses__\ntR.', 'builtins.getattr'),
    (b'cscipy.sparse._base\nspmatrix\n.', 'scipy.sparse._base.spmatrix'),
    (b'cscipy.sparse._bsr\nbsr_matrix\n.', 'scipy.sparse._bsr.bsr_matrix'),  # no stand-in
    (b'cscipy.sparse._csc\ncsc_other\n.', 'scipy.sparse._csc.csc_other'),
    (b'cos\n_reconstructor\n.', 'os._reconstructor'),
    (b'cchumpy.ch\nChLambda\n.', 'chumpy.ch.ChLambda'),
])
def test_globals_outside_the_whitelist_are_refused(payload, match):
    with pytest.raises(UnsafePickleError, match=match):
        safe_load_pickle_bytes(payload)


def test_refusal_message_and_the_whitelisted_names():
    import io

    from gclhand.hand.mano_io import _ChStandIn, _SPARSE, RestrictedUnpickler
    with pytest.raises(UnsafePickleError) as err:
        safe_load_pickle_bytes(b'cposix\nsystem\n.')
    assert str(err.value) == (
        "refusing to load global 'posix.system' from a model file: only numpy arrays, chumpy "
        'arrays and scipy sparse matrices are allowed in MANO files')
    unpickler = RestrictedUnpickler(io.BytesIO(b''))
    for module, name in [('chumpy.ch', 'Ch'), ('chumpy.ch', 'Select'),
                         ('chumpy.reordering', 'Reorder'),
                         ('chumpy.reordering', 'Concatenate')]:
        assert unpickler.find_class(module, name) is _ChStandIn
    for fmt in ('csc', 'csr', 'coo'):
        for kind in ('matrix', 'array'):
            cls = unpickler.find_class(f'scipy.sparse._{fmt}', f'{fmt}_{kind}')
            assert cls is _SPARSE[fmt] and cls.fmt == fmt
    assert unpickler.find_class('scipy.sparse.csc', 'csc_matrix') is _SPARSE['csc']


def test_python2_pickles_are_read_as_latin1(tmp_path):
    """The official files are Python 2 pickles: numpy's raw data and every ``str`` are
    8-bit strings, which only a latin-1 decode turns back into the same bytes."""
    data = np.array([1.5, -2.0], dtype='<f8').tobytes()
    py2_array = (b'\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01'
                 b'K\x00\x85U\x01b\x87Rq\x02(K\x01K\x02\x85cnumpy\ndtype\nq\x03U\x02f8K\x00K'
                 b'\x01\x87Rq\x04(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U'
                 b'\x10' + data + b'tb.')
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(py2_array)  # Python 3's default (ASCII) cannot read it
    path = tmp_path / 'py2.pkl'
    path.write_bytes(py2_array)
    np.testing.assert_array_equal(safe_load_pickle(str(path)), [1.5, -2.0])


def test_whitelisted_builtins_and_latin1_bytes_load():
    payload = (b'c__builtin__\nset\n((lp0\nI1\naI2\natR'  # set([1, 2])
               b'.')
    assert safe_load_pickle_bytes(payload) == {1, 2}
    raw = bytes(range(200, 256))
    assert safe_load_pickle_bytes(pickle.dumps(raw, protocol=2)) == raw
    for name in (b'Latin-1', b'ISO-8859-1'):
        latin = b'c_codecs\nencode\n(V\\u00e9\nV' + name + b'\ntR.'
        assert safe_load_pickle_bytes(latin) == b'\xe9'
    assert safe_load_pickle_bytes(pickle.dumps({1, 2}, protocol=3)) == {1, 2}  # builtins.set


def test_content_hash_is_stable_and_independent_of_storage_types():
    """conversion.json and the graph cache record this hash, so it must not change between
    versions: pinned on a small model dict.  It depends on values and shapes, not on the
    integer or float type a file stores them in, nor on keys outside the MANO layout."""
    from gclhand.hand.mano_io import hash_arrays
    arrays = {'f': np.arange(6).reshape(2, 3), 'hands_mean': np.linspace(0, 1, 45)}
    assert hash_arrays(arrays) == 'e5a6b36246d8feb0'
    assert hash_arrays(dict(arrays, f=arrays['f'].astype(np.uint32))) == 'e5a6b36246d8feb0'
    assert hash_arrays(dict(arrays, bs_style='lbs')) == 'e5a6b36246d8feb0'
    assert hash_arrays(dict(arrays, f=arrays['f'].reshape(3, 2))) != 'e5a6b36246d8feb0'
    assert hash_arrays(arrays, {'fingertip_vertex_ids': np.arange(5)}) != 'e5a6b36246d8feb0'


@pytest.mark.parametrize('module', ['numpy._core.numeric', 'numpy.core.numeric'])
def test_protocol5_array_reconstructor_under_both_numpy_names(monkeypatch, module):
    """numpy 2 writes protocol-5 arrays with ``numpy._core.numeric._frombuffer``, numpy 1
    with ``numpy.core.numeric._frombuffer``: both are read (as a copy, memory order
    kept)."""

    def _frombuffer(buf, dtype, shape, order):  # the name the pickle records
        raise AssertionError('never called when pickling')

    monkeypatch.setitem(sys.modules, module, _fake_module(module, _frombuffer=_frombuffer))
    values = np.arange(6, dtype='<f4').reshape(2, 3, order='F')

    class Saved:
        def __reduce__(self):
            return _frombuffer, (values.tobytes(order='F'), values.dtype, values.shape, 'F')

    out = safe_load_pickle_bytes(pickle.dumps(Saved(), protocol=5))
    np.testing.assert_array_equal(out, values)
    assert out.flags.f_contiguous and out.flags.writeable and out.dtype == np.float32
