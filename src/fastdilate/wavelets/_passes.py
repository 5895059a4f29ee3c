"""One à trous pass along one axis, on the compiled core.

Arrays here are C-contiguous and seen as (pre, n, post): the axis the pass
runs along, with everything before and after it flattened.  A wavelet level
is one call of the core's à trous kernel, which reads its one or two inputs
and writes its one or two outputs once (analysis: the data into both
bands; synthesis: both bands into the data), with circular indexing.
"""
import math

import numpy as np

from .. import _layout
from .._dispatch import core
from ._filters import ANALYSIS_SHIFT, SYNTHESIS_SHIFT, circular_taps


def as_3d(array, axis):
    """``array`` (C-contiguous) viewed as (pre, n, post) around ``axis``."""
    shape = array.shape
    # math.prod: np.prod of a tuple costs microseconds, a level's whole budget on small arrays
    return array.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))


def _atrous(inputs, outputs, filters, shift, dilation, scale, num_threads):
    """``outputs[o]`` = sum over c of input c through ``filters[o][c]``."""
    n = inputs[0].shape[1]
    taps = [[circular_taps(f, shift, dilation, n, scale) for f in row] for row in filters]
    weights = np.array([[w for w, _ in row] for row in taps], dtype=inputs[0].dtype)
    requested = core.default_num_threads() if num_threads is None else num_threads
    threads = _layout.thread_count(requested, inputs[0].size * weights.size)
    core.atrous_level(tuple(inputs), tuple(outputs), weights, taps[0][0][1], threads)


def analyse(x, filters, dilation, outs, num_threads):
    """Each of ``filters`` over ``x`` (pre, n, post) into ``outs``, as one
    level of pywt's swt."""
    _atrous([x], outs, [[f] for f in filters], ANALYSIS_SHIFT, dilation, 1.0, num_threads)


def synthesise(approx, detail, rec_lo, rec_hi, dilation, out, num_threads):
    """``out`` (pre, n, post) = the synthesis of one level from ``approx``
    and ``detail`` (either may be None: a zero band), as pywt's iswt."""
    bands = [(c, f) for c, f in ((approx, rec_lo), (detail, rec_hi)) if c is not None]
    _atrous([c for c, _ in bands], [out], [[f for _, f in bands]], SYNTHESIS_SHIFT, dilation,
            0.5, num_threads)


def synthesise_in_place(approx, detail, rec_lo, rec_hi, dilation, num_threads):
    """``approx`` (pre, n, post, ours) = the synthesis of one level from
    itself and ``detail`` (None: a zero band), as ``synthesise`` computes
    it, written over ``approx`` with a scratch of a few rows.  The level's
    dilation is folded into the rows: a line of n at dilation d is an
    (n/d, d) array at dilation 1, whose taps reach a few rows."""
    pre, n, post = approx.shape
    folded = approx.reshape(pre, n // dilation, dilation * post)
    bands = [(folded, rec_lo)]
    if detail is not None:
        bands.append((detail.reshape(folded.shape), rec_hi))
    taps = [circular_taps(f, SYNTHESIS_SHIFT, 1, folded.shape[1], 0.5) for _, f in bands]
    weights = np.array([w for w, _ in taps], dtype=approx.dtype)
    requested = core.default_num_threads() if num_threads is None else num_threads
    threads = _layout.thread_count(requested, approx.size * weights.size)
    core.atrous_in_place(folded, None if detail is None else bands[1][0], weights, taps[0][1],
                         threads)


def _threads(num_threads, size, n_weights):
    requested = core.default_num_threads() if num_threads is None else num_threads
    return _layout.thread_count(requested, size * n_weights)


def _planes(array, outer, inner):
    """``array`` as (pre, n_a, row) around axis ``outer``, and the
    (mid, n_b, post) of a row around axis ``inner`` (> ``outer``)."""
    shape = array.shape
    mid = math.prod(shape[outer + 1:inner])
    return as_3d(array, outer), (mid, shape[inner], math.prod(shape[inner + 1:]))


def _pair_taps(bank_filters, shift, dilation, size, scale, dtype, n_out):
    """Weights (n_out, 2 // n_out, taps) and offsets of a filter pair:
    two outputs of one input (analysis) or one output of two (synthesis)."""
    taps = [circular_taps(f, shift, dilation, size, scale) for f in bank_filters]
    weights = np.array([w for w, _ in taps], dtype=dtype).reshape(n_out, 2 // n_out, -1)
    return weights, taps[0][1]


def analyse_2d(x, banks, axes, dilation, outs, num_threads):
    """One level of pywt's swt2 over axes (outer, inner), outer < inner, of
    ``x`` into ``outs`` = (aa, ad, da, dd) keyed (outer, inner): one pass
    over memory (the core's atrous_2d)."""
    (outer, inner), (bank_a, bank_b) = axes, banks
    x3, row = _planes(x, outer, inner)
    wb, ob = _pair_taps((bank_b.dec_lo, bank_b.dec_hi), ANALYSIS_SHIFT, dilation, row[1], 1.0,
                        x.dtype, 2)
    wa, oa = _pair_taps((bank_a.dec_lo, bank_a.dec_hi), ANALYSIS_SHIFT, 1,
                        x.shape[outer] // dilation, 1.0, x.dtype, 2)
    threads = _threads(num_threads, x.size, wa.size + wb.size)
    core.atrous_2d(True, (x3,), tuple(as_3d(o, outer) for o in outs), row, wb, ob, wa, oa,
                   dilation, threads)


def synthesise_2d(bands, banks, axes, dilation, out, num_threads):
    """``out`` = one level of pywt's iswt2 over axes (outer, inner) from
    ``bands`` = (aa, ad, da, dd) keyed (outer, inner); ``out`` may be aa
    (then written over it, with a scratch of a few rows)."""
    (outer, inner), (bank_a, bank_b) = axes, banks
    x3, row = _planes(bands[0], outer, inner)
    wb, ob = _pair_taps((bank_b.rec_lo, bank_b.rec_hi), SYNTHESIS_SHIFT, dilation, row[1], 0.5,
                        out.dtype, 1)
    wa, oa = _pair_taps((bank_a.rec_lo, bank_a.rec_hi), SYNTHESIS_SHIFT, 1,
                        out.shape[outer] // dilation, 0.5, out.dtype, 1)
    threads = _threads(num_threads, out.size, wa.size + wb.size)
    core.atrous_2d(False, tuple(as_3d(b, outer) for b in bands), (as_3d(out, outer),), row,
                   wb, ob, wa, oa, dilation, threads)
