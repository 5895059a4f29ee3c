"""The n-dimensional stationary wavelet transform and its inverse, level by
level and axis by axis, in the layout of ``pywt.swtn``: a list of dicts of
bands keyed by 'a'/'d' per transformed axis, coarsest level first.

Arrays are real and C-contiguous here; complex data arrives as its real
view, an extra trailing axis (real, imaginary) that is never transformed.
"""
import numpy as np

from .._api import output_allocator
from ._passes import analyse, analyse_2d, as_3d, synthesise, synthesise_2d, synthesise_in_place

# The bands of one 2-D level as the core's atrous_2d orders them, keyed
# (outer axis, inner axis).
KEYS_2D = ("aa", "ad", "da", "dd")


class ShapeMismatchError(ValueError, RuntimeError):
    """Coefficient bands that do not fit together (PyWavelets raises
    RuntimeError or ValueError for these, so this is both)."""


class Spares:
    """Buffers (of one shape and dtype) that no pass reads any more, for
    the next pass to write: fresh memory costs a page fault per page, as
    much as the pass itself on large arrays."""

    def __init__(self):
        self._free = []

    def take(self, like):
        return self._free.pop() if self._free else np.empty_like(like)

    def give(self, array):
        self._free.append(array)


class OutputBlock:
    """The bands a transform returns, views of one allocation: NumPy asks
    for transparent huge pages on large allocations, so the pages of one
    block fault in 2 MB at a time, where many separate arrays of a few MB
    fault in 4 KB pages and cost 3 times a pass over them; and a block of
    the output pool's sizes reuses one freed before (_api.output_allocator)."""

    def __init__(self, like, count):
        shape = (count,) + like.shape
        self._block = output_allocator(shape, like.dtype)(shape, like.dtype)
        self._taken = 0

    def take(self):
        self._taken += 1
        return self._block[self._taken - 1]


def forward(x, banks, axes, level, start_level, trim_approx, num_threads):
    """pywt.swtn's output for real, C-contiguous ``x``."""
    approx_key = "a" * len(axes)
    per_level = 2 ** len(axes)
    levels = []
    spares = Spares()
    outputs = OutputBlock(x, level * (per_level - 1) + 1 if trim_approx else level * per_level)
    # trim_approx returns the last approximation only: the levels' ones
    # alternate between its place and one spare, so that the last lands there.
    approx_places = [outputs.take(), np.empty_like(x) if level > 1 else None] if trim_approx else []
    for j, i in enumerate(range(start_level, start_level + level)):
        bands = {}
        approx_place = approx_places[(level - 1 - j) % 2] if trim_approx else None
        if len(axes) == 2:
            _split_2d(x, banks, axes, 2 ** i, bands, outputs, approx_place, num_threads)
        else:
            _split(x, banks, axes, 2 ** i, 0, "", bands, spares, outputs, approx_place,
                   num_threads)
        x = bands[approx_key]
        if trim_approx:
            del bands[approx_key]
        levels.append(bands)
    if trim_approx:
        levels.append(x)
    levels.reverse()
    return levels


def _outer_first(axes, banks):
    """The two axes outer first, their banks, and how a key of the caller's
    axis order reads in that order (reversed when the axes come inner first)."""
    if axes[0] < axes[1]:
        return tuple(axes), tuple(banks), lambda key: key
    return tuple(axes[::-1]), tuple(banks[::-1]), lambda key: key[::-1]


def _split_2d(x, banks, axes, dilation, bands, outputs, approx_place, num_threads):
    """The four bands of one 2-D level, in one pass over memory."""
    axes, banks, caller_key = _outer_first(axes, banks)
    outs = [approx_place if key == "aa" and approx_place is not None else outputs.take()
            for key in KEYS_2D]
    analyse_2d(x, banks, axes, dilation, outs, num_threads)
    bands.update((caller_key(key), band) for key, band in zip(KEYS_2D, outs))


