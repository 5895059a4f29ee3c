# The thin kernel: one output channel at a time over a run of points, for
# single-channel, depthwise and other narrow groups; memory-bound, so it
# reads unpadded stretches of input in place.  Included by _core.pyx.

ctypedef fused row_block:
    thin_block
    tail_block


cdef inline void thin_chunk(row_block* block, floating* out, Py_ssize_t keep, const floating* x,
                            Py_ssize_t channel_step, const Py_ssize_t* tap_offsets,
                            const floating* w, const floating* bias,
                            const Geometry* g) noexcept nogil:
    """One chunk of ``block`` (whose contents do not matter on entry) from
    x, of which the first ``keep`` points go to out."""
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t n_taps = g.kh * g.kw
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t c, k
    block_init(block, bias)
    for c in range(g.c_in_group):
        for k in range(n_taps):
            block_update(block, x + c * channel_step + tap_offsets[k], lanes, w + c * n_taps + k)
    if keep * sizeof(floating) == sizeof(row_block):  # a whole block
        block_store(block, out, 0, lanes)
    else:  # the tile holds whole vectors; keep the points asked for
        block_store(block, partial, 0, lanes)
        memcpy(out, partial, keep * sizeof(floating))


cdef void thin_row(floating* out, Py_ssize_t width, const floating* x,
                   Py_ssize_t channel_step, const Py_ssize_t* tap_offsets, const floating* w,
                   const floating* bias, const Geometry* g) noexcept nogil:
    """One output row x ``width`` points; ``w`` is that row's [channel][tap].

    Chunk after chunk in one register block: with one channel and a few
    taps there is little work per chunk, so nothing else may sit in the loop.
    What whole chunks leave goes a vector at a time, so that a short row
    (a small image's) computes little that it throws away.
    """
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef thin_block block
    cdef tail_block tail
    cdef Py_ssize_t j, t
    for j in range(width // chunk):
        t = j * chunk
        thin_chunk(&block, out + t, chunk, x + t, channel_step, tap_offsets, w, bias, g)
    for j in range(width // chunk * chunk // lanes, (width + lanes - 1) // lanes):
        t = j * lanes
        thin_chunk(&tail, out + t, min(lanes, width - t), x + t, channel_step, tap_offsets, w,
                   bias, g)


cdef enum:
    # Input channels per group up to which the thin kernel reads in place:
    # beyond, the rows of a chunk's channels lie planes apart, too many
    # streams for the prefetchers, and the prefetched tile copy is faster
    # (measured: 64 -> 1 channels 1.7x faster through the tile, 16 -> 2
    # faster in place).
    THIN_IN_PLACE_CHANNELS = 16


cdef Py_ssize_t in_place_points(const Geometry* g, Py_ssize_t row, Py_ssize_t t,
                                Py_ssize_t width) noexcept nogil:
    """How many of the outputs [t, t + width) of ``row`` the thin kernel may
    compute reading the input in place, 0 for none: stride 1 along the row,
    few channels, and every value its whole chunks read inside the input."""
    cdef Py_ssize_t top = row * g.stride_h - g.pad_top
    cdef Py_ssize_t first = t - g.pad_left
    cdef Py_ssize_t room = g.w_in - first - g.reach  # outputs whose taps all fit
    if (g.stride_w != 1 or first < 0 or room < g.quantum
            or g.c_in_group > THIN_IN_PLACE_CHANNELS
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
