# The weight gradient's reduction (included by _core.pyx).
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
# the forward has time, every vector of a run streaming along x.  The long (n, th, tw) sum is cut into
# pieces (rows_per_piece whole rows, or piece_len points of one row), sized
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
            for item in prange(n_items, schedule="static"):
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
    row; see the comment at the top of _core_backward.pxi.  C_pad is a whole number of vectors, O_pad of
    GRAD_WEIGHT_CO_BLOCK; x holds every point the taps read."""
    cdef int dtype = cnp.PyArray_TYPE(partial)
    cdef cnp.ndarray array
    for array in (x, g, partial):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_IS_C_CONTIGUOUS(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be C-contiguous float32 or float64")
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
