"""Fastdilate's peers, each a way to compute a case, and the check of their results.

Each peer computes the same convolution its own way: the pure-Python
``fastdilate.reference``, NumPy's per-tap matmul idiom, SciPy's
``ndimage.correlate1d`` with a zero-stuffed kernel, PyTorch's
``conv1d``/``conv2d``, ONNX Runtime running a Conv model, and JAX's jitted
``lax.conv_general_dilated``.  A peer's result is checked against
fastdilate's before it is timed.  Every engine but NumPy is optional and is
imported inside the peer that uses it.

A peer is one ``Peer`` entry in ``PEERS``: a name, the modules it needs, a
``prepare(case, x, w, threads)`` that returns a zero-argument call, and
optionally why it cannot run a case and what else to record about it.
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

# Peers that compete for "vs best peer": every engine, not the pure-Python oracle.
ENGINES = ("numpy", "scipy", "torch", "onnxruntime", "jax")
# np.pad's (and jnp.pad's) names of fastdilate's padding modes.
NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                   "circular": "wrap"}


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
                             dilation=case.dilation, groups=case.groups,
                             padding_mode=case.padding_mode, num_threads=threads)


def full_pads(case):
    """The case's padding as np.pad wants it: nothing on the batch and channel axes."""
    return ((0, 0), (0, 0)) + tuple(case.pads)


def zero_padded(case):
    """Whether the case pads with zeros only (or not at all)."""
    return case.padding_mode == "zeros" or not any(map(any, case.pads))


def padded(case, x):
    """x padded as the case says, by np.pad (for the peers without a padding mode)."""
    if not any(map(any, case.pads)):
        return x
    return np.pad(x, full_pads(case), mode=NUMPY_PAD_MODES[case.padding_mode])


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
                             case.dilation, case.groups, case.padding_mode)


def numpy_conv(case, x, w):
    """NumPy's per-tap idiom: for each tap, out += W[:, :, k] @ the strided
    window of the padded input, batched by matmul; depthwise by broadcasting."""
    x = padded(case, x)
    out = np.zeros(case.output_shape, dtype=np.result_type(x, w))
    for tap in np.ndindex(*case.kernels):
        window = x[(Ellipsis,) + tuple(
            slice(k * d, k * d + s * (n - 1) + 1, s)
            for k, d, s, n in zip(tap, case.dilations, case.strides, case.out_size))]
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


# ndimage's names of the padding modes ("mirror" does not repeat the edge).
SCIPY_PAD_MODES = {"zeros": "constant", "reflect": "mirror", "replicate": "nearest",
                   "circular": "grid-wrap"}


def _scipy_unsupported(case):
    if (case.ndim != 1 or case.strides != (1,) or not case.depthwise
            or sum(case.pads[0]) > case.spans[0]):
        return ("correlate1d applies to 1-D single-channel or depthwise, stride 1, "
                "output no longer than the input")
    return None


def _prepare_scipy(case, x, w, threads):
    from scipy.ndimage import correlate1d

    (span,), (dilation,) = case.spans, case.dilations
    stuffed = np.zeros((case.c_out, span + 1), dtype=w.dtype)
    stuffed[:, ::dilation] = w[:, 0, :]
    # correlate1d centres the kernel at len // 2 + origin; this origin puts the
    # first tap of output i on input i - (left padding), as torch does.
    origin = case.pads[0][0] - (span + 1) // 2
    length, mode = case.out_size[0], SCIPY_PAD_MODES[case.padding_mode]

    def run():
        out = np.empty(x.shape, dtype=x.dtype)
        for channel in range(case.c_out):
            correlate1d(x[:, channel], stuffed[channel], axis=-1, output=out[:, channel],
                        mode=mode, origin=origin)
        return out[..., :length]
    return run


