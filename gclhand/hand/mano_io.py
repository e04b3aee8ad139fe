"""Reading and writing MANO-format model files without executing pickled code.

The official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` were written by Python 2 with chumpy
(``chumpy.ch.Ch``) objects and scipy sparse matrices inside.  ``pickle.load`` on such a file
would import chumpy/scipy and, worse, run whatever callable a crafted file names.  Here a
:class:`pickle.Unpickler` with a ``find_class`` whitelist resolves only

* numpy's array/dtype/scalar reconstructors,
* ``copyreg`` object reconstruction (only for the stand-in classes below),
* chumpy ``Ch`` objects and scipy ``csc/csr/coo`` sparse matrices and arrays, mapped to
  inert stand-ins that are converted to plain ``numpy`` arrays after loading,

and refuses every other global, so a file that names ``os.system`` or ``builtins.eval``
raises :class:`UnsafePickleError` before anything is called.
"""
import hashlib
import os
import os.path as osp
import pickle
from typing import Any, Dict, Optional

import numpy as np
from mmengine.logging import print_log

MANO_URL = 'https://mano.is.tue.mpg.de'
MANO_FILES = {'right': 'MANO_RIGHT.pkl', 'left': 'MANO_LEFT.pkl'}
#: Arrays every MANO-format file must hold, with the trailing shape (None = any).
REQUIRED_KEYS = {
    'v_template': (None, 3),
    'f': (None, 3),
    'weights': (None, 16),
    'J_regressor': (16, None),
    'kintree_table': (2, 16),
    'shapedirs': (None, 3, None),
    'posedirs': (None, 3, 135),
    'hands_components': (None, 45),
    'hands_mean': (45, ),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the MANO whitelist (possibly malicious)."""


class _ChStandIn:
    """Inert stand-in for ``chumpy.ch.Ch`` (and subclasses); holds the pickled state."""

    def __setstate__(self, state):
        self.state = state

    def to_numpy(self) -> np.ndarray:
        state = self.state if isinstance(self.state, dict) else {}
        if 'x' not in state:
            raise pickle.UnpicklingError(
                'a chumpy object in the MANO file is not a plain Ch array (no "x" state); '
                'only terminal chumpy arrays can be read without chumpy')
        return np.asarray(_to_plain(state['x']))


class _SparseStandIn:
    """Inert stand-in for scipy's ``csc``/``csr``/``coo`` ``_matrix`` and ``_array`` classes.

    Reads the pickled ``__dict__`` of any scipy version: ``_shape`` (``shape`` in very old
    ones), ``data`` and either ``indptr``/``indices`` (compressed formats) or the COO
    coordinates, stored as ``row``/``col`` before scipy 1.13 and as ``coords`` since.
    Duplicate entries are summed, as scipy's ``toarray`` does.
    """
    fmt = 'csc'

    def __setstate__(self, state):
        self.state = state

    def to_numpy(self) -> np.ndarray:
        st = self.state
        shape = tuple(int(s) for s in st.get('_shape', st.get('shape')))
        data = np.asarray(st['data'])
        dense = np.zeros(shape, dtype=data.dtype if data.size else np.float64)
        if self.fmt == 'coo':
            row, col = st['coords'] if 'coords' in st else (st['row'], st['col'])
            np.add.at(dense, (np.asarray(row), np.asarray(col)), data)
            return dense
        indptr, indices = np.asarray(st['indptr']), np.asarray(st['indices'])
        outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        if self.fmt == 'csc':  # indptr runs over columns
            np.add.at(dense, (indices, outer), data)
        else:
            np.add.at(dense, (outer, indices), data)
        return dense


def _sparse_cls(fmt: str) -> type:
    return type(f'_{fmt.capitalize()}StandIn', (_SparseStandIn, ), {'fmt': fmt})


_SPARSE = {fmt: _sparse_cls(fmt) for fmt in ('csc', 'csr', 'coo')}
_STAND_INS = (_ChStandIn, *_SPARSE.values())


def _safe_reconstructor(cls, base, state):
    """``copyreg._reconstructor`` restricted to the stand-in classes."""
    if cls not in _STAND_INS or base is not object:
        raise UnsafePickleError(f'copyreg._reconstructor on {cls!r} is not allowed')
    return object.__new__(cls)


def _numpy_globals() -> Dict[tuple, Any]:
    from numpy._core import multiarray  # numpy >= 2; old pickles name numpy.core
    table = {}
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        table[(mod, '_reconstruct')] = multiarray._reconstruct
        table[(mod, 'scalar')] = multiarray.scalar
    table[('numpy', 'ndarray')] = np.ndarray
    table[('numpy', 'dtype')] = np.dtype
    for mod in ('numpy._core.numeric', 'numpy.core.numeric'):
        table[(mod, '_frombuffer')] = _safe_frombuffer
    return table


def _safe_frombuffer(buf, dtype, shape, order):
    """numpy's pickle-protocol-5 array reconstructor (a copy in the array's own memory
    order, as ``pickle.load`` gives; no code execution)."""
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy(order='K')


def _latin1_encode(text: str, encoding: str = 'latin1', errors: str = 'strict') -> bytes:
    """``_codecs.encode`` limited to latin-1 (how protocol-2 pickles store ``bytes``)."""
    if encoding.lower().replace('-', '') not in ('latin1', 'iso88591'):
        raise UnsafePickleError(f'refusing _codecs.encode with encoding {encoding!r}')
    return text.encode('latin1', errors)


#: Builtins a chumpy state may contain; none of them runs code from its arguments.
_SAFE_BUILTINS = {'object': object, 'set': set, 'frozenset': frozenset, 'list': list,
                  'tuple': tuple, 'dict': dict}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only resolves the globals a MANO file legitimately needs.

    Raises:
        UnsafePickleError: for any other ``module.name`` (``os.system``, ``builtins.eval``,
            ``subprocess.Popen`` ...), before it could be called.
    """

    _allowed = None

    def find_class(self, module: str, name: str):
        if RestrictedUnpickler._allowed is None:
            RestrictedUnpickler._allowed = _numpy_globals()
        key = (module, name)
        if key in RestrictedUnpickler._allowed:
            return RestrictedUnpickler._allowed[key]
        if module in ('copyreg', 'copy_reg') and name == '_reconstructor':
            return _safe_reconstructor
        if (module, name) == ('_codecs', 'encode'):  # bytes in Python 3 protocol-2 pickles
            return _latin1_encode
        if module in ('__builtin__', 'builtins') and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if module.startswith('chumpy') and name in ('Ch', 'Select', 'Reorder', 'Concatenate'):
            return _ChStandIn
        if module.startswith('scipy.sparse'):
            fmt, _, kind = name.partition('_')
            if kind in ('matrix', 'array') and fmt in _SPARSE:
                return _SPARSE[fmt]
        raise UnsafePickleError(
            f"refusing to load global '{module}.{name}' from a model file: only numpy "
            'arrays, chumpy arrays and scipy sparse matrices are allowed in MANO files')


