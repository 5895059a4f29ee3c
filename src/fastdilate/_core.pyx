"""Typed nogil loops of fastdilate.

``fastdilate._api`` checks and prepares every argument before a call (one
last check of the arrays stands in front of the raw pointers).  The same
source is compiled several times by setup.py: for the baseline instruction
set (``_core``), AVX2+FMA (``_core_avx2``) and AVX-512 (``_core_avx512``);
``_dispatch`` picks one.

How a convolution runs.  The output is cut into work items, one per
(batch, group of output rows, time tile), shared statically among the
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
from libc.string cimport memcpy

cdef extern from "_platform.h" nogil:
    int FD_HAVE_OPENMP
    const char* FD_TARGET_ISA
    const char* FD_COMPILER
    int omp_get_max_threads()
    int fd_cpu_has_avx2_fma()
    int fd_cpu_has_avx512f()
    int fd_in_forked_child()
    int fd_watch_fork()

cdef extern from "_simd.h" nogil:
    # The blocking of this build (see _simd.h): output channels and vectors
    # per dense block, bytes per vector and per thin chunk, float32 values
    # in the largest block.
    enum:
        CO_BLOCK "FD_DENSE_ROWS"
        DENSE_VECS "FD_DENSE_VECS"
        VECTOR_BYTES "FD_VECTOR_BYTES"
        THIN_CHUNK_BYTES "FD_THIN_CHUNK_BYTES"
        ACC_LEN "FD_BLOCK_FLOATS"
    void fd_prefetch(const void* p)
    ctypedef struct dense_block "fd_dense_block":
        pass
    ctypedef struct narrow_block "fd_narrow_block":
        pass
    ctypedef struct thin_block "fd_thin_block":
        pass
    void fd_dense_init_f32(dense_block* block, const float* bias)
    void fd_dense_init_f64(dense_block* block, const double* bias)
    void fd_dense_update_f32(dense_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_dense_update_f64(dense_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_dense_store_f32(const dense_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_dense_store_f64(const dense_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_narrow_init_f32(narrow_block* block, const float* bias)
    void fd_narrow_init_f64(narrow_block* block, const double* bias)
    void fd_narrow_update_f32(narrow_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_narrow_update_f64(narrow_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_narrow_store_f32(const narrow_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_narrow_store_f64(const narrow_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_thin_init_f32(thin_block* block, const float* bias)
    void fd_thin_init_f64(thin_block* block, const double* bias)
    void fd_thin_update_f32(thin_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_thin_update_f64(thin_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_thin_store_f32(const thin_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_thin_store_f64(const thin_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)

cdef enum:
    # Bytes: every tile row starts on a cache line, so that a tap whose
    # offset is a whole number of lines loads whole lines, not two halves.
    CACHE_LINE = 64
    # Tile rows that load_tile asks for ahead of copying them.
    PREFETCH_ROWS = 16

cdef enum:
    # Padding modes, numbered as _api.PADDING_MODES lists them.
    PAD_ZEROS = 0
    PAD_REFLECT = 1
    PAD_REPLICATE = 2
    PAD_CIRCULAR = 3

cnp.import_array()
fd_watch_fork()

# The blocking, for the planner in _layout.py.
DENSE_CO_BLOCK = CO_BLOCK
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


cdef struct Geometry:
    # Input and output extents.
    Py_ssize_t c_in, h_in, w_in, c_out, h_out, w_out
    # Kernel, per-group channel counts.
    Py_ssize_t kh, kw, c_in_group, c_out_group, groups
    bint dense  # C_out // groups splits into CO_BLOCK blocks: the dense kernel
    Py_ssize_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left
    int padding_mode
    # Work items: ``rows`` output rows (the last group may have fewer) x
    # tile_width output points, a multiple of the kernel's chunk of
    # ``quantum`` points.
    Py_ssize_t rows, row_groups, tile_width, n_tiles, quantum
    # Tile layout: each (channel, kernel row, output row of the item) holds
    # n_phases runs of phase_len values, run i being input phase phases[i]
    # (mod stride_w); row_len values in all.
    Py_ssize_t phase_len, n_phases, row_len, channel_len
    Py_ssize_t reach  # (KW-1) * dilation_w // stride_w
    const Py_ssize_t* phases


cdef inline Py_ssize_t source_index(Py_ssize_t p, Py_ssize_t size, int mode) noexcept nogil:
    """Index of the input sample that padded position p reads, -1 for a zero.

    Defined for every p, not only inside the padding, because a tile may
    reach past the last point it computes.
    """
    cdef Py_ssize_t period
    if 0 <= p < size:
        return p
    if mode == PAD_ZEROS:
        return -1
    if mode == PAD_REPLICATE:
        return 0 if p < 0 else size - 1
    if mode == PAD_REFLECT:
        if size == 1:
            return 0
        period = 2 * (size - 1)
        p %= period  # C's % keeps the sign of p
        if p < 0:
            p += period
        return period - p if p >= size else p
    p %= size  # circular
    return p + size if p < 0 else p


cdef void load_tile_row(floating* dst, const floating* src, const Geometry* g,
                        Py_ssize_t first, Py_ssize_t width) noexcept nogil:
    """Fill one (channel, kernel row) of the tile from an input row.

    Run i holds src[first + m*stride_w + phases[i]] for the m that the
    tile's ``width`` outputs read, and zeros after them up to where the
    kernel's whole chunks read (every value it reads must be set, and only
    those: an edge of a few points may sit in a long tile); ``src`` is NULL
    for a row that lies in zero padding.
    """
    cdef Py_ssize_t s = g.stride_w, size = g.w_in
    cdef Py_ssize_t used = min(width + g.reach, g.phase_len)
    cdef Py_ssize_t read = min((width + g.quantum - 1) // g.quantum * g.quantum + g.reach,
                               g.phase_len)
    cdef Py_ssize_t i, m, m_lo, m_hi, col, start
    cdef floating* out
    for i in range(g.n_phases):
        out = dst + i * g.phase_len
        start = first + g.phases[i]
        if src == NULL:
            for m in range(read):
                out[m] = 0
            continue
        # Columns [m_lo, m_hi) lie inside the row and are copied as they are.
        m_lo = 0 if start >= 0 else (-start + s - 1) // s
        m_hi = 0 if start >= size else (size - start + s - 1) // s
        m_lo, m_hi = min(m_lo, used), min(m_hi, used)
        if m_hi < m_lo:
            m_hi = m_lo
        for m in range(m_lo):
            col = source_index(start + m * s, size, g.padding_mode)
            out[m] = 0 if col < 0 else src[col]
        if s == 1:
            memcpy(out + m_lo, src + start + m_lo, (m_hi - m_lo) * sizeof(floating))
        elif s == 2:  # the common stride, spelled out so that it vectorises
            for m in range(m_lo, m_hi):
                out[m] = src[start + 2 * m]
        else:
            for m in range(m_lo, m_hi):
                out[m] = src[start + m * s]
        for m in range(m_hi, used):
            col = source_index(start + m * s, size, g.padding_mode)
            out[m] = 0 if col < 0 else src[col]
        for m in range(used, read):
            out[m] = 0


cdef inline void prefetch_span(const floating* src, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Ask for src[lo:hi] ahead of a copy."""
    cdef Py_ssize_t line = CACHE_LINE // sizeof(floating)
    while lo < hi:
        fd_prefetch(src + lo)
        lo += line


