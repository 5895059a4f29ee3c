"""The starlet: the isotropic undecimated wavelet transform of Starck and
Murtagh, with the cubic B-spline ``[1, 4, 6, 4, 1] / 16``.

Scale j smooths ``c_j`` with the spline dilated by ``2**j`` along each axis
in turn (``scipy.ndimage.convolve1d`` with the same ``mode``) into
``c_{j+1}``, and keeps the detail ``w_{j+1} = c_j - c_{j+1}``; the result
stacks ``w_1 .. w_J, c_J``, and ``istarlet`` sums the planes.

``gen2=True`` is the second-generation starlet (Starck, Fadili and Murtagh,
IEEE Trans. Image Process. 16(2), 2007): the detail is ``w_{j+1} = c_j -
h_j * c_{j+1}``, the difference with the smoothed *next* scale, so that
``c_j = h_j * c_{j+1} + w_{j+1}`` rebuilds each scale from the coarser one
(``istarlet(..., gen2=True)`` runs that recursion, with the same axes and
mode as the forward transform).
"""
import operator

import numpy as np

from .._api import as_array, conv2d, core_array, result_dtype
from .._checks import as_int, as_thread_request
from ._passes import as_3d

B3_SPLINE = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0

# scipy.ndimage's boundary modes as the core's padding modes (None: the core
# has none that matches) and as numpy.pad's, for the explicit fallback.
_CORE_MODE = {"nearest": "replicate", "mirror": "reflect", "wrap": "circular",
              "constant": "zeros", "reflect": None}
_NUMPY_MODE = {"nearest": "edge", "mirror": "reflect", "wrap": "wrap",
               "constant": "constant", "reflect": "symmetric"}
MODES = tuple(_CORE_MODE)


def _spline_pass(x3, pads, dilation, out3, num_threads, padding_mode="zeros"):
    """``out3`` = the dilated spline correlated with ``x3`` along axis 1: one
    conv2d call, along the rows of a (pre, n) image for the last axis, else
    along the columns of pre (n, post) images."""
    pre, n, post = x3.shape
    kernel = B3_SPLINE.astype(x3.dtype)
    if post == 1:
        conv2d(x3.reshape(1, 1, pre, n), kernel.reshape(1, 1, 1, -1), dilation=(1, dilation),
               padding=((0, 0), pads), padding_mode=padding_mode,
               out=out3.reshape(1, 1, pre, -1), num_threads=num_threads)
    else:
        conv2d(x3.reshape(pre, 1, n, post), kernel.reshape(1, 1, -1, 1), dilation=(dilation, 1),
               padding=(pads, (0, 0)), padding_mode=padding_mode,
               out=out3.reshape(pre, 1, -1, post), num_threads=num_threads)


def _smooth_axis(x3, dilation, mode, out3, num_threads):
    """``out3`` = the dilated spline along axis 1 of ``x3`` (pre, n, post).

    The core pads on the fly where it has the mode and the reach fits its
    rules; otherwise (scipy's half-sample 'reflect', a reach past the
    input) the input is padded explicitly, as numpy.pad extends it."""
    reach = 2 * dilation
    n = x3.shape[1]
    core_mode = _CORE_MODE[mode]
    fits = {"reflect": reach < n, "circular": reach <= n}.get(core_mode, core_mode is not None)
    if fits:
        _spline_pass(x3, (reach, reach), dilation, out3, num_threads, core_mode)
        return
    padded = np.pad(x3, ((0, 0), (reach, reach), (0, 0)), mode=_NUMPY_MODE[mode])
    _spline_pass(padded, (0, 0), dilation, out3, num_threads)


def _smooth(src, dst, dilation, axes, mode, scratch, num_threads):
    """``dst`` = ``src`` smoothed along every axis in turn.  Intermediate
    results alternate between ``scratch()`` and ``dst`` so that the last
    pass lands in ``dst``; ``src`` is never written."""
    current = src
    for i, axis in enumerate(axes):
        target = dst if (len(axes) - 1 - i) % 2 == 0 else scratch()
        _smooth_axis(as_3d(current, axis), dilation, mode, as_3d(target, axis), num_threads)
        current = target


def _as_data(name, data):
    x = as_array(name, data)
    x = core_array(x, result_dtype(x.dtype))
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty array of at least 1 dimension, "
                         f"got shape {x.shape}")
    return x


def _arguments(axes, mode, ndim):
    """(axes as a list of distinct non-negative ints, all by default)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (scipy.ndimage's names), got {mode!r}")
    axes = list(range(ndim)) if axes is None else [operator.index(a) for a in axes]
    axes = [a + ndim if a < 0 else a for a in axes]
    if not axes or any(not 0 <= a < ndim for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"axes must be distinct axes of the {ndim}-dimensional data, "
                         f"got {axes}")
    return axes


def starlet(data, n_scales, *, axes=None, mode="nearest", gen2=False, num_threads=None):
    """The starlet transform of ``data`` over ``axes`` (all by default).

    Returns an array of shape ``(n_scales + 1, *data.shape)``: the detail
    planes ``w_1 .. w_J``, then the coarse plane ``c_J``; float32 for float32
    (or float16) data, float64 otherwise.  ``mode`` extends the data at its
    edges as ``scipy.ndimage`` does: "nearest", "reflect", "mirror", "wrap"
    or "constant" (zeros).
    """
    x = _as_data("data", data)
    axes = _arguments(axes, mode, x.ndim)
    threads = as_thread_request(num_threads)
    n_scales = as_int("n_scales", n_scales, 1)
    out = np.empty((n_scales + 1,) + x.shape, x.dtype)
    spare = []

    def scratch_for(j):
        # The coarse plane is free until the last scale writes it.
        def scratch():
            if j + 1 < n_scales:
                return out[n_scales]
            if not spare:
                spare.append(np.empty_like(x))
            return spare[0]
        return scratch

    current = x
    for j in range(n_scales):
        _smooth(current, out[j + 1], 2 ** j, axes, mode, scratch_for(j), threads)
        if gen2:
            again = scratch_for(j)()
            _smooth(out[j + 1], again, 2 ** j, axes, mode, lambda: np.empty_like(x), threads)
            np.subtract(current, again, out=out[j])
        else:
            np.subtract(current, out[j + 1], out=out[j])
        current = out[j + 1]
    return out


def istarlet(coeffs, *, gen2=False, axes=None, mode="nearest", num_threads=None):
    """The data that :func:`starlet` transformed into ``coeffs``: the sum of
    the planes or, for ``gen2``, ``c_{j-1} = h_{j-1} * c_j + w_j`` from the
    coarse plane down (``axes`` and ``mode`` as given to ``starlet``)."""
    planes = _as_data("coeffs", coeffs)
    if planes.ndim < 2 or planes.shape[0] < 2:
        raise ValueError(f"coeffs must stack at least one detail plane and the coarse plane "
                         f"(shape (n_scales + 1, ...)), got shape {planes.shape}")
    axes = _arguments(axes, mode, planes.ndim - 1)
    threads = as_thread_request(num_threads)
    if not gen2:
        return planes.sum(axis=0)
    current = planes[-1].copy()
    smoothed = np.empty_like(current)
    spare = []

    def scratch():
        if not spare:
            spare.append(np.empty_like(current))
        return spare[0]

    for j in range(planes.shape[0] - 2, -1, -1):
        _smooth(current, smoothed, 2 ** j, axes, mode, scratch, threads)
        np.add(smoothed, planes[j], out=current)
    return current
