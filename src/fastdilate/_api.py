"""The public compiled functions: argument checks, dtype rules, padding
arithmetic and output allocation in plain Python, then one call into the
typed core.

The core trusts what it is given, so every shape and bound it relies on is
checked here; a bad argument is a ValueError or TypeError that names it.
"""
import functools
import math
from typing import NamedTuple

import numpy as np

from . import _layout
from ._dispatch import core
from .receptive import check_int

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

# ---------------------------------------------------------------- scalars
# Larger than any array can be; bounding every size, span and padded extent
# by it keeps the core's 64-bit index arithmetic from overflowing.
_MAX_INT = 2**60
# More threads than any machine this runs on has cores.
_MAX_THREADS = 1024


def _as_int(name, value, minimum, maximum=_MAX_INT):
    """check_int, bounded by default so no size overflows the core."""
    return check_int(name, value, minimum, maximum)


def _as_thread_request(num_threads):
    return None if num_threads is None else _as_int("num_threads", num_threads, 1, _MAX_THREADS)


def _as_pair(name, value, minimum):
    """An int for both spatial axes, or a pair (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {value!r}")
        return tuple(_as_int(name, v, minimum) for v in value)
    value = _as_int(name, value, minimum)
    return value, value


# ----------------------------------------------------------------- arrays
def _as_array(name, value):
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{name} could not be read as an array: {error}") from None
    _check_real(name, array.dtype)
    return array


def _check_real(name, dtype):
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")


def _result_dtype(*dtypes):
    """float32 when every operand is float32 or float16, float64 otherwise."""
    single = all(dtype.char in "fe" for dtype in dtypes)
    return np.dtype(np.float32) if single else np.dtype(np.float64)


def _check_out(out, shape, dtype, inputs):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must have shape {shape} and dtype {dtype}, "
                         f"got shape {out.shape} and dtype {out.dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be a writeable C-contiguous array")
    for name, array in inputs:
        if np.shares_memory(out, array):
            raise ValueError(f"out overlaps {name}; pass a separate array")
    return out


# ---------------------------------------------------------------- padding
def _resolve_padding(padding, kernel_sizes, strides, dilations, allow_causal):
    """((before, after), ...) for each spatial axis, from any padding form."""
    ndim = len(kernel_sizes)
    spans = [d * (k - 1) for k, d in zip(kernel_sizes, dilations)]
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            if any(s != 1 for s in strides):
                raise ValueError(f"padding='same' needs stride 1, got stride {strides}")
            return tuple((span // 2, span - span // 2) for span in spans)
        if padding == "causal" and allow_causal:
            return ((spans[0], 0),)
        forms = "'valid', 'same', 'causal'" if allow_causal else "'valid', 'same'"
        raise ValueError(f"padding must be an int, a pair or one of {forms}; got {padding!r}")
    if isinstance(padding, (tuple, list)):
        if ndim == 1:
            if len(padding) != 2:
                raise ValueError(f"padding must be an int or a pair (left, right), got {padding!r}")
            return (tuple(_as_int("padding", p, 0) for p in padding),)
        if len(padding) != 2:
            raise ValueError(f"padding must be an int, a pair (ph, pw) or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        axes = []
        for p in padding:
            if isinstance(p, (tuple, list)):
                if len(p) != 2:
                    raise ValueError(f"padding must be ((top, bottom), (left, right)), got {padding!r}")
                axes.append(tuple(_as_int("padding", v, 0) for v in p))
            else:
                p = _as_int("padding", p, 0)
                axes.append((p, p))
        return tuple(axes)
    padding = _as_int("padding", padding, 0)
    return ((padding, padding),) * ndim


def _check_padding_mode(padding_mode, pads, spatial):
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    for (before, after), size in zip(pads, spatial):
        if padding_mode == "reflect" and max(before, after) >= size:
            raise ValueError(f"padding_mode='reflect' needs padding < input size, "
                             f"got padding ({before}, {after}) for size {size}")
        if padding_mode == "circular" and max(before, after) > size:
            raise ValueError(f"padding_mode='circular' needs padding <= input size, "
                             f"got padding ({before}, {after}) for size {size}")


# ------------------------------------------------------------ convolution
class _Plan(NamedTuple):
    """Everything a call's shapes and arguments decide, checked once."""
    dtype: np.dtype
    x_shape: tuple      # input as the core sees it: (N, C_in, H, W)
    out_shape: tuple    # output as (N, C_out, H_out, W_out)
    result_shape: tuple  # output as the caller gets it
    scalars: tuple      # kernel, stride, dilation, padding and grouping arguments of the core
    groups: int
    dense: bool         # the core's dense kernel runs, on packed weights
    threads: int
    zero_bias: np.ndarray


