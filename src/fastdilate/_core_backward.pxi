# The weight gradient's reduction (included by _core.pyx).
from libc.string cimport memset

#
#   grad_w[g, kh, kw, o, c] = sum over (n, th, tw) of
#       g_t[n, th, tw, g, o] * x_t[n, th*sh + kh*dh, tw*sw + kw*dw, g, c]
#
# on copies that fastdilate._backward makes with channels cut into blocks:
# x_t[n, y, g, c // lanes, x, c % lanes], padded (the padding mode applied)
# and cut to what the taps read, and g_t[n, y, g, o // CO_BLOCK, x,
# o % CO_BLOCK], channels padded with zeros to whole blocks.  Each term is
# one outer product of CO_BLOCK grad_output values (broadcast) and a run of
# input-channel vectors: the forward's register blocks, with channels where
# the forward has time, every vector of a run streaming along x.  The long
# (n, th, tw) sum is cut into pieces (rows_per_piece whole rows, or piece_len points of one row), sized
# by the shapes alone, whose partial sums are stored apart; the caller adds
# the pieces in their order, so the result does not depend on the thread
# count.

cdef struct GradWeight:
    Py_ssize_t h_in, w_in, h_out, w_out, groups, o_pad, c_pad
    Py_ssize_t kh, kw, stride_h, stride_w, dilation_h, dilation_w
    Py_ssize_t piece_len, pieces_per_row, rows_per_piece, n_rows, n_runs, dense_runs, n_blocks


