# The dense kernel: CO_BLOCK output channels x DENSE_VECS vectors of output
# points in registers, over every (input channel, tap) of a group, read from
# the tile.  For C_out // groups a multiple of CO_BLOCK.  Included by _core.pyx.

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