def _split(x, banks, axes, dilation, k, prefix, bands, spares, outputs, approx_place,
           num_threads):
    """Bands ``prefix + ...`` of one level: axis k, then the axes after it,
    depth first, so that at most one partial band per axis is alive; the
    approximation in ``approx_place`` when that is given."""
    x3 = as_3d(x, axes[k])
    lo, hi = banks[k].dec_lo, banks[k].dec_hi
    if k < len(axes) - 1:
        for char, f in (("a", lo), ("d", hi)):
            part = spares.take(x)
            analyse(x3, [f], dilation, [as_3d(part, axes[k])], num_threads)
            _split(part, banks, axes, dilation, k + 1, prefix + char, bands, spares, outputs,
                   approx_place, num_threads)
            spares.give(part)
        return
    is_approx = prefix == "a" * k
    approx = approx_place if is_approx and approx_place is not None else outputs.take()
    detail = outputs.take()
    analyse(x3, [lo, hi], dilation, [as_3d(approx, axes[k]), as_3d(detail, axes[k])],
            num_threads)
    bands[prefix + "a"], bands[prefix + "d"] = approx, detail


def inverse(approx, levels, banks, axes, num_threads):
    """pywt.iswtn of the coarsest approximation and the detail bands of
    each level (dicts, coarsest first; a missing band is zero), all real,
    C-contiguous, of one shape and dtype."""
    n_levels = len(levels)
    spares = Spares()
    for j, details in enumerate(levels):
        dilation = 2 ** (n_levels - j - 1)
        if len(axes) == 2 and len(details) == 3:
            approx = _merge_2d(approx, j > 0, details, banks, axes, dilation, num_threads)
            continue
        approx = _merge(approx, j > 0, details, banks, axes, dilation, 0, "", spares, num_threads)
        if approx is None:  # every band was missing
            raise ShapeMismatchError("iswtn: a level has no coefficients at all")
    return approx


def _merge_2d(approx, owned, details, banks, axes, dilation, num_threads):
    """One 2-D level with every band, in one pass over memory: written over
    the approximation when ``owned``, else into a new array."""
    axes, banks, caller_key = _outer_first(axes, banks)
    out = approx if owned else np.empty_like(approx)
    bands = [approx] + [details[caller_key(key)] for key in KEYS_2D[1:]]
    synthesise_2d(bands, banks, axes, dilation, out, num_threads)
    return out


def _merge(approx, owned, details, banks, axes, dilation, k, prefix, spares, num_threads):
    """Band ``prefix`` synthesised from its children along axes k..: the
    inverse of _split, depth first.  The synthesis is written over a child
    of ours (a partial band, or the approximation when ``owned``) where
    there is one; a partial band of ours that is read for the last time
    goes back to the spares."""
    if k == len(axes):
        return approx if prefix == "a" * k else details.get(prefix)
    low, high = (_merge(approx, owned, details, banks, axes, dilation, k + 1, prefix + char,
                        spares, num_threads) for char in "ad")
    if low is None and high is None:
        return None
    partial = k + 1 < len(axes)
    bands = [(band, f) for band, f in ((low, banks[k].rec_lo), (high, banks[k].rec_hi))
             if band is not None]
    ours = [i for i, (band, _) in enumerate(bands)
            if partial or (owned and band is approx)]
    axis = axes[k]
    if ours:
        (target, f), others = bands[ours[0]], bands[:ours[0]] + bands[ours[0] + 1:]
        other, g = others[0] if others else (None, None)
        synthesise_in_place(as_3d(target, axis), None if other is None else as_3d(other, axis),
                            f, g, dilation, num_threads)
        if partial and other is not None:
            spares.give(other)
        return target
    out = spares.take(bands[0][0])
    synthesise(None if low is None else as_3d(low, axis),
               None if high is None else as_3d(high, axis),
               banks[k].rec_lo, banks[k].rec_hi, dilation, as_3d(out, axis), num_threads)
    return out