def _prepare_torch(case, x, w, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    x_t, w_t = torch.from_numpy(x), torch.from_numpy(w)
    conv = F.conv1d if case.ndim == 1 else F.conv2d
    options = dict(stride=case.strides, dilation=case.dilations, groups=case.groups)
    if zero_padded(case) and case.padding == "same":
        return lambda: conv(x_t, w_t, padding="same", **options)
    if zero_padded(case) and all(before == after for before, after in case.pads):
        return lambda: conv(x_t, w_t, padding=tuple(before for before, _ in case.pads),
                            **options)
    # Causal, uneven or non-zero padding: F.pad first, as torch's Conv modules do.
    mode = "constant" if case.padding_mode == "zeros" else case.padding_mode
    flat = tuple(side for pair in reversed(case.pads) for side in pair)  # last axis first
    return lambda: conv(F.pad(x_t, flat, mode=mode), w_t, **options)


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


def _onnxruntime_unsupported(case):
    if case.dtype != "float32":
        return "onnxruntime's CPU Conv is float32 only"
    return None


def _prepare_onnxruntime(case, x, w, threads):
    """A Conv model (with a Pad node before it for reflect, replicate or
    circular padding) in a session of ``threads`` intra-op threads that do
    not spin after a call, so they take no time from the next runner."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(_onnx_model(case, w).SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"x": x})[0]


def _onnx_model(case, w):
    from onnx import TensorProto, helper, numpy_helper

    begins, ends = zip(*case.pads)
    nodes, initializers, source = [], [numpy_helper.from_array(w, "w")], "x"
    conv_pads = list(begins + ends)
    if not zero_padded(case):
        pads = np.array((0, 0) + begins + (0, 0) + ends, dtype=np.int64)
        initializers.append(numpy_helper.from_array(pads, "pads"))
        nodes.append(helper.make_node("Pad", ["x", "pads"], ["padded"],
                                      mode=NUMPY_PAD_MODES[case.padding_mode]))
        source, conv_pads = "padded", [0] * len(conv_pads)
    nodes.append(helper.make_node("Conv", [source, "w"], ["y"], kernel_shape=list(case.kernels),
                                  strides=list(case.strides), dilations=list(case.dilations),
                                  pads=conv_pads, group=case.groups))
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, case.input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, case.output_shape)], initializers)
    # Opset 19 is the first with Pad's "wrap"; IR 9 is read by onnxruntime >= 1.15.
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)


def _prepare_jax(case, x, w, threads):
    """lax.conv_general_dilated, jitted, on arrays already on the device; the
    call blocks until the result is ready.  Zero padding is the conv's own;
    other modes are jnp.pad inside the same jitted function."""
    jax = _jax_at(threads)
    import jax.numpy as jnp

    layout = ("NCH", "OIH", "NCH") if case.ndim == 1 else ("NCHW", "OIHW", "NCHW")
    zeros = zero_padded(case)

    def conv(x, w):
        if not zeros:
            x = jnp.pad(x, full_pads(case), mode=NUMPY_PAD_MODES[case.padding_mode])
        return jax.lax.conv_general_dilated(
            x, w, window_strides=case.strides, padding=case.pads if zeros else "VALID",
            rhs_dilation=case.dilations, dimension_numbers=layout,
            feature_group_count=case.groups, precision=jax.lax.Precision.HIGHEST)
    x_jax, w_jax = jax.device_put(x), jax.device_put(w)
    compiled = jax.jit(conv).lower(x_jax, w_jax).compile()  # now, not in the first call
    return lambda: compiled(x_jax, w_jax).block_until_ready()


_JAX_THREADS = {}


def _jax_at(threads):
    """jax, with float64 enabled and its CPU client sized to ``threads``.

    XLA sizes the CPU client's thread pool once, when the client starts,
    from the environment variable NPROC (else the cores); so a new count
    restarts the client (arrays and compiled functions of the old one are
    not used again)."""
    import jax
    import jax.extend.backend

    jax.config.update("jax_enable_x64", True)
    if _JAX_THREADS.get("count") != threads:
        before = os.environ.get("NPROC")
        os.environ["NPROC"] = str(threads)
        try:
            jax.extend.backend.clear_backends()
            jax.devices("cpu")  # starts the client while NPROC says so
        finally:
            if before is None:
                del os.environ["NPROC"]
            else:
                os.environ["NPROC"] = before
        _JAX_THREADS["count"] = threads
    return jax


@dataclasses.dataclass(frozen=True)
class Peer:
    """Another way to compute a case."""
    name: str
    modules: tuple    # the imports it needs
    prepare: object   # (case, x, w, threads) -> zero-argument callable; the
                      # single-threaded peers ignore threads
    unsupported: object = lambda case: None   # (case) -> why it cannot, or None
    facts: object = None   # (zero-argument callable) -> dict of extra facts
    spins: bool = True     # leaves threads spinning after a call: the next runner waits

    def skip_reason(self, case):
        missing = [module for module in self.modules if importlib.util.find_spec(module) is None]
        if missing:
            return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed"
        return self.unsupported(case)


PEERS = (
    Peer("reference", (), _prepare_reference, _reference_unsupported, spins=False),
    Peer("numpy", (), _prepare_numpy),
    Peer("scipy", ("scipy",), _prepare_scipy, _scipy_unsupported, spins=False),
    Peer("torch", ("torch",), _prepare_torch, facts=torch_kernel),
    Peer("onnxruntime", ("onnxruntime", "onnx"), _prepare_onnxruntime, _onnxruntime_unsupported,
         spins=False),
    Peer("jax", ("jax",), _prepare_jax),
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