def _to_plain(obj):
    if isinstance(obj, _STAND_INS):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        # elements that are arrays themselves add their axes after the holder's
        items = np.array([_to_plain(o) for o in obj.ravel()])
        return items.reshape(obj.shape + items.shape[1:])
    return obj


def safe_load_pickle(path: str) -> Any:
    """Load a pickle with :class:`RestrictedUnpickler`; chumpy/scipy become ``np.ndarray``."""
    with open(path, 'rb') as f:
        return _to_plain(RestrictedUnpickler(f, encoding='latin1').load())


def _missing_msg(path: str) -> str:
    return (f'MANO model file {path!r} not found or unreadable. Download the MANO model '
            f'(free registration, non-commercial licence) from {MANO_URL}, and copy '
            f'MANO_RIGHT.pkl and MANO_LEFT.pkl (from mano_v*/models/) into one directory; '
            "set it as the hand model's model_dir in the config or in the GCLHAND_MANO_DIR "
            'environment variable. Leave both unset to use the licence-free procedural hand.')


def load_mano_arrays(path: str) -> Dict[str, Any]:
    """Read one MANO-format file (real or procedural) into a dict of numpy arrays.

    Args:
        path: a ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` file.

    Returns:
        dict with at least the keys of :data:`REQUIRED_KEYS` as ``float64``/``int64`` arrays
        (``kintree_table`` root parent set to -1); other keys are passed through.

    Raises:
        FileNotFoundError: the file is missing (message says where to obtain MANO).
        UnsafePickleError: the file names a global that is not whitelisted.
        ValueError: a required key is missing or has the wrong shape.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(_missing_msg(path))
    data = safe_load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a dict of arrays (MANO layout), got '
                         f'{type(data).__name__}. {_missing_msg(path)}')
    out = dict(data)
    for key, shape in REQUIRED_KEYS.items():
        if key not in data:
            raise ValueError(f"{path}: key '{key}' missing; not a MANO model file. "
                             f'{_missing_msg(path)}')
        arr = np.asarray(data[key])
        ok = arr.ndim == len(shape) and all(s is None or s == a
                                           for s, a in zip(shape, arr.shape))
        if not ok:
            raise ValueError(f"{path}: key '{key}' has shape {arr.shape}, expected "
                             f"{tuple('*' if s is None else s for s in shape)}")
        out[key] = arr.astype(np.int64 if key in ('f', 'kintree_table') else np.float64)
    kintree = out['kintree_table'].copy()
    kintree[0, 0] = -1  # MANO stores uint32(-1) = 4294967295 for the root
    out['kintree_table'] = kintree
    return out


#: Summed absolute difference below which MANO_LEFT's x shape row counts as a copy of the
#: right one: the threshold of InterHand2.6M's ``render.py`` / ``convert.py`` and IntagHand's
#: ``fix_shape`` (``sum(|left[:, 0] - right[:, 0]|) < 1``).
_SAME_ROW_ATOL = 1.0
_FIXED_LEFT_FILES: set = set()


def left_shapedirs_has_sign_bug(left: Dict[str, Any], right: Dict[str, Any]) -> bool:
    """Whether MANO_LEFT's ``shapedirs[:, 0, :]`` carries the right hand's sign.

    The left hand is the mirror image (x -> -x) of the right one, so its shape blend
    shapes must have the opposite x displacement: ``left[:, 0, :] = -right[:, 0, :]``.  The
    official ``MANO_LEFT.pkl`` stores the right hand's x row unchanged (smplx issue 48;
    InterHand2.6M's ``render.py`` and IntagHand's ``fix_shape`` negate it before use), so
    the same betas give the two hands different shapes.  Detected with the official test,
    ``sum(|left_x - right_x|) < 1`` (:data:`_SAME_ROW_ATOL`), and, so that a correctly
    mirrored pair is never flipped, only when the left row is closer to the right row than
    to its mirror image (``sum(|left_x + right_x|)``); the procedural hand is mirrored and
    not affected.
    """
    left_x = np.asarray(left['shapedirs'])[:, 0, :]
    right_x = np.asarray(right['shapedirs'])[:, 0, :]
    if left_x.shape != right_x.shape:
        return False
    same, mirrored = np.abs(left_x - right_x).sum(), np.abs(left_x + right_x).sum()
    return bool(same < _SAME_ROW_ATOL and same < mirrored)


def load_mano_pair(mano_dir: str) -> Dict[str, Dict[str, Any]]:
    """Load ``MANO_LEFT.pkl`` and ``MANO_RIGHT.pkl`` of ``mano_dir``, fixing MANO_LEFT's sign.

    When :func:`left_shapedirs_has_sign_bug` holds, the left ``shapedirs[:, 0, :]`` is
    negated (as InterHand2.6M and IntagHand do) and the fix is logged once per file and
    process.

    Returns:
        ``{'left': arrays, 'right': arrays}`` (see :func:`load_mano_arrays`).
    """
    pair = {side: load_mano_arrays(osp.join(mano_dir, name)) for side, name in MANO_FILES.items()}
    if left_shapedirs_has_sign_bug(pair['left'], pair['right']):
        shapedirs = pair['left']['shapedirs'].copy()
        shapedirs[:, 0, :] *= -1
        pair['left']['shapedirs'] = shapedirs
        path = osp.abspath(osp.join(mano_dir, MANO_FILES['left']))
        if path not in _FIXED_LEFT_FILES:
            _FIXED_LEFT_FILES.add(path)
            print_log(f"{path}: shapedirs[:, 0, :] has MANO_RIGHT's sign (the known MANO_LEFT "
                      'bug, smplx issue 48); negated on load, as InterHand2.6M and IntagHand '
                      'do, so the same betas give mirror-image hands', logger='current')
    return pair


def save_mano_arrays(arrays: Dict[str, Any], path: str) -> None:
    """Write ``arrays`` as a MANO-layout pickle (plain numpy, atomically)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        pickle.dump(arrays, f, protocol=4)
    os.replace(tmp, path)


def hash_arrays(*dicts: Dict[str, Any]) -> str:
    """A short sha1 over the MANO arrays of one or more model dicts."""
    h = hashlib.sha1()
    for d in dicts:
        for key in sorted(REQUIRED_KEYS) + ['fingertip_vertex_ids']:
            if key in d:
                arr = np.ascontiguousarray(np.asarray(d[key], dtype=np.float64))
                h.update(key.encode())
                h.update(str(arr.shape).encode())
                h.update(arr.tobytes())
    return h.hexdigest()[:16]


def resolve_mano_dir(model_dir: Optional[str]) -> Optional[str]:
    """``model_dir`` if set, else ``$GCLHAND_MANO_DIR`` if set, else None (procedural)."""
    if model_dir:
        return osp.expanduser(str(model_dir))
    env = os.environ.get('GCLHAND_MANO_DIR')
    return osp.expanduser(env) if env else None
