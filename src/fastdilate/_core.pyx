"""Typed nogil loops of fastdilate.

``fastdilate._api`` checks and prepares every argument before a call (one
last check of the arrays stands in front of the raw pointers).  The same
source is compiled several times by setup.py: for the baseline instruction
set (``_core``), AVX2+FMA (``_core_avx2``) and AVX-512 (``_core_avx512``);
``_dispatch`` picks one.

This file is the entry point: it plans a call's work items and runs them on
a thread team.  The loops live in one file per family, included below:
``_core_simd.pxi`` (the register blocks' fused front ends),
``_core_tile.pxi`` (the per-thread input tile), ``_core_thin.pxi`` (one
output channel at a time: single-channel, 1-D depthwise), ``_core_dense.pxi``
(blocks of output channels) and ``_core_depthwise.pxi`` (2-D depthwise, a
band of one channel's rows at a time).

How a convolution runs.  The output is cut into work items, one per
(batch, group of output rows, time tile), handed out one at a time to the
threads.  An item copies the input it needs into a per-thread tile: every
input channel's rows for those output rows, the padding applied by index mapping
(so the input is never padded in memory) and, for stride s, split by phase
mod s so that every tap reads a contiguous run.  (The single-channel kernel
reads unpadded stride-1 stretches in place instead.)  A tap is then only an
offset: dilation never zero-stuffs, and nothing is im2col'd.  Register-
blocked micro-kernels (_simd.h) accumulate CO_BLOCK output channels x one
chunk of time points over every (input channel, tap): a run of DENSE_VECS
vectors along a row or, where a 2-D item has DENSE_VECS rows, one vector
from each row, so that no width leaves a remainder.  Each output sums its
taps in one fixed order, so results do not depend on the thread count.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cdef extern from "_platform.h" nogil:
    int FD_HAVE_OPENMP
    const char* FD_TARGET_ISA
    const char* FD_COMPILER
    int omp_get_max_threads()
    int fd_cpu_has_avx2_fma()
    int fd_cpu_has_avx512f()
    int fd_in_forked_child()
    int fd_watch_fork()

include "_core_simd.pxi"

cdef enum:
    # Bytes: every tile row starts on a cache line, so that a tap whose
    # offset is a whole number of lines loads whole lines, not two halves.
    CACHE_LINE = 64
    # Tile rows that load_tile asks for ahead of copying them.
    PREFETCH_ROWS = 16

cdef enum:
    # Padding modes, numbered as _checks.PADDING_MODES lists them.
    PAD_ZEROS = 0
    PAD_REFLECT = 1
    PAD_REPLICATE = 2
    PAD_CIRCULAR = 3

cnp.import_array()
fd_watch_fork()

# The blocking and the kernel families, for the planner in _layout.py.
DENSE_CO_BLOCK = CO_BLOCK
# Vectors in a run of the dense block (and output rows of a 2-D dense item,
# where the image has as many).
DENSE_RUN_VECTORS = DENSE_VECS
THIN_KERNEL = 0
DENSE_KERNEL = 1
DEPTHWISE_KERNEL = 2
# Tiles hold whole chunks of the kernel that reads them.
DENSE_TILE_QUANTUM_BYTES = VECTOR_BYTES
THIN_TILE_QUANTUM_BYTES = THIN_CHUNK_BYTES


def build_facts():
    """What the compiler knew when it built this module."""
    return {
        "openmp": bool(FD_HAVE_OPENMP),
        "isa": FD_TARGET_ISA.decode(),
        "compiler": FD_COMPILER.decode(),
    }


def default_num_threads():
    """OpenMP's default team size (follows OMP_NUM_THREADS and threadpoolctl)."""
    return omp_get_max_threads()


def cpu_has_avx2_fma():
    return bool(fd_cpu_has_avx2_fma())


def cpu_has_avx512f():
    return bool(fd_cpu_has_avx512f())


def in_forked_child():
    return bool(fd_in_forked_child())


include "_core_tile.pxi"
include "_core_thin.pxi"
include "_core_dense.pxi"
include "_core_depthwise.pxi"
include "_core_backward.pxi"
include "_core_wavelets.pxi"


