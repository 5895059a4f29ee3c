"""The public compiled functions: dtype rules and output allocation in plain
Python, the argument and geometry checks of ``_checks``, then one call into
the typed core.

The core trusts what it is given, so every shape and bound it relies on is
checked before it runs; a bad argument is a ValueError or TypeError that
names it.  The array helpers here (``as_array``, ``check_real``,
``result_dtype``, ``check_out``, ``output_allocator``) are the dtype rules
and output allocation every front end uses.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Callable, Literal, NamedTuple, Union

import numpy as np

from . import _layout, _memory
from ._dispatch import core
from ._checks import PADDING_MODES, as_int, as_thread_request, check_conv

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    Pair = Union[int, tuple[int, int]]
    Padding1d = Union[int, tuple[int, int], Literal["valid", "same", "causal"]]
    Padding2d = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]],
                      Literal["valid", "same"]]
    PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]


# ----------------------------------------------------------------- arrays
def as_array(name, value):
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{name} could not be read as an array: {error}") from None
    check_real(name, array.dtype)
    return array


def core_array(value, dtype):
    """``value`` as a C-contiguous, aligned array of ``dtype``: the array
    itself where it is one, else a copy.  np.ascontiguousarray keeps an
    unaligned buffer (np.frombuffer at an odd offset, a field of a packed
    record, a frame that Dask's distributed workers received) as it is,
    and the core's loops read it through typed pointers, for which such an
    address is undefined behaviour."""
    array = np.ascontiguousarray(value, dtype)
    return array if array.flags.aligned else array.copy()


def check_real(name, dtype):
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")


def result_dtype(*dtypes):
    """float32 when every operand is float32 or float16, float64 otherwise."""
    single = all(dtype.char in "fe" for dtype in dtypes)
    return np.dtype(np.float32) if single else np.dtype(np.float64)


def output_allocator(shape, dtype):
    """What allocates a new output of this shape and dtype: np.empty, or the
    output pool's (_memory) for a large one, whose fresh memory would cost
    more to fault in than many a convolution costs."""
    size = math.prod(shape) * dtype.itemsize
    return _memory.empty if _memory.MIN_BYTES <= size <= _memory.MAX_BYTES else np.empty


def check_out(out, shape, dtype, inputs):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must have shape {shape} and dtype {dtype}, "
                         f"got shape {out.shape} and dtype {out.dtype}")
    if not (out.flags.c_contiguous and out.flags.aligned and out.flags.writeable):
        raise ValueError("out must be a writeable, aligned, C-contiguous array")
    for name, array in inputs:
        if np.shares_memory(out, array):
            raise ValueError(f"out overlaps {name}; pass a separate array")
    return out


# ------------------------------------------------------------ convolution
class CorePlan(NamedTuple):
    """How the core runs one checked call, from its shapes and arguments."""
    scalars: tuple      # kernel, stride, dilation, padding and grouping arguments of the core
    groups: int
    kernel: int         # the core's kernel family (its dense one reads packed weights)
    pads_with_zeros: bool  # the dense kernel on zero padding: it may skip padding taps
    threads: int
    zero_bias: np.ndarray


class _Plan(NamedTuple):
    """Everything a call's shapes and arguments decide, checked once."""
    dtype: np.dtype
    x_shape: tuple      # input as the core sees it: (N, C_in, H, W)
    out_shape: tuple    # output as (N, C_out, H_out, W_out)
    result_shape: tuple  # output as the caller gets it
    allocate: Callable  # np.empty or the output pool's (output_allocator)
    core: CorePlan


def check_call(name, spatial_dims, x_shape, x_dtype, w_shape, w_dtype, bias_spec,
               stride, padding, dilation, groups, padding_mode):
    """Check a convolution call's dtypes, shapes and arguments; its
    (ConvGeometry, result dtype).  ``bias_spec`` is (shape, dtype) or None.
    Every front end that holds shapes and dtypes (not yet arrays) calls it."""
    dtypes = (x_dtype, w_dtype) if bias_spec is None else (x_dtype, w_dtype, bias_spec[1])
    for operand, dtype in zip(("input", "weight", "bias"), dtypes):
        check_real(operand, dtype)
    geometry = check_conv(name, spatial_dims, x_shape, w_shape,
                          None if bias_spec is None else bias_spec[0],
                          stride, padding, dilation, groups, padding_mode)
    return geometry, result_dtype(*dtypes)


def _make_plan(name, spatial_dims, x_shape, x_dtype, w_shape, w_dtype, bias_spec,
               stride, padding, dilation, groups, padding_mode, threads):
    """Check a call's shapes and arguments and decide how the core runs it."""
    geometry, dtype = check_call(name, spatial_dims, x_shape, x_dtype, w_shape, w_dtype,
                                 bias_spec, stride, padding, dilation, groups, padding_mode)
    batch_shape, w_shape, out_shape = geometry.batch_shape, geometry.weight_shape, geometry.out_shape
    strides, dilations, pads = geometry.strides, geometry.dilations, geometry.pads
    if spatial_dims == 1:  # 1-D runs as 2-D with height 1
        batch_shape, w_shape, out_shape = (batch_shape[:2] + (1,) + batch_shape[2:],
                                           w_shape[:2] + (1,) + w_shape[2:],
                                           out_shape[:2] + (1,) + out_shape[2:])
        strides, dilations, pads = (1,) + strides, (1,) + dilations, ((0, 0),) + pads
    plan = core_plan(dtype, batch_shape, w_shape, out_shape, strides, dilations,
                     (pads[0][0], pads[1][0]), padding_mode, geometry.groups, threads)
    return _Plan(dtype, batch_shape, out_shape, geometry.result_shape,
                 output_allocator(geometry.result_shape, dtype), plan)


@functools.lru_cache(maxsize=256)
def core_plan(dtype, x_shape, w_shape, out_shape, strides, dilations, pads_before,
              padding_mode, groups, threads):
    """How the core runs a 2-D call whose geometry is already checked.

    Shapes are (N, C_in, H, W), (C_out, C_in // groups, KH, KW) and
    (N, C_out, H_out, W_out); ``pads_before`` is (top, left), the padding
    after the input being what the output size implies.  Other front ends
    (the gradients) run the core on geometry they derived from a checked
    call through this and ``run_core``.
    """
    c_in, c_out = x_shape[1], w_shape[0]
    threads = _layout.thread_count(threads, math.prod(out_shape) * math.prod(w_shape[1:]))
    kernel = _layout.kernel_family(c_in, c_out, groups, w_shape[2], out_shape[2])
    tile = _layout.tile_width(dtype.itemsize, c_in, w_shape[2], w_shape[3], strides[1],
                              dilations[1], out_shape[3], out_shape[2],
                              out_shape[0] * out_shape[2], threads, kernel == core.DENSE_KERNEL)
    band = _layout.depthwise_band_rows(dtype.itemsize, out_shape[2], out_shape[3], w_shape[3],
                                       w_shape[2], strides, dilations, out_shape[0] * c_out,
                                       threads)
    scalars = (w_shape[2], w_shape[3], strides[0], strides[1], dilations[0], dilations[1],
               pads_before[0], pads_before[1], PADDING_MODES.index(padding_mode), groups, kernel,
               tile, band)
    zero_bias = np.zeros(c_out, dtype)
    zero_bias.flags.writeable = False
    pads_with_zeros = (kernel == core.DENSE_KERNEL and padding_mode == "zeros"
                       and _reads_padding(x_shape, w_shape, out_shape, strides, dilations,
                                          pads_before))
    return CorePlan(scalars, groups, kernel, pads_with_zeros, threads, zero_bias)


def _reads_padding(x_shape, w_shape, out_shape, strides, dilations, pads_before):
    """Whether some tap reads padding, before or after the input, on an axis."""
    for axis in range(2):
        size, kernel, out_size = x_shape[2 + axis], w_shape[2 + axis], out_shape[2 + axis]
        reach = (out_size - 1) * strides[axis] + dilations[axis] * (kernel - 1) + 1
        if pads_before[axis] > 0 or reach > size + pads_before[axis]:
            return True
    return False


def run_core(plan, x, w, b, out):
    """Run the core on C-contiguous, aligned arrays of the plan's dtype (see
    core_array): x and out 4-D, w of the weight's shape (packed here for the
    dense kernel), b (C_out,) or None."""
    b = plan.zero_bias if b is None else b
    skip_padding = plan.pads_with_zeros and _layout.padding_taps_add_zeros(w, b)
    core.conv2d_forward(x, (_layout.packed_weight(w, plan.groups)
                            if plan.kernel == core.DENSE_KERNEL else w.ravel()),
                        b, out, *plan.scalars, skip_padding, plan.threads)


_cached_plan = functools.lru_cache(maxsize=256)(_make_plan)


def _plain(value):
    """Whether ``value`` may key the plan cache: built from exact ints and
    strings only, since 2.0 == 2 and True == 1 would share a cached plan."""
    if type(value) is int or type(value) is str:
        return True
    return type(value) is tuple and all(_plain(v) for v in value)


def _convolve(name, input, weight, bias, stride, padding, dilation, groups,
              padding_mode, out, num_threads, spatial_dims):
    """Shared body of conv1d and conv2d, lean for small calls: what depends
    only on shapes, dtypes and arguments comes from the plan cache."""
    x = input if type(input) is np.ndarray else as_array("input", input)
    w = weight if type(weight) is np.ndarray else as_array("weight", weight)
    b = None if bias is None else as_array("bias", bias)
    threads = core.default_num_threads() if num_threads is None else as_thread_request(num_threads)
    call = (name, spatial_dims, x.shape, x.dtype, w.shape, w.dtype,
            None if b is None else (b.shape, b.dtype),
            stride, padding, dilation, groups, padding_mode, threads)
    if type(padding_mode) is str and ((type(stride) is int and type(dilation) is int
                                       and type(groups) is int and type(padding) in (int, str))
                                      or all(map(_plain, (stride, padding, dilation, groups)))):
        plan = _cached_plan(*call)
    else:  # lists, floats, NumPy scalars...: checked afresh every time
        plan = _make_plan(*call)

    if out is None:
        result = plan.allocate(plan.result_shape, plan.dtype)
    else:
        named = [("input", x), ("weight", w)] + ([("bias", b)] if b is not None else [])
        result = check_out(out, plan.result_shape, plan.dtype, named)
    if plan.out_shape[0] == 0:
        return result
    run_core(plan.core, core_array(x, plan.dtype).reshape(plan.x_shape),
             core_array(w, plan.dtype), None if b is None else core_array(b, plan.dtype),
             result.reshape(plan.out_shape))
    return result


def conv1d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: int = 1,
           padding: Padding1d = 0, dilation: int = 1, groups: int = 1, *,
           padding_mode: PaddingMode = "zeros", out: np.ndarray | None = None,
           num_threads: int | None = None) -> np.ndarray:
    """1-D cross-correlation with PyTorch's ``conv1d`` conventions.

    Parameters
    ----------
    input : array_like, shape (N, C_in, L) or (C_in, L)
    weight : array_like, shape (C_out, C_in // groups, K)
    bias : array_like, shape (C_out,), optional
    stride, dilation : int >= 1
    padding : int >= 0, (left, right), "valid", "same" (stride 1) or "causal"
        "same" pads dilation*(K-1) in total, the extra sample on the right;
        "causal" pads dilation*(K-1) on the left only.
    groups : int >= 1 dividing C_in and C_out
    padding_mode : "zeros", "reflect", "replicate" or "circular"
    out : ndarray, optional
        C-contiguous array of the output's shape and dtype to fill.
    num_threads : int >= 1, optional
        Threads to use; None follows OpenMP (OMP_NUM_THREADS, threadpoolctl).

    Returns
    -------
    ndarray, shape (N, C_out, L_out) or (C_out, L_out)
        float32 when every operand is float32 or float16, else float64.
        ``L_out = (L + left + right - dilation*(K-1) - 1) // stride + 1``.
    """
    return _convolve("conv1d", input, weight, bias, stride, padding, dilation, groups,
                     padding_mode, out, num_threads, spatial_dims=1)


