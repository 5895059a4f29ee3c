"""fastdilate on Dask arrays: ``conv1d``, ``conv2d`` and ``dilated_convolve_1d``
over ``dask.array.Array``s, lazily, with exactly the in-memory contract.

Needs the ``fastdilate[dask]`` extra; dask is imported when a function here
is called, never by ``import fastdilate``.

Chunking
    The batch axis may be chunked any way; the channel axis must be one
    chunk (``rechunk=True`` merges it); spatial axes may be chunked any way
    (chunks smaller than the halo, irregular chunks, a last chunk of one
    sample).  Along each spatial axis, output chunk j holds the outputs ``o``
    whose anchor ``o * stride`` lies in input chunk j (the last chunk also
    holds any anchored past the end); empty output chunks are dropped.  So
    "same" and "causal" keep the input's chunks, "valid" shortens the last
    ones, and spatial chunks that are multiples of the stride give output
    chunks ``chunk // stride`` (regular, as Zarr wants them).

Graph
    Each output chunk is one task: it reads its own chunk, the halo cut from
    the neighbouring chunks by small tasks of their own, and the padding,
    taken only at the true array edges from where the padding mode says;
    zero padding is left to the core.  When its own chunk arrives whole and
    C-contiguous (as read from Zarr) and its outputs' window covers it
    (always at stride 1), the core reads the chunk in place and the outputs
    near the seams, whose windows reach into the halo (up to
    ``dilation * (K - 1) / stride`` per side), are computed again from the
    assembled halo and written over: a few outputs twice instead of a copy
    of the chunk.  Otherwise the input it reads is assembled first and each
    output computed once.  No output is computed in a halo and thrown away.
    The result is bitwise equal to the in-memory call: the core sums each
    output's taps in one fixed order, and a zero-padded tap still multiplies.

Threads
    ``num_threads`` (an int) is used by every task.  Otherwise a task runs
    on 1 thread under Dask's local schedulers (the threaded scheduler's
    workers already fill the cores); in a ``dask.distributed`` worker it
    takes the worker process's OpenMP default divided among the worker's
    threads (the nanny sets ``OMP_NUM_THREADS=1``, so 1 unless you raise
    it with ``distributed.nanny.pre-spawn-environ``).
"""
from __future__ import annotations

import functools
import itertools
import math
import operator
import sys
from typing import TYPE_CHECKING

import numpy as np

from . import _api
from ._checks import as_thread_request
from ._dispatch import core

if TYPE_CHECKING:
    import dask.array
    from numpy.typing import ArrayLike

    from ._api import Padding1d, Padding2d, PaddingMode, Pair


