"""One à trous pass along one axis, on the compiled core.

Arrays here are C-contiguous and seen as (pre, n, post): the axis the pass
runs along, with everything before and after it flattened.  A pass is one
``fastdilate.conv2d`` call with a (K, 1) or (1, K) kernel: along the rows of
a (pre, n) image when the axis is the last one, along the columns of an
(n, post) image when it is the first, else over a batch of pre such images.
The core then shares the work among its threads and pads on the fly.
"""
import numpy as np

from .._api import conv2d
from ._filters import ANALYSIS_SHIFT, SYNTHESIS_SHIFT, circular_taps


def as_3d(array, axis):
    """``array`` (C-contiguous) viewed as (pre, n, post) around ``axis``."""
    shape = array.shape
    return array.reshape(int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1:])))


def correlate(x, kernels, taps_pads, dilation, out, num_threads, padding_mode="circular"):
    """``out[c]`` = the correlation of ``x`` (pre, n, post) along n with
    ``kernels[c]``; ``out`` is (C, pre, n, post), C-contiguous.

    One call writes all C outputs when they can be output channels of one
    convolution (a single image: pre or post is 1), else one call each.
    """
    pre, n, post = x.shape
    n_out = out.shape[2]  # n, or less for a pass over explicitly padded data
    pad_left, pad_right = taps_pads
    weight = np.stack(kernels).astype(x.dtype, copy=False)
    k = weight.shape[1]
    if post == 1:
        conv2d(x.reshape(1, 1, pre, n), weight.reshape(-1, 1, 1, k), dilation=(1, dilation),
               padding=((0, 0), (pad_left, pad_right)), padding_mode=padding_mode,
               out=out.reshape(1, -1, pre, n_out), num_threads=num_threads)
        return
    if pre == 1:
        conv2d(x.reshape(1, 1, n, post), weight.reshape(-1, 1, k, 1), dilation=(dilation, 1),
               padding=((pad_left, pad_right), (0, 0)), padding_mode=padding_mode,
               out=out.reshape(1, -1, n_out, post), num_threads=num_threads)
        return
    for c in range(weight.shape[0]):
        conv2d(x.reshape(pre, 1, n, post), weight[c].reshape(1, 1, k, 1), dilation=(dilation, 1),
               padding=((pad_left, pad_right), (0, 0)), padding_mode=padding_mode,
               out=out[c].reshape(pre, 1, n_out, post), num_threads=num_threads)


def analyse(x, filters, dilation, out, num_threads):
    """The analysis pass of each of ``filters`` over ``x`` (pre, n, post)
    into ``out[c]``, as pywt's swt computes one level."""
    taps = [circular_taps(f, ANALYSIS_SHIFT, dilation, x.shape[1]) for f in filters]
    correlate(x, [t.kernel for t in taps], taps[0][1:], dilation, out, num_threads)


def synthesise(approx, detail, bank_lo, bank_hi, dilation, out, num_threads):
    """``out`` (pre, n, post) = the synthesis of one level from ``approx``
    and ``detail`` (either may be None: a zero band), as pywt's iswt."""
    bands = [(c, f) for c, f in ((approx, bank_lo), (detail, bank_hi)) if c is not None]
    if not bands:
        out[...] = 0
        return
    n = out.shape[1]
    first, filt = bands[0]
    taps = circular_taps(filt, SYNTHESIS_SHIFT, dilation, n, scale=0.5)
    correlate(first, [taps.kernel], taps[1:], dilation, out[None], num_threads)
    if len(bands) == 2:
        second, filt = bands[1]
        taps = circular_taps(filt, SYNTHESIS_SHIFT, dilation, n, scale=0.5)
        part = np.empty_like(out)
        correlate(second, [taps.kernel], taps[1:], dilation, part[None], num_threads)
        out += part