cdef void conv_work_item(Py_ssize_t item, floating* tile, const Taps* taps,
                         const floating* x, const floating* weights, const floating* bias,
                         floating* out, const Geometry* g) noexcept nogil:
    """Output rows and time tile ``item`` of one batch entry, every channel.

    ``weights`` are packed for the dense kernel (``dense``), else in
    PyTorch's layout.
    """
    cdef Py_ssize_t tile_index = item % g.n_tiles
    item //= g.n_tiles
    cdef Py_ssize_t row0 = (item % g.row_groups) * g.rows
    cdef Py_ssize_t n = item // g.row_groups
    cdef Py_ssize_t n_rows = min(g.rows, g.h_out - row0)
    cdef Py_ssize_t t0 = tile_index * g.tile_width
    cdef Py_ssize_t width = min(g.tile_width, g.w_out - t0)
    cdef Py_ssize_t out_plane = g.h_out * g.w_out
    cdef Py_ssize_t n_taps = g.kh * g.kw
    cdef const floating* image = x + n * g.c_in * g.h_in * g.w_in
    cdef floating* out_row = out + n * g.c_out * out_plane + row0 * g.w_out
    cdef Py_ssize_t grp, kh_lo, kh_hi
    if g.depthwise:  # a band of one channel's rows per item
        depthwise_item(item, tile, taps, x, weights, bias, out, g)
        return
    if not g.dense:  # one row per item
        thin_item(tile, taps, image, weights, bias, out_row, g, row0, t0, width)
        return
    kh_lo, kh_hi = 0, g.kh
    if g.skip_padding:  # the kernel rows that read only zero padding are not read
        reading_taps(row0, row0 + n_rows - 1, g.stride_h, g.dilation_h, g.pad_top, g.h_in, g.kh,
                     &kh_lo, &kh_hi)
    load_tile_rows(tile, image, g, row0, n_rows, t0, width, kh_lo, kh_hi)
    for grp in range(g.groups):
        dense_group(out_row + t0 + grp * g.c_out_group * out_plane, out_plane, row0, n_rows,
                    t0, width,
                    tile + grp * g.c_in_group * g.channel_len, g.channel_len, taps.tile_offsets,
                    weights + grp * g.c_out_packed * g.c_in_group * n_taps,
                    bias + grp * g.c_out_group, g)


