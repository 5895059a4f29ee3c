"""Time fastdilate.wavelets against PyWavelets (and SciPy for the starlet).

    fastdilate bench --wavelets [--quick]
    python bench/bench_wavelets.py [--quick | --bars] [--rounds N]

Each case runs fastdilate at 1 and 2 threads and its peer round by round
(interleaved, 0.2 s apart), and prints medians, the speedups, the bandwidth
of the whole call (bytes read + written once per level) as a share of the
copy bandwidth measured at the same thread count, the same share for one
level of a case alone at 2 threads (the core's pass at the top level's
dilation into memory written before, so without page faults), and the peak
memory that tracemalloc sees during one fastdilate call at 2 threads (it
counts NumPy's allocations) as a multiple of the output's size.

PyWavelets' iswt loops over 2**level phases in Python, and its swt runs
every tap of the zero-stuffed filter once the dilated filter is longer than
the signal: where that predicts minutes, the peer is not timed ("-"); a
peer whose first run takes over SLOW_PEER seconds is timed that once.
PyWavelets and SciPy are imported only here, by the functions that time them.
"""
import argparse
import statistics
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple, Optional

import numpy as np

import fastdilate.wavelets as fw
from fastdilate.wavelets._filters import filter_bank
from fastdilate.wavelets._passes import (analyse, analyse_2d, as_3d, synthesise_2d,
                                         synthesise_in_place)

PAUSE = 0.2
MAX_PYWT_PHASES = 2 ** 16
MAX_PYWT_MACS = 4e9
SLOW_PEER = 3.0
F32, F64 = np.float32, np.float64


class Case(NamedTuple):
    name: str
    ours: Callable          # ours(threads)
    peer: Optional[Callable]
    traffic: int            # bytes read + written once per level, all levels
    level: Optional[Callable] = None  # level(threads): one level alone, on buffers made before
    level_traffic: int = 0


def seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def copy_gbs(threads, nbytes=128 << 20, repeats=5):
    """Best GB/s (read + written) of np.copyto split over ``threads`` threads."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    pieces = list(zip(np.array_split(dst, threads), np.array_split(src, threads)))
    with ThreadPoolExecutor(threads) as pool:
        def copy():
            list(pool.map(lambda piece: np.copyto(*piece), pieces))
        copy()
        return 2 * nbytes / min(seconds(copy) for _ in range(repeats)) / 1e9


def peak_bytes(call):
    tracemalloc.start()
    tracemalloc.reset_peak()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def nbytes_of(result):
    if isinstance(result, np.ndarray):
        return result.nbytes
    if isinstance(result, dict):
        return sum(nbytes_of(v) for v in result.values())
    return sum(nbytes_of(r) for r in result)


def _medians(case, rounds):
    """Median seconds of ours(1), ours(2), the floor, the peer and one
    level alone (2 threads), over interleaved rounds."""
    out_bytes = nbytes_of(case.ours(2))
    # The floor: fresh memory of the output's size, written once (page
    # faults included, as every call that returns new arrays pays them).
    runs = {"fd-1": lambda: case.ours(1), "fd-2": lambda: case.ours(2),
            "floor": lambda: np.ones(out_bytes // 8)}
    if case.level is not None:
        runs["level"] = lambda: case.level(2)
    if case.peer is not None:
        runs["peer"] = case.peer
    times = {k: [] for k in runs}
    for key, call in runs.items():  # warm up: plans, page faults
        first = seconds(call)
        if key == "peer" and first > SLOW_PEER:
            times[key].append(first)  # a slow peer is timed once, by its first run
    for _ in range(rounds):
        for key, call in runs.items():
            if not (key == "peer" and times[key] and times[key][0] > SLOW_PEER):
                times[key].append(seconds(call))
                time.sleep(PAUSE)
    return {k: statistics.median(v) for k, v in times.items()}, out_bytes


def run_case(case, rounds, peaks):
    med, out_bytes = _medians(case, rounds)
    peak = peak_bytes(lambda: case.ours(2))
    row = [case.name.ljust(40), f"{med['fd-1'] * 1e3:9.2f}", f"{med['fd-2'] * 1e3:9.2f}"]
    if "peer" in med:
        row += [f"{med['peer'] * 1e3:9.1f}", f"{med['peer'] / med['fd-1']:6.1f}x",
                f"{med['peer'] / med['fd-2']:6.1f}x"]
    else:
        row += [f"{'-':>9}", f"{'-':>7}", f"{'-':>7}"]
    share = [case.traffic / med[f"fd-{t}"] / 1e9 / peaks[t] * 100 for t in (1, 2)]
    level = (f"{case.level_traffic / med['level'] / 1e9 / peaks[2] * 100:5.0f}%"
             if "level" in med else f"{'-':>6}")
    row += [f"{share[0]:5.0f}%", f"{share[1]:5.0f}%", level, f"{med['floor'] * 1e3:8.2f}",
            f"{peak / out_bytes:5.2f}"]
    print("  ".join(row), flush=True)


# What each run times: 1-D sizes, wavelets and dtypes (levels 4, 11 from
# 2**19 on, and the maximum unless "top" is False), the 256 x 4096 batch,
# 2-D sizes, levels and dtypes, starlet sizes and dtypes.
PLANS = {
    "quick": dict(sizes=[2 ** 16, 2 ** 19], wavelets=["db4"], dtypes=[F64], top=True,
                  batch=True, sizes_2d=[512, 1024], levels_2d=[4, 6], dtypes_2d=[F32],
                  starlet=[1024], dtypes_starlet=[F32]),
    "full": dict(sizes=[2 ** 16, 2 ** 19, 2 ** 22], wavelets=["haar", "db4", "sym8"],
                 dtypes=[F32, F64], top=True, batch=True, sizes_2d=[512, 1024, 2048],
                 levels_2d=[4, 6], dtypes_2d=[F32, F64], starlet=[1024, 4096],
                 dtypes_starlet=[F32, F64]),
    # the cases behind the bars (2**19 and more, 1024**2 and more), in minutes
    "bars": dict(sizes=[2 ** 19, 2 ** 22], wavelets=["haar", "db4", "sym8"], dtypes=[F64],
                 top=True, batch=True, sizes_2d=[1024, 2048], levels_2d=[4], dtypes_2d=[F32],
                 starlet=[1024], dtypes_starlet=[F32]),
}


def one_level_forward(x, wavelet, level):
    """swt's top level alone, into bands made before."""
    bank = filter_bank(wavelet)
    bands = [as_3d(np.empty_like(x), 0) for _ in range(2)]
    return lambda t: analyse(as_3d(x, 0), [bank.dec_lo, bank.dec_hi], 2 ** (level - 1), bands, t)


