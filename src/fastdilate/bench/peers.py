"""Fastdilate's peers, each a way to compute a case, and the check of their results.

Each peer computes the same convolution its own way: the pure-Python
``fastdilate.reference``, NumPy's per-tap matmul idiom, SciPy's
``ndimage.correlate1d`` with a zero-stuffed kernel, and PyTorch's
``conv1d``/``conv2d``.  A peer's result is checked against fastdilate's before
it is timed.  SciPy and PyTorch are imported inside the peers that use them.
"""
import contextlib
import dataclasses
import functools
import importlib.util
import math
import os
import sys
import warnings

import numpy as np

from .. import reference
from .._api import conv1d, conv2d, dilated_convolve_1d
from .cases import as_output


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