cdef void run_convolution(const floating* x, const floating* weights, const floating* bias,
                          floating* out, Geometry* g, Py_ssize_t batch, int num_threads) except *:
    """Lay out the tiles and run every work item, on a team of threads or not."""
    # (the depthwise kernel finishes its rows a vector at a time)
    g.quantum = (VECTOR_BYTES if g.dense or g.depthwise else THIN_CHUNK_BYTES) // sizeof(floating)
    # Whole chunks per tile, so that a chunk never reads past the tile.
    g.tile_width = (g.tile_width + g.quantum - 1) // g.quantum * g.quantum
    g.n_tiles = (g.w_out + g.tile_width - 1) // g.tile_width

    g.row_groups = (g.h_out + g.rows - 1) // g.rows
    g.fixed_columns = g.depthwise or (g.dense and g.n_tiles == 1)
    cdef Py_ssize_t n_items = batch * g.row_groups * g.n_tiles
    if g.depthwise:
        n_items *= g.c_in
    cdef bint use_threads = num_threads > 1 and n_items > 1 and not fd_in_forked_child()
    cdef int team = num_threads if use_threads else 1
    # phases, then the tile's and the input's tap offsets
    cdef Py_ssize_t* offsets = <Py_ssize_t*> malloc((g.kw + 2 * g.kh * g.kw) * sizeof(Py_ssize_t))
    cdef Taps taps
    cdef floating* tiles = NULL
    cdef Py_ssize_t tile_len = 0, item
    cdef floating* first_tile = NULL
    if offsets != NULL:
        taps.tile_offsets = offsets + g.kw
        taps.input_offsets = offsets + g.kw + g.kh * g.kw
        lay_out_tile(g, CACHE_LINE // sizeof(floating), offsets, offsets + g.kw,
                     offsets + g.kw + g.kh * g.kw)
        if g.depthwise:
            lay_out_depthwise_tile(g, taps.tile_offsets)
        tile_len = g.channel_len if g.depthwise else g.c_in * g.channel_len  # whole cache lines
        tiles = <floating*> malloc(team * tile_len * sizeof(floating) + CACHE_LINE)
        first_tile = <floating*> ((<uintptr_t> tiles + CACHE_LINE - 1) // CACHE_LINE * CACHE_LINE)
        if tiles != NULL and g.fixed_columns:
            memset(first_tile, 0, team * tile_len * sizeof(floating))
    if tiles == NULL:
        free(offsets)
        raise MemoryError("fastdilate: no memory for the per-thread input tiles")

    if use_threads:
        # Items one at a time to whichever thread is free: a core slowed
        # by others' work (a shared or virtual machine, a hybrid CPU's
        # efficiency cores) takes fewer, rather than holding up the call.
        # Each item writes only its own outputs (the tile is scratch), so
        # which thread runs it changes no bit.  (Medians of 2-thread calls
        # on this project's 2-core VM: mostly 1.1-1.4x static's.)
        with nogil, parallel(num_threads=team):
            for item in prange(n_items, schedule="dynamic"):
                conv_work_item(item, first_tile + threadid() * tile_len, &taps,
                               x, weights, bias, out, g)
    else:  # no thread team at all: small problems, and forked children
        with nogil:
            for item in range(n_items):
                conv_work_item(item, first_tile, &taps, x, weights, bias, out, g)
    free(offsets)
    free(tiles)


cdef Py_ssize_t packed_channels(Py_ssize_t c_out_group, int kernel):
    """Output channels per group in the weights that ``kernel`` reads."""
    if kernel == DENSE_KERNEL:
        return (c_out_group + CO_BLOCK - 1) // CO_BLOCK * CO_BLOCK
    return c_out_group


cdef check_operands(cnp.ndarray x, cnp.ndarray weights, cnp.ndarray bias, cnp.ndarray out,
                    Py_ssize_t kernel_h, Py_ssize_t kernel_w, Py_ssize_t groups, int kernel):
    """The last line of defence before raw pointers: _api has checked all of
    this, so failing here is a bug in fastdilate, never in the caller."""
    cdef int dtype = cnp.PyArray_TYPE(out)
    cdef cnp.ndarray array
    for array in (x, weights, bias, out):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    if (x.ndim != 4 or out.ndim != 4 or x.shape[0] != out.shape[0] or groups < 1
            or kernel_h < 1 or kernel_w < 1 or x.shape[1] % groups or out.shape[1] % groups
            or kernel not in (THIN_KERNEL, DENSE_KERNEL, DEPTHWISE_KERNEL)
            or (kernel == DEPTHWISE_KERNEL and not (groups == x.shape[1] == out.shape[1]))
            or weights.size != (groups * packed_channels(out.shape[1] // groups, kernel)
                                * (x.shape[1] // groups) * kernel_h * kernel_w)
            or bias.size != out.shape[1]):
        raise ValueError("fastdilate core: operand shapes do not agree")


def pack_dense_weights(cnp.ndarray weight,  # IN  (C_out, C_in // groups, KH, KW)
                       cnp.ndarray packed,  # OUT flat, what the dense kernel reads
                       Py_ssize_t groups):
    """Write ``weight`` into ``packed`` in the dense kernel's layout (see
    conv2d_forward): a loop, where NumPy's transposing copy of a small
    array costs more than a small convolution."""
    cdef int dtype = cnp.PyArray_TYPE(weight)
    if (cnp.PyArray_TYPE(packed) != dtype or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)
            or not cnp.PyArray_ISCARRAY_RO(weight) or not cnp.PyArray_ISCARRAY_RO(packed)
            or weight.ndim != 4 or groups < 1 or weight.shape[0] % groups):
        raise ValueError("fastdilate core: weights must be aligned C-contiguous float32 or float64")
    cdef Py_ssize_t c_out_group = weight.shape[0] // groups
    cdef Py_ssize_t per_channel = weight.shape[1] * weight.shape[2] * weight.shape[3]
    if packed.size != groups * packed_channels(c_out_group, DENSE_KERNEL) * per_channel:
        raise ValueError("fastdilate core: packed weights of the wrong size")
    if dtype == cnp.NPY_FLOAT32:
        with nogil:
            pack_weights(<const float*> cnp.PyArray_DATA(weight), <float*> cnp.PyArray_DATA(packed),
                         groups, c_out_group, per_channel)
    else:
        with nogil:
            pack_weights(<const double*> cnp.PyArray_DATA(weight),
                         <double*> cnp.PyArray_DATA(packed), groups, c_out_group, per_channel)


def conv2d_forward(cnp.ndarray x,        # IN  (N, C_in, H, W), unpadded
                   cnp.ndarray weights,  # IN  see below
                   cnp.ndarray bias,     # IN  (C_out,)
                   cnp.ndarray out,      # OUT (N, C_out, H_out, W_out)
                   Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                   Py_ssize_t stride_h, Py_ssize_t stride_w,
                   Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                   Py_ssize_t pad_top, Py_ssize_t pad_left, int padding_mode,
                   Py_ssize_t groups, int kernel, Py_ssize_t tile_width, Py_ssize_t band_rows,
                   bint skip_padding, int num_threads):
    """Direct 2-D cross-correlation (conv1d is H = 1).

    All four arrays are C-contiguous, aligned and of one dtype, float32 or
    float64.
    ``kernel`` is DENSE_KERNEL, THIN_KERNEL or DEPTHWISE_KERNEL (groups ==
    C_in == C_out; it takes ``band_rows`` output rows of a channel per work
    item and the whole width, the others choose their rows).  ``weights`` (see
    ``_layout.packed_weight``) hold C_out x C_in // groups x KH x KW values:
    for the dense kernel packed as [groups][C_out // groups / CO_BLOCK]
    [C_in // groups][KH*KW][CO_BLOCK], each group's channels padded with
    zero ones to whole blocks; for the others in PyTorch's order.
    ``skip_padding`` lets the dense kernel leave out taps that read only
    zero padding: the caller has made sure that they add exact zeros (zero
    padding mode, finite weights, no -0.0 bias).
    Padding before the input is ``pad_top``/``pad_left``; after it, what the
    output size implies.  1 thread runs without starting a team.  The arrays
    are taken as NumPy arrays rather than typed memoryviews because setting
    up four memoryviews costs more than a small convolution.
    """
    check_operands(x, weights, bias, out, kernel_h, kernel_w, groups, kernel)
    cdef Geometry g
    g.c_in, g.h_in, g.w_in = x.shape[1], x.shape[2], x.shape[3]
    g.c_out, g.h_out, g.w_out = out.shape[1], out.shape[2], out.shape[3]
    g.kh, g.kw, g.c_in_group = kernel_h, kernel_w, g.c_in // groups
    g.groups, g.c_out_group = groups, g.c_out // groups
    g.dense = kernel == DENSE_KERNEL
    g.depthwise = kernel == DEPTHWISE_KERNEL
    g.skip_padding = skip_padding and padding_mode == PAD_ZEROS
    g.c_out_packed = packed_channels(g.c_out_group, kernel)
    # The dense kernel takes DENSE_VECS rows at a time where there are that many.
    g.rows = DENSE_VECS if g.dense and g.h_out >= DENSE_VECS else 1
    if g.depthwise:
        g.rows, tile_width = max(1, min(band_rows, g.h_out)), g.w_out
    g.stride_h, g.stride_w, g.dilation_h, g.dilation_w = stride_h, stride_w, dilation_h, dilation_w
    g.pad_top, g.pad_left, g.padding_mode = pad_top, pad_left, padding_mode
    g.tile_width = tile_width
    if cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT32:
        run_convolution(<const float*> cnp.PyArray_DATA(x), <const float*> cnp.PyArray_DATA(weights),
                        <const float*> cnp.PyArray_DATA(bias), <float*> cnp.PyArray_DATA(out),
                        &g, x.shape[0], num_threads)
    else:
        run_convolution(<const double*> cnp.PyArray_DATA(x), <const double*> cnp.PyArray_DATA(weights),
                        <const double*> cnp.PyArray_DATA(bias), <double*> cnp.PyArray_DATA(out),
                        &g, x.shape[0], num_threads)
include "_core_wavenet.pxi"
include "_core_wavenet_kernel.pxi"
