"""Timing of fastdilate and its peers, and the machine's peaks they are judged by.

The timings are interleaved (fastdilate, each peer, repeat) so that the drift
of a shared machine touches every contender alike.
"""
import contextlib
import dataclasses
import math
import os
import time
import timeit
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .cases import MEMORY_BOUND


@dataclasses.dataclass(frozen=True)
class Settings:
    """How long each case is timed, how large it may be, how the peaks are measured."""
    repeats: int
    min_sample_seconds: float
    max_macs: object         # cases above this are shrunk (same name); None: full size
    matmul_size: int
    copy_bytes: int
    peak_repeats: int
    # A peer slower than this per call (and than SLOW_FACTOR x fastdilate) is
    # checked, not timed.
    max_call_seconds: object = None


# A peer too slow to time is also this many times slower than fastdilate:
# it cannot be the best peer.
SLOW_FACTOR = 10

FULL = Settings(repeats=7, min_sample_seconds=0.1, max_macs=None, matmul_size=2048,
                copy_bytes=256 << 20, peak_repeats=7)
# Quick runs and sweeps check, but do not time, a peer slower than half a
# second a call (JAX on depthwise-audio, SciPy's zero-stuffed kernel at a
# large dilation): eight calls of it would take most of a minute.
QUICK = Settings(repeats=3, min_sample_seconds=0.02, max_macs=500_000_000, matmul_size=1024,
                 copy_bytes=64 << 20, peak_repeats=5, max_call_seconds=0.5)
# The sweep's shapes are capped when drawn; its many shapes get QUICK's repeats.
SWEEP = dataclasses.replace(QUICK, max_macs=None)


def settings_for(quick, sweep=False):
    if sweep:
        return SWEEP
    return QUICK if quick else FULL


def parse_thread_counts(counts):
    """Distinct thread counts, in order; this machine's cores for None."""
    if counts is None:
        return [available_cpus()]
    if isinstance(counts, str):
        try:
            counts = [int(part) for part in counts.split(",") if part.strip()]
        except ValueError:
            raise ValueError(f"--threads: expected comma-separated ints, got {counts!r}") from None
    if not counts or min(counts) < 1:
        raise ValueError(f"--threads: thread counts must be >= 1, got {counts}")
    return list(dict.fromkeys(counts))


def available_cpus():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def seconds_per_call(run, number):
    """timeit's per-call time over ``number`` calls (garbage collection off)."""
    return timeit.Timer(run).timeit(number) / number


def calls_per_sample(run, min_sample_seconds, max_calls=1_000_000):
    """Calls that make one timed sample last at least min_sample_seconds, so
    that microsecond calls are timed over many iterations."""
    once = seconds_per_call(run, 1)
    return int(min(max_calls, max(1, math.ceil(min_sample_seconds / max(once, 1e-9)))))


# OpenBLAS's idle threads spin for about 0.1 s after a call (2**28 cycles),
# and PyTorch's for a while too, taking CPU from whatever runs next: measured
# here, a 2-thread fastdilate call right after a NumPy matmul took twice as
# long as one 0.2 s later.  Every sample therefore starts after a pause
# (unless the runner before it leaves no spinning threads), and an untimed
# call then wakes the runner's own threads and caches.
SETTLE_SECONDS = 0.2


def time_interleaved(runners, repeats, min_sample_seconds, settle_seconds=SETTLE_SECONDS,
                     quiet=()):
    """{name: (calls per sample, [seconds per call] * repeats)}, the runners
    taking turns within every repeat so that drift touches all alike, each
    sample after ``settle_seconds`` for the runner before it to go idle
    (none after a runner named in ``quiet``) and one untimed call."""
    calls = {name: calls_per_sample(run, min_sample_seconds) for name, run in runners.items()}
    samples = {name: [] for name in runners}
    names = list(runners)
    for _ in range(repeats):
        for index, name in enumerate(names):
            if names[index - 1] not in quiet:  # the first follows the last of the round before
                time.sleep(settle_seconds)
            runners[name]()
            samples[name].append(seconds_per_call(runners[name], calls[name]))
    return {name: (calls[name], samples[name]) for name in runners}


def limit_blas_threads(threads):
    """Cap NumPy's BLAS at ``threads``; a no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def matmul_gflops(dtype, threads, n, repeats):
    """Best GFLOP/s of an n x n NumPy (BLAS) matmul at ``threads`` threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.dtype(dtype))
    b = rng.standard_normal((n, n), dtype=np.dtype(dtype))
    c = np.empty_like(a)
    with limit_blas_threads(threads):
        np.matmul(a, b, out=c)
        best = min(seconds_per_call(lambda: np.matmul(a, b, out=c), 1) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def copy_gbs(threads, nbytes, repeats):
    """Best GB/s (bytes read + bytes written) of np.copyto over ``nbytes``,
    split across ``threads`` Python threads (copyto releases the GIL)."""
    source = np.ones(nbytes // 8)
    target = np.zeros_like(source)  # both touched, so no page faults are timed
    bounds = np.linspace(0, source.size, threads + 1).astype(int)
    pieces = [(target[a:b], source[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(threads) as pool:
        def copy():
            list(pool.map(lambda piece: np.copyto(*piece), pieces))
        copy()
        best = min(seconds_per_call(copy, 1) for _ in range(repeats))
    return 2 * source.nbytes / best / 1e9


def measure_peaks(threads, settings):
    """The machine's ceilings at ``threads`` threads: matmul per dtype, copy."""
    return {
        "matmul_gflops": {dtype: matmul_gflops(dtype, threads, settings.matmul_size,
                                               settings.peak_repeats)
                          for dtype in ("float32", "float64")},
        "copy_gbs": copy_gbs(threads, settings.copy_bytes, settings.peak_repeats),
    }


def throughput(case, seconds, peaks):
    """GFLOP/s (2 * MACs / time) and the percentage of the matching peak."""
    gflops = 2 * case.macs / seconds / 1e9
    if case.bound == MEMORY_BOUND:
        gbs = case.bytes_moved / seconds / 1e9
        return {"gflops": gflops, "gbs": gbs, "peak": "copy bandwidth",
                "percent_of_peak": 100 * gbs / peaks["copy_gbs"]}
    return {"gflops": gflops, "peak": f"{case.dtype} matmul",
            "percent_of_peak": 100 * gflops / peaks["matmul_gflops"][case.dtype]}