cdef void load_tile(floating* tile, const floating* x_image, const Geometry* g,
                    Py_ssize_t row0, Py_ssize_t n_rows, Py_ssize_t t0, Py_ssize_t width) noexcept nogil:
    """Copy what output rows [row0, row0 + n_rows), points [t0, t0 + width) read.

    Channel after channel, each (kernel row, output row) of it.  A channel's
    rows lie a plane away from the last one's, where the hardware does not
    look ahead: each copy first asks for the same row PREFETCH_ROWS rows'
    worth of channels ahead (the loop starts that many channels early).
    """
    cdef Py_ssize_t first = t0 * g.stride_w - g.pad_left
    cdef Py_ssize_t lo = max(first, 0)
    cdef Py_ssize_t hi = min(first + (width + g.reach) * g.stride_w, g.w_in)
    cdef Py_ssize_t plane = g.h_in * g.w_in
    cdef Py_ssize_t ahead = (PREFETCH_ROWS + g.kh * n_rows - 1) // (g.kh * n_rows)
    cdef Py_ssize_t c, kh, r, row
    for c in range(-ahead, g.c_in):
        for kh in range(g.kh):
            for r in range(n_rows):
                row = source_index((row0 + r) * g.stride_h + kh * g.dilation_h - g.pad_top,
                                   g.h_in, g.padding_mode)
                if row >= 0 and c + ahead < g.c_in:
                    prefetch_span(x_image + (c + ahead) * plane + row * g.w_in, lo, hi)
                if c >= 0:
                    load_tile_row(tile + c * g.channel_len + (kh * g.rows + r) * g.row_len,
                                  NULL if row < 0 else x_image + c * plane + row * g.w_in,
                                  g, first, width)


