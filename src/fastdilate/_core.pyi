"""Type stub for the compiled core ``fastdilate._core`` (built from _core.pyx).

``fastdilate._core_avx2`` and ``fastdilate._core_avx512`` are the same source
compiled for AVX2+FMA and AVX-512, with the same interface (each with the
blocking constants of its vector width).  Nothing here checks its arguments: ``fastdilate._api``
validates, plans and allocates before calling ``conv2d_forward``.
"""
from typing import TypedDict

import numpy as np
import numpy.typing as npt

class _BuildFacts(TypedDict):
    openmp: bool
    isa: str
    compiler: str

__test__: dict[str, str]  # Cython's doctest table, empty

def build_facts() -> _BuildFacts:
    """What the compiler knew when it built this module."""
    ...

def default_num_threads() -> int:
    """OpenMP's default team size (follows OMP_NUM_THREADS and threadpoolctl)."""
    ...

def cpu_has_avx2_fma() -> bool: ...
def cpu_has_avx512f() -> bool: ...
def in_forked_child() -> bool: ...

# The blocking of the dense micro-kernels, for the planner in _layout.py.
DENSE_CO_BLOCK: int  # output channels accumulated at once
DENSE_RUN_VECTORS: int  # vectors in a run of the dense block
# The kernel families conv2d_forward runs (its ``kernel`` argument).
THIN_KERNEL: int
DENSE_KERNEL: int
DEPTHWISE_KERNEL: int
# A tile is a whole number of these bytes of time points, for each kernel.
DENSE_TILE_QUANTUM_BYTES: int
THIN_TILE_QUANTUM_BYTES: int

# One dtype for all four arrays, float32 or float64, all C-contiguous; x,
# weights and bias are read, out is written in place.  x is (N, C_in, H, W)
# unpadded, weights flat (see _layout.packed_weight), bias (C_out,), out
# (N, C_out, H_out, W_out).  padding_mode numbers the modes as
# ``_api.PADDING_MODES`` lists them.
_Floats = npt.NDArray[np.float32] | npt.NDArray[np.float64]

def pack_dense_weights(weight: _Floats, packed: _Floats, groups: int) -> None: ...

def conv2d_forward(
    x: _Floats,
    weights: _Floats,
    bias: _Floats,
    out: _Floats,
    kernel_h: int,
    kernel_w: int,
    stride_h: int,
    stride_w: int,
    dilation_h: int,
    dilation_w: int,
    pad_top: int,
    pad_left: int,
    padding_mode: int,
    groups: int,
    kernel: int,
    tile_width: int,
    band_rows: int,
    skip_padding: bool,
    num_threads: int,
) -> None: ...

# The weight gradient's reduction (_core_backward.pxi), for fastdilate._backward:
# channels cut into blocks of a vector (input) and of GRAD_WEIGHT_CO_BLOCK rows
# (grad_output); x padded and cut to what the taps read; one partial sum per
# piece of rows_per_piece rows (or piece_len points of one row), added up by
# the caller in their order.
GRAD_WEIGHT_CO_BLOCK: int
GRAD_WEIGHT_VECTOR_BYTES: int

def conv_grad_weight(
    x: _Floats,        # (N, H_in, G, C_pad / lanes, W_in, lanes)
    g: _Floats,        # (N, H_out, G, O_pad / CO_BLOCK, W_out, CO_BLOCK)
    partial: _Floats,  # OUT (pieces, G, KH, KW, O_pad, C_pad)
    kernel_h: int,
    kernel_w: int,
    stride_h: int,
    stride_w: int,
    dilation_h: int,
    dilation_w: int,
    rows_per_piece: int,
    piece_len: int,
    num_threads: int,
) -> None: ...

# The blocked copies of the weight gradient, in one pass:
# out[n, y, g, b, x, l] = src[n, g * C // G + b * block + l, y - top, x - left],
# zeros where that channel or point is not in src.
def pack_channel_blocks(
    src: _Floats,  # (N, C, H, W)
    out: _Floats,  # OUT (N, H', G, blocks, W', block)
    top: int,
    left: int,
    num_threads: int,
) -> None: ...

# The weight gradient of groups with few channels (_core_backward.pxi): one
# dot product per (output channel, input channel, tap) over each piece of
# rows_per_piece (n, th) rows, on the input with zero padding before it.
def conv_grad_weight_thin(
    x: _Floats,        # (N, C_in, H_in, W_in)
    g: _Floats,        # (N, C_out, H_out, W_out)
    partial: _Floats,  # OUT (pieces, C_out, C_in // groups, KH, KW)
    stride_h: int,
    stride_w: int,
    dilation_h: int,
    dilation_w: int,
    pad_top: int,
    pad_left: int,
    rows_per_piece: int,
    num_threads: int,
) -> None: ...

