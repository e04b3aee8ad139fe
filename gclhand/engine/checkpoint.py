"""Crash-safe checkpoint files, RNG state capture and safe checkpoint loading.

* Atomic writes: a file is written under a temporary name in the same directory, flushed
  to disk and moved over the final name with :func:`os.replace` (atomic on POSIX), so a
  reader sees either the old file or the complete new one, never a partial one.
* RNG state: MMEngine's resume re-seeds but does not restore the generators' *state*, so
  a resumed run draws different dropout masks / augmentations / disturbances than an
  uninterrupted one.  :func:`get_rng_state` / :func:`set_rng_state` capture and restore
  Python's, NumPy's and torch's (CPU and CUDA) generators as plain picklable values.
* Safe loading: PyTorch >= 2.6 loads with ``weights_only=True`` by default and refuses
  MMEngine checkpoints: their ``message_hub`` pickles ``HistoryBuffer`` objects, whose
  state refers to methods through ``builtins.getattr`` (allow-listing ``getattr`` would
  let a checkpoint reach any attribute, i.e. run code).  gclhand therefore saves the
  buffers as plain dicts (:func:`message_hub_to_builtin`, converted back on load by
  :func:`message_hub_from_builtin`), and :func:`checkpoint_safe_globals` allow-lists only
  NumPy arrays/scalars (dataset metainfo may hold them), as PyTorch's docs suggest.
"""
import contextlib
import glob
import os
import os.path as osp
import random
from typing import Dict, Iterator

import numpy as np
import torch

#: temporary files are ``.{name}.tmp-{pid}`` beside ``{name}``.
TMP_MARKER = '.tmp-'


def tmp_path_for(path: str) -> str:
    """The temporary path an atomic write of ``path`` goes through (same directory)."""
    head, tail = osp.split(path)
    return osp.join(head, f'.{tail}{TMP_MARKER}{os.getpid()}')


def _fsync_dir(dirname: str) -> None:
    """Persist a rename in ``dirname`` (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(dirname or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` to disk and atomically move it to ``path``."""
    with open(tmp_path, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(osp.dirname(path))


def atomic_write_text(text: str, path: str) -> None:
    """Write ``text`` to ``path`` so that ``path`` is never observed half-written."""
    tmp = tmp_path_for(path)
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        commit_file(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def remove_stale_tmp_files(dirname: str) -> list:
    """Delete temporary files left by a crash during an atomic write; returns their paths."""
    stale = glob.glob(osp.join(glob.escape(dirname), f'.*{TMP_MARKER}*'))
    for path in stale:
        os.remove(path)
    return stale


def get_rng_state() -> Dict:
    """The state of Python's, NumPy's and torch's global generators, as picklable values.

    NumPy's key array becomes a list so that the state loads under ``weights_only=True``.
    """
    np_state = np.random.get_state(legacy=False)
    np_state['state']['key'] = np_state['state']['key'].tolist()
    state = dict(python=random.getstate(), numpy=np_state, torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict) -> None:
    """Restore generators from :func:`get_rng_state`'s output (CUDA only when present)."""
    random.setstate(_as_tuple(state['python']))
    np_state = dict(state['numpy'])
    np_state['state'] = dict(np_state['state'])
    np_state['state']['key'] = np.asarray(np_state['state']['key'], dtype=np.uint32)
    np.random.set_state(np_state)
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        cuda_states = [s.cpu() for s in state['cuda']]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def _as_tuple(value):
    """``random.setstate`` needs tuples; a checkpoint round trip may give lists."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(v) for v in value)
    return value


_BUFFER_TAG = '__history_buffer__'


def message_hub_to_builtin(state: Dict) -> Dict:
    """``MessageHub.state_dict()`` with each ``HistoryBuffer`` as a dict of lists."""
    from mmengine.logging import HistoryBuffer
    state = dict(state)
    state['log_scalars'] = {
        key: {_BUFFER_TAG: True, 'log_history': buf._log_history.tolist(),
              'count_history': buf._count_history.tolist(), 'max_length': buf.max_length}
        if isinstance(buf, HistoryBuffer) else buf
        for key, buf in state.get('log_scalars', {}).items()}
    return state


def message_hub_from_builtin(state: Dict) -> Dict:
    """Inverse of :func:`message_hub_to_builtin` (other values pass through)."""
    from mmengine.logging import HistoryBuffer
    state = dict(state)
    state['log_scalars'] = {
        key: HistoryBuffer(buf['log_history'], buf['count_history'], buf['max_length'])
        if isinstance(buf, dict) and buf.get(_BUFFER_TAG) else buf
        for key, buf in state.get('log_scalars', {}).items()}
    return state


def _safe_globals() -> list:
    """NumPy arrays and scalars: what a checkpoint may hold besides tensors and builtins."""
    import numpy.dtypes
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [getattr(numpy.dtypes, name) for name in dir(numpy.dtypes)
                     if name.endswith('DType')]
    return [_reconstruct, scalar, np.ndarray, np.dtype] + dtype_classes


@contextlib.contextmanager
def checkpoint_safe_globals() -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` read gclhand checkpoints (NumPy values).

    Example:
        >>> with checkpoint_safe_globals():
        ...     runner.load_checkpoint('work_dirs/x/epoch_1.pth')
    """
    with torch.serialization.safe_globals(_safe_globals()):
        yield