# Fused front ends of the register blocks in _simd.h: one for each
# operation, whatever the block's shape and element type.
ctypedef fused register_block:
    dense_block
    narrow_block
    thin_block

# The blocks of the dense kernel: many output channels at a time.
ctypedef fused channel_block:
    dense_block
    narrow_block


cdef inline void block_init(register_block* block, const floating* bias) noexcept nogil:
    if register_block is dense_block:
        fd_dense_init_f32(block, bias) if floating is float else fd_dense_init_f64(block, bias)
    elif register_block is narrow_block:
        fd_narrow_init_f32(block, bias) if floating is float else fd_narrow_init_f64(block, bias)
    else:
        fd_thin_init_f32(block, bias) if floating is float else fd_thin_init_f64(block, bias)


cdef inline void block_update(register_block* block, const floating* x, Py_ssize_t x_step,
                              const floating* w) noexcept nogil:
    if register_block is dense_block:
        fd_dense_update_f32(block, x, x_step, w) if floating is float else fd_dense_update_f64(block, x, x_step, w)
    elif register_block is narrow_block:
        fd_narrow_update_f32(block, x, x_step, w) if floating is float else fd_narrow_update_f64(block, x, x_step, w)
    else:
        fd_thin_update_f32(block, x, x_step, w) if floating is float else fd_thin_update_f64(block, x, x_step, w)


cdef inline void block_store(const register_block* block, floating* out, Py_ssize_t row_step,
                             Py_ssize_t vec_step) noexcept nogil:
    if register_block is dense_block:
        fd_dense_store_f32(block, out, row_step, vec_step) if floating is float else fd_dense_store_f64(block, out, row_step, vec_step)
    elif register_block is narrow_block:
        fd_narrow_store_f32(block, out, row_step, vec_step) if floating is float else fd_narrow_store_f64(block, out, row_step, vec_step)
    else:
        fd_thin_store_f32(block, out, row_step, vec_step) if floating is float else fd_thin_store_f64(block, out, row_step, vec_step)


cdef struct Chunk:
    # Where a dense or narrow block reads and writes, from the item's tile
    # and output: its vector j reads x + j * x_step (+ the tap's offset),
    # and its row r, vector j goes to out + r * out_plane + j * vec_step,
    # of which ``keep`` points are kept.
    Py_ssize_t x, out, x_step, vec_step, keep