# ------------------------------------------------------------ public API
def conv1d(input: dask.array.Array, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: int = 1, padding: Padding1d = 0, dilation: int = 1, groups: int = 1, *,
           padding_mode: PaddingMode = "zeros", num_threads: int | None = None,
           rechunk: bool = False) -> dask.array.Array:
    """:func:`fastdilate.conv1d` over a Dask array ``(N, C_in, L)`` or
    ``(C_in, L)``; a lazy Dask array.  ``weight`` and ``bias`` are concrete
    arrays.  ``rechunk=True`` merges a chunked channel axis into one chunk
    instead of raising.  Chunking and threads: see the module docstring."""
    return _convolve("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                     padding_mode, num_threads, rechunk)


def conv2d(input: dask.array.Array, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: Pair = 1, padding: Padding2d = 0, dilation: Pair = 1, groups: int = 1, *,
           padding_mode: PaddingMode = "zeros", num_threads: int | None = None,
           rechunk: bool = False) -> dask.array.Array:
    """:func:`fastdilate.conv2d` over a Dask array ``(N, C_in, H, W)`` or
    ``(C_in, H, W)``; as :func:`conv1d`, both spatial axes chunked any way."""
    return _convolve("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                     padding_mode, num_threads, rechunk)


def dilated_convolve_1d(signal: dask.array.Array, kernel: ArrayLike, dilation: int = 1, *,
                        num_threads: int | None = None) -> dask.array.Array:
    """:func:`fastdilate.dilated_convolve_1d` over a Dask array ``(L,)`` or
    ``(B, L)``; ``kernel`` is a concrete array."""
    da = _dask_array()
    x = _dask_input(da, "signal", signal)
    _api.check_real("signal", x.dtype)
    k = _concrete(da, "kernel", kernel)
    out_length, dilation = _api.check_convolve_1d(x.shape, k.shape, dilation)
    as_thread_request(num_threads)
    if out_length == 0 or x.size == 0:
        return da.empty(x.shape[:-1] + (out_length,), dtype=_api.result_dtype(x.dtype, k.dtype))
    batch = x[None, None] if x.ndim == 1 else x[:, None, :]
    result = conv1d(batch, k.reshape(1, 1, -1), dilation=dilation if k.shape[0] > 1 else 1,
                    num_threads=num_threads)
    return result[0, 0] if x.ndim == 1 else result[:, 0, :]


# -------------------------------------------------------------- checks
def _dask_array():
    try:
        import dask.array as da
    except ImportError as error:
        raise ImportError("fastdilate.dask needs dask: pip install 'fastdilate[dask]'") from error
    return da


def _dask_input(da, name, value):
    if not isinstance(value, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(value).__name__} "
                        f"(fastdilate's in-memory functions take NumPy arrays)")
    if any(math.isnan(size) for size in value.shape):
        raise ValueError(f"{name} has unknown chunk sizes (shape {value.shape}); "
                         f"call {name}.compute_chunk_sizes() first")
    return value


def _concrete(da, name, value):
    """A weight, bias or kernel as an ndarray, by the in-memory rules."""
    if isinstance(value, da.Array):
        raise TypeError(f"{name} must be a concrete array (NumPy or array-like), not a "
                        f"dask array; call {name}.compute() first")
    return _api.as_array(name, value)


def _convolve(name, spatial_dims, input, weight, bias, stride, padding, dilation, groups,
              padding_mode, num_threads, rechunk):
    da = _dask_array()
    x = _dask_input(da, "input", input)
    _api.check_real("input", x.dtype)
    w = _concrete(da, "weight", weight)
    b = None if bias is None else _concrete(da, "bias", bias)
    threads = as_thread_request(num_threads)
    geometry, dtype = _api.check_call(name, spatial_dims, x.shape, x.dtype, w.shape, w.dtype,
                                      None if b is None else (b.shape, b.dtype),
                                      stride, padding, dilation, groups, padding_mode)
    xb = x if geometry.batched else x[None]
    if len(xb.chunks[1]) > 1:
        if not rechunk:
            raise ValueError(f"{name}: input's channel axis (axis {x.ndim - spatial_dims - 1}) "
                             f"must be one chunk, got chunks {xb.chunks[1]}; rechunk it or "
                             f"pass rechunk=True")
        xb = xb.rechunk({1: -1})
    result = _graph(name, xb, w, b, geometry, dtype, threads)
    return result if geometry.batched else result[0]


# ------------------------------------------------------- one axis's plan
def _output_ranges(chunks, stride, out_size):
    """[(o0, o1)]: the non-empty output ranges anchored in each input chunk."""
    starts = itertools.accumulate(chunks[:-1], initial=0)
    bounds = [min(-(-start // stride), out_size) for start in starts] + [out_size]
    return [(o0, o1) for o0, o1 in zip(bounds, bounds[1:]) if o1 > o0]


def _edge_run(a, b, size, mode):
    """Padded positions [a, b) outside the array, as a run over the array:
    (length, start, stop, step), step -1 reversed, 0 one sample repeated;
    (length, None, None, None) for zeros."""
    length, left = b - a, b <= 0
    if mode == "zeros":
        return length, None, None, None
    if mode == "replicate":
        index = 0 if left else size - 1
        return length, index, index + 1, 0
    if mode == "circular":
        shift = size if left else -size
        return length, a + shift, b + shift, 1
    if left:  # reflect: position -i reads sample i
        return length, 1 - b, 1 - a, -1
    return length, 2 * size - 1 - b, 2 * size - 1 - a, -1  # position L-1+i reads L-1-i


def _window_runs(lo, hi, size, mode):
    """The input positions [lo, hi) that a range of outputs reads, as runs."""
    runs = []
    if lo < 0:
        runs.append(_edge_run(lo, min(hi, 0), size, mode))
    if max(lo, 0) < min(hi, size):
        runs.append((min(hi, size) - max(lo, 0), max(lo, 0), min(hi, size), 1))
    if hi > size:
        runs.append(_edge_run(max(lo, size), hi, size, mode))
    return runs


def _split_run(run, offsets):
    """A run cut at the chunk boundaries: [(length, chunk, local slice)]; a
    repeated sample keeps its length (the local slice is 1 long)."""
    length, start, stop, step = run
    if start is None:
        return [(length, None, None)]
    first = np.searchsorted(offsets, start, side="right") - 1
    last = np.searchsorted(offsets, stop - 1, side="right") - 1
    pieces = []
    for k in range(int(first), int(last) + 1):
        a, b = max(start, offsets[k]) - offsets[k], min(stop, offsets[k + 1]) - offsets[k]
        if step == -1:
            pieces.insert(0, (b - a, k, slice(b - 1, a - 1 if a else None, -1)))
        else:
            pieces.append((length if step == 0 else b - a, k, slice(a, b)))
    return pieces


def _axis_plan(chunks, size, pad, kernel, dilation, stride, out_size, mode):
    """Per output chunk along one axis: (outputs, segments, core padding).
    Zero segments at the ends are left to the core's zero padding."""
    offsets = list(itertools.accumulate(chunks, initial=0))
    span = dilation * (kernel - 1)
    plans = []
    for o0, o1 in _output_ranges(chunks, stride, out_size):
        lo, hi = o0 * stride - pad[0], (o1 - 1) * stride - pad[0] + span + 1
        segments = [piece for run in _window_runs(lo, hi, size, mode)
                    for piece in _split_run(run, offsets)]
        core_pad = [0, 0]
        if any(chunk is not None for _, chunk, _ in segments):
            for end, side in ((0, 0), (-1, 1)):
                if segments[end][1] is None:
                    core_pad[side] = segments.pop(end)[0]
        plans.append((o1 - o0, segments, tuple(core_pad)))
    return plans


# ---------------------------------------------------------------- graph
def _graph(name, x, weight, bias, geometry, dtype, threads):
    """The lazy result: one task per output chunk (see the module docstring)."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    axes = [_axis_plan(x.chunks[2 + i], geometry.spatial[i], geometry.pads[i],
                       geometry.kernel[i], geometry.dilations[i], geometry.strides[i],
                       geometry.out_shape[2 + i], geometry.padding_mode)
            for i in range(len(geometry.spatial))]
    token = tokenize(x, weight, bias, geometry, threads)
    out_name, halo_name = f"fastdilate-{name}-{token}", f"fastdilate-{name}-halo-{token}"
    weight_key, bias_key = f"fastdilate-weight-{token}", f"fastdilate-bias-{token}"
    dsk = {weight_key: weight}
    if bias is not None:
        dsk[bias_key] = bias
    one_d = len(axes) == 1
    # The call's constants ride in a partial: a tuple starting with a
    # function would read as a task in the graph.
    task = functools.partial(_convolve_piece, op=_api.conv1d if one_d else _api.conv2d,
                             stride=geometry.strides[0] if one_d else geometry.strides,
                             dilation=geometry.dilations[0] if one_d else geometry.dilations,
                             groups=geometry.groups, threads=threads)
    halos = itertools.count()
    for batch_block, batch_size in enumerate(x.chunks[0]):
        for out_index, plans in zip(itertools.product(*(range(len(a)) for a in axes)),
                                    itertools.product(*axes)):
            piece_shape = (batch_size, x.shape[1]) + tuple(
                sum(length for length, _, _ in segments) for _, segments, _ in plans)
            cells = _cells(x.name, batch_block, plans, halo_name, halos, dsk)
            pads = tuple(core_pad for _, _, core_pad in plans)
            dsk[(out_name, batch_block, 0) + out_index] = (
                task, cells, piece_shape, x.dtype, weight_key,
                None if bias is None else bias_key, pads)
    chunks = (x.chunks[0], (geometry.out_shape[1],)) + tuple(
        tuple(outputs for outputs, _, _ in plans) for plans in axes)
    graph = HighLevelGraph.from_collections(out_name, dsk, dependencies=[x])
    return da.Array(graph, out_name, chunks, dtype=dtype)


def _cells(x_name, batch_block, plans, halo_name, halos, dsk):
    """[destination in the piece, task or None for zeros] for one output
    chunk.  The largest cell is cut inside the output's task; the others
    (the halo) are cut by tasks of their own, next to their chunk, so only
    the halo travels between workers."""
    cells = []  # (destination, source chunk's key or None, cut)
    for combo in itertools.product(*(list(_with_offsets(segments)) for _, segments, _ in plans)):
        destination = tuple(slice(offset, offset + length) for offset, (length, _, _) in combo)
        blocks = tuple(chunk for _, (_, chunk, _) in combo)
        key = None if None in blocks else (x_name, batch_block, 0) + blocks
        cells.append((destination, key, (Ellipsis,) + tuple(cut for _, (_, _, cut) in combo)))
    home = max((cell for cell in cells if cell[1] is not None), default=None,
               key=lambda cell: math.prod(s.stop - s.start for s in cell[0]))
    parts = []  # lists, not tuples: the graph looks for keys and tasks inside lists
    for cell in cells:
        destination, key, cut = cell
        if key is None:
            parts.append([destination, None])
        elif cell is home:
            parts.append([destination, (operator.getitem, key, cut)])
        else:
            halo_key = (halo_name, next(halos))
            dsk[halo_key] = (_cut_copy, key, cut)
            parts.append([destination, halo_key])
    return parts


def _with_offsets(segments):
    """(offset in the piece, segment) for each segment along one axis."""
    offset = 0
    for segment in segments:
        yield offset, segment
        offset += segment[0]


# ---------------------------------------------------------------- tasks
def _cut_copy(block, index):
    """A halo cut from its chunk, copied so that it does not keep the whole
    chunk alive until its output runs."""
    return block[index].copy()


def _convolve_piece(cells, piece_shape, dtype, weight, bias, pads, *, op, stride, dilation,
                    groups, threads):
    """One output chunk.  When its own chunk arrives whole and contiguous, the
    core reads it in place (zero-padded) and the outputs near the seams, whose
    windows reach into the halo, are computed again from the assembled halo:
    a few outputs twice instead of a copy of the chunk.  Otherwise the input
    it reads is assembled first."""
    kernel = weight.shape[2:]
    strides, dilations = (np.broadcast_to(value, len(kernel)) for value in (stride, dilation))
    axes = [_AxisGeometry(n, pad, int(d) * (k - 1), int(s))
            for n, pad, k, d, s in zip(piece_shape[2:], pads, kernel, dilations, strides)]

    def convolve(piece, piece_pads):
        return op(piece, weight, bias, stride=stride, dilation=dilation, groups=groups,
                  padding=piece_pads[0] if len(piece_pads) == 1 else tuple(piece_pads),
                  num_threads=_task_threads(threads))

    home = _contiguous_home(cells)
    splits = None if home is None else [axis.split(dest) for axis, dest in zip(axes, home[0])]
    if splits is None or None in splits:
        whole = tuple((0, n) for n in piece_shape[2:])
        return convolve(_assemble(cells, piece_shape, dtype, whole), pads)
    out = convolve(home[1], [axis.home_pads(dest) for axis, dest in zip(axes, home[0])])
    for ranges in itertools.product(*splits):
        if all(interior for _, _, interior in ranges):
            continue
        windows = [axis.window(i0, i1) for axis, (i0, i1, _) in zip(axes, ranges)]
        piece = _assemble(cells, piece_shape, dtype, [region for region, _ in windows])
        out[(Ellipsis,) + tuple(slice(i0, i1) for i0, i1, _ in ranges)] = convolve(
            piece, [piece_pads for _, piece_pads in windows])
    return out


class _AxisGeometry:
    """One spatial axis of an output chunk's task: the assembled piece is
    ``size`` long, zero-padded by ``pads`` for the core; in padded
    coordinates output i reads [i * stride, i * stride + span]."""

    def __init__(self, size, pads, span, stride):
        self.size, self.pads, self.span, self.stride = size, pads, span, stride
        self.outputs = (pads[0] + size + pads[1] - span - 1) // stride + 1

    def home_pads(self, destination):
        """The core padding that puts the home cell where it sits in the piece."""
        return (self.pads[0] + destination.start, self.pads[1] + self.size - destination.stop)

    def split(self, destination):
        """[(i0, i1, interior)]: the outputs whose windows stay inside the home
        cell or the core padding (interior), and those on either side that
        read the rest of the piece; None when those are over half the outputs."""
        start, stop = self.pads[0] + destination.start, self.pads[0] + destination.stop
        left = min(-(-start // self.stride), self.outputs) if destination.start > 0 else 0
        right = (max(-(-(stop - self.span) // self.stride), 0) if destination.stop < self.size
                 else self.outputs)
        right = max(right, left)
        if left + self.outputs - right > self.outputs // 2:
            return None
        ranges = [(0, left, False), (left, right, True), (right, self.outputs, False)]
        ranges = [(i0, i1, interior) for i0, i1, interior in ranges if i1 > i0]
        return None if any(not self.reads_piece(i0, i1) for i0, i1, _ in ranges) else ranges

    def window(self, i0, i1):
        """((start, stop) of the piece, core padding) that outputs [i0, i1) read."""
        lo, hi = i0 * self.stride, (i1 - 1) * self.stride + self.span + 1
        start, stop = max(lo - self.pads[0], 0), min(hi - self.pads[0], self.size)
        return (start, stop), (max(self.pads[0] - lo, 0), max(hi - self.pads[0] - self.size, 0))

    def reads_piece(self, i0, i1):
        (start, stop), _ = self.window(i0, i1)
        return stop > start


def _contiguous_home(cells):
    """(destination, block) of the largest cell that is a whole C-contiguous
    block (not a broadcast sample), or None."""
    candidates = [(destination, part) for destination, part in cells
                  if part is not None and part.flags.c_contiguous
                  and part.shape[2:] == tuple(d.stop - d.start for d in destination)]
    return max(candidates, default=None, key=lambda cell: cell[1].size)


def _assemble(cells, piece_shape, dtype, region):
    """The region [(start, stop)] per spatial axis of the piece, from the cells."""
    if len(cells) == 1 and cells[0][1] is not None and cells[0][1].shape == piece_shape:
        part = cells[0][1]
        return part[(Ellipsis,) + tuple(slice(a, b) for a, b in region)]
    shape = piece_shape[:2] + tuple(b - a for a, b in region)
    zeros = any(part is None for _, part in cells)
    piece = (np.zeros if zeros else np.empty)(shape, dtype)
    for destination, part in cells:
        if part is None:
            continue
        overlap = [(max(d.start, a), min(d.stop, b)) for d, (a, b) in zip(destination, region)]
        if any(lo >= hi for lo, hi in overlap):
            continue
        # A repeated sample (1 long on an axis) broadcasts over its whole span.
        source = tuple(slice(None) if n == 1 < d.stop - d.start
                       else slice(lo - d.start, hi - d.start)
                       for n, d, (lo, hi) in zip(part.shape[2:], destination, overlap))
        piece[(Ellipsis,) + tuple(slice(lo - a, hi - a) for (lo, hi), (a, _) in
                                  zip(overlap, region))] = part[(Ellipsis,) + source]
    return piece


def _task_threads(requested):
    """The thread policy of the module docstring, decided inside the task."""
    if requested is not None:
        return requested
    distributed = sys.modules.get("distributed")  # not imported: not in a worker
    if distributed is not None:
        try:
            worker = distributed.get_worker()
        except ValueError:
            return 1
        return max(1, core.default_num_threads() // worker.state.nthreads)
    return 1