def conv2d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: Pair = 1,
           padding: Padding2d = 0, dilation: Pair = 1, groups: int = 1, *,
           padding_mode: PaddingMode = "zeros", out: np.ndarray | None = None,
           num_threads: int | None = None) -> np.ndarray:
    """2-D cross-correlation with PyTorch's ``conv2d`` conventions.

    Parameters
    ----------
    input : array_like, shape (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, shape (C_out, C_in // groups, KH, KW)
    bias : array_like, shape (C_out,), optional
    stride, dilation : int >= 1 or a pair (height, width)
    padding : int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same"
    groups, padding_mode, out, num_threads : as for :func:`conv1d`

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
    """
    return _convolve("conv2d", input, weight, bias, stride, padding, dilation, groups,
                     padding_mode, out, num_threads, spatial_dims=2)


def check_convolve_1d(signal_shape, kernel_shape, dilation):
    """Check dilated_convolve_1d's shapes and dilation; (output length, dilation)."""
    if len(signal_shape) not in (1, 2):
        raise ValueError(f"signal must have shape (L,) or (B, L), got {tuple(signal_shape)}")
    if len(kernel_shape) != 1 or kernel_shape[0] < 1:
        raise ValueError(f"kernel must have shape (K,) with K >= 1, got {tuple(kernel_shape)}")
    # Any dilation is valid here: one that reaches past the signal gives [].
    dilation = as_int("dilation", dilation, 1, maximum=None)
    return max(signal_shape[-1] - (kernel_shape[0] - 1) * dilation, 0), dilation


def dilated_convolve_1d(signal: ArrayLike, kernel: ArrayLike, dilation: int = 1, *,
                        num_threads: int | None = None) -> np.ndarray:
    """The seed's valid-mode dilated convolution, compiled and batched.

    ``out[..., i] = sum_t kernel[t] * signal[..., i + t*dilation]`` for
    ``i < L - (K-1)*dilation``; empty when that is not positive, as the
    reference returns ``[]``.

    Parameters
    ----------
    signal : array_like, shape (L,) or (B, L)
    kernel : array_like, shape (K,)
    dilation : int >= 1
    num_threads : int >= 1, optional
    """
    x = as_array("signal", signal)
    k = as_array("kernel", kernel)
    out_length, dilation = check_convolve_1d(x.shape, k.shape, dilation)
    if out_length == 0 or x.size == 0:
        as_thread_request(num_threads)
        return np.empty(x.shape[:-1] + (out_length,), dtype=result_dtype(x.dtype, k.dtype))
    batch = x.reshape(-1, 1, x.shape[-1])
    result = conv1d(batch, k.reshape(1, 1, -1), dilation=dilation if k.shape[0] > 1 else 1,
                    num_threads=num_threads)
    return result.reshape(x.shape[:-1] + (out_length,))
