"""Benchmarks of fastdilate against its peers: ``fastdilate bench`` and bench/.

The cases are the workloads of the speed issue in PyTorch's conventions
(batch N, channels C_in -> C_out, spatial size, K taps per axis, dilation d).
Each peer computes the same convolution its own way: the pure-Python
``fastdilate.reference``, NumPy's per-tap matmul idiom, SciPy's
``ndimage.correlate1d`` with a zero-stuffed kernel, and PyTorch's
``conv1d``/``conv2d``.  A peer's result is checked against fastdilate's before
it is timed, and the timings are interleaved (fastdilate, each peer, repeat) so
that the drift of a shared machine touches every contender alike.

SciPy, PyTorch, threadpoolctl and matplotlib are optional and are imported
inside the functions that use them: ``import fastdilate`` loads none of them.
"""
import contextlib
import dataclasses
import datetime
import functools
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import reference
from ._api import conv1d, conv2d, dilated_convolve_1d
from ._info import build_info

MEMORY_BOUND = "memory"    # judged against the measured copy bandwidth
COMPUTE_BOUND = "compute"  # judged against the measured matmul peak of its dtype


# ------------------------------------------------------------------ cases
@dataclasses.dataclass(frozen=True)
class Case:
    """One convolution workload, with PyTorch's conv1d/conv2d conventions."""
    name: str
    batch: int
    c_in: int
    c_out: int
    size: tuple          # (L,) or (H, W)
    kernel: int          # taps along each spatial axis
    dilation: int
    padding: str = "valid"   # "valid", "same" or "causal"
    stride: int = 1
    groups: int = 1
    dtype: str = "float32"
    bound: str = COMPUTE_BOUND
    api: str = "conv"        # "seed": dilated_convolve_1d on one signal

    @property
    def ndim(self):
        return len(self.size)

    @property
    def span(self):
        return self.dilation * (self.kernel - 1)

    @property
    def pads(self):
        """(before, after) zero padding of each spatial axis, as fastdilate pads."""
        pair = {"valid": (0, 0), "same": (self.span // 2, self.span - self.span // 2),
                "causal": (self.span, 0)}[self.padding]
        return (pair,) * self.ndim

    @property
    def out_size(self):
        return tuple((n + before + after - self.span - 1) // self.stride + 1
                     for n, (before, after) in zip(self.size, self.pads))

    @property
    def input_shape(self):
        return (self.batch, self.c_in) + self.size

    @property
    def weight_shape(self):
        return (self.c_out, self.c_in // self.groups) + (self.kernel,) * self.ndim

    @property
    def output_shape(self):
        return (self.batch, self.c_out) + self.out_size

    @property
    def depthwise(self):
        """One filter per channel (single-channel convolution included)."""
        return self.groups == self.c_in == self.c_out

    @property
    def taps(self):
        """Products summed into each output value."""
        return self.c_in // self.groups * self.kernel ** self.ndim

    @property
    def macs(self):
        return math.prod(self.output_shape) * self.taps

    @property
    def bytes_moved(self):
        """Input plus output, each once: the least a memory-bound case must move."""
        itemsize = np.dtype(self.dtype).itemsize
        return itemsize * (math.prod(self.input_shape) + math.prod(self.output_shape))

    def summary(self):
        return dict(dataclasses.asdict(self), input_shape=self.input_shape,
                    weight_shape=self.weight_shape, output_shape=self.output_shape,
                    macs=self.macs, bytes_moved=self.bytes_moved)


_TCN_DENSE = Case("tcn-dense", batch=16, c_in=128, c_out=128, size=(4096,), kernel=3,
                  dilation=16, padding="same")

CASES = (
    Case("seed-single", batch=1, c_in=1, c_out=1, size=(1_000_000,), kernel=3, dilation=2,
         bound=MEMORY_BOUND, api="seed"),
    Case("batched-single", batch=256, c_in=1, c_out=1, size=(16384,), kernel=3, dilation=4,
         bound=MEMORY_BOUND),
    Case("depthwise-audio", batch=8, c_in=64, c_out=64, size=(16000,), kernel=3, dilation=8,
         padding="same", groups=64, bound=MEMORY_BOUND),
    Case("wavenet-dense", batch=8, c_in=64, c_out=64, size=(16000,), kernel=2, dilation=256,
         padding="causal"),
    _TCN_DENSE,
    Case("wide-kernel", batch=4, c_in=32, c_out=32, size=(32768,), kernel=9, dilation=4),
    Case("strided", batch=16, c_in=64, c_out=64, size=(8192,), kernel=5, dilation=3, stride=2),
    dataclasses.replace(_TCN_DENSE, name="tcn-dense-f64", dtype="float64"),
    Case("conv2d-context", batch=1, c_in=64, c_out=64, size=(128, 128), kernel=3, dilation=4,
         padding="same"),
    Case("conv2d-aspp", batch=2, c_in=256, c_out=256, size=(64, 64), kernel=3, dilation=12,
         padding="same"),
    Case("tiny-latency", batch=1, c_in=1, c_out=1, size=(256,), kernel=3, dilation=2,
         bound=MEMORY_BOUND),
)


def case_names():
    return [case.name for case in CASES]


def select_cases(text=None):
    """The cases named in a comma-separated list, in its order; all for None."""
    if text is None:
        return list(CASES)
    by_name = {case.name: case for case in CASES}
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in by_name]
    if unknown or not names:
        problem = f"unknown case {', '.join(unknown)}" if unknown else "no case named"
        raise ValueError(f"--cases: {problem}; the cases are {', '.join(by_name)}")
    return [by_name[name] for name in names]


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


# ------------------------------------------------------- reduced sizes
def shrink(case, max_macs):
    """The same case (same name) with batch, then spatial size, then channels
    halved until it has at most ``max_macs`` multiply-adds or cannot shrink."""
    while case.macs > max_macs:
        smaller = _halve_batch(case) or _halve_size(case) or _halve_channels(case)
        if smaller is None:
            break
        case = smaller
    return case


def _halve_batch(case):
    return dataclasses.replace(case, batch=case.batch // 2) if case.batch > 1 else None


def _halve_size(case):
    # Keep the dilated kernel well inside the signal, so the case still dilates.
    floor = 2 * case.span + 16
    size = tuple(min(n, max(n // 2, floor)) for n in case.size)
    return dataclasses.replace(case, size=size) if size != case.size else None


def _halve_channels(case):
    if case.depthwise:
        channels = case.c_in // 2
        return dataclasses.replace(case, c_in=channels, c_out=channels,
                                   groups=channels) if channels else None
    if case.groups > 1:
        return None
    # Two channels at least: a single one would make a dense case depthwise.
    c_in, c_out = max(case.c_in // 2, 2), max(case.c_out // 2, 2)
    return dataclasses.replace(case, c_in=c_in, c_out=c_out) if (c_in, c_out) != (
        case.c_in, case.c_out) else None


def reduced(case, shrunk):
    """A note of how a reduced case differs from the named one, or None."""
    if shrunk == case:
        return None
    return f"input {shrunk.input_shape} instead of {case.input_shape}"


# ------------------------------------------------------------- inputs
def make_inputs(case, seed=0):
    """(input, weight) of the case's shapes and dtype, standard normal values."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(case.dtype)
    return (rng.standard_normal(case.input_shape, dtype=dtype),
            rng.standard_normal(case.weight_shape, dtype=dtype))


def as_output(case, result):
    """Any runner's result as an array of the case's output shape."""
    return np.asarray(result).reshape(case.output_shape)


# ------------------------------------------------------------- runners
class NotApplicable(Exception):
    """A peer cannot run a case (not installed, or not the kind of convolution)."""


def prepare_fastdilate(case, x, w, threads):
    """A zero-argument call of fastdilate on the case, num_threads explicit."""
    if case.api == "seed":
        signal, kernel = x[0, 0], w[0, 0]
        return functools.partial(dilated_convolve_1d, signal, kernel, case.dilation,
                                 num_threads=threads)
    conv = conv1d if case.ndim == 1 else conv2d
    return functools.partial(conv, x, w, stride=case.stride, padding=case.padding,
                             dilation=case.dilation, groups=case.groups, num_threads=threads)


# Pure Python costs about 0.1 us per MAC through the seed function and 0.5 us
# through the conv oracle: these limits keep one call of it near a second.
REFERENCE_MAX_MACS = {"seed": 4_000_000, "conv": 200_000}


def _reference_unsupported(case):
    limit = REFERENCE_MAX_MACS[case.api]
    if case.macs > limit:
        return f"pure Python is too slow above {limit:,} MACs (see bench/ for small sizes)"
    return None


def _prepare_reference(case, x, w, threads):
    if case.api == "seed":
        signal, kernel = x[0, 0].tolist(), w[0, 0].tolist()
        return functools.partial(reference.dilated_convolve_1d, signal, kernel, case.dilation)
    conv = reference.conv1d if case.ndim == 1 else reference.conv2d
    return functools.partial(conv, x.tolist(), w.tolist(), None, case.stride, case.padding,
                             case.dilation, case.groups)


def numpy_conv(case, x, w):
    """NumPy's per-tap idiom: for each tap, out += W[:, :, k] @ the strided
    window of the padded input, batched by matmul; depthwise by broadcasting."""
    if any(before or after for before, after in case.pads):
        x = np.pad(x, ((0, 0), (0, 0)) + case.pads)
    out = np.zeros(case.output_shape, dtype=np.result_type(x, w))
    for tap in np.ndindex(*(case.kernel,) * case.ndim):
        window = x[(Ellipsis,) + tuple(
            slice(k * case.dilation, k * case.dilation + case.stride * (n - 1) + 1, case.stride)
            for k, n in zip(tap, case.out_size))]
        out += _tap_product(case, w[(slice(None), slice(None)) + tap], window)
    return out


def _tap_product(case, w_tap, window):
    if case.depthwise:  # one weight per channel: a matmul would be 1x1
        return w_tap.reshape((1, case.c_out) + (1,) * case.ndim) * window
    groups = case.groups
    w_groups = w_tap.reshape(groups, case.c_out // groups, case.c_in // groups)
    x_groups = window.reshape(case.batch, groups, case.c_in // groups, -1)
    return np.matmul(w_groups, x_groups).reshape(case.output_shape)


def _prepare_numpy(case, x, w, threads):
    return functools.partial(numpy_conv, case, x, w)


def _scipy_unsupported(case):
    if case.ndim != 1 or case.stride != 1 or not case.depthwise:
        return "correlate1d applies to 1-D single-channel or depthwise, stride 1"
    return None


def _prepare_scipy(case, x, w, threads):
    from scipy.ndimage import correlate1d

    stuffed = np.zeros((case.c_out, case.span + 1), dtype=w.dtype)
    stuffed[:, ::case.dilation] = w[:, 0, :]
    # correlate1d centres the kernel at len // 2 + origin; this origin puts the
    # first tap of output i on input i - (left padding), as torch does.
    origin = case.pads[0][0] - (case.span + 1) // 2
    length = case.out_size[0]

    def run():
        out = np.empty(x.shape, dtype=x.dtype)
        for channel in range(case.c_out):
            correlate1d(x[:, channel], stuffed[channel], axis=-1, output=out[:, channel],
                        mode="constant", origin=origin)
        return out[..., :length]
    return run


def _prepare_torch(case, x, w, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    x_t, w_t = torch.from_numpy(x), torch.from_numpy(w)
    conv = F.conv1d if case.ndim == 1 else F.conv2d
    options = dict(stride=case.stride, dilation=case.dilation, groups=case.groups)
    if case.padding == "causal":  # torch has no causal mode: pad the left, as WaveNets do
        return lambda: conv(F.pad(x_t, (case.span, 0)), w_t, **options)
    return lambda: conv(x_t, w_t, padding=case.padding, **options)


# ATen ops that name the kernel a CPU convolution ran, and what they mean.
TORCH_KERNELS = {
    "aten::mkldnn_convolution": "oneDNN",
    "aten::slow_conv_dilated2d": "slow_conv_dilated",
    "aten::slow_conv_dilated3d": "slow_conv_dilated",
    "aten::_slow_conv2d_forward": "slow_conv2d",
    "aten::thnn_conv2d": "slow_conv2d",
    "aten::_nnpack_spatial_convolution": "NNPACK",
}


def torch_kernel(run):
    """{"path", "op"}: which ATen convolution kernel ``run`` dispatched to,
    read from the profiler's op names (PyTorch sends float64 and small batch-1
    dilated convolutions to slow_conv_dilated rather than oneDNN)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            run()
    ops = {event.name for event in profiler.events()}
    for op, path in TORCH_KERNELS.items():
        if op in ops:
            return {"path": path, "op": op}
    return {"path": "unknown", "op": ", ".join(sorted(op for op in ops if "conv" in op))}


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's C++ logging bypasses sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclasses.dataclass(frozen=True)
class Peer:
    """Another way to compute a case."""
    name: str
    module: object    # the import it needs, or None
    prepare: object   # (case, x, w, threads) -> zero-argument callable; the
                      # single-threaded peers ignore threads
    unsupported: object = lambda case: None   # (case) -> why it cannot, or None
    facts: object = None   # (zero-argument callable) -> dict of extra facts

    def skip_reason(self, case):
        if self.module is not None and importlib.util.find_spec(self.module) is None:
            return f"{self.module} is not installed"
        return self.unsupported(case)


PEERS = (
    Peer("reference", None, _prepare_reference, _reference_unsupported),
    Peer("numpy", None, _prepare_numpy),
    Peer("scipy", "scipy", _prepare_scipy, _scipy_unsupported),
    Peer("torch", "torch", _prepare_torch, facts=torch_kernel),
)
PEER_NAMES = [peer.name for peer in PEERS]


def peer_named(name):
    return next(peer for peer in PEERS if peer.name == name)


def prepare_runner(name, case, x, w, threads):
    """A zero-argument call of fastdilate or the named peer on (x, w);
    NotApplicable when that peer cannot run the case here."""
    if name == "fastdilate":
        return prepare_fastdilate(case, x, w, threads)
    peer = peer_named(name)
    reason = peer.skip_reason(case)
    if reason:
        raise NotApplicable(reason)
    return peer.prepare(case, x, w, threads)


# ----------------------------------------------------------- agreement
def tolerance(case):
    """Allowed |peer - fastdilate| as a fraction of sum |w*x| at each output.

    Rounding errors of a sum of ``taps`` products, in any order, stay within
    a few eps * sqrt(taps) of sum |w*x|; one wrong or missing product is of
    order sum |w*x| / taps, far larger at every size used here."""
    return float(16 * np.finfo(case.dtype).eps * math.sqrt(case.taps))


def expected_output(case, x, w, threads):
    """(fastdilate's output, sum |w*x| at each output) in float64."""
    expected = as_output(case, prepare_fastdilate(case, x, w, threads)())
    scale = as_output(case, prepare_fastdilate(case, np.abs(x), np.abs(w), threads)())
    return expected.astype(np.float64), scale.astype(np.float64)


def agreement(case, got, expected, scale):
    """{"ok", "max_error", "tolerance"}: got against expected, relative to scale."""
    got = np.asarray(got)
    if got.size != expected.size:
        return {"ok": False, "max_error": None, "tolerance": tolerance(case),
                "problem": f"shape {got.shape}, expected {expected.shape}"}
    error = np.abs(got.reshape(expected.shape).astype(np.float64) - expected)
    relative = error / np.maximum(scale, np.finfo(np.float64).tiny)
    max_error = float(np.max(relative)) if relative.size else 0.0
    ok = bool(np.isfinite(max_error) and max_error <= tolerance(case))
    return {"ok": ok, "max_error": max_error, "tolerance": tolerance(case)}


def check_against_fastdilate(case, x, w, threads, run):
    """Run a peer once and compare it with fastdilate (see ``agreement``)."""
    expected, scale = expected_output(case, x, w, threads)
    return agreement(case, as_output(case, run()), expected, scale)


# -------------------------------------------------------------- timing
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
# long as one 0.2 s later.  Every sample therefore starts after a pause, and
# an untimed call then wakes the runner's own threads and caches.
SETTLE_SECONDS = 0.2


def time_interleaved(runners, repeats, min_sample_seconds, settle_seconds=SETTLE_SECONDS):
    """{name: (calls per sample, [seconds per call] * repeats)}, the runners
    taking turns within every repeat so that drift touches all alike, each
    sample after ``settle_seconds`` for the runner before it to go idle and
    one untimed call."""
    calls = {name: calls_per_sample(run, min_sample_seconds) for name, run in runners.items()}
    samples = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            time.sleep(settle_seconds)
            run()
            samples[name].append(seconds_per_call(run, calls[name]))
    return {name: (calls[name], samples[name]) for name in runners}


def limit_blas_threads(threads):
    """Cap NumPy's BLAS at ``threads``; a no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


# --------------------------------------------------------------- peaks
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


# ------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class Settings:
    repeats: int
    min_sample_seconds: float
    max_macs: object         # cases above this are shrunk (same name); None: full size
    matmul_size: int
    copy_bytes: int
    peak_repeats: int


FULL = Settings(repeats=7, min_sample_seconds=0.1, max_macs=None, matmul_size=2048,
                copy_bytes=256 << 20, peak_repeats=7)
QUICK = Settings(repeats=3, min_sample_seconds=0.02, max_macs=500_000_000, matmul_size=1024,
                 copy_bytes=64 << 20, peak_repeats=5)


def settings_for(quick):
    return QUICK if quick else FULL


def sized(case, settings):
    return case if settings.max_macs is None else shrink(case, settings.max_macs)


# ---------------------------------------------------------------- runs
def _silent(message):
    pass


def bench_case(case, threads, settings, progress=_silent):
    """One case at one thread count: check every peer, then time them all."""
    run_case = sized(case, settings)
    x, w = make_inputs(run_case)
    with limit_blas_threads(threads):
        expected, scale = expected_output(run_case, x, w, threads)
        runners = {"fastdilate": prepare_fastdilate(run_case, x, w, threads)}
        peers = {}
        for name in PEER_NAMES:
            peers[name], run = _checked_peer(name, run_case, x, w, threads, expected, scale)
            if run is not None:
                runners[name] = run
        progress(_check_summary(peers) + f"; timing {settings.repeats} interleaved repeats")
        timings = time_interleaved(runners, settings.repeats, settings.min_sample_seconds)
    fastdilate = _timing(*timings.pop("fastdilate"))
    progress(f"  fastdilate {format_seconds(fastdilate['median_s'])}")
    for name, (calls, samples) in timings.items():
        peers[name].update(_timing(calls, samples))
        peers[name]["speedup"] = peers[name]["median_s"] / fastdilate["median_s"]
    return {"case": case.name, "threads": threads, "reduced": reduced(case, run_case),
            "params": run_case.summary(), "fastdilate": fastdilate, "peers": peers}


def _checked_peer(name, case, x, w, threads, expected, scale):
    """(facts about the peer on this case, its runner or None when it is not
    to be timed: not applicable, or its result disagrees with fastdilate's)."""
    try:
        run = prepare_runner(name, case, x, w, threads)
    except NotApplicable as why:
        return {"skipped": str(why)}, None
    try:
        info = {"check": agreement(case, as_output(case, run()), expected, scale)}
    except Exception as error:  # a failing peer is reported, not fatal to the run
        return {"check": {"ok": False, "problem": f"{type(error).__name__}: {error}"}}, None
    facts = peer_named(name).facts
    if facts is not None:
        info.update(facts(run))
    return info, (run if info["check"]["ok"] else None)


def _check_summary(peers):
    agree = [name for name, peer in peers.items() if peer.get("check", {}).get("ok")]
    differ = [name for name, peer in peers.items() if "check" in peer and not peer["check"]["ok"]]
    return ("  agree with fastdilate: " + (", ".join(agree) or "none")
            + (f"; MISMATCH (not timed): {', '.join(differ)}" if differ else ""))


def _timing(calls, samples):
    return {"median_s": statistics.median(samples), "min_s": min(samples),
            "samples_s": samples, "calls_per_sample": calls}


def run_benchmarks(cases, thread_counts, quick=False, progress=_silent):
    """The whole report: environment, peaks, and one result per case and
    thread count."""
    settings = settings_for(quick)
    report = {"format": "fastdilate-bench/1",
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "settings": dict(dataclasses.asdict(settings), quick=quick, threads=thread_counts),
              "environment": environment(), "peaks": {}, "results": []}
    peaks_before = _peaks_at(thread_counts, settings, progress)
    # Each case at every thread count in a row: the speedup from more
    # threads then compares timings seconds apart, not minutes.
    runs = [(case, threads) for case in cases for threads in thread_counts]
    for index, (case, threads) in enumerate(runs, 1):
        progress(f"[{index}/{len(runs)}] {case.name}, {threads} thread(s)")
        report["results"].append(_result_or_error(case, threads, settings, progress))
    # Other processes only ever lower a peak: keep the better of two measurements.
    report["peaks"] = {str(threads): _best_peaks(peaks_before[threads], after)
                       for threads, after in _peaks_at(thread_counts, settings, progress).items()}
    for (case, threads), result in zip(runs, report["results"]):
        if "error" not in result:
            result["fastdilate"].update(throughput(sized(case, settings),
                                                   result["fastdilate"]["median_s"],
                                                   report["peaks"][str(threads)]))
    return report


def _result_or_error(case, threads, settings, progress):
    try:
        return bench_case(case, threads, settings, progress)
    except Exception as error:  # fastdilate failed: report it, go on with the rest
        failure = f"{type(error).__name__}: {error}"
        progress(f"  ERROR {failure}")
        return {"case": case.name, "threads": threads, "error": failure}


def _peaks_at(thread_counts, settings, progress):
    peaks = {}
    for threads in thread_counts:
        progress(f"measuring peaks at {threads} thread(s)")
        peaks[threads] = measure_peaks(threads, settings)
    return peaks


def _best_peaks(first, second):
    return {"matmul_gflops": {dtype: max(first["matmul_gflops"][dtype], gflops)
                              for dtype, gflops in second["matmul_gflops"].items()},
            "copy_gbs": max(first["copy_gbs"], second["copy_gbs"])}


def problems(report):
    """What went wrong, one line each: fastdilate failing a case, or a peer
    disagreeing with it (or failing) and so left untimed."""
    lines = []
    for result in report["results"]:
        where = f"{result['case']} at {result['threads']} thread(s)"
        if "error" in result:
            lines.append(f"ERROR: fastdilate failed {where}: {result['error']}")
            continue
        for name, peer in result["peers"].items():
            if "check" in peer and not peer["check"]["ok"]:
                detail = peer["check"].get("problem") or (
                    f"error {peer['check']['max_error']:.3g} of sum|w*x| > tolerance "
                    f"{peer['check']['tolerance']:.3g}")
                lines.append(f"MISMATCH: {name} disagrees with fastdilate on {where} "
                             f"({detail}); not timed")
    return lines


# --------------------------------------------------------- environment
def environment():
    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": _processor(), "cpus": available_cpus(), "load_average": _load_average(),
            "versions": _versions(), "fastdilate": build_info(), "blas": _blas(),
            "torch": _torch_facts()}


def _load_average():
    """The 1-minute load average before the run: others' work makes timings noisy."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _processor():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _versions():
    versions = {}
    for name in ("numpy", "scipy", "torch", "threadpoolctl", "matplotlib"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _blas():
    """NumPy's BLAS as threadpoolctl sees it; None without threadpoolctl
    (then BLAS threads are not capped and matmul peaks use its default)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
    return [{key: pool.get(key) for key in keys}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def _torch_facts():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch
    return {"version": torch.__version__,
            "mkldnn_available": torch.backends.mkldnn.is_available(),
            "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
            "default_num_threads": torch.get_num_threads()}


# --------------------------------------------------------------- output
def format_seconds(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            return f"{seconds / scale:.3g} {unit}" if seconds / scale < 100 else \
                f"{seconds / scale:.0f} {unit}"
    raise AssertionError("unreachable")


def _speedup_cell(peer):
    if "skipped" in peer:
        return "-"
    if not peer["check"]["ok"]:
        return "MISMATCH"
    speedup = peer["speedup"]
    return f"{speedup:.0f}x" if speedup >= 100 else f"{speedup:.3g}x"


def _peak_cell(fastdilate):
    kind = "copy" if fastdilate["peak"] == "copy bandwidth" else fastdilate["peak"].split()[0]
    return f"{fastdilate['percent_of_peak']:.0f}% {kind}"


def format_table(report):
    """The results as one fixed-width table, with its legend."""
    header = (["case", "thr", "fastdilate", "GFLOP/s", "% of peak"]
              + [f"vs {name}" for name in PEER_NAMES] + ["torch path"])
    rows = []
    for result in report["results"]:
        if "error" in result:
            rows.append([result["case"], str(result["threads"]), "ERROR"]
                        + [""] * (len(header) - 3))
            continue
        fastdilate, peers = result["fastdilate"], result["peers"]
        rows.append([result["case"] + ("*" if result["reduced"] else ""), str(result["threads"]),
                     format_seconds(fastdilate["median_s"]), f"{fastdilate['gflops']:.3g}",
                     _peak_cell(fastdilate)]
                    + [_speedup_cell(peers[name]) for name in PEER_NAMES]
                    + [peers["torch"].get("path", "-")])
    lines = _aligned([header] + rows)
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines + _legend(report))


def _legend(report):
    settings = report["settings"]
    lines = ["",
             f"fastdilate: median time per call over {settings['repeats']} repeats, peers timed "
             f"in turn with it; vs X = X's median / fastdilate's (above 1x fastdilate is faster).",
             "GFLOP/s = 2*MACs/time; % of peak: memory-bound cases against copy bandwidth "
             "(input + output bytes once), others against NumPy matmul of their dtype.",
             "'-' = peer not applicable or not installed (reasons in --json); SciPy and the "
             "reference run on one thread whatever the thread count."]
    for threads, peaks in report["peaks"].items():
        matmul = peaks["matmul_gflops"]
        lines.append(f"peaks at {threads} thread(s), best of before and after: float32 matmul "
                     f"{matmul['float32']:.0f} GFLOP/s, float64 matmul {matmul['float64']:.0f} "
                     f"GFLOP/s, copy {peaks['copy_gbs']:.1f} GB/s")
    load = report["environment"]["load_average"]
    if load is not None and load >= 0.5:
        lines.append(f"note: load average {load:.2f} before the run: other processes shared "
                     f"the {report['environment']['cpus']} cpu(s), so timings are noisy")
    if report["environment"]["blas"] is None:
        lines.append("note: threadpoolctl is not installed, so NumPy's BLAS ran at its default "
                     "thread count whatever the thread count under test")
    shrunk = {result["case"]: result["reduced"]
              for result in report["results"] if result.get("reduced")}
    if shrunk:
        lines.append("* sizes reduced (--quick): "
                     + "; ".join(f"{name}: {note}" for name, note in shrunk.items()))
    return lines + problems(report)


def format_environment(report):
    env = report["environment"]
    versions, fd = env["versions"], env["fastdilate"]
    blas = ", ".join(f"{pool['internal_api']} {pool['version']} {pool['architecture']}"
                     for pool in env["blas"] or [])
    torch = env["torch"]
    torch_text = "not installed" if torch is None else (
        f"{torch['version']} (mkldnn available: {torch['mkldnn_available']}, "
        f"enabled: {torch['mkldnn_enabled']})")
    return "\n".join([
        f"fastdilate {fd['version']}: {fd['core']}, isa {fd['isa']}, openmp {fd['openmp']}, "
        f"{fd['compiler']}",
        f"numpy {versions['numpy']} ({blas or 'BLAS unknown'}), scipy {versions['scipy']}, "
        f"torch {torch_text}",
        f"{env['processor']}, {env['cpus']} cpu(s), python {env['python']}",
    ])


def write_json(report, path):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=1, default=_plain)
        file.write("\n")


def _plain(value):
    """NumPy scalars as the Python numbers JSON knows."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--plot needs matplotlib, which is not installed: "
                         "pip install matplotlib (or fastdilate[bench])") from None
    return matplotlib


def plot_speedups(report, path):
    """A bar chart (log scale) of fastdilate's speedup over each peer."""
    matplotlib = require_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [result for result in report["results"] if "error" not in result]
    peers = [name for name in PEER_NAMES
             if any("speedup" in result["peers"][name] for result in results)]
    width = 0.8 / max(len(peers), 1)
    figure, axes = plt.subplots(figsize=(min(16.0, max(6.0, 0.6 * len(results) + 2)), 5.0))
    for index, name in enumerate(peers):
        speedups = [result["peers"][name].get("speedup", math.nan) for result in results]
        axes.bar([position + index * width for position in range(len(results))], speedups,
                 width, label=f"vs {name}")
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("speedup (peer time / fastdilate time)")
    axes.set_xticks([position + 0.4 - width / 2 for position in range(len(results))])
    axes.set_xticklabels([f"{r['case']}{'*' if r['reduced'] else ''} ({r['threads']}t)"
                          for r in results], rotation=40, ha="right", fontsize=8)
    axes.set_title("fastdilate speedup over its peers"
                   + (" (* reduced sizes)" if any(r["reduced"] for r in results) else ""))
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# -------------------------------------------------------------- memory
def measure_peak_memory(case, threads, quick=False):
    """fastdilate's peak resident memory for one call of the case, in a
    fresh process that reports its own high-water marks (ru_maxrss): after
    imports, after making the inputs, after the call."""
    code = ("import sys; from fastdilate.benchmark import _report_peak_memory; "
            "_report_peak_memory(*sys.argv[1:])")
    # Linux carries a process's high-water mark across exec, so a child exec'd
    # straight from this (large) process would start at our size; a shell
    # that forks the probe gives it a fresh mark.  "; exit" stops the shell
    # from exec'ing the probe in its own place.
    command = ["/bin/sh", "-c", '"$@"; exit $?', "sh",
               sys.executable, "-c", code, case.name, str(threads), str(int(quick))]
    done = subprocess.run(command, capture_output=True, text=True, env=_child_environment(),
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe of {case.name} failed:\n{done.stderr}")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    run_case = sized(case, settings_for(quick))
    itemsize = np.dtype(run_case.dtype).itemsize
    input_output = run_case.bytes_moved + itemsize * math.prod(run_case.weight_shape)
    return dict(marks, case=case.name, threads=threads, reduced=reduced(case, run_case),
                input_output_bytes=input_output,
                output_bytes=itemsize * math.prod(run_case.output_shape))


def _report_peak_memory(case_name, threads, quick):
    """The probe's body (in the child process): prints its high-water marks."""
    import resource

    def high_water():
        kilobytes_or_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kilobytes_or_bytes if sys.platform == "darwin" else kilobytes_or_bytes * 1024

    (case,) = select_cases(case_name)
    run_case = sized(case, settings_for(bool(int(quick))))
    # The same call on the smallest version of the case first: it loads
    # numpy.random, starts the OpenMP team and any lazy state, fixed costs of
    # the process rather than of the case.
    smallest = shrink(run_case, 0)
    prepare_fastdilate(smallest, *make_inputs(smallest), int(threads))()
    after_imports = high_water()
    x, w = make_inputs(run_case)
    run = prepare_fastdilate(run_case, x, w, int(threads))
    after_inputs = high_water()
    run()
    print(json.dumps({"after_imports_bytes": after_imports, "after_inputs_bytes": after_inputs,
                      "peak_bytes": high_water()}))


def _child_environment():
    """This environment, with this fastdilate first on the child's path."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=package_parent + (os.pathsep + path if path else ""))


def format_bytes(count):
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(count) >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def format_memory(rows):
    header = ["case", "thr", "peak RSS", "call adds", "output", "case total", "input+output",
              "total/in+out"]
    lines = [header]
    for row in rows:
        total = row["peak_bytes"] - row["after_imports_bytes"]
        lines.append([row["case"] + ("*" if row["reduced"] else ""), str(row["threads"]),
                      format_bytes(row["peak_bytes"]),
                      format_bytes(row["peak_bytes"] - row["after_inputs_bytes"]),
                      format_bytes(row["output_bytes"]), format_bytes(total),
                      format_bytes(row["input_output_bytes"]),
                      # RSS counts pages: no ratio for a case far smaller than that
                      f"{total / row['input_output_bytes']:.2f}x"
                      if row["input_output_bytes"] >= 1 << 20 else "-"])
    return "\n".join(
        ["peak memory of one fastdilate call, in a fresh process (ru_maxrss):"]
        + _aligned(lines)
        + ["call adds = peak - high-water mark before the call; case total = peak - mark "
           "after imports and a warm-up call (page granular); input+output includes the weights."])


def _aligned(rows):
    """Rows of cells as text lines: first column left-aligned, the rest right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(row, widths))) for row in rows]


# ----------------------------------------------------------------- CLI
def _stderr(message):
    print(message, file=sys.stderr, flush=True)


def parse_options(cases=None, threads=None, json_path=None, plot_path=None, memory=False):
    """(cases, thread counts) of ``fastdilate bench``'s options; ValueError,
    before any timing, for an option this installation cannot honour."""
    selected, thread_counts = select_cases(cases), parse_thread_counts(threads)
    for option, path in (("--json", json_path), ("--plot", plot_path)):
        folder = os.path.dirname(os.path.abspath(path)) if path is not None else None
        if folder is not None and not os.path.isdir(folder):
            raise ValueError(f"{option}: folder {folder} does not exist")
    if plot_path is not None:
        require_matplotlib()
    if memory and importlib.util.find_spec("resource") is None:
        raise ValueError("--memory needs the resource module (Linux or macOS)")
    return selected, thread_counts


def run_cli(cases, thread_counts, quick=False, json_path=None, plot_path=None, memory=False):
    """``fastdilate bench`` on parsed options: prints the environment, the
    table and, with ``memory``, peak RSS; returns 0, or 1 when fastdilate
    failed a case or a peer disagreed with it."""
    report = run_benchmarks(cases, thread_counts, quick, progress=_stderr)
    if memory:
        _stderr("measuring peak memory")
        report["memory"] = [measure_peak_memory(case, threads, quick)
                            for threads in thread_counts for case in cases]
    print(format_environment(report))
    print()
    print(format_table(report))
    if memory:
        print()
        print(format_memory(report["memory"]))
    if json_path is not None:
        write_json(report, json_path)
        _stderr(f"wrote {json_path}")
    if plot_path is not None:
        plot_speedups(report, plot_path)
        _stderr(f"wrote {plot_path}")
    return 1 if problems(report) else 0
