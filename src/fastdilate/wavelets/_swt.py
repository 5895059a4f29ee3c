"""PyWavelets' stationary wavelet transforms (``pywt.swt``, ``iswt``,
``swt2``, ``iswt2``, ``swtn``, ``iswtn``, ``swt_max_level``): the same
signatures, defaults, output layout, dtype rules and errors, computed on
the compiled core (see ``_transform`` and ``_passes``)."""
import itertools
import operator
import warnings

import numpy as np

from .._api import check_real, core_array, result_dtype
from .._checks import as_thread_request
from ._filters import banks_per_axis, normalised
from ._transform import ShapeMismatchError, forward, inverse

AxisError = np.exceptions.AxisError


# ------------------------------------------------------------------ data
def _component_dtype(dtypes):
    """The real dtype the core computes in: float32 when every operand is
    float32 (float16, complex64), float64 otherwise, as pywt's _check_dtype."""
    return result_dtype(*(np.finfo(d).dtype if d.kind == "c" else d for d in dtypes))


def _numeric(name, value):
    array = np.asarray(value)
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a numeric array-like") from None
    if array.dtype.kind != "c":
        check_real(name, array.dtype)
    return array


def _real_view(array, real, is_complex):
    """``array`` C-contiguous in the compute dtype; complex as (..., 2) of
    its real and imaginary parts (a view, no copy beyond the conversion)."""
    if not is_complex:
        return core_array(array, real)
    whole = core_array(array, np.result_type(real, np.complex64))
    return whole.view(real).reshape(array.shape + (2,))


def _as_data(name, data):
    """(real view, complex dtype or None, number of data dimensions)."""
    array = _numeric(name, data)
    real = _component_dtype([array.dtype])
    is_complex = array.dtype.kind == "c"
    complex_dtype = np.result_type(real, np.complex64) if is_complex else None
    return _real_view(array, real, is_complex), complex_dtype, array.ndim


def _restore(band, complex_dtype):
    """A band as the caller gets it: complex again where the data was."""
    return band if complex_dtype is None else band.view(complex_dtype)[..., 0]


# ------------------------------------------------------------ arguments
def _axes(axes, ndim, function):
    axes = [operator.index(a) for a in axes]
    axes = [a + ndim if a < 0 else a for a in axes]
    if any(a < 0 or a >= ndim for a in axes):
        raise AxisError(f"Axis greater than data dimensions: axes {tuple(axes)} for "
                        f"{ndim}-dimensional data")
    if len(set(axes)) != len(axes):
        raise ValueError(f"The axes passed to {function} must be unique, got {tuple(axes)}.")
    return axes


def _max_level(size):
    """How many times 2 divides ``size`` (>= 1)."""
    return (size & -size).bit_length() - 1


def swt_max_level(input_len):
    """The highest level of the SWT of data of length ``input_len``: the
    number of times 2 divides it (warns when that is 0), as pywt's."""
    input_len = operator.index(input_len)
    if input_len < 1:
        raise ValueError(f"Cannot apply swt to a size {input_len} signal.")
    level = _max_level(input_len)
    if level == 0:
        warnings.warn("No levels of stationary wavelet decomposition are possible. The signal "
                      "to be transformed must have a size that is a multiple of 2**n for an "
                      "n-level decomposition.", stacklevel=2)
    return level


def _check_levels(shape, axes, level, start_level):
    """pywt's conditions on the levels, for every transformed axis."""
    level, start_level = operator.index(level), operator.index(start_level)
    if level < 1:
        raise ValueError(f"Level value must be greater than zero, got level={level}.")
    if start_level < 0:
        raise ValueError(f"start_level must be >= 0, got {start_level}.")
    for axis in axes:
        size = shape[axis]
        if size == 0:
            raise ValueError("Cannot apply swt to a size 0 signal.")
        if size % 2:
            raise ValueError(f"Length of data must be even along the transform axis "
                             f"(axis {axis} has length {size}).")
        top = _max_level(size)
        if start_level >= top:
            raise ValueError(f"start_level must be less than {top} (the length {size} along "
                             f"axis {axis} is a multiple of 2**{top} only).")
        if start_level + level > top:
            raise ValueError(f"Level value too high (max level for current data size and "
                             f"start_level is {top - start_level}): length {size} along axis "
                             f"{axis}, start_level {start_level}, level {level}.")
    return level, start_level