cdef inline void grad_weight_block(channel_block* block, const floating* x, const floating* g,
                                   floating* out, Py_ssize_t row0, Py_ssize_t tw0,
                                   const GradWeight* p) noexcept nogil:
    """Sum the outer products of one piece (rows from row0, points from tw0)
    into one block; x and g point at the block's channels in row 0 for its
    tap; store the sums at out."""
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t x_row = p.groups * p.c_pad * p.w_in, g_row = p.groups * p.o_pad * p.w_out
    cdef Py_ssize_t x_step = p.stride_w * lanes
    cdef Py_ssize_t n_points = min(p.piece_len, p.w_out - tw0)
    cdef Py_ssize_t row_end = min(row0 + p.rows_per_piece, p.n_rows)
    cdef floating zeros[CO_BLOCK]
    cdef Py_ssize_t t, row
    cdef const floating* xs
    cdef const floating* gs
    for t in range(CO_BLOCK):
        zeros[t] = 0
    block_init(block, zeros)
    for row in range(row0, row_end):
        # row = n * h_out + th reads input row n * h_in + th * stride_h (+ the tap's)
        xs = x + (row // p.h_out * p.h_in + row % p.h_out * p.stride_h) * x_row + tw0 * x_step
        gs = g + row * g_row + tw0 * CO_BLOCK
        for t in range(n_points):
            block_update(block, xs + t * x_step, p.w_in * lanes, gs + t * CO_BLOCK)
    block_store(block, out, p.c_pad, lanes)


cdef void grad_weight_item(Py_ssize_t item, const floating* x, const floating* g,
                           floating* partial, const GradWeight* p) noexcept nogil:
    """Block item % n_blocks, (group, output-channel block, channel run, kh,
    kw), over piece item // n_blocks of the (n, th, tw) sum."""
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t piece = item // p.n_blocks
    cdef Py_ssize_t rest = item % p.n_blocks
    cdef Py_ssize_t kw = rest % p.kw
    rest = rest // p.kw
    cdef Py_ssize_t kh = rest % p.kh
    rest = rest // p.kh
    cdef Py_ssize_t run = rest % p.n_runs
    rest = rest // p.n_runs
    cdef Py_ssize_t o_block = rest % (p.o_pad // CO_BLOCK)
    cdef Py_ssize_t grp = rest // (p.o_pad // CO_BLOCK)
    cdef Py_ssize_t vector = (run * DENSE_VECS if run < p.dense_runs
                              else p.dense_runs * DENSE_VECS + run - p.dense_runs)
    cdef Py_ssize_t row0 = piece // p.pieces_per_row * p.rows_per_piece
    cdef Py_ssize_t tw0 = piece % p.pieces_per_row * p.piece_len
    cdef const floating* xs = x + (
        ((kh * p.dilation_h * p.groups + grp) * (p.c_pad // lanes) + vector) * p.w_in
        + kw * p.dilation_w) * lanes
    cdef const floating* gs = g + ((grp * (p.o_pad // CO_BLOCK) + o_block) * p.w_out) * CO_BLOCK
    cdef floating* out = (partial + (piece * p.groups * p.kh * p.kw
                                     + (grp * p.kh + kh) * p.kw + kw) * p.o_pad * p.c_pad
                          + o_block * CO_BLOCK * p.c_pad + vector * lanes)
    cdef dense_block wide
    cdef narrow_block narrow
    if run < p.dense_runs:
        grad_weight_block(&wide, xs, gs, out, row0, tw0, p)
    else:
        grad_weight_block(&narrow, xs, gs, out, row0, tw0, p)


cdef void run_grad_weight(const floating* x, const floating* g, floating* partial,
                          const GradWeight* p, Py_ssize_t n_items, int num_threads) noexcept:
    cdef Py_ssize_t item
    cdef bint use_threads = num_threads > 1 and n_items > 1 and not fd_in_forked_child()
    if use_threads:
        with nogil, parallel(num_threads=num_threads):
            # (dynamic, as the forward's items: each piece sums into its own
            # partial, so which thread runs it changes no bit)
            for item in prange(n_items, schedule="dynamic"):
                grad_weight_item(item, x, g, partial, p)
    else:
        with nogil:
            for item in range(n_items):
                grad_weight_item(item, x, g, partial, p)


GRAD_WEIGHT_CO_BLOCK = CO_BLOCK
GRAD_WEIGHT_VECTOR_BYTES = VECTOR_BYTES


def conv_grad_weight(cnp.ndarray x,        # IN  (N, H_in, G, C_pad / lanes, W_in, lanes), padded
                     cnp.ndarray g,        # IN  (N, H_out, G, O_pad / CO_BLOCK, W_out, CO_BLOCK)
                     cnp.ndarray partial,  # OUT (pieces, G, KH, KW, O_pad, C_pad)
                     Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                     Py_ssize_t stride_h, Py_ssize_t stride_w,
                     Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                     Py_ssize_t rows_per_piece, Py_ssize_t piece_len, int num_threads):
    """Partial sums of the weight gradient, one per piece: rows_per_piece
    (n, th) rows of piece_len output points, or piece_len points of one
    row; see the comment at the top of _core_backward.pxi.  C_pad is a
    whole number of vectors, O_pad of GRAD_WEIGHT_CO_BLOCK; x holds every
    point the taps read."""
    cdef int dtype = cnp.PyArray_TYPE(partial)
    cdef cnp.ndarray array
    for array in (x, g, partial):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    cdef Py_ssize_t itemsize = 4 if dtype == cnp.NPY_FLOAT32 else 8
    cdef GradWeight p
    cdef Py_ssize_t lanes = VECTOR_BYTES // itemsize
    if (x.ndim != 6 or g.ndim != 6 or partial.ndim != 6 or piece_len < 1 or rows_per_piece < 1
            or (rows_per_piece > 1 and piece_len != g.shape[4])
            or x.shape[5] != lanes or g.shape[5] != CO_BLOCK):
        raise ValueError("fastdilate core: operand shapes do not agree")
    p.h_in, p.groups, p.c_pad, p.w_in = x.shape[1], x.shape[2], x.shape[3] * lanes, x.shape[4]
    p.h_out, p.o_pad, p.w_out = g.shape[1], g.shape[3] * CO_BLOCK, g.shape[4]
    p.kh, p.kw, p.stride_h, p.stride_w = kernel_h, kernel_w, stride_h, stride_w
    p.dilation_h, p.dilation_w, p.piece_len = dilation_h, dilation_w, piece_len
    p.pieces_per_row = (p.w_out + piece_len - 1) // piece_len
    p.rows_per_piece, p.n_rows = rows_per_piece, g.shape[0] * p.h_out
    cdef Py_ssize_t pieces = (p.n_rows + rows_per_piece - 1) // rows_per_piece * p.pieces_per_row
    cdef Py_ssize_t n_vectors = p.c_pad // lanes
    p.dense_runs = n_vectors // DENSE_VECS
    p.n_runs = p.dense_runs + n_vectors % DENSE_VECS
    p.n_blocks = p.groups * (p.o_pad // CO_BLOCK) * p.n_runs * p.kh * p.kw
    if (g.shape[0] != x.shape[0] or g.shape[2] != p.groups or kernel_h < 1 or kernel_w < 1
            or min(stride_h, stride_w, dilation_h, dilation_w) < 1 or p.c_pad < 1 or p.o_pad < 1
            or p.h_out < 1 or p.w_out < 1
            or (p.h_out - 1) * stride_h + (kernel_h - 1) * dilation_h >= p.h_in
            or (p.w_out - 1) * stride_w + (kernel_w - 1) * dilation_w >= p.w_in
            or (<object> partial).shape != (pieces, p.groups, kernel_h, kernel_w, p.o_pad, p.c_pad)):
        raise ValueError("fastdilate core: operand shapes do not agree")
    if dtype == cnp.NPY_FLOAT32:
        run_grad_weight(<const float*> cnp.PyArray_DATA(x), <const float*> cnp.PyArray_DATA(g),
                        <float*> cnp.PyArray_DATA(partial), &p, pieces * p.n_blocks, num_threads)
    else:
        run_grad_weight(<const double*> cnp.PyArray_DATA(x), <const double*> cnp.PyArray_DATA(g),
                        <double*> cnp.PyArray_DATA(partial), &p, pieces * p.n_blocks, num_threads)


# The weight gradient where a group has few channels (depthwise, a few
# input or output channels): one dot product per (output channel, input
# channel, tap), over the rows (n, th) of one piece of the batch:
#
#   partial[piece, o, c, kh, kw] = sum over the piece's rows (n, th) and tw of
#       g[n, o, th, tw] * x[n, group(o) * c_group + c, th*sh + kh*dh - pt, tw*sw + kw*dw - pl]
#
# on the input itself (zero padding: each tap's rows and points clipped to
# those that read the input).  A tap's sum runs in DOT_LANES accumulators
# (whole vectors, so the compiler keeps them in registers) plus one for
# each row's remainder, added in a fixed order at the end: the pieces
# depend on the shapes alone, so the bits do not depend on the thread count.

cdef enum:
    DOT_LANES = 32
    # Taps summed at a time over one row, their accumulators in memory (L1).
    DOT_TAPS = 16

cdef struct ThinGradWeight:
    Py_ssize_t h_in, w_in, h_out, w_out, c_in, c_out, c_group, o_group
    Py_ssize_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left
    Py_ssize_t rows_per_piece, n_rows


cdef inline void dot_accumulate(floating* acc, floating* tail, const floating* g,
                                const floating* x, Py_ssize_t n,
                                Py_ssize_t x_step) noexcept nogil:
    """acc[j] += g[i] * x[i * x_step] for i = j mod DOT_LANES over whole
    chunks; the rest into tail, in order."""
    cdef floating a[DOT_LANES]
    cdef Py_ssize_t i = 0, j, chunks = n // DOT_LANES * DOT_LANES
    for j in range(DOT_LANES):
        a[j] = acc[j]
    if x_step == 1:
        while i < chunks:
            for j in range(DOT_LANES):
                a[j] += g[i + j] * x[i + j]
            i += DOT_LANES
    else:
        while i < chunks:
            for j in range(DOT_LANES):
                a[j] += g[i + j] * x[(i + j) * x_step]
            i += DOT_LANES
    for j in range(DOT_LANES):
        acc[j] = a[j]
    for i in range(chunks, n):
        tail[0] += g[i] * x[i * x_step]


cdef inline Py_ssize_t first_reading(Py_ssize_t offset, Py_ssize_t stride) noexcept nogil:
    """The first output index t >= 0 with t * stride + offset >= 0."""
    return 0 if offset >= 0 else (-offset + stride - 1) // stride


cdef void thin_grad_weight_item(Py_ssize_t item, const floating* x, const floating* g,
                                floating* partial, const ThinGradWeight* p) noexcept nogil:
    """Item (piece, o, c): its taps, DOT_TAPS at a time."""
    cdef Py_ssize_t n_taps = p.kh * p.kw
    cdef Py_ssize_t c = item % p.c_group
    cdef Py_ssize_t o = item // p.c_group % p.c_out
    cdef Py_ssize_t piece = item // (p.c_group * p.c_out)
    cdef Py_ssize_t channel = o // p.o_group * p.c_group + c
    cdef Py_ssize_t row_end = min((piece + 1) * p.rows_per_piece, p.n_rows)
    cdef floating acc[DOT_TAPS * DOT_LANES]
    cdef floating tail[DOT_TAPS]
    cdef Py_ssize_t tap0, tap, taps, row, n, th, y, tw_lo, tw_hi, col, j
    cdef floating total
    cdef floating* out = partial + item * n_taps
    cdef Py_ssize_t chunk
    for chunk in range((n_taps + DOT_TAPS - 1) // DOT_TAPS):
        tap0 = chunk * DOT_TAPS
        taps = min(<Py_ssize_t> DOT_TAPS, n_taps - tap0)
        for j in range(taps * DOT_LANES):
            acc[j] = 0
        for j in range(taps):
            tail[j] = 0
        for row in range(piece * p.rows_per_piece, row_end):
            n, th = row // p.h_out, row % p.h_out
            for tap in range(taps):
                y = th * p.stride_h + (tap0 + tap) // p.kw * p.dilation_h - p.pad_top
                if y < 0 or y >= p.h_in:
                    continue
                col = (tap0 + tap) % p.kw * p.dilation_w - p.pad_left
                tw_lo = first_reading(col, p.stride_w)
                tw_hi = min(p.w_out, first_reading(col - p.w_in, p.stride_w))
                if tw_hi > tw_lo:
                    dot_accumulate(acc + tap * DOT_LANES, tail + tap,
                                   g + ((n * p.c_out + o) * p.h_out + th) * p.w_out + tw_lo,
                                   x + ((n * p.c_in + channel) * p.h_in + y) * p.w_in
                                   + tw_lo * p.stride_w + col,
                                   tw_hi - tw_lo, p.stride_w)
        for tap in range(taps):
            total = 0
            for j in range(DOT_LANES):
                total += acc[tap * DOT_LANES + j]
            out[tap0 + tap] = total + tail[tap]


cdef void run_thin_grad_weight(const floating* x, const floating* g, floating* partial,
                               const ThinGradWeight* p, Py_ssize_t n_items,
                               int num_threads) noexcept:
    cdef Py_ssize_t item
    cdef bint use_threads = num_threads > 1 and n_items > 1 and not fd_in_forked_child()
    if use_threads:
        with nogil, parallel(num_threads=num_threads):
            # (dynamic, as the forward's items: each piece sums into its own
            # partial, so which thread runs it changes no bit)
            for item in prange(n_items, schedule="dynamic"):
                thin_grad_weight_item(item, x, g, partial, p)
    else:
        with nogil:
            for item in range(n_items):
                thin_grad_weight_item(item, x, g, partial, p)


def conv_grad_weight_thin(cnp.ndarray x,        # IN  (N, C_in, H_in, W_in)
                          cnp.ndarray g,        # IN  (N, C_out, H_out, W_out)
                          cnp.ndarray partial,  # OUT (pieces, C_out, C_in // groups, KH, KW)
                          Py_ssize_t stride_h, Py_ssize_t stride_w,
                          Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                          Py_ssize_t pad_top, Py_ssize_t pad_left,
                          Py_ssize_t rows_per_piece, int num_threads):
    """Partial sums of the weight gradient, one per piece of rows_per_piece
    (n, th) rows, on the input with zero padding (pad_top, pad_left)
    before it; see the comment above thin_grad_weight_item."""
    cdef int dtype = cnp.PyArray_TYPE(partial)
    cdef cnp.ndarray array
    for array in (x, g, partial):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    if x.ndim != 4 or g.ndim != 4 or partial.ndim != 5:
        raise ValueError("fastdilate core: operand shapes do not agree")
    cdef ThinGradWeight p
    p.c_in, p.h_in, p.w_in = x.shape[1], x.shape[2], x.shape[3]
    p.c_out, p.h_out, p.w_out = g.shape[1], g.shape[2], g.shape[3]
    p.c_group, p.kh, p.kw = partial.shape[2], partial.shape[3], partial.shape[4]
    p.stride_h, p.stride_w, p.dilation_h, p.dilation_w = stride_h, stride_w, dilation_h, dilation_w
    p.pad_top, p.pad_left, p.rows_per_piece = pad_top, pad_left, rows_per_piece
    p.n_rows = g.shape[0] * p.h_out
    if (g.shape[0] != x.shape[0] or p.c_group < 1 or p.c_in % p.c_group
            or p.c_out % (p.c_in // p.c_group) or rows_per_piece < 1 or p.kh < 1 or p.kw < 1
            or min(stride_h, stride_w, dilation_h, dilation_w) < 1 or pad_top < 0 or pad_left < 0
            or partial.shape[0] != max((p.n_rows + rows_per_piece - 1) // rows_per_piece, 1)
            or partial.shape[1] != p.c_out):
        raise ValueError("fastdilate core: operand shapes do not agree")
    p.o_group = p.c_out // (p.c_in // p.c_group)
    cdef Py_ssize_t n_items = partial.shape[0] * p.c_out * p.c_group if p.n_rows else 0
    if dtype == cnp.NPY_FLOAT32:
        run_thin_grad_weight(<const float*> cnp.PyArray_DATA(x),
                             <const float*> cnp.PyArray_DATA(g),
                             <float*> cnp.PyArray_DATA(partial), &p, n_items, num_threads)
    else:
        run_thin_grad_weight(<const double*> cnp.PyArray_DATA(x),
                             <const double*> cnp.PyArray_DATA(g),
                             <double*> cnp.PyArray_DATA(partial), &p, n_items, num_threads)


cdef struct BlockCopy:
    Py_ssize_t c_in, h_in, w_in, groups, blocks, h_out, w_out, block, top, left


cdef void pack_row(const floating* src, floating* out, Py_ssize_t n, Py_ssize_t y,
                   const BlockCopy* p) noexcept nogil:
    """Row (n, y) of the blocked copy: every group's channel blocks, the
    input's points placed at left, zeros elsewhere (see pack_channel_blocks)."""
    cdef Py_ssize_t c_group = p.c_in // p.groups, block = p.block
    cdef Py_ssize_t src_y = y - p.top
    cdef Py_ssize_t first = min(p.left, p.w_out), last = min(p.left + p.w_in, p.w_out)
    cdef Py_ssize_t panel = p.w_out * block
    cdef floating* row = out + (n * p.h_out + y) * p.groups * p.blocks * panel
    cdef const floating* line
    cdef floating* dest
    cdef Py_ssize_t grp, b, lane, c, t
    if src_y < 0 or src_y >= p.h_in or last <= first:
        memset(row, 0, p.groups * p.blocks * panel * sizeof(floating))
        return
    for grp in range(p.groups):
        for b in range(p.blocks):
            dest = row + (grp * p.blocks + b) * panel
            memset(dest, 0, first * block * sizeof(floating))
            memset(dest + last * block, 0, (p.w_out - last) * block * sizeof(floating))
            for lane in range(block):
                c = b * block + lane
                if c >= c_group:
                    for t in range(first, last):
                        dest[t * block + lane] = 0
                    continue
                line = src + ((n * p.c_in + grp * c_group + c) * p.h_in + src_y) * p.w_in - p.left
                for t in range(first, last):
                    dest[t * block + lane] = line[t]


cdef inline void pack_any_row(const void* src, void* out, bint single, Py_ssize_t row,
                              const BlockCopy* p) noexcept nogil:
    if single:
        pack_row(<const float*> src, <float*> out, row // p.h_out, row % p.h_out, p)
    else:
        pack_row(<const double*> src, <double*> out, row // p.h_out, row % p.h_out, p)


def pack_channel_blocks(cnp.ndarray src,  # IN  (N, C, H, W)
                        cnp.ndarray out,  # OUT (N, H', G, blocks, W', block)
                        Py_ssize_t top, Py_ssize_t left, int num_threads):
    """out[n, y, g, b, x, l] = src[n, g * C // G + b * block + l, y - top, x - left]
    where that channel is in the group and that point in src, else 0: the
    blocked copies of the weight gradient, in one pass."""
    cdef int dtype = cnp.PyArray_TYPE(src)
    cdef cnp.ndarray array
    for array in (src, out):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    if (src.ndim != 4 or out.ndim != 6 or out.shape[0] != src.shape[0] or out.shape[2] < 1
            or src.shape[1] % out.shape[2]
            or out.shape[3] * out.shape[5] < src.shape[1] // out.shape[2] or top < 0 or left < 0):
        raise ValueError("fastdilate core: operand shapes do not agree")
    cdef BlockCopy p
    p.c_in, p.h_in, p.w_in = src.shape[1], src.shape[2], src.shape[3]
    p.h_out, p.groups, p.blocks = out.shape[1], out.shape[2], out.shape[3]
    p.w_out, p.block, p.top, p.left = out.shape[4], out.shape[5], top, left
    cdef Py_ssize_t rows = out.shape[0] * p.h_out, row
    cdef bint use_threads = num_threads > 1 and rows > 1 and not fd_in_forked_child()
    cdef const void* source = cnp.PyArray_DATA(src)
    cdef void* dest = cnp.PyArray_DATA(out)
    if use_threads:
        with nogil, parallel(num_threads=num_threads):
            for row in prange(rows, schedule="static"):
                pack_any_row(source, dest, dtype == cnp.NPY_FLOAT32, row, &p)
    else:
        with nogil:
            for row in range(rows):
                pack_any_row(source, dest, dtype == cnp.NPY_FLOAT32, row, &p)
