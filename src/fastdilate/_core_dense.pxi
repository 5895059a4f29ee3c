# The dense kernel: CO_BLOCK output channels x DENSE_VECS vectors of output
# points in registers, over every (input channel, tap) of a group, read from
# the tile.  Any C_out // groups: the packed weights carry zero channels up to
# a whole block; a group's last, part-filled block runs its dense runs in
# blocks of 1-4 rows that hold only real channels (its single vectors in the
# narrow block, which stores only its real rows).  Where the
# planner allows (zero padding, finite weights), a chunk runs only the taps
# through which some of its outputs read the input: the others would add
# exact zeros.  Included by _core.pyx.

cdef struct Chunk:
    # Where a dense or narrow block reads and writes, from the item's tile
    # and output: its vector j reads x + j * x_step (+ the tap's offset),
    # and its row r, vector j goes to out + r * out_plane + j * vec_step,
    # of which ``keep`` points of the first ``rows`` rows are kept.  It runs
    # the taps (kh, kw) in [kh_lo, kh_hi) x [kw_lo, kw_hi).
    Py_ssize_t x, out, x_step, vec_step, keep, rows
    Py_ssize_t kh_lo, kh_hi, kw_lo, kw_hi


cdef void reading_taps(Py_ssize_t first, Py_ssize_t last, Py_ssize_t stride,
                       Py_ssize_t dilation, Py_ssize_t pad, Py_ssize_t size, Py_ssize_t taps,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the taps k along one axis through which some output in
    [first, last] reads inside the input, which output t's tap k does at
    t * stride + k * dilation - pad in [0, size)."""
    cdef Py_ssize_t below = pad - last * stride  # k * dilation must reach this
    cdef Py_ssize_t room = size - 1 + pad - first * stride  # and stay within this
    lo[0] = 0 if below <= 0 else min((below + dilation - 1) // dilation, taps)
    hi[0] = 0 if room < 0 else min(room // dilation + 1, taps)
    hi[0] = max(hi[0], lo[0])


cdef void dense_chunk(channel_block* block, const Chunk* chunk, const floating* x,
                      floating* out, Py_ssize_t out_plane,
                      Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                      const floating* w_packed, const floating* bias, const Geometry* g) noexcept nogil:
    """The output rows of ``block`` (a dense, narrow or rowsR one, whose
    contents do not matter on entry) x one chunk.

    ``w_packed`` holds this block's weights as [channel][tap][row], rows
    CO_BLOCK apart, of which the block reads its first ones.
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t n_rows = block_rows(block)
    cdef Py_ssize_t n_vecs = sizeof(channel_block) // (n_rows * VECTOR_BYTES)
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t r, j, c, kh, k
    cdef Py_ssize_t n_taps = g.kh * g.kw
    # locals, which the block's stores cannot alias
    cdef Py_ssize_t kh_lo = chunk.kh_lo, kh_hi = chunk.kh_hi, kw_lo = chunk.kw_lo
    cdef Py_ssize_t kw_hi = chunk.kw_hi, x_step = chunk.x_step, kw = g.kw, c_in = g.c_in_group
    cdef const floating* start = x + chunk.x
    block_init(block, bias)
    if kh_hi - kh_lo == g.kh and kw_hi - kw_lo == kw:  # every tap, in one loop
        for c in range(c_in):
            for k in range(n_taps):
                block_update(block, start + c * channel_step + tap_offsets[k], x_step,
                             w_packed + (c * n_taps + k) * CO_BLOCK)
    else:
        for c in range(c_in):
            for kh in range(kh_lo, kh_hi):
                for k in range(kh * kw + kw_lo, kh * kw + kw_hi):
                    block_update(block, start + c * channel_step + tap_offsets[k], x_step,
                                 w_packed + (c * n_taps + k) * CO_BLOCK)
    out += chunk.out
    if chunk.keep == lanes and chunk.rows == n_rows:
        block_store(block, out, out_plane, chunk.vec_step)
        return
    # The tile's last vectors: the tile holds whole ones, so the block
    # computed them whole; keep the first ``keep`` points of each.  And a
    # group's last block may be part zero channels, which have no output.
    block_store(block, partial, n_vecs * lanes, lanes)
    for r in range(chunk.rows):
        for j in range(n_vecs):
            memcpy(out + r * out_plane + j * chunk.vec_step, partial + (r * n_vecs + j) * lanes,
                   chunk.keep * sizeof(floating))


cdef void part_chunks(const Chunk* chunk, const floating* x, floating* out,
                      Py_ssize_t out_plane, Py_ssize_t channel_step,
                      const Py_ssize_t* tap_offsets, const floating* w_packed,
                      const floating* bias, const Geometry* g) noexcept nogil:
    """A dense run of a part-filled block's ``chunk.rows`` real channels, in
    blocks of up to 4 rows (so 1-2 blocks, whatever the remainder), each
    reading its rows of the packed weights and bias."""
    cdef Chunk part = chunk[0]
    cdef Py_ssize_t done = 0
    cdef rows1_block one
    cdef rows2_block two
    cdef rows3_block three
    cdef rows4_block four
    while done < chunk.rows:
        part.rows = min(chunk.rows - done, 4)
        if part.rows == 1:
            dense_chunk(&one, &part, x, out + done * out_plane, out_plane, channel_step,
                        tap_offsets, w_packed + done, bias + done, g)
        elif part.rows == 2:
            dense_chunk(&two, &part, x, out + done * out_plane, out_plane, channel_step,
                        tap_offsets, w_packed + done, bias + done, g)
        elif part.rows == 3:
            dense_chunk(&three, &part, x, out + done * out_plane, out_plane, channel_step,
                        tap_offsets, w_packed + done, bias + done, g)
        else:
            dense_chunk(&four, &part, x, out + done * out_plane, out_plane, channel_step,
                        tap_offsets, w_packed + done, bias + done, g)
        done += part.rows


cdef inline Py_ssize_t row_runs(Py_ssize_t width, Py_ssize_t lanes) noexcept nogil:
    """Runs of DENSE_VECS whole vectors in a row of ``width`` points."""
    return width // lanes // DENSE_VECS


cdef Py_ssize_t count_pieces(Py_ssize_t n_rows, Py_ssize_t width, Py_ssize_t lanes) noexcept nogil:
    """Chunks that cover n_rows output rows of ``width`` points (see dense_piece)."""
    cdef Py_ssize_t vectors = (width + lanes - 1) // lanes
    if n_rows == DENSE_VECS:
        return vectors
    return n_rows * (vectors - row_runs(width, lanes) * (DENSE_VECS - 1))


cdef void dense_piece(Py_ssize_t piece, Py_ssize_t co, Py_ssize_t rows, const Chunk* taps,
                      Py_ssize_t t0, floating* out, Py_ssize_t out_plane,
                      Py_ssize_t n_rows, Py_ssize_t width, const floating* x,
                      Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                      const floating* w_packed, const floating* bias, const Geometry* g) noexcept nogil:
    """Output channels [co, co + rows) over chunk ``piece`` of an item, where
    ``bias`` holds CO_BLOCK values from co.

    With DENSE_VECS rows, chunk j is vector column j of every row in one
    dense block.  Otherwise each row is cut into runs of DENSE_VECS vectors
    for the dense block and single vectors for the narrow one.
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t runs = row_runs(width, lanes)
    cdef Py_ssize_t per_row = count_pieces(1, width, lanes)
    cdef Py_ssize_t row, vector, vectors
    cdef Chunk chunk = taps[0]
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
    chunk.rows = rows
    vectors = DENSE_VECS if n_rows != DENSE_VECS and piece % per_row < runs else 1
    if g.skip_padding:
        reading_taps(t0 + vector * lanes, t0 + min(width, (vector + vectors) * lanes) - 1,
                     g.stride_w, g.dilation_w, g.pad_left, g.w_in, g.kw,
                     &chunk.kw_lo, &chunk.kw_hi)
    if (n_rows == DENSE_VECS or piece % per_row < runs) and rows < CO_BLOCK:
        part_chunks(&chunk, x, out, out_plane, channel_step, tap_offsets, w_packed, bias, g)
    elif n_rows == DENSE_VECS or piece % per_row < runs:
        dense_chunk(&wide, &chunk, x, out, out_plane, channel_step, tap_offsets, w_packed,
                    bias, g)
    else:
        dense_chunk(&narrow, &chunk, x, out, out_plane, channel_step, tap_offsets, w_packed,
                    bias, g)


cdef void dense_group(floating* out, Py_ssize_t out_plane, Py_ssize_t row0, Py_ssize_t n_rows,
                      Py_ssize_t t0, Py_ssize_t width,
                      const floating* x, Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                      const floating* w_packed, const floating* bias,
                      const Geometry* g) noexcept nogil:
    """Every output channel of one group over an item's rows [row0, row0 +
    n_rows) and points [t0, t0 + width).

    Channel block outermost: its weights stay in L1 while the tile's pieces
    stream past from L2.  (Measured here against the other orders: piece
    outermost was as fast on the 2-D cases, 10-20% slower on wavenet,
    strided and float64, 4% faster on tcn-dense only; splitting the input
    channels into L1-sized passes, as a GEMM would, was slower still.)
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t n_pieces = count_pieces(n_rows, width, lanes)
    cdef Py_ssize_t piece, block, co, rows, r
    cdef floating padded_bias[CO_BLOCK]
    cdef const floating* block_bias
    cdef Chunk taps
    taps.kh_lo, taps.kh_hi, taps.kw_lo, taps.kw_hi = 0, g.kh, 0, g.kw
    if g.skip_padding:
        reading_taps(row0, row0 + n_rows - 1, g.stride_h, g.dilation_h, g.pad_top, g.h_in, g.kh,
                     &taps.kh_lo, &taps.kh_hi)
    for block in range(g.c_out_packed // CO_BLOCK):
        co = block * CO_BLOCK
        rows = min(CO_BLOCK, g.c_out_group - co)
        block_bias = bias + co
        if rows < CO_BLOCK:  # the zero channels' bias lies past the group's
            for r in range(CO_BLOCK):
                padded_bias[r] = bias[co + r] if r < rows else 0
            block_bias = padded_bias
        for piece in range(n_pieces):
            dense_piece(piece, co, rows, &taps, t0, out, out_plane, n_rows, width, x,
                        channel_step, tap_offsets, w_packed, block_bias, g)


cdef void pack_weights(const floating* w, floating* packed, Py_ssize_t groups,
                       Py_ssize_t c_out_group, Py_ssize_t per_channel) noexcept nogil:
    """PyTorch's [C_out][C_in // groups][KH*KW] (``per_channel`` values an
    output channel) to the dense kernel's layout (see conv2d_forward), the
    padding channels zero."""
    cdef Py_ssize_t packed_group = (c_out_group + CO_BLOCK - 1) // CO_BLOCK * CO_BLOCK
    cdef Py_ssize_t grp, co, i
    cdef const floating* src
    cdef floating* dst
    memset(packed, 0, groups * packed_group * per_channel * sizeof(floating))
    for grp in range(groups):
        for co in range(c_out_group):
            src = w + (grp * c_out_group + co) * per_channel
            dst = (packed + (grp * packed_group + co // CO_BLOCK * CO_BLOCK) * per_channel
                   + co % CO_BLOCK)
            for i in range(per_channel):
                dst[i * CO_BLOCK] = src[i]
