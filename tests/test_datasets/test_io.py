import os
import pickle

import numpy as np
import pytest

from gclhand.datasets.io import (UnsafePickleError, dump_pickle_atomic, load_pickle_restricted,
                                 write_bytes_atomic)


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_roundtrip_numpy_and_builtins(tmp_path, protocol):
    obj = dict(a=np.arange(6, dtype=np.float32).reshape(2, 3), b=[1, 2.5, 'x', None, True],
               c=(np.float64(2.0), np.int64(3)), d={'e': b'bytes'})
    path = tmp_path / 'x.pkl'
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    out = load_pickle_restricted(str(path))
    np.testing.assert_array_equal(out['a'], obj['a'])
    assert out['a'].dtype == np.float32 and out['b'] == obj['b'] and out['d'] == obj['d']


def test_refuses_code_execution(tmp_path):
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps({'x': _Evil()}))
    with pytest.raises(UnsafePickleError, match='system'):
        load_pickle_restricted(str(path))


def test_refuses_object_arrays(tmp_path):
    path = tmp_path / 'obj.pkl'
    path.write_bytes(pickle.dumps(np.array([_Evil()], dtype=object)))
    with pytest.raises(UnsafePickleError):
        load_pickle_restricted(str(path))


def test_atomic_writes(tmp_path):
    path = str(tmp_path / 'sub' / 'a.pkl')
    dump_pickle_atomic({'k': 1}, path)
    assert load_pickle_restricted(path) == {'k': 1}
    write_bytes_atomic(b'abc', str(tmp_path / 'b.bin'))
    assert (tmp_path / 'b.bin').read_bytes() == b'abc'
    assert sorted(os.listdir(tmp_path)) == ['b.bin', 'sub']  # no temp files left


def test_atomic_write_failure_leaves_nothing(tmp_path):
    path = str(tmp_path / 'a.pkl')
    with pytest.raises((pickle.PicklingError, AttributeError)):
        dump_pickle_atomic({'f': lambda: 0}, path)
    assert os.listdir(tmp_path) == []


def test_numpy_core_and_private_core_pickles_both_load(tmp_path, monkeypatch):
    """A pickle names numpy.core (numpy 1.x wrote it) or numpy._core (numpy 2): both load
    under the installed numpy, whichever of the two names it has."""
    import gclhand.datasets.io as gio
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw = pickle.dumps(dict(a=arr), protocol=2)
    ours = gio._NUMPY_CORE.encode()
    other = b'numpy.core' if ours == b'numpy._core' else b'numpy._core'
    for data in (raw, raw.replace(ours, other)):
        path = tmp_path / 'a.pkl'
        path.write_bytes(data)
        np.testing.assert_array_equal(gio.load_pickle_restricted(str(path))['a'], arr)
    assert gio._numpy_module('numpy.core.multiarray') == f'{gio._NUMPY_CORE}.multiarray'
    assert gio._numpy_module('numpy._core.multiarray') == f'{gio._NUMPY_CORE}.multiarray'
    monkeypatch.setattr(gio, '_NUMPY_CORE', 'numpy.core')  # what numpy 1.x gets
    assert gio._numpy_module('numpy._core.numeric') == 'numpy.core.numeric'