# -------------------------------------------------------------- forward
def _swtn_levels(data, wavelet, level, start_level, axes, trim_approx, norm, num_threads,
                 function):
    """The list of dicts of pywt.swtn, complex bands restored."""
    threads = as_thread_request(num_threads)
    x, complex_dtype, ndim = _as_data("data", data)
    if ndim < 1:
        raise ValueError("Input data must be at least 1D")
    axes = _axes(range(ndim) if axes is None else axes, ndim, function)
    banks = banks_per_axis(wavelet, len(axes))
    if norm:
        banks = normalised(banks, inverse=False)
    level, start_level = _check_levels(x.shape, axes, level, start_level)
    levels = forward(x, banks, axes, level, start_level, trim_approx, threads)
    restore = lambda c: (_restore(c, complex_dtype) if isinstance(c, np.ndarray)  # noqa: E731
                         else {k: _restore(v, complex_dtype) for k, v in c.items()})
    return [restore(c) for c in levels]


def swt(data, wavelet, level=None, start_level=0, axis=-1, trim_approx=False, norm=False, *,
        num_threads=None):
    """Multilevel 1-D stationary wavelet transform along ``axis``, as
    ``pywt.swt``: ``[(cAn, cDn), ..., (cA1, cD1)]``, or with ``trim_approx``
    ``[cAn, cDn, ..., cD1]``.  Leading and trailing axes are a batch."""
    x = _numeric("data", data)
    if x.ndim < 1:
        raise AxisError("Axis greater than data dimensions: swt needs at least 1-D data")
    axis = _axes([axis], x.ndim, "swt")[0]
    if level is None:
        level = swt_max_level(x.shape[axis])
    levels = _swtn_levels(x, [wavelet], level, start_level, [axis], trim_approx, norm,
                          num_threads, "swt")
    if trim_approx:
        return [levels[0]] + [c["d"] for c in levels[1:]]
    return [(c["a"], c["d"]) for c in levels]


def swt2(data, wavelet, level, start_level=0, axes=(-2, -1), trim_approx=False, norm=False, *,
         num_threads=None):
    """Multilevel 2-D stationary wavelet transform, as ``pywt.swt2``:
    ``[(cA, (cH, cV, cD)), ...]`` coarsest first, or with ``trim_approx``
    ``[cA, (cH, cV, cD), ...]``."""
    axes = tuple(axes)
    data = _numeric("data", data)
    if len(axes) != 2:
        raise ValueError(f"Expected 2 axes, got {axes}")
    if len(set(axes)) != 2:
        raise ValueError(f"The axes passed to swt2 must be unique, got {axes}.")
    if data.ndim < 2:
        raise ValueError("Input array has fewer dimensions than the specified axes")
    levels = _swtn_levels(data, wavelet, level, start_level, axes, trim_approx, norm,
                          num_threads, "swt2")
    head = [levels.pop(0)] if trim_approx else []
    if trim_approx:
        return head + [(c["da"], c["ad"], c["dd"]) for c in levels]
    return [(c["aa"], (c["da"], c["ad"], c["dd"])) for c in levels]


def swtn(data, wavelet, level, start_level=0, axes=None, trim_approx=False, norm=False, *,
         num_threads=None):
    """n-dimensional stationary wavelet transform, as ``pywt.swtn``: a list
    of dicts keyed 'a'/'d' per axis of ``axes`` (all by default), coarsest
    first; ``wavelet`` may be one per axis."""
    return _swtn_levels(data, wavelet, level, start_level, axes, trim_approx, norm,
                        num_threads, "swtn")


# -------------------------------------------------------------- inverse
def _iswtn_arrays(approx, details, wavelet, axes, norm, num_threads):
    """pywt.iswtn of the coarsest approximation and the levels' detail
    dicts (coarsest first), with every check and conversion."""
    threads = as_thread_request(num_threads)
    approx = _numeric("coeffs", approx)
    details = [{key: _numeric("coeffs", band) for key, band in level.items()}
               for level in details]
    dtypes = [approx.dtype] + [band.dtype for level in details for band in level.values()]
    real = _component_dtype(dtypes)
    is_complex = any(d.kind == "c" for d in dtypes)
    axes = _axes(range(approx.ndim) if axes is None else axes, approx.ndim, "iswtn")
    _check_bands(approx, details, axes)
    banks = banks_per_axis(wavelet, len(axes))
    if norm:
        banks = normalised(banks, inverse=True)
    view = lambda c: _real_view(c, real, is_complex)  # noqa: E731
    out = inverse(view(approx), [{k: view(v) for k, v in level.items()} for level in details],
                  banks, axes, threads)
    return _restore(out, np.result_type(real, np.complex64) if is_complex else None)