def one_level_inverse(x, wavelet, level):
    """iswt's first level alone, written over an approximation made before."""
    bank = filter_bank(wavelet)
    approx, detail = as_3d(x.copy(), 0), as_3d(x, 0)
    return lambda t: synthesise_in_place(approx, detail, bank.rec_lo, bank.rec_hi,
                                         2 ** (level - 1), t)


def one_level_forward_2d(x, wavelet, level):
    """swt2's top level alone, into bands made before."""
    bank = filter_bank(wavelet)
    bands = [np.empty_like(x) for _ in range(4)]
    return lambda t: analyse_2d(x, (bank, bank), (0, 1), 2 ** (level - 1), bands, t)


def one_level_inverse_2d(x, wavelet, level):
    """iswt2's first level alone, written over an approximation made before."""
    bank = filter_bank(wavelet)
    bands = [x.copy(), x, x, x]
    return lambda t: synthesise_2d(bands, (bank, bank), (0, 1), 2 ** (level - 1), bands[0], t)


def one_d_cases(plan):
    import pywt

    for n in plan["sizes"]:
        levels = [4] + ([11] if n >= 2 ** 19 else []) + ([fw.swt_max_level(n)] if plan["top"] else [])
        for wavelet in plan["wavelets"]:
            for level in levels:
                for dtype in plan["dtypes"]:
                    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
                    coeffs = fw.swt(x, wavelet, level)
                    per_level = 3 * x.nbytes
                    tag = f"{n:>8} {wavelet:>5} L{level:<2} {np.dtype(dtype).name}"
                    slow = pywt_swt_macs(n, pywt.Wavelet(wavelet).dec_len, level) > MAX_PYWT_MACS
                    yield Case(f"swt   {tag}", lambda t, x=x, w=wavelet, lv=level:
                               fw.swt(x, w, lv, num_threads=t),
                               None if slow else lambda x=x, w=wavelet, lv=level: pywt.swt(x, w, lv),
                               per_level * level, one_level_forward(x, wavelet, level), per_level)
                    slow = 2 ** level > MAX_PYWT_PHASES
                    yield Case(f"iswt  {tag}", lambda t, c=coeffs, w=wavelet:
                               fw.iswt(c, w, num_threads=t),
                               None if slow else lambda c=coeffs, w=wavelet: pywt.iswt(c, w),
                               per_level * level, one_level_inverse(x, wavelet, level), per_level)


def pywt_swt_macs(n, length, level):
    """pywt.swt's multiply-adds: every tap of the zero-stuffed filter runs
    once that is as long as the signal (measured: haar to level 19 of 2**19
    samples takes 105 s), only the real taps before."""
    spans = (length * 2 ** (j - 1) for j in range(1, level + 1))
    return sum(2 * n * (span if span >= n else length) for span in spans)