def _make_plan(name, spatial_dims, x_shape, x_dtype, w_shape, w_dtype, bias_spec,
               stride, padding, dilation, groups, padding_mode, threads):
    """Check a call's shapes and arguments and decide how the core runs it."""
    for operand, dtype in (("input", x_dtype), ("weight", w_dtype)) + (
            (("bias", bias_spec[1]),) if bias_spec is not None else ()):
        _check_real(operand, dtype)
    batched = len(x_shape) == spatial_dims + 2
    if not batched and len(x_shape) != spatial_dims + 1:
        raise ValueError(f"{name}: input must have {spatial_dims + 2} dimensions (batched) or "
                         f"{spatial_dims + 1} (unbatched), got shape {x_shape}")
    if len(w_shape) != spatial_dims + 2:
        raise ValueError(f"{name}: weight must have {spatial_dims + 2} dimensions "
                         f"(C_out, C_in // groups, kernel...), got shape {w_shape}")
    groups = _as_int("groups", groups, 1)
    if spatial_dims == 1:
        strides = (1, _as_int("stride", stride, 1))
        dilations = (1, _as_int("dilation", dilation, 1))
    else:
        strides = _as_pair("stride", stride, 1)
        dilations = _as_pair("dilation", dilation, 1)

    batch_shape = x_shape if batched else (1,) + x_shape
    c_in, spatial = batch_shape[1], batch_shape[2:]
    c_out, kernel = w_shape[0], w_shape[2:]
    if c_in < 1 or c_out < 1 or min(kernel) < 1 or min(spatial) < 1:
        raise ValueError(f"{name}: input {x_shape} and weight {w_shape} must not be empty")
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({c_in}) "
                         f"and the output channels ({c_out})")
    if w_shape[1] != c_in // groups:
        raise ValueError(f"weight must have shape (C_out, C_in // groups, ...) = "
                         f"({c_out}, {c_in // groups}, ...), got {w_shape} "
                         f"for input with {c_in} channels and groups={groups}")
    if bias_spec is not None and bias_spec[0] != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},), got {bias_spec[0]}")

    axis_strides, axis_dilations = strides[-spatial_dims:], dilations[-spatial_dims:]
    pads = _resolve_padding(padding, kernel, axis_strides, axis_dilations,
                            allow_causal=spatial_dims == 1)
    _check_padding_mode(padding_mode, pads, spatial)
    for size, (before, after), k, d in zip(spatial, pads, kernel, axis_dilations):
        if size + before + after > _MAX_INT or d * (k - 1) > _MAX_INT:
            raise ValueError(f"{name}: padding {(before, after)} or dilation {d} with kernel "
                             f"size {k} reaches past 2**60 samples")
    out_spatial = tuple(
        (size + before + after - d * (k - 1) - 1) // s + 1
        for size, (before, after), k, d, s in zip(
            spatial, pads, kernel, axis_dilations, axis_strides))
    if min(out_spatial) < 1:
        raise ValueError(f"{name}: output would be empty: input size {tuple(spatial)} with padding "
                         f"{pads}, kernel {tuple(kernel)}, dilation {axis_dilations} "
                         f"and stride {axis_strides} gives output size {out_spatial}")

    dtypes = (x_dtype, w_dtype) if bias_spec is None else (x_dtype, w_dtype, bias_spec[1])
    dtype = _result_dtype(*dtypes)
    out_shape = (batch_shape[0], c_out) + out_spatial
    result_shape = out_shape if batched else out_shape[1:]
    if spatial_dims == 1:  # 1-D runs as 2-D with height 1
        batch_shape, w_shape, out_shape = (batch_shape[:2] + (1,) + batch_shape[2:],
                                           w_shape[:2] + (1,) + w_shape[2:],
                                           out_shape[:2] + (1,) + out_shape[2:])
        pads = ((0, 0),) + pads
    threads = _layout.thread_count(threads, math.prod(out_shape) * math.prod(w_shape[1:]))
    dense = _layout.takes_dense_kernel(c_out, groups)
    tile = _layout.tile_width(dtype.itemsize, c_in, w_shape[2], w_shape[3], strides[1],
                              dilations[1], out_shape[3], out_shape[0] * out_shape[2], threads,
                              dense)
    scalars = (w_shape[2], w_shape[3], strides[0], strides[1], dilations[0], dilations[1],
               pads[0][0], pads[1][0], PADDING_MODES.index(padding_mode), groups, tile)
    zero_bias = np.zeros(c_out, dtype)
    zero_bias.flags.writeable = False
    return _Plan(dtype, batch_shape, out_shape, result_shape, scalars, groups, dense,
                 threads, zero_bias)


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
    x = input if type(input) is np.ndarray else _as_array("input", input)
    w = weight if type(weight) is np.ndarray else _as_array("weight", weight)
    b = None if bias is None else _as_array("bias", bias)
    threads = core.default_num_threads() if num_threads is None else _as_thread_request(num_threads)
    call = (name, spatial_dims, x.shape, x.dtype, w.shape, w.dtype,
            None if b is None else (b.shape, b.dtype),
            stride, padding, dilation, groups, padding_mode, threads)
    if (type(stride) is int and type(dilation) is int and type(groups) is int
            and type(padding) in (int, str)) or all(map(_plain, (stride, padding, dilation, groups))):
        plan = _cached_plan(*call)
    else:  # lists, floats, NumPy scalars...: checked afresh every time
        plan = _make_plan(*call)

    if out is None:
        result = np.empty(plan.result_shape, dtype=plan.dtype)
    else:
        named = [("input", x), ("weight", w)] + ([("bias", b)] if b is not None else [])
        result = _check_out(out, plan.result_shape, plan.dtype, named)
    if plan.out_shape[0] == 0:
        return result
    w_core = np.ascontiguousarray(w, dtype=plan.dtype)
    core.conv2d_forward(np.ascontiguousarray(x, dtype=plan.dtype).reshape(plan.x_shape),
                        _layout.packed_weight(w_core, plan.groups) if plan.dense else w_core.ravel(),
                        plan.zero_bias if b is None else np.ascontiguousarray(b, dtype=plan.dtype),
                        result.reshape(plan.out_shape), *plan.scalars, plan.threads)
    return result


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", out=None, num_threads=None):
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


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", out=None, num_threads=None):
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


def dilated_convolve_1d(signal, kernel, dilation=1, *, num_threads=None):
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
    x = _as_array("signal", signal)
    k = _as_array("kernel", kernel)
    if x.ndim not in (1, 2):
        raise ValueError(f"signal must have shape (L,) or (B, L), got {x.shape}")
    if k.ndim != 1 or k.shape[0] < 1:
        raise ValueError(f"kernel must have shape (K,) with K >= 1, got {k.shape}")
    # Any dilation is valid here: one that reaches past the signal gives [].
    dilation = _as_int("dilation", dilation, 1, maximum=None)
    out_length = max(x.shape[-1] - (k.shape[0] - 1) * dilation, 0)
    if out_length == 0 or x.size == 0:
        _as_thread_request(num_threads)
        return np.empty(x.shape[:-1] + (out_length,), dtype=_result_dtype(x.dtype, k.dtype))
    batch = x.reshape(-1, 1, x.shape[-1])
    result = conv1d(batch, k.reshape(1, 1, -1), dilation=dilation if k.shape[0] > 1 else 1,
                    num_threads=num_threads)
    return result.reshape(x.shape[:-1] + (out_length,))
