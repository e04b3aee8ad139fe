"""File I/O for dataset annotations: a restricted unpickler and atomic writes.

Annotation pickles come from users and from third-party preprocessing scripts, so they
are never read with plain :func:`pickle.load` (which can execute arbitrary code).  The
IntagHand layout's ``anno/{i}.pkl`` files hold only dicts, lists, strings, numbers and
numpy arrays, which is exactly what :class:`RestrictedUnpickler` accepts.
"""
import io
import os
import os.path as osp
import pickle
import tempfile
from typing import Any, Callable

import numpy as np

_BUILTINS = frozenset({
    'dict', 'list', 'tuple', 'set', 'frozenset', 'str', 'bytes', 'bytearray', 'int',
    'float', 'complex', 'bool'
})
# numpy globals that (un)pickling plain arrays, dtypes and scalars needs, across
# numpy 1.x (``numpy.core``) and 2.x (``numpy._core``).
_NUMPY = frozenset({
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
})
# protocol-2 pickles of bytes/arrays written by Python 3 encode buffers through this.
_OTHER = frozenset({('_codecs', 'encode'), ('collections', 'OrderedDict')})


#: numpy 2 renamed ``numpy.core`` to ``numpy._core`` (the old name still imports, with a
#: warning); numpy 1.x has only ``numpy.core``.  Pickles name whichever wrote them.
_NUMPY_CORE = 'numpy._core' if np.lib.NumpyVersion(np.__version__) >= '2.0.0' \
    else 'numpy.core'


def _numpy_module(module: str) -> str:
    """``module`` with its ``numpy.core`` / ``numpy._core`` prefix spelled as the
    installed numpy names it."""
    for prefix in ('numpy.core.', 'numpy._core.'):
        if module.startswith(prefix):
            return f'{_NUMPY_CORE}.{module[len(prefix):]}'
    return module


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle references a global outside the allowed set (it may run code)."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves builtin containers/scalars and plain numpy arrays.

    Anything else (classes, functions such as ``os.system``, chumpy objects) raises
    :class:`UnsafePickleError` naming the global, instead of importing it.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module == 'builtins' and name in _BUILTINS) or (module, name) in _NUMPY \
                or (module, name) in _OTHER:
            return super().find_class(_numpy_module(module), name)
        raise UnsafePickleError(
            f"refusing to unpickle global '{module}.{name}': annotation pickles may only "
            'contain dicts, lists, strings, numbers and numpy arrays')


def load_pickle_restricted(path: str) -> Any:
    """Load a pickle file with :class:`RestrictedUnpickler`.

    Args:
        path: file to read.

    Raises:
        UnsafePickleError: the file references a non-allowed global.
        pickle.UnpicklingError, EOFError, ...: the file is not a readable pickle.
    """
    with open(path, 'rb') as f:
        data = f.read()
    return RestrictedUnpickler(io.BytesIO(data)).load()


def atomic_write(path: str, write_fn: Callable[[Any], None], mode: str = 'wb') -> None:
    """Write a file atomically: ``write_fn(fileobj)`` goes to a temp file that is then
    renamed over ``path``, so an interrupted run never leaves a half-written file.

    Args:
        path: destination.
        write_fn: called with the open temporary file.
        mode: file mode of the temporary file (``'wb'`` or ``'w'``).
    """
    dirname = osp.dirname(osp.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dirname, prefix='.' + osp.basename(path) + '.',
                               suffix='.tmp')
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def dump_pickle_atomic(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: pickle.dump(obj, f, protocol=4))


def write_bytes_atomic(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(data))