def _check_bands(approx, details, axes):
    keys = {"".join(k) for k in itertools.product("ad", repeat=len(axes))} - {"a" * len(axes)}
    for level in details:
        for key, band in level.items():
            if key not in keys:
                raise ValueError(f"coeffs: band key {key!r} does not name one of the "
                                 f"{len(axes)} transformed axes (expected one of {sorted(keys)})")
            if band.shape != approx.shape:
                raise ShapeMismatchError(
                    f"Mismatch in shape of intermediate coefficient arrays: band {key!r} has "
                    f"shape {band.shape}, the approximation {approx.shape}")
    period = 2 ** len(details)
    for axis in axes:
        if approx.shape[axis] % period:
            raise ValueError(f"coeffs: {len(details)} levels need a length that is a multiple "
                             f"of {period} along each axis; axis {axis} has length "
                             f"{approx.shape[axis]}")


def _levels_list(coeffs, function):
    coeffs = list(coeffs)
    if not coeffs:
        raise ValueError(f"{function}: coeffs must hold at least one level")
    return coeffs


def iswt(coeffs, wavelet, norm=False, axis=-1, *, num_threads=None):
    """Inverse of :func:`swt`, as ``pywt.iswt`` (for any coefficients, not
    only a round trip): one dilated synthesis pass per level."""
    coeffs = _levels_list(coeffs, "iswt")
    trimmed = not isinstance(coeffs[0], (tuple, list))
    approx = _numeric("coeffs", coeffs[0] if trimmed else coeffs[0][0])
    details = ([{"d": d} for d in coeffs[1:]] if trimmed else [{"d": d} for _, d in coeffs])
    if approx.ndim == 1 and operator.index(axis) not in (0, -1):
        raise AxisError(f"Axis greater than data dimensions: axis {axis} for 1-D coefficients")
    if approx.ndim == 1:
        approx, details = _upcast_mixed(approx, details)
    return _iswtn_arrays(approx, details, wavelet, [axis], norm, num_threads)


def _upcast_mixed(approx, details):
    """pywt.iswt's rule for 1-D coefficients: bands of different dtypes
    meet in float64 (complex128 if one is complex)."""
    bands = [_numeric("coeffs", level["d"]) for level in details]
    kinds = {_component_dtype([b.dtype]) for b in [approx] + bands}
    if len(kinds) == 1 and len({b.dtype.kind for b in [approx] + bands}) == 1:
        return approx, details
    dtype = np.complex128 if any(b.dtype.kind == "c" for b in [approx] + bands) else np.float64
    return approx.astype(dtype), [{"d": b.astype(dtype)} for b in bands]


def iswt2(coeffs, wavelet, norm=False, axes=(-2, -1), *, num_threads=None):
    """Inverse of :func:`swt2`, as ``pywt.iswt2``."""
    coeffs = _levels_list(coeffs, "iswt2")
    trimmed = not isinstance(coeffs[0], (tuple, list))
    if trimmed:
        approx, levels = coeffs[0], coeffs[1:]
    else:
        approx, levels = coeffs[0][0], [bands for _, bands in coeffs]
    details = [dict(zip(("da", "ad", "dd"), bands)) for bands in levels]
    if len(tuple(axes)) != 2:
        raise ValueError(f"Expected 2 axes, got {tuple(axes)}")
    return _iswtn_arrays(approx, details, wavelet, axes, norm, num_threads)


def iswtn(coeffs, wavelet, axes=None, norm=False, *, num_threads=None):
    """Inverse of :func:`swtn`, as ``pywt.iswtn``."""
    coeffs = _levels_list(coeffs, "iswtn")
    n_axes = max(len(key) for key in coeffs[-1])
    approx_key = "a" * n_axes
    trimmed = not isinstance(coeffs[0], dict)
    if trimmed:
        approx, details = coeffs[0], [dict(c) for c in coeffs[1:]]
    else:
        approx = coeffs[0][approx_key]
        details = [{k: v for k, v in c.items() if k != approx_key} for c in coeffs]
    ndim = np.ndim(approx)
    if (ndim if axes is None else len(tuple(axes))) != n_axes:
        raise ValueError("The number of axes used in iswtn must match the number of dimensions "
                         f"transformed in swtn: {n_axes} in the band keys, axes {axes}.")
    return _iswtn_arrays(approx, details, wavelet, axes, norm, num_threads)