# The WaveNet kernel family (_core_wavenet.pxi), driven by fastdilate.models.wavenet:
# the names of the descriptor tables' fields, in the order the kernel reads them.
WAVENET_LAYER_FIELDS: tuple[str, ...]
WAVENET_ARRAY_FIELDS: tuple[str, ...]
WAVENET_BUFFER_FIELDS: tuple[str, ...]
WAVENET_SCRATCH_FIELDS: tuple[str, ...]
WAVENET_ACTIVATIONS: tuple[str, ...]
WAVENET_GATINGS: tuple[str, ...]
WAVENET_FRAMES: int  # frames computed at once by the register blocks
WAVENET_VECTOR_BYTES: int  # frame-major widths: whole vectors of this many bytes (or 16)

_Ints = npt.NDArray[np.intp]

class WaveNetKernel:
    """A WaveNet plan's weights and tables, checked once; runs streams."""
    dtype: np.dtype
    state_len: int  # values of one stream's state
    n_buffers: int  # history buffers (one position each) of a stream
    scratch_len: int  # values of one thread's scratch
    chunk: int  # frames per pass through the layers
    def __init__(self, weights: _Floats, layers: _Ints, arrays: _Ints, buffers: _Ints,
                 offsets: _Ints, scratch: _Ints, state_len: int, chunk: int,
                 head_scale: float, time_major: bool = False) -> None: ...
    def stream(self, x: _Floats, y: _Floats, n_streams: int, length: int, state: _Floats,
               positions: _Ints, scratch: _Floats, num_threads: int) -> None: ...
    def bind(self, state: _Floats, positions: _Ints, scratch: _Floats) -> None: ...
    def stream_bound(self, block: object, out: object) -> bool: ...
    def offline(self, x: _Floats, y: _Floats, n_streams: int, length: int, silence: _Floats,
                silence_positions: _Ints, work: _Floats, work_positions: _Ints,
                scratch: _Floats, n_segments: int, warmup: int, num_threads: int) -> None: ...

def wn_plan_fits(n_weights: int, layers: _Ints, arrays: _Ints, buffers: _Ints, offsets: _Ints,
                 scratch: _Ints, state_len: int, chunk: int, lanes: int,
                 time_major: bool = False, pad: int = 1) -> bool: ...

# _core_wavelets.pxi: one level of an à trous transform along axis 1 of
# (pre, n, post) arrays, 1 or 2 inputs into 1 or 2 outputs, all of one
# dtype and C-contiguous:
#   out_o[p, i, q] = sum_c sum_t weights[o, c, t] * in_c[p, (i + offsets[t]) mod n, q]
# weights (n_out, n_in, n_taps), at most 256 taps; offsets int64, each in (-n, n).
def atrous_level(
    inputs: tuple[_Floats, ...],
    outputs: tuple[_Floats, ...],
    weights: _Floats,
    offsets: npt.NDArray[np.int64],
    num_threads: int,
) -> None: ...

# _core_wavelets.pxi: one synthesis level written over its approximation,
# (pre, m, q) arrays at dilation 1 (the level's dilation folded into q):
#   approx[p, i, q] = sum_t weights[0, t] * approx[p, (i + o_t) mod m, q]
#                   (+ sum_t weights[1, t] * detail[p, (i + o_t) mod m, q])
# every read of approx seeing its values from before the call.
def atrous_in_place(
    approx: _Floats,
    detail: _Floats | None,
    weights: _Floats,
    offsets: npt.NDArray[np.int64],
    num_threads: int,
) -> None: ...

# _core_wavelets_2d.pxi: one level of a 2-D SWT (analysis: bands (x,) into
# outputs (aa, ad, da, dd)) or its inverse (synthesis: (aa, ad, da, dd) into
# (out,), out may be aa), arrays (pre, n_a, row) around the outer axis a, a
# row being (mid, n_b, post) = inner around the inner axis b; keys (a, b).
# weights_b (n_out, n_in, taps) and offsets_b (each in (-n_b, n_b)) along b at
# the level's dilation; weights_a, offsets_a along a over a phase of
# n_a / dilation rows, at dilation 1.
def atrous_2d(
    analysis: bool,
    bands: tuple[_Floats, ...],
    outputs: tuple[_Floats, ...],
    inner: tuple[int, int, int],
    weights_b: _Floats,
    offsets_b: npt.NDArray[np.int64],
    weights_a: _Floats,
    offsets_a: npt.NDArray[np.int64],
    dilation: int,
    num_threads: int,
) -> None: ...
