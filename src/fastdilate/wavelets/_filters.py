"""Wavelet filter banks and the circular taps of one à trous pass.

A wavelet is a ``pywt.Wavelet``, a name (which needs PyWavelets, imported
only then), any object with a ``filter_bank`` or the 4-tuple
``(dec_lo, dec_hi, rec_lo, rec_hi)`` itself.  Filters of odd length get a
trailing zero, as ``pywt.Wavelet(filter_bank=...)`` gives them, so every
filter here has an even length L.

The two passes, as PyWavelets computes them (periodic, at dilation d):

* analysis: ``out[i] = sum_k f[k] x[(i + (L/2 - k) d) mod N]``;
* synthesis: ``out[i] = 1/2 sum_k f[k] c[(i + (L/2 - 1 - k) d) mod N]``,
  which is what PyWavelets' loop over the d phases computes: the mean of
  the inverse DWTs of the even and odd samples of each phase (the odd one
  shifted by one sample) is the full synthesis filter applied to every
  sample, halved.
"""
import math
import warnings
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

MAX_TAPS = 256  # the core's à trous kernel (pywt's longest, coif17, has 102)
ANALYSIS_SHIFT = 0   # tap k sits at (L/2 - k - shift) * d
SYNTHESIS_SHIFT = 1


class FilterBank(NamedTuple):
    dec_lo: np.ndarray
    dec_hi: np.ndarray
    rec_lo: np.ndarray
    rec_hi: np.ndarray
    orthogonal: bool


def _is_filter_tuple(wavelet):
    """Whether ``wavelet`` is the 4-tuple of filters rather than 4 wavelets."""
    if not isinstance(wavelet, (tuple, list)) or len(wavelet) != 4:
        return False
    return not any(isinstance(f, str) or hasattr(f, "filter_bank") or np.ndim(f) != 1
                   for f in wavelet)


def _pywt_wavelet(name):
    import pywt  # an optional dependency: only a wavelet given by name needs it

    wavelet = pywt.DiscreteContinuousWavelet(name)
    if isinstance(wavelet, pywt.ContinuousWavelet):
        raise ValueError(
            f"wavelet {name!r} is continuous, but only discrete wavelets are supported here; "
            "pywt.wavelist(kind='discrete') lists them")
    return wavelet


def _even_filter(name, f):
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 1 or f.size == 0 or not np.all(np.isfinite(f)):
        raise ValueError(f"wavelet: {name} must be a non-empty 1-D sequence of finite numbers, "
                         f"got shape {f.shape}")
    return np.append(f, 0.0) if f.size % 2 else f


def filter_bank(wavelet):
    """The FilterBank of one wavelet, in float64."""
    if isinstance(wavelet, str):
        wavelet = _pywt_wavelet(wavelet)
    orthogonal = bool(getattr(wavelet, "orthogonal", False))
    if hasattr(wavelet, "filter_bank"):
        bank = wavelet.filter_bank
    elif _is_filter_tuple(wavelet):
        bank = wavelet
    else:
        raise TypeError("wavelet must be a pywt.Wavelet, a wavelet name, an object with a "
                        "filter_bank or the tuple (dec_lo, dec_hi, rec_lo, rec_hi); "
                        f"got {type(wavelet).__name__}")
    if len(bank) != 4:
        raise ValueError(f"wavelet: a filter bank has 4 filters, got {len(bank)}")
    names = ("dec_lo", "dec_hi", "rec_lo", "rec_hi")
    filters = [_even_filter(n, f) for n, f in zip(names, bank)]
    if filters[0].size > MAX_TAPS:
        raise ValueError(f"wavelet: filters of more than {MAX_TAPS} taps are not supported, "
                         f"got {filters[0].size}")
    if len({f.size for f in filters}) != 1:
        raise ValueError("wavelet: the 4 filters must have one length, got "
                         f"{[f.size for f in filters]}")
    return FilterBank(*filters, orthogonal)


def banks_per_axis(wavelet, n_axes):
    """One FilterBank per transformed axis, as pywt's _wavelets_per_axis."""
    if isinstance(wavelet, str) or hasattr(wavelet, "filter_bank") or _is_filter_tuple(wavelet):
        return [filter_bank(wavelet)] * n_axes
    if not isinstance(wavelet, Iterable):
        return [filter_bank(wavelet)] * n_axes  # raises its TypeError
    wavelets = list(wavelet)
    if len(wavelets) == 1:
        return [filter_bank(wavelets[0])] * n_axes
    if len(wavelets) != n_axes:
        raise ValueError("The number of wavelets must match the number of axes to be "
                         f"transformed: got {len(wavelets)} wavelets for {n_axes} axes.")
    return [filter_bank(w) for w in wavelets]


def normalised(banks, inverse):
    """``norm=True``: filters scaled by 1/sqrt(2) forward, sqrt(2) back."""
    if not inverse and not all(b.orthogonal for b in banks):
        warnings.warn("norm=True, but the wavelet is not orthogonal: \n"
                      "\tThe conditions for energy preservation are not satisfied.",
                      stacklevel=3)
    scale = math.sqrt(2) if inverse else 1 / math.sqrt(2)
    return [FilterBank(*(np.asarray(f) * scale for f in b[:4]), b.orthogonal) for b in banks]


def circular_taps(f, shift, dilation, size, scale=1.0):
    """(weights, offsets) of ``out[i] = scale sum_k f[k] x[(i + (L/2 - shift - k) d) mod size]``.

    Offsets lie in (-size, size), as the core's à trous kernel needs: when
    the dilated filter spans the period, they are taken mod size (nearest
    to 0) and taps that land on one sample are summed into one.
    """
    offsets = (f.size // 2 - shift - np.arange(f.size)) * dilation
    weights = f
    if np.abs(offsets).max() >= size:
        offsets = (offsets + size // 2) % size - size // 2
        offsets, where = np.unique(offsets, return_inverse=True)
        weights = np.zeros(offsets.size)
        np.add.at(weights, where, f)
    return weights * scale, offsets.astype(np.int64)
