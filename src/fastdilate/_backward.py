"""Gradients of conv1d and conv2d, on compiled loops (no im2col, no BLAS,
bitwise identical for any thread count):

* grad_weight[o, c, k] = sum_{n,t} g[n, o, t] * xpad[n, c, t*stride + k*dilation]
  is a reduction over batch and time in pieces whose partial sums are added
  in a fixed order: blocked like a GEMM (channels in vectors, on blocked
  copies of both operands) where a group has many channels, else one dot
  product per channel pair and tap, on the input itself.
* grad_input is the transposed convolution.  Split by the phase r of a
  padded position p = q*stride + r, it is an ordinary dilated convolution
  of grad_output with the transposed, flipped taps k whose k*dilation is r
  mod stride (dilation / gcd(stride, dilation) apart): nothing is
  zero-inserted.  With a padding mode other than zeros, the gradient with
  respect to the padded input is folded back onto the input it copies.

The arguments go through the forward's checks (``_checks.check_conv``) and
dtype rules (``_api``); the core runs through ``_api.core_plan/run_core``.
"""
import functools
import math
from typing import NamedTuple

import numpy as np

from . import _api
from ._checks import as_thread_request, check_conv
from ._dispatch import core
from .reference import _padded_index


class _Phase(NamedTuple):
    """One stride phase of grad_input along one axis."""
    taps: tuple      # kernel taps k, flipped (descending), whose k*dilation is r mod stride
    dilation: int    # between consecutive taps, in grad_output samples
    pad: int         # zeros before grad_output
    crop: int        # grad_output samples dropped from the start
    count: int       # positions computed
    start: int       # where the first lands in the axis gradient, every `stride` apart