cdef void dense_chunk(channel_block* block, const Chunk* chunk, const floating* x,
                      floating* out, Py_ssize_t out_plane,
                      Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                      const floating* w_packed, const floating* bias, const Geometry* g) noexcept nogil:
    """CO_BLOCK output rows x one chunk of ``block`` (a dense or a narrow
    one, whose contents do not matter on entry).

    ``w_packed`` holds this block's weights as [channel][tap][row].
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t n_vecs = sizeof(channel_block) // (CO_BLOCK * VECTOR_BYTES)
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t r, j, c, k
    cdef Py_ssize_t n_taps = g.kh * g.kw
    block_init(block, bias)
    for c in range(g.c_in_group):
        for k in range(n_taps):
            block_update(block, x + chunk.x + c * channel_step + tap_offsets[k], chunk.x_step,
                         w_packed + (c * n_taps + k) * CO_BLOCK)
    out += chunk.out
    if chunk.keep == lanes:
        block_store(block, out, out_plane, chunk.vec_step)
        return
    # The tile's last vectors: the tile holds whole ones, so the block
    # computed them whole; keep the first ``keep`` points of each.
    block_store(block, partial, n_vecs * lanes, lanes)
    for r in range(CO_BLOCK):
        for j in range(n_vecs):
            memcpy(out + r * out_plane + j * chunk.vec_step, partial + (r * n_vecs + j) * lanes,
                   chunk.keep * sizeof(floating))


cdef void thin_row(floating* out, Py_ssize_t width, const floating* x,
                   Py_ssize_t channel_step, const Py_ssize_t* tap_offsets, const floating* w,
                   const floating* bias, const Geometry* g) noexcept nogil:
    """One output row x ``width`` points; ``w`` is that row's [channel][tap].

    Chunk after chunk in one register block: with one channel and a few
    taps there is little work per chunk, so nothing else may sit in the loop.
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t n_taps = g.kh * g.kw
    cdef thin_block block
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t j, t, c, k
    for j in range((width + chunk - 1) // chunk):
        t = j * chunk
        block_init(&block, bias)
        for c in range(g.c_in_group):
            for k in range(n_taps):
                block_update(&block, x + c * channel_step + tap_offsets[k] + t, lanes,
                             w + c * n_taps + k)
        if t + chunk <= width:
            block_store(&block, out + t, 0, lanes)
        else:  # the tile holds whole chunks; keep the points asked for
            block_store(&block, partial, 0, lanes)
            memcpy(out + t, partial, (width - t) * sizeof(floating))


cdef inline Py_ssize_t row_runs(Py_ssize_t width, Py_ssize_t lanes) noexcept nogil:
    """Runs of DENSE_VECS whole vectors in a row of ``width`` points."""
    return width // lanes // DENSE_VECS


cdef Py_ssize_t count_pieces(Py_ssize_t n_rows, Py_ssize_t width, Py_ssize_t lanes) noexcept nogil:
    """Chunks that cover n_rows output rows of ``width`` points (see dense_piece)."""
    cdef Py_ssize_t vectors = (width + lanes - 1) // lanes
    if n_rows == DENSE_VECS:
        return vectors
    return n_rows * (vectors - row_runs(width, lanes) * (DENSE_VECS - 1))


cdef void dense_piece(Py_ssize_t piece, Py_ssize_t co, floating* out, Py_ssize_t out_plane,
                      Py_ssize_t n_rows, Py_ssize_t width, const floating* x,
                      Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                      const floating* w_packed, const floating* bias, const Geometry* g) noexcept nogil:
    """Output channels [co, co + CO_BLOCK) over chunk ``piece`` of an item.

    With DENSE_VECS rows, chunk j is vector column j of every row in one
    dense block.  Otherwise each row is cut into runs of DENSE_VECS vectors
    for the dense block and single vectors for the narrow one.
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t runs = row_runs(width, lanes)
    cdef Py_ssize_t per_row = count_pieces(1, width, lanes)
    cdef Py_ssize_t row, vector
    cdef Chunk chunk
    cdef dense_block wide
    cdef narrow_block narrow
    w_packed += co * g.c_in_group * g.kh * g.kw
    out += co * out_plane
    if n_rows == DENSE_VECS:
        row, vector = 0, piece
        chunk.x_step, chunk.vec_step = g.row_len, g.w_out
    else:
        row, vector = piece // per_row, piece % per_row
        vector = vector * DENSE_VECS if vector < runs else vector + runs * (DENSE_VECS - 1)
        chunk.x_step, chunk.vec_step = lanes, lanes
    chunk.x = row * g.row_len + vector * lanes
    chunk.out = row * g.w_out + vector * lanes
    chunk.keep = min(lanes, width - vector * lanes)
    if n_rows == DENSE_VECS or piece % per_row < runs:
        dense_chunk(&wide, &chunk, x, out, out_plane, channel_step, tap_offsets, w_packed,
                    bias + co, g)
    else:
        dense_chunk(&narrow, &chunk, x, out, out_plane, channel_step, tap_offsets, w_packed,
                    bias + co, g)


cdef void dense_group(floating* out, Py_ssize_t out_plane, Py_ssize_t n_rows, Py_ssize_t width,
                      const floating* x, Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                      const floating* w_packed, const floating* bias,
                      const Geometry* g) noexcept nogil:
    """Every output channel of one group over an item's rows and points.

    Channel block outermost: its weights stay in L1 while the tile's pieces
    stream past from L2.  (Measured here against the other orders: piece
    outermost was as fast on the 2-D cases, 10-20% slower on wavenet,
    strided and float64, 4% faster on tcn-dense only; splitting the input
    channels into L1-sized passes, as a GEMM would, was slower still.)
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t n_pieces = count_pieces(n_rows, width, lanes)
    cdef Py_ssize_t piece, block
    for block in range(g.c_out_group // CO_BLOCK):
        for piece in range(n_pieces):
            dense_piece(piece, block * CO_BLOCK, out, out_plane, n_rows, width, x, channel_step,
                        tap_offsets, w_packed, bias, g)


cdef struct Taps:
    # Where the kernels read a work item's input: channel c's tap k is at
    # start + c * channel_step + offsets[k], in the tile or, where the thin
    # kernel reads an unpadded stride-1 stretch, in the input itself.
    const Py_ssize_t* tile_offsets
    const Py_ssize_t* input_offsets


cdef Py_ssize_t in_place_points(const Geometry* g, Py_ssize_t row, Py_ssize_t t,
                                Py_ssize_t width) noexcept nogil:
    """How many of the outputs [t, t + width) of ``row`` the thin kernel may
    compute reading the input in place, 0 for none: stride 1 along the row,
    and every value its whole chunks read inside the input."""
    cdef Py_ssize_t top = row * g.stride_h - g.pad_top
    cdef Py_ssize_t first = t - g.pad_left
    cdef Py_ssize_t room = g.w_in - first - g.reach  # outputs whose taps all fit
    if (g.stride_w != 1 or first < 0 or room < g.quantum
            or top < 0 or top + (g.kh - 1) * g.dilation_h >= g.h_in):
        return 0
    if (width + g.quantum - 1) // g.quantum * g.quantum <= room:
        return width
    return room // g.quantum * g.quantum


cdef Py_ssize_t tiled_points(const Geometry* g, Py_ssize_t t, Py_ssize_t width) noexcept nogil:
    """How many of the outputs [t, t + width) to compute through the tile,
    where in_place_points found none: up to the left padding's end (in place
    may follow), else all of them."""
    if g.stride_w == 1 and t < g.pad_left:
        return min(width, g.pad_left - t)
    return width


cdef void thin_span(floating* out, Py_ssize_t width, const floating* start,
                    Py_ssize_t channel_step, const Py_ssize_t* offsets,
                    const floating* weights, const floating* bias, const Geometry* g) noexcept nogil:
    """Every output channel over ``width`` points of one row, from ``out``
    (in channel 0), reading channel c's tap k at start + c * channel_step +
    offsets[k]."""
    cdef Py_ssize_t out_plane = g.h_out * g.w_out
    cdef Py_ssize_t n_taps = g.kh * g.kw
    cdef Py_ssize_t grp, co
    for grp in range(g.groups):
        for co in range(grp * g.c_out_group, (grp + 1) * g.c_out_group):
            thin_row(out + co * out_plane, width,
                     start + grp * g.c_in_group * channel_step, channel_step, offsets,
                     weights + co * g.c_in_group * n_taps, bias + co, g)


cdef void thin_item(floating* tile, const Taps* taps, const floating* image,
                    const floating* weights, const floating* bias, floating* out_row,
                    const Geometry* g, Py_ssize_t row, Py_ssize_t t0, Py_ssize_t width) noexcept nogil:
    """Outputs [t0, t0 + width) of ``row`` (``out_row`` is its start in
    channel 0).  Where the taps lie inside the input they are read in place,
    so that this memory-bound work streams through the data once; the
    padded edges go through the tile.  (The dense kernel always copies: its
    tile rows sit close together, where the input's channel planes would
    alias in cache.)"""
    cdef Py_ssize_t plane = g.h_in * g.w_in
    cdef Py_ssize_t t = t0, end = t0 + width, n
    while t < end:
        n = in_place_points(g, row, t, end - t)
        if n > 0:
            thin_span(out_row + t, n,
                      image + (row * g.stride_h - g.pad_top) * g.w_in + t - g.pad_left, plane,
                      taps.input_offsets, weights, bias, g)
        else:
            n = tiled_points(g, t, end - t)
            load_tile(tile, image, g, row, 1, t, n)
            thin_span(out_row + t, n, tile, g.channel_len, taps.tile_offsets, weights, bias, g)
        t += n


cdef void conv_work_item(Py_ssize_t item, floating* tile, const Taps* taps,
                         const floating* x, const floating* weights, const floating* bias,
                         floating* out, const Geometry* g) noexcept nogil:
    """Output rows and time tile ``item`` of one batch entry, every channel.

    ``weights`` are packed for the dense kernel when the channels per group
    split into whole blocks (``dense``), else in PyTorch's layout.
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
    cdef Py_ssize_t grp
    if not g.dense:  # one row per item
        thin_item(tile, taps, image, weights, bias, out_row, g, row0, t0, width)
        return
    load_tile(tile, image, g, row0, n_rows, t0, width)
    for grp in range(g.groups):
        dense_group(out_row + t0 + grp * g.c_out_group * out_plane, out_plane, n_rows, width,
                    tile + grp * g.c_in_group * g.channel_len, g.channel_len, taps.tile_offsets,
                    weights + grp * g.c_out_group * g.c_in_group * n_taps,
                    bias + grp * g.c_out_group, g)


cdef Py_ssize_t phase_slot(Py_ssize_t* phases, Py_ssize_t* n_phases, Py_ssize_t phase) noexcept nogil:
    """Index of ``phase`` among the first n_phases, appending it if new."""
    cdef Py_ssize_t i
    for i in range(n_phases[0]):
        if phases[i] == phase:
            return i
    phases[n_phases[0]] = phase
    n_phases[0] += 1
    return n_phases[0] - 1


cdef void lay_out_tile(Geometry* g, Py_ssize_t line_points, Py_ssize_t* phases,
                       Py_ssize_t* tap_offsets, Py_ssize_t* input_offsets) noexcept nogil:
    """Which input phases a tile keeps, and where in it each tap reads; a
    run is padded to whole cache lines of ``line_points`` values.

    Tap kw of output point t reads input phase (kw*d) % s at t + (kw*d) // s,
    so a tile keeps only the phases some tap reads: at most KW of them,
    however large the stride.
    """
    cdef Py_ssize_t kh, kw, slot
    g.reach = ((g.kw - 1) * g.dilation_w) // g.stride_w
    g.phase_len = (g.tile_width + g.reach + line_points - 1) // line_points * line_points
    g.n_phases = 0
    for kw in range(g.kw):
        slot = phase_slot(phases, &g.n_phases, (kw * g.dilation_w) % g.stride_w)
        tap_offsets[kw] = slot * g.phase_len + (kw * g.dilation_w) // g.stride_w
    g.phases = phases
    g.row_len = g.n_phases * g.phase_len
    g.channel_len = g.kh * g.rows * g.row_len
    for kh in range(1, g.kh):
        for kw in range(g.kw):
            tap_offsets[kh * g.kw + kw] = kh * g.rows * g.row_len + tap_offsets[kw]
    for kh in range(g.kh):
        for kw in range(g.kw):
            input_offsets[kh * g.kw + kw] = kh * g.dilation_h * g.w_in + kw * g.dilation_w


cdef void run_convolution(const floating* x, const floating* weights, const floating* bias,
                          floating* out, Geometry* g, Py_ssize_t batch, int num_threads) except *:
    """Lay out the tiles and run every work item, on a team of threads or not."""
    g.quantum = (VECTOR_BYTES if g.dense else THIN_CHUNK_BYTES) // sizeof(floating)
    # Whole chunks per tile, so that a chunk never reads past the tile.
    g.tile_width = (g.tile_width + g.quantum - 1) // g.quantum * g.quantum
    g.n_tiles = (g.w_out + g.tile_width - 1) // g.tile_width

    g.row_groups = (g.h_out + g.rows - 1) // g.rows
    cdef Py_ssize_t n_items = batch * g.row_groups * g.n_tiles
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
        tile_len = g.c_in * g.channel_len  # whole cache lines, as every row is
        tiles = <floating*> malloc(team * tile_len * sizeof(floating) + CACHE_LINE)
        first_tile = <floating*> ((<uintptr_t> tiles + CACHE_LINE - 1) // CACHE_LINE * CACHE_LINE)
    if tiles == NULL:
        free(offsets)
        raise MemoryError("fastdilate: no memory for the per-thread input tiles")

    if use_threads:
        with nogil, parallel(num_threads=team):
            for item in prange(n_items, schedule="static"):
                conv_work_item(item, first_tile + threadid() * tile_len, &taps,
                               x, weights, bias, out, g)
    else:  # no thread team at all: small problems, and forked children
        with nogil:
            for item in range(n_items):
                conv_work_item(item, first_tile, &taps, x, weights, bias, out, g)
    free(offsets)
    free(tiles)


cdef check_operands(cnp.ndarray x, cnp.ndarray weights, cnp.ndarray bias, cnp.ndarray out,
                    Py_ssize_t kernel_h, Py_ssize_t kernel_w, Py_ssize_t groups):
    """The last line of defence before raw pointers: _api has checked all of
    this, so failing here is a bug in fastdilate, never in the caller."""
    cdef int dtype = cnp.PyArray_TYPE(out)
    cdef cnp.ndarray array
    for array in (x, weights, bias, out):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_IS_C_CONTIGUOUS(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be C-contiguous float32 or float64")
    if (x.ndim != 4 or out.ndim != 4 or x.shape[0] != out.shape[0] or groups < 1
            or kernel_h < 1 or kernel_w < 1 or x.shape[1] % groups or out.shape[1] % groups
            or weights.size != out.shape[1] * (x.shape[1] // groups) * kernel_h * kernel_w
            or bias.size != out.shape[1]):
        raise ValueError("fastdilate core: operand shapes do not agree")


def conv2d_forward(cnp.ndarray x,        # IN  (N, C_in, H, W), unpadded
                   cnp.ndarray weights,  # IN  see below
                   cnp.ndarray bias,     # IN  (C_out,)
                   cnp.ndarray out,      # OUT (N, C_out, H_out, W_out)
                   Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                   Py_ssize_t stride_h, Py_ssize_t stride_w,
                   Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                   Py_ssize_t pad_top, Py_ssize_t pad_left, int padding_mode,
                   Py_ssize_t groups, Py_ssize_t tile_width, int num_threads):
    """Direct 2-D cross-correlation (conv1d is H = 1).

    All four arrays are C-contiguous and of one dtype, float32 or float64.
    ``weights`` (see ``_layout.packed_weight``) hold C_out x C_in // groups x
    KH x KW values: packed as [C_out / CO_BLOCK][C_in // groups][KH*KW][CO_BLOCK]
    when C_out // groups is a multiple of CO_BLOCK, else in PyTorch's order.
    Padding before the input is ``pad_top``/``pad_left``; after it, what the
    output size implies.  1 thread runs without starting a team.  The arrays
    are taken as NumPy arrays rather than typed memoryviews because setting
    up four memoryviews costs more than a small convolution.
    """
    check_operands(x, weights, bias, out, kernel_h, kernel_w, groups)
    cdef Geometry g
    g.c_in, g.h_in, g.w_in = x.shape[1], x.shape[2], x.shape[3]
    g.c_out, g.h_out, g.w_out = out.shape[1], out.shape[2], out.shape[3]
    g.kh, g.kw, g.c_in_group = kernel_h, kernel_w, g.c_in // groups
    g.groups, g.c_out_group = groups, g.c_out // groups
    g.dense = g.c_out_group % CO_BLOCK == 0
    # The dense kernel takes DENSE_VECS rows at a time where there are that many.
    g.rows = DENSE_VECS if g.dense and g.h_out >= DENSE_VECS else 1
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
include "_core_wavelets.pxi"
