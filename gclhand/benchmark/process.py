"""Running a measurement in a fresh interpreter, with a time limit.

Memory figures need a process that holds nothing else, and a measurement that may hang or
overrun (a first ``torch.compile``) needs a limit that the caller can enforce.  The child
is ``python -m gclhand.benchmark.process IN OUT`` in its own process group: it imports
the function by name (so it works whatever the parent's ``__main__`` is), and on a timeout
the whole group - DataLoader workers included - is killed.
"""
import os
import os.path as osp
import pickle
import signal
import subprocess
import sys
import tempfile
from importlib import import_module
from typing import Optional


class MeasurementTimeout(TimeoutError):
    """The measurement did not finish within its time limit (its processes were killed)."""


def in_fresh_interpreter(fn, *args, timeout: Optional[float] = None):
    """``fn(*args)`` in a new Python process; returns its return value.

    ``fn`` must be a module-level function; its arguments and result must be picklable.
    Raises :class:`MeasurementTimeout` after ``timeout`` seconds and :class:`RuntimeError`
    naming ``fn`` with the child's error (or the tail of its stderr).
    """
    with tempfile.TemporaryDirectory(prefix='gclhand_measure_') as tmp:
        inp, out, err = (osp.join(tmp, n) for n in ('in.pkl', 'out.pkl', 'stderr.txt'))
        with open(inp, 'wb') as f:
            pickle.dump((fn.__module__, fn.__name__, args), f)
        with open(err, 'w') as stderr:
            proc = subprocess.Popen([sys.executable, '-m', __name__, inp, out],
                                    stderr=stderr, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except BaseException as e:  # timeout or interrupt: stop the whole group
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                if isinstance(e, subprocess.TimeoutExpired):
                    raise MeasurementTimeout(f'{fn.__name__} did not finish within '
                                             f'{timeout:.0f} s') from None
                raise
        if osp.isfile(out):
            with open(out, 'rb') as f:  # written by our own child just now
                status, value = pickle.load(f)
            if status == 'ok':
                return value
            raise RuntimeError(f'{fn.__name__} failed in its process: {value}')
        with open(err) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f'{fn.__name__}: its process exited with code {proc.returncode}'
                           f'; stderr ends with:\n{tail}')


def _main(inp: str, out: str) -> None:
    with open(inp, 'rb') as f:
        module, name, args = pickle.load(f)
    try:
        result = ('ok', getattr(import_module(module), name)(*args))
    except Exception as e:  # reported to the parent as one line
        result = ('error', f'{type(e).__name__}: {e}')
    with open(out, 'wb') as f:
        pickle.dump(result, f)


if __name__ == '__main__':
    _main(*sys.argv[1:3])


__all__ = ['MeasurementTimeout', 'in_fresh_interpreter']