@functools.lru_cache(maxsize=1024)
def _axis_phases(size, pads, kernel, stride, dilation, out_size, zeros):
    """The phases of one axis, over the input itself (zeros padding) or the
    whole padded extent (folded back afterwards)."""
    lo, hi = (pads[0], pads[0] + size) if zeros else (0, size + pads[0] + pads[1])
    step = dilation // math.gcd(stride, dilation)
    phases = []
    for r in range(stride):
        taps = tuple(k for k in range(kernel) if k * dilation % stride == r)
        first = -(-(lo - r) // stride)                       # first q with q*stride + r >= lo
        count = -(-(hi - r) // stride) - first
        if not taps or count < 1:
            continue
        reach = (taps[-1] * dilation - r) // stride          # the flipped kernel's first tap
        crop = max(first - reach, 0)
        if crop >= out_size:  # every tap reads past grad_output's end: zeros
            continue
        phases.append(_Phase(taps[::-1], step if len(taps) > 1 else 1,
                             max(reach - first, 0), crop, count, first * stride + r - lo))
    return tuple(phases)


def _flatten_output_mask(output_mask):
    try:
        mask = tuple(output_mask)
    except TypeError:
        mask = ()
    if len(mask) != 3 or not all(isinstance(m, (bool, np.bool_)) for m in mask):
        raise TypeError(f"output_mask must be three booleans (grad_input, grad_weight, "
                        f"grad_bias), got {output_mask!r}")
    return tuple(map(bool, mask))


class _Plan(NamedTuple):
    """Everything a backward call's shapes and arguments decide, checked once."""
    dtype: np.dtype
    shapes: tuple       # grad_output, input, weight as the core sees them (2-D)
    args: tuple         # strides, dilations, pads, padding_mode, groups, threads (2-D)
    mask: tuple
    phases: tuple       # grad_input's (row phase, column phase) pairs and their core plans


def _make_plan(name, spatial_dims, g_shape, g_dtype, x_shape, x_dtype, w_shape, w_dtype,
               stride, padding, dilation, groups, padding_mode, mask, threads):
    _api.check_real("grad_output", g_dtype)
    geometry, _ = _api.check_call(name, spatial_dims, x_shape, x_dtype, w_shape, w_dtype, None,
                                  stride, padding, dilation, groups, padding_mode)
    if g_shape != geometry.result_shape:
        raise ValueError(f"{name}_backward: grad_output must have the forward's output shape "
                         f"{geometry.result_shape}, got {g_shape}")
    dtype = _api.result_dtype(g_dtype, x_dtype, w_dtype)
    lift = (lambda shape: shape[:2] + (1,) + shape[2:]) if spatial_dims == 1 else (lambda s: s)
    shapes = tuple(map(lift, (geometry.out_shape, geometry.batch_shape, geometry.weight_shape)))
    strides, dilations, pads = geometry.strides, geometry.dilations, geometry.pads
    if spatial_dims == 1:  # 1-D runs as 2-D with height 1
        strides, dilations, pads = (1,) + strides, (1,) + dilations, ((0, 0),) + pads
    args = (strides, dilations, pads, geometry.padding_mode, geometry.groups, threads)
    phases = _input_phases(dtype, *shapes, *args) if mask[0] and shapes[0][0] else ()
    return _Plan(dtype, shapes, args, mask, phases)


_cached_plan = functools.lru_cache(maxsize=256)(_make_plan)


def _backward(name, spatial_dims, grad_output, input, weight, stride, padding, dilation, groups,
              padding_mode, output_mask, num_threads):
    g, x, w = (v if type(v) is np.ndarray else _api.as_array(n, v) for n, v in
               (("grad_output", grad_output), ("input", input), ("weight", weight)))
    mask = _flatten_output_mask(output_mask)
    threads = core.default_num_threads() if num_threads is None else as_thread_request(num_threads)
    call = (name, spatial_dims, g.shape, g.dtype, x.shape, x.dtype, w.shape, w.dtype,
            stride, padding, dilation, groups, padding_mode, mask, threads)
    if all(map(_api._plain, (stride, padding, dilation, groups, padding_mode))):
        plan = _cached_plan(*call)
    else:  # lists, floats, NumPy scalars...: checked afresh every time
        plan = _make_plan(*call)
    dtype, (g_shape, x_shape, w_shape) = plan.dtype, plan.shapes
    g4 = _api.core_array(g, dtype).reshape(g_shape)
    empty = g_shape[0] == 0
    grad_input = grad_weight = grad_bias = None
    if mask[0]:
        grad_input = (np.zeros(x_shape, dtype) if empty else
                      _grad_input(g4, x_shape, w, plan)).reshape(x.shape)
    if mask[1]:
        x4 = _api.core_array(x, dtype).reshape(x_shape)
        grad_weight = (np.zeros(w_shape, dtype) if empty else
                       _grad_weight(g4, x4, w_shape, *plan.args)).reshape(w.shape)
    if mask[2]:
        grad_bias = g4.sum(axis=(0, 2, 3))  # NumPy's pairwise sum: a fixed order
    return grad_input, grad_weight, grad_bias


# np.pad's names for the padding modes other than zeros.
_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
# Bytes of input and grad_output that one piece of the weight gradient's
# sum reads: what many blocks re-read, so it should stay in L2.
PIECE_BYTES = 256 * 1024
# Pieces at most: each stores a partial sum of the whole weight gradient.
MAX_PIECES = 64


# Work items the thin weight gradient aims at: (output, input channel)
# pairs times pieces of the batch, enough to share among any threads.
THIN_ITEMS = 64


def _grad_weight(g4, x4, w_shape, strides, dilations, pads, padding_mode, groups, threads):
    lanes = core.GRAD_WEIGHT_VECTOR_BYTES // g4.dtype.itemsize
    if _takes_blocked(x4.shape[1] // groups, w_shape[0] // groups, lanes):
        return _grad_weight_blocked(g4, x4, w_shape, strides, dilations, pads, padding_mode,
                                    groups, threads, lanes)
    return _grad_weight_thin(g4, x4, w_shape, strides, dilations, pads, padding_mode, threads)


def _takes_blocked(c_group, o_group, lanes):
    """The channels-blocked kernel where a group's input channels fill a
    vector and its output channels a block; else (depthwise, few channels)
    one dot product per channel pair and tap, which wastes no lanes."""
    return c_group >= lanes and o_group >= core.GRAD_WEIGHT_CO_BLOCK


def _grad_weight_thin(g4, x4, w_shape, strides, dilations, pads, padding_mode, threads):
    if padding_mode != "zeros":
        x4 = np.pad(x4, ((0, 0), (0, 0)) + pads, mode=_NUMPY_PAD_MODES[padding_mode])
        pads = ((0, 0), (0, 0))
    rows = g4.shape[0] * g4.shape[2]
    pieces = min(rows, -(-THIN_ITEMS // (w_shape[0] * w_shape[1])))
    rows_per_piece = -(-rows // pieces)
    partial = np.empty((-(-rows // rows_per_piece),) + w_shape, g4.dtype)
    core.conv_grad_weight_thin(x4, g4, partial, *strides, *dilations, pads[0][0], pads[1][0],
                               rows_per_piece, threads)
    return partial.sum(axis=0) if len(partial) > 1 else partial[0]  # pairwise: a fixed order


def _channel_blocks(array, groups, block, threads, offset=(0, 0), extent=None):
    """(N, C, H, W) as (N, H', groups, blocks, W', block): each group's
    channels in blocks of ``block``, zeros past C // groups; placed at
    ``offset`` in an extent (H', W') of zeros, cropped to it."""
    n, c = array.shape[:2]
    extent = array.shape[2:] if extent is None else extent
    blocks = -(-c // groups // block)
    out = np.empty((n, extent[0], groups, blocks, extent[1], block), array.dtype)
    core.pack_channel_blocks(array, out, *offset, threads)
    return out


def _grad_weight_blocked(g4, x4, w_shape, strides, dilations, pads, padding_mode, groups,
                         threads, lanes):
    n, c_in = x4.shape[:2]
    c_out, c_group, kh, kw = w_shape
    o_group = c_out // groups
    block = core.GRAD_WEIGHT_CO_BLOCK
    c_pad, o_pad = -(-c_group // lanes) * lanes, -(-o_group // block) * block
    h_out, w_out = g4.shape[2:]
    reach = tuple((o - 1) * s + (k - 1) * d + 1
                  for o, s, d, k in zip((h_out, w_out), strides, dilations, (kh, kw)))
    if padding_mode == "zeros":
        x_t = _channel_blocks(x4, groups, lanes, threads, (pads[0][0], pads[1][0]), reach)
    else:
        padded = np.pad(x4, ((0, 0), (0, 0)) + pads, mode=_NUMPY_PAD_MODES[padding_mode])
        x_t = _channel_blocks(padded, groups, lanes, threads, extent=reach)
    g_t = _channel_blocks(g4, groups, block, threads)
    bytes_per_point = g4.dtype.itemsize * groups * (c_pad * strides[1] + o_pad)
    points = max(PIECE_BYTES // bytes_per_point, -(-n * h_out * w_out // MAX_PIECES), 1)
    rows = max(points // w_out, 1)
    piece_len = w_out if rows > 1 else min(points, w_out)
    pieces = -(-n * h_out // rows) * -(-w_out // piece_len)
    partial = np.empty((pieces, groups, kh, kw, o_pad, c_pad), g4.dtype)
    core.conv_grad_weight(x_t, g_t, partial, kh, kw, *strides, *dilations, rows, piece_len,
                          threads)
    total = partial.sum(axis=0) if pieces > 1 else partial[0]  # pairwise: a fixed order
    # [g, kh, kw, o, c] -> [g * o_group + o, c, kh, kw]
    return np.ascontiguousarray(total[:, :, :, :o_group, :c_group].transpose(0, 3, 4, 1, 2)
                                ).reshape(w_shape)


def _input_phases(dtype, g_shape, x_shape, w_shape, strides, dilations, pads, padding_mode,
                  groups, threads):
    """grad_input's (row phase, column phase) pairs, each with the core plan
    that runs it; none where no tap reaches."""
    zeros = padding_mode == "zeros"
    by_axis = [_axis_phases(size, pad, k, s, d, o, zeros) for size, pad, k, s, d, o in
               zip(x_shape[2:], pads, w_shape[2:], strides, dilations, g_shape[2:])]
    phases = []
    for ph in by_axis[0]:
        for pw in by_axis[1]:
            source = g_shape[:2] + (g_shape[2] - ph.crop, g_shape[3] - pw.crop)
            taps = (x_shape[1], w_shape[0] // groups, len(ph.taps), len(pw.taps))
            target = x_shape[:2] + (ph.count, pw.count)
            phases.append((_tap_index(ph.taps, w_shape[2]), _tap_index(pw.taps, w_shape[3]),
                           ph, pw, _api.core_plan(
                dtype, source, taps, target, (1, 1), (ph.dilation, pw.dilation),
                (ph.pad, pw.pad), "zeros", groups, threads)))
    return tuple(phases)


def _tap_index(taps, kernel):
    """An index of the flipped taps along one axis: a reversing slice where
    they are all of them (a view, no gather)."""
    return slice(None, None, -1) if taps == tuple(range(kernel - 1, -1, -1)) else list(taps)


def _grad_input(g4, x_shape, weight, plan):
    strides, _, pads, padding_mode, groups, _ = plan.args
    zeros = padding_mode == "zeros"
    (n, c_in, h, w), (c_out, c_group, kh, kw) = x_shape, plan.shapes[2]
    extent = (h, w) if zeros else tuple(size + sum(pad) for size, pad in zip((h, w), pads))
    one_phase = len(plan.phases) == 1 and strides == (1, 1)
    shape = (n, c_in) + extent
    grad = (_api.output_allocator(shape, g4.dtype) if one_phase else np.zeros)(shape, g4.dtype)
    # weight_t[c, o, kh, kw] = weight[o, c, kh, kw] within each group
    weight_t = np.asarray(weight, plan.dtype).reshape(groups, c_out // groups, c_group, kh, kw)
    weight_t = weight_t.transpose(0, 2, 1, 3, 4).reshape(c_in, c_out // groups, kh, kw)
    for rows, cols, ph, pw, core_plan in plan.phases:
        taps = _api.core_array(weight_t[:, :, rows][:, :, :, cols], plan.dtype)
        _run_phase(g4, taps, ph, pw, core_plan, grad, strides)
    return grad if zeros else _fold(_fold(grad, 3, w, pads[1], padding_mode), 2, h, pads[0],
                                    padding_mode)


def _run_phase(g4, taps, ph, pw, core_plan, grad, strides):
    """One (row phase, column phase) of grad_input, written into ``grad``."""
    source = g4[:, :, ph.crop:, pw.crop:]
    source = source if source.flags.c_contiguous else np.ascontiguousarray(source)
    target = grad[:, :, ph.start::strides[0], pw.start::strides[1]][:, :, :ph.count, :pw.count]
    out = target if target.flags.c_contiguous else np.empty(target.shape, grad.dtype)
    _api.run_core(core_plan, source, taps, None, out)
    if out is not target:
        target[...] = out


def _fold(grad, axis, size, pads, padding_mode):
    """The gradient of the input from that of the padded input along ``axis``:
    each padded position adds onto the input sample it copies, the edges in
    a fixed order."""
    before, after = pads
    index = [slice(None)] * grad.ndim
    index[axis] = slice(before, before + size)
    folded = grad[tuple(index)].copy()
    for p in list(range(before)) + list(range(before + size, before + size + after)):
        source = _padded_index(p, size, before, padding_mode)
        index[axis], into = p, list(index)
        into[axis] = source
        folded[tuple(into)] += grad[tuple(index)]
    return folded


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", output_mask=(True, True, True), num_threads=None):
    """Gradients of :func:`conv1d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, the forward's output shape (N, C_out, L_out) or (C_out, L_out)
    input, weight, stride, padding, dilation, groups, padding_mode :
        as given to :func:`conv1d` (the bias does not enter the gradients).
    output_mask : three booleans
        Which of (grad_input, grad_weight, grad_bias) to compute.
    num_threads : int >= 1, optional

    Returns
    -------
    (grad_input, grad_weight, grad_bias)
        Shaped as input, weight and (C_out,), in the dtype the forward
        gives; None where ``output_mask`` says so.  Bitwise identical for
        any thread count.
    """
    return _backward("conv1d", 1, grad_output, input, weight, stride, padding, dilation, groups,
                     padding_mode, output_mask, num_threads)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", output_mask=(True, True, True), num_threads=None):
    """Gradients of :func:`conv2d`; arguments and results as for
    :func:`conv1d_backward`, shaped as conv2d's."""
    return _backward("conv2d", 2, grad_output, input, weight, stride, padding, dilation, groups,
                     padding_mode, output_mask, num_threads)
