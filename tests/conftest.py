"""Shared helpers for the tests of the compiled functions (conv1d, conv2d,
dilated_convolve_1d).

Two oracles:

* ``fastdilate.reference``, the pure-Python tap-by-tap loops, for small
  shapes (``assert_matches_reference``);
* ``numpy_conv``, an independent NumPy implementation (np.pad, then one
  strided slice per kernel tap), for shapes too big for the reference
  (``assert_matches_numpy``).

Both compare RELATIVE to ``sum |w * x|`` over each output's taps (plus
``|bias|``), computed by running the same oracle on ``abs`` of every operand:
float64 must agree to 1e-12 of that bound and float32 to 1e-5.

The test modules import these helpers with ``from conftest import ...``
(pytest puts this directory on sys.path for its rootdir conftest).
"""
import itertools
import subprocess
import sys
import textwrap
import threading

import numpy as np
from hypothesis import HealthCheck, settings

# ------------------------------------------------------------- constants
TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# Problems below this many multiply-adds run serially; threaded cases must be
# well above it.
SERIAL_MACS = 1 << 15
# Bad arguments may be either of these, as long as the message names them.
BAD_ARGUMENT = (ValueError, TypeError)


def sweep(max_examples):
    """Hypothesis settings: a fixed budget and no deadline (the reference is
    pure Python, and the first call of a shape may build a plan)."""
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ----------------------------------------------------------------- arrays
def random_array(rng, shape, dtype=np.float64):
    """Random values representable exactly in ``dtype``, of both signs."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "u":
        return rng.integers(0, 10, size=shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-9, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def expected_dtype(*operands):
    """float32 when every operand is float32 or float16, float64 otherwise."""
    single = all(np.asarray(a).dtype in (np.float32, np.float16) for a in operands
                 if a is not None)
    return np.dtype(np.float32) if single else np.dtype(np.float64)


LAYOUTS = ("contiguous", "list", "non-contiguous", "negative-stride", "fortran", "read-only",
           "unaligned")


def relayout(array, layout):
    """The same values as ``array`` in another memory layout (or as lists)."""
    array = np.asarray(array)
    if layout == "contiguous":
        return np.ascontiguousarray(array)
    if layout == "list":
        return array.tolist()
    if layout == "non-contiguous":  # every other element of a twice-as-long last axis
        buffer = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
        buffer[..., ::2] = array
        return buffer[..., ::2]
    if layout == "negative-stride":  # negative strides on every axis
        return np.flip(np.flip(array).copy())
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "read-only":
        copy = array.copy()
        copy.setflags(write=False)
        return copy
    if layout == "unaligned":
        return unaligned(array)
    raise AssertionError(layout)


def unaligned(array):
    """A C-contiguous copy of ``array`` at an odd address, as np.frombuffer
    at an odd offset gives (a file's payload after its header, a field of a
    packed record)."""
    array = np.asarray(array)
    buffer = np.zeros(array.nbytes + 1, np.uint8)
    copy = np.frombuffer(buffer.data, array.dtype, array.size, offset=1).reshape(array.shape)
    copy[...] = array
    assert copy.flags.c_contiguous and (array.itemsize == 1 or not copy.flags.aligned)
    return copy


class Unchanged:
    """Snapshot arrays; ``check()`` asserts none was written (bit for bit)."""

    def __init__(self, *arrays):
        self.arrays = [a for a in arrays if isinstance(a, np.ndarray)]
        self.copies = [a.copy() for a in self.arrays]

    def check(self):
        for array, copy in zip(self.arrays, self.copies):
            assert array.tobytes() == copy.tobytes(), "an input was written"


def arrays_of(result):
    """Every array of a result (an array, or tuples, lists and dicts of
    them, as the wavelet transforms return), in order."""
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, dict):
        return [a for key in sorted(result) for a in arrays_of(result[key])]
    return [a for item in result for a in arrays_of(item)]


def assert_bitwise_equal(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), (
        f"results differ in {np.count_nonzero(a != b)} of {a.size} places")


# ---------------------------------------------------------------- padding
def resolve_padding(padding, kernel, dilation, ndim):
    """[(before, after)] per spatial axis, spelled out from the contract."""
    kernel = tuple(np.broadcast_to(kernel, (ndim,)))
    dilation = tuple(np.broadcast_to(dilation, (ndim,)))
    spans = [int(d) * (int(k) - 1) for k, d in zip(kernel, dilation)]
    if padding == "valid":
        return [(0, 0)] * ndim
    if padding == "same":
        return [(s // 2, s - s // 2) for s in spans]
    if padding == "causal":
        return [(spans[0], 0)]
    if isinstance(padding, int):
        return [(padding, padding)] * ndim
    if ndim == 1:
        return [tuple(padding)]
    return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding]


def output_size(size, pads, kernel, dilation, stride):
    """floor((L + left + right - dilation*(K-1) - 1) / stride) + 1."""
    (before, after) = pads
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


# ----------------------------------------------------- the reference oracle
def _reference_call(op, x, w, b, kwargs):
    """The reference on nested lists, batched or not, as the caller gave them."""
    result = op(x.tolist(), w.tolist(), None if b is None else b.tolist(), **kwargs)
    return np.array(result, dtype=np.float64)


def reference_conv(op, x, w, b=None, **kwargs):
    """``reference.conv1d``/``conv2d`` on arrays: (value, abs bound) as float64."""
    x, w = np.asarray(x), np.asarray(w)
    b = None if b is None else np.asarray(b)
    value = _reference_call(op, x, w, b, kwargs)
    bound = _reference_call(op, np.abs(x), np.abs(w), None if b is None else np.abs(b), kwargs)
    return value, bound


def assert_close(got, expected, bound, dtype):
    """|got - expected| <= tol(dtype) * bound, elementwise, shapes equal."""
    assert got.dtype == dtype, f"dtype {got.dtype}, expected {dtype}"
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    error = np.abs(got.astype(np.float64) - expected)
    allowed = TOLERANCE[np.dtype(dtype)] * bound
    bad = ~(error <= allowed)
    assert not bad.any(), (
        f"{np.count_nonzero(bad)} of {got.size} outputs off; first at "
        f"{tuple(int(i) for i in np.argwhere(bad)[0])}: got "
        f"{got[bad][0]!r}, expected {expected[bad][0]!r} (bound {bound[bad][0]!r})")


def assert_matches_reference(got, op, x, w, b=None, **kwargs):
    value, bound = reference_conv(op, x, w, b, **kwargs)
    assert_close(got, value, bound, expected_dtype(x, w, b))


# --------------------------------------------------------- the NumPy oracle
_NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def numpy_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """N-d cross-correlation in float64: np.pad, then a strided slice per tap."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ndim = w.ndim - 2
    batched = x.ndim == w.ndim
    if not batched:
        x = x[np.newaxis]
    stride = tuple(int(s) for s in np.broadcast_to(stride, (ndim,)))
    dilation = tuple(int(d) for d in np.broadcast_to(dilation, (ndim,)))
    kernel = w.shape[2:]
    pads = resolve_padding(padding, kernel, dilation, ndim)
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pads], mode=_NUMPY_PAD[padding_mode])
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    out_shape = [(xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(ndim)]
    out = np.zeros((n, groups, c_out // groups) + tuple(out_shape))
    for taps in itertools.product(*(range(k) for k in kernel)):
        window = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                       for t, d, s, o in zip(taps, dilation, stride, out_shape))
        patch = xp[(slice(None), slice(None)) + window]
        patch = patch.reshape((n, groups, c_in // groups) + tuple(out_shape))
        wk = w[(slice(None), slice(None)) + taps].reshape(groups, c_out // groups, -1)
        out += np.einsum("ngc...,goc->ngo...", patch, wk)
    out = out.reshape((n, c_out) + tuple(out_shape))
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape((1, c_out) + (1,) * ndim)
    return out if batched else out[0]


def assert_matches_numpy(got, x, w, b=None, **kwargs):
    value = numpy_conv(x, w, b, **kwargs)
    bound = numpy_conv(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kwargs)
    assert_close(got, value, bound, expected_dtype(x, w, b))


def assert_threads_agree_and_match_numpy(op, x, w, b=None, threads=(2,), **kwargs):
    """op on one thread matches NumPy, and each of ``threads`` (None: the
    default) gives the same bits; returns the one-thread result."""
    one = op(x, w, b, **kwargs, num_threads=1)
    for count in threads:
        assert_bitwise_equal(one, op(x, w, b, **kwargs, num_threads=count))
    assert_matches_numpy(one, x, w, b, **kwargs)
    return one


def taps_touching(op, poisoned, weight_shape, **kwargs):
    """Bool mask of the outputs whose taps read a poisoned input element
    (through any padding copy of it): the reference on the indicator with
    all-ones weights."""
    hits, _ = reference_conv(op, poisoned.astype(np.float64), np.ones(weight_shape), **kwargs)
    return hits > 0


def run_in_threads(worker, count):
    """Run worker(i) for every i < count, each on a thread of its own, all at
    once; the exceptions they raised."""
    errors = []

    def guarded(i):
        try:
            worker(i)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def run_main(argv, capsys):
    """(exit code, stdout, stderr) of fastdilate's CLI main(argv) in this process."""
    from fastdilate import cli  # here, as conftest imports no fastdilate module itself
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------ subprocesses
def run_isolated(code):
    """Run ``code`` in a fresh interpreter; (returncode, stdout, stderr).

    For shapes that would index out of bounds if a check were missing: a
    crash there fails one test instead of killing the run.
    """
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                           capture_output=True, text=True, timeout=120)
    return child.returncode, child.stdout.strip(), child.stderr
