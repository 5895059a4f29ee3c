# The depthwise kernel: one filter per channel of a 2-D image (groups == C_in
# == C_out), a band of output rows of one channel plane per work item.  The
# band's input rows are copied once into the tile, padded by index mapping
# (and split by stride phase), and each output row then streams through the
# thin register block, every tap an offset into that small, cache-resident
# tile.  Memory-bound: the image is read from memory once, the output written
# once.  Included by _core.pyx.

cdef inline Py_ssize_t band_input_rows(const Geometry* g, Py_ssize_t n_rows) noexcept nogil:
    """Input rows (padded positions) that ``n_rows`` output rows read."""
    return (n_rows - 1) * g.stride_h + (g.kh - 1) * g.dilation_h + 1


cdef void lay_out_depthwise_tile(Geometry* g, Py_ssize_t* tap_offsets) noexcept nogil:
    """A tile of one band's input rows, one after another; tap (kh, kw) of an
    output row lies kh * dilation_h rows below its first, at the column
    offset that lay_out_tile gave tap (0, kw)."""
    cdef Py_ssize_t kh, kw
    g.channel_len = band_input_rows(g, g.rows) * g.row_len
    for kh in range(1, g.kh):
        for kw in range(g.kw):
            tap_offsets[kh * g.kw + kw] = kh * g.dilation_h * g.row_len + tap_offsets[kw]


cdef void depthwise_item(Py_ssize_t item, floating* tile, const Taps* taps, const floating* x,
                         const floating* weights, const floating* bias, floating* out,
                         const Geometry* g) noexcept nogil:
    """Output rows [band * rows, ...) of channel c of batch entry n."""
    cdef Py_ssize_t band = item % g.row_groups
    item //= g.row_groups
    cdef Py_ssize_t c = item % g.c_in
    cdef Py_ssize_t n = item // g.c_in
    cdef Py_ssize_t row0 = band * g.rows
    cdef Py_ssize_t n_rows = min(g.rows, g.h_out - row0)
    cdef Py_ssize_t first = row0 * g.stride_h - g.pad_top
    cdef const floating* plane = x + (n * g.c_in + c) * g.h_in * g.w_in
    cdef floating* out_rows = out + ((n * g.c_out + c) * g.h_out + row0) * g.w_out
    cdef Py_ssize_t i, row, r
    for i in range(band_input_rows(g, n_rows)):
        row = source_index(first + i, g.h_in, g.padding_mode)
        load_tile_row(tile + i * g.row_len, NULL if row < 0 else plane + row * g.w_in, g,
                      -g.pad_left, g.w_out)
    depthwise_rows(out_rows, n_rows, tile, taps.tile_offsets, weights + c * g.kh * g.kw,
                   bias + c, g)


cdef inline void prefetch_write_span(floating* p, Py_ssize_t n) noexcept nogil:
    """Ask for p[:n] to be written soon."""
    cdef Py_ssize_t line = CACHE_LINE // sizeof(floating), i
    for i in range(0, (n + line - 1) // line):
        fd_prefetch_write(p + i * line)


cdef void depthwise_rows(floating* out, Py_ssize_t n_rows, const floating* tile,
                         const Py_ssize_t* tap_offsets, const floating* w, const floating* bias,
                         const Geometry* g) noexcept nogil:
    """``n_rows`` output rows of one channel from its band's tile.

    The thin block takes one vector column of as many rows as it has
    vectors, so that any width runs in whole blocks of independent
    accumulators (a row cut into chunks would leave a remainder whose
    vectors each wait on one chain of taps); the rows left over go a row
    at a time.
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t block_rows = THIN_CHUNK_BYTES // VECTOR_BYTES
    cdef Py_ssize_t x_step = g.stride_h * g.row_len
    cdef Py_ssize_t n_taps = g.kh * g.kw
    cdef thin_block block
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t i, v, r, t, k, j, keep
    for i in range(n_rows // block_rows):
        r = i * block_rows
        # the next block's output lines, which the stores would wait on
        for t in range(r + block_rows, min(r + 2 * block_rows, n_rows)):
            prefetch_write_span(out + t * g.w_out, g.w_out)
        for v in range((g.w_out + lanes - 1) // lanes):
            t = v * lanes
            block_init(&block, bias)
            for k in range(n_taps):
                block_update(&block, tile + r * x_step + t + tap_offsets[k], x_step, w + k)
            keep = min(lanes, g.w_out - t)
            if keep == lanes:
                block_store(&block, out + r * g.w_out + t, 0, g.w_out)
                continue
            block_store(&block, partial, 0, lanes)  # the row's last points
            for j in range(block_rows):
                memcpy(out + (r + j) * g.w_out + t, partial + j * lanes, keep * sizeof(floating))
    for r in range(n_rows // block_rows * block_rows, n_rows):
        thin_row(out + r * g.w_out, g.w_out, tile + r * x_step, 0, tap_offsets, w, bias, g)
