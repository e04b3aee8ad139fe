"""Timing primitives: device sync, peak memory, autocast, interleaved repetitions."""
import contextlib
import os
import platform
import resource
import statistics
import sys
from typing import Callable, Dict, List, Optional

import torch


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    """GPU: ``max_memory_allocated`` since the last reset; CPU: process peak RSS (monotonic)."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == 'darwin' else rss / 2**10  # bytes vs KiB


def reset_peak(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def autocast_ctx(device: torch.device, amp: Optional[str]):
    if amp is None:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == 'bf16' else torch.float16
    return torch.autocast(device.type, dtype=dtype)


#: ``--clock`` choices: wall-clock time, or CPU time of this process (all its threads)
CLOCKS = ('wall', 'cpu')


def clock_fn(clock: str) -> Callable[[], float]:
    """The timer of ``clock``: ``'wall'`` (``time.perf_counter``) or ``'cpu'``
    (``time.process_time``: the CPU seconds of this process's threads, which other jobs on
    a shared machine hardly change; with one thread it is the work done, without the
    parallel speed-up)."""
    import time
    if clock not in CLOCKS:
        raise ValueError(f'clock must be one of {CLOCKS}, got {clock!r}')
    return time.perf_counter if clock == 'wall' else time.process_time


def median_ms(ts: List[float]) -> float:
    return 1e3 * statistics.median(ts)


def interleave(fns: Dict[str, Callable[[], float]], iters: int, warmup: int
               ) -> Dict[str, List[float]]:
    """Run ``fns`` alternately (A B A B ...), ``warmup`` untimed then ``iters`` timed each.

    The order flips every round so neither always runs right after the other.
    """
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times = {n: [] for n in names}
    for r in range(iters):
        for n in (names if r % 2 == 0 else names[::-1]):
            times[n].append(fns[n]())
    return times


def machine_info(device: torch.device) -> dict:
    info = dict(torch=torch.__version__, python=platform.python_version(),
                cpu_count=os.cpu_count(), threads=torch.get_num_threads(),
                platform=platform.platform(), device=str(device))
    if hasattr(os, 'getloadavg'):
        info['loadavg_start'] = os.getloadavg()
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


__all__ = ['CLOCKS', 'autocast_ctx', 'clock_fn', 'interleave', 'machine_info', 'median_ms', 'peak_memory_mb',
           'reset_peak', 'sync']