def batch_cases(plan):
    import pywt

    if not plan["batch"]:
        return
    x = np.random.default_rng(0).standard_normal((256, 4096))
    for axis in (0, 1):
        data = x if axis == 1 else np.ascontiguousarray(x.T)
        coeffs = fw.swt(data, "db4", 4, axis=axis)
        tag = f"256x4096 along axis {axis}, db4 L4"
        yield Case(f"swt   {tag}", lambda t, d=data, a=axis: fw.swt(d, "db4", 4, axis=a, num_threads=t),
                   lambda d=data, a=axis: pywt.swt(d, "db4", 4, axis=a), 3 * x.nbytes * 4)
        yield Case(f"iswt  {tag}", lambda t, c=coeffs, a=axis: fw.iswt(c, "db4", axis=a, num_threads=t),
                   lambda c=coeffs, a=axis: pywt.iswt(c, "db4", axis=a), 3 * x.nbytes * 4)


def two_d_cases(plan):
    import pywt

    for n in plan["sizes_2d"]:
        for wavelet in ("db2", "sym4"):
            for level in plan["levels_2d"]:
                for dtype in plan["dtypes_2d"]:
                    x = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
                    coeffs = fw.swt2(x, wavelet, level)
                    tag = f"{n}^2 {wavelet} L{level} {np.dtype(dtype).name}"
                    # per level: x read and 4 bands written, or 4 bands read and 1 written
                    per_level = 5 * x.nbytes
                    yield Case(f"swt2  {tag}", lambda t, x=x, w=wavelet, lv=level:
                               fw.swt2(x, w, lv, num_threads=t),
                               lambda x=x, w=wavelet, lv=level: pywt.swt2(x, w, lv),
                               per_level * level, one_level_forward_2d(x, wavelet, level),
                               per_level)
                    slow = 4 ** level > MAX_PYWT_PHASES
                    yield Case(f"iswt2 {tag}", lambda t, c=coeffs, w=wavelet:
                               fw.iswt2(c, w, num_threads=t),
                               None if slow else lambda c=coeffs, w=wavelet: pywt.iswt2(c, w),
                               per_level * level, one_level_inverse_2d(x, wavelet, level),
                               per_level)


def scipy_starlet(x, n_scales):
    import scipy.ndimage as ndi

    planes, c = [], x
    for j in range(n_scales):
        kernel = np.zeros(4 * 2 ** j + 1)
        kernel[:: 2 ** j] = np.array([1, 4, 6, 4, 1]) / 16
        nxt = ndi.convolve1d(ndi.convolve1d(c, kernel, axis=0, mode="nearest"), kernel,
                             axis=1, mode="nearest")
        planes.append(c - nxt)
        c = nxt
    return np.array(planes + [c])


def starlet_cases(plan):
    for n in plan["starlet"]:
        for dtype in plan["dtypes_starlet"]:
            x = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
            # per scale: two smoothing passes (read + write) and a subtraction
            yield Case(f"starlet {n}^2 6 scales {np.dtype(dtype).name}",
                       lambda t, x=x: fw.starlet(x, 6, num_threads=t),
                       lambda x=x: scipy_starlet(x, 6), 6 * 7 * x.nbytes)


def run(plan_name, rounds):
    """Print the table of one plan ("quick", "full" or "bars")."""
    import pywt
    from importlib.metadata import version

    peaks = {t: copy_gbs(t) for t in (1, 2)}
    print(f"PyWavelets {pywt.__version__} (distribution {version('PyWavelets')}); "
          f"copy bandwidth {peaks[1]:.1f} GB/s at 1 thread, {peaks[2]:.1f} at 2")
    print("times in ms; speedup = peer / fastdilate; share = bandwidth / copy bandwidth, of the"
          " whole call at 1 and 2 threads and of one level alone at 2; floor = new memory of"
          " the output's size written once; peak = traced memory / output")
    header = ["case".ljust(40), "fd 1 thr", " fd 2 thr", "     peer", "x 1 thr", "x 2 thr",
              "shr 1", "shr 2", "level2", "floor ms", "peak"]
    print("  ".join(header))
    plan = PLANS[plan_name]
    for cases in (one_d_cases, batch_cases, two_d_cases, starlet_cases):
        for case in cases(plan):
            run_case(case, rounds, peaks)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few cases, for a smoke run")
    parser.add_argument("--bars", action="store_true",
                        help="only the cases the issue's bars are about (2**19+, 1024**2+)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per case (default 5, quick 3)")
    args = parser.parse_args(argv)
    return run("quick" if args.quick else "bars" if args.bars else "full",
               args.rounds or (3 if args.quick else 5))


if __name__ == "__main__":
    sys.exit(main())
