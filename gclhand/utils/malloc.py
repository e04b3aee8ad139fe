"""glibc ``malloc`` settings for training on the CPU (``env_cfg.malloc_cfg``).

PyTorch's CPU tensors come from the C library's ``malloc``.  With glibc's defaults a freed
block at the top of the heap above the trim threshold is handed back to the kernel and
blocks above an mmap threshold (both adapt, up to 32 / 64 MiB) are ``mmap``-ed and unmapped
on free; when the next training step asks for the same sizes, the kernel zero-fills every
page again at first touch.  Whether that happens depends on the process's heap: the
benchmark's train step (``tools/benchmark.py``, synthetic HandDGCL, batch 32) took
~13,000-17,000 page faults a step, ~55 MB zero-filled each time, and with both thresholds
fixed (32 MiB, 1 GiB) ~0-100, the step 5-19% cheaper; the main job's training process
(``tools/train.py configs/dgcl_synth.py``) took none in 30 s of training with either
setting, its step time unchanged (docs/benchmarks.md).  The Runner and the benchmark both
apply ``env_cfg.malloc_cfg``, so a step measured is a step trained, and a leaner training
process does not pay the faults.  The cost: memory freed within a step stays with the
process (its resident size stays at its peak).

``mallopt`` has no Python binding (``ctypes`` reaches it); on a C library other than glibc
(macOS, musl, Windows) :func:`configure_malloc` does nothing and returns ``False``.  The
settings are process-wide and inherited by forked data-loader workers.

Example:
    >>> from gclhand.utils.malloc import configure_malloc
    >>> configure_malloc(mmap_threshold=32 * 2**20, trim_threshold=2**30)  # glibc: True
    True
"""
import ctypes
import ctypes.util
import numbers
import platform
from typing import Optional

from .build import ConfigError

#: ``mallopt`` parameter numbers (glibc's ``malloc.h``)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: glibc refuses an mmap threshold above half its largest heap (32 MiB on 64-bit builds)
MAX_MMAP_THRESHOLD = 32 * 2**20


def _glibc() -> Optional[ctypes.CDLL]:
    if platform.libc_ver()[0] != 'glibc':
        return None
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    return libc if hasattr(libc, 'mallopt') else None


def _checked(key: str, value) -> Optional[int]:
    if value is None:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
            or not 0 <= value < 2**31:
        raise ConfigError(f'env_cfg.malloc_cfg.{key}={value!r} must be a whole number of bytes '
                          'in [0, 2**31) (mallopt takes a C int), or None to leave the C '
                          'library default')
    return int(value)


def configure_malloc(mmap_threshold: Optional[int] = None,
                     trim_threshold: Optional[int] = None) -> bool:
    """Fix glibc's mmap and trim thresholds (``mallopt``); ``None`` leaves one as it is.

    Set both: fixing one switches off glibc's adaptive thresholds, so the trim threshold
    alone made every block above 128 KiB an ``mmap`` (a 2.6x slower step, measured).

    Args:
        mmap_threshold: blocks of at least this many bytes are ``mmap``-ed (and returned to
            the kernel on free); at most :data:`MAX_MMAP_THRESHOLD`.
        trim_threshold: free memory at the top of the heap beyond this many bytes is
            returned to the kernel.

    Returns:
        ``True`` when applied, ``False`` when the C library is not glibc.

    Raises:
        ConfigError: a value that is not a byte count, or above glibc's limit; the message
            names the ``env_cfg.malloc_cfg`` key.
    """
    mmap_threshold = _checked('mmap_threshold', mmap_threshold)
    trim_threshold = _checked('trim_threshold', trim_threshold)
    if mmap_threshold is not None and mmap_threshold > MAX_MMAP_THRESHOLD:
        raise ConfigError(f'env_cfg.malloc_cfg.mmap_threshold={mmap_threshold} is above '
                          f"glibc's limit of {MAX_MMAP_THRESHOLD} bytes (32 MiB); use at most "
                          'that')
    libc = _glibc()
    if libc is None:
        return False
    for key, param, value in (('mmap_threshold', M_MMAP_THRESHOLD, mmap_threshold),
                              ('trim_threshold', M_TRIM_THRESHOLD, trim_threshold)):
        if value is not None and libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:
            raise ConfigError(f'glibc refused env_cfg.malloc_cfg.{key}={value} (mallopt '
                              'returned 0); use a smaller value or None')
    return True


def apply_malloc_cfg(malloc_cfg: Optional[dict]) -> bool:
    """:func:`configure_malloc` from a config's ``env_cfg.malloc_cfg`` (``None``: nothing).

    Raises:
        ConfigError: an unknown key, named with the keys there are.
    """
    malloc_cfg = dict(malloc_cfg or {})
    unknown = sorted(set(malloc_cfg) - {'mmap_threshold', 'trim_threshold'})
    if unknown:
        raise ConfigError(f'env_cfg.malloc_cfg has unknown key(s) {unknown}; the keys are '
                          "'mmap_threshold' and 'trim_threshold' (bytes, or None)")
    return configure_malloc(**malloc_cfg)


__all__ = ['apply_malloc_cfg', 'configure_malloc', 'MAX_MMAP_THRESHOLD']
