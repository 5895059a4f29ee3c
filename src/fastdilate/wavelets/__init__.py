"""The à trous algorithm on fastdilate's core: PyWavelets' stationary
wavelet transforms and the starlet.

``swt``, ``iswt``, ``swt2``, ``iswt2``, ``swtn``, ``iswtn`` and
``swt_max_level`` take the arguments of PyWavelets' functions of those names
and return what they return (to 1e-12 in float64, 1e-5 in float32), plus a
keyword-only ``num_threads``.  Each level is one dilated, circularly padded
convolution per axis: the analysis filters dilated by 2**j forward and,
back, the synthesis filters in one pass per level and axis (PyWavelets
loops over the 2**j phases instead; the two agree on any coefficients).

A ``wavelet`` is a ``pywt.Wavelet``, a name (PyWavelets is then imported:
``pip install fastdilate[wavelets]``), any object with a ``filter_bank`` or
the tuple ``(dec_lo, dec_hi, rec_lo, rec_hi)``.

``starlet``/``istarlet``: the isotropic undecimated wavelet transform with
the B3-spline, as astronomers use it.
"""
from ._starlet import istarlet, starlet
from ._swt import iswt, iswt2, iswtn, swt, swt2, swt_max_level, swtn

__all__ = ["istarlet", "iswt", "iswt2", "iswtn", "starlet", "swt", "swt2", "swt_max_level",
           "swtn"]
