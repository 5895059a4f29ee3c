# The per-thread input tile: what a work item's outputs read, copied with the
# padding applied by index mapping and split by stride phase, so that every
# tap is one offset into a contiguous run.  Included by _core.pyx.

cdef struct Geometry:
    # Input and output extents.
    Py_ssize_t c_in, h_in, w_in, c_out, h_out, w_out
    # Kernel, per-group channel counts.
    Py_ssize_t kh, kw, c_in_group, c_out_group, groups
    bint dense  # the dense kernel runs, on packed weights
    bint depthwise  # the depthwise kernel runs: a band of one channel's rows per item
    bint skip_padding  # taps that read only zero padding add exact zeros: skip them
    # Every item's tile rows hold the same columns of the input, so what
    # load_tile_row leaves zero in one item is zero in the next: the tile
    # starts zeroed and only data (and non-zero padding) is written.
    bint fixed_columns
    # Output channels per group in the packed weights: whole CO_BLOCK blocks.
    Py_ssize_t c_out_packed
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


cdef void fill_padding(floating* out, const floating* src, Py_ssize_t p, Py_ssize_t n,
                       Py_ssize_t s, Py_ssize_t size, int mode) noexcept nogil:
    """out[m] = what padded position p + m*s reads, for m < n, in a mode
    other than zeros, where positions p + m*s lie all before the row or all
    after it.  Without a division per point: replicate is one value, and at
    stride 1 circular and reflect step through the row one column at a time."""
    cdef Py_ssize_t m, col, step, period
    cdef floating value
    if n <= 0:
        return
    if mode == PAD_REPLICATE:
        value = src[0] if p < 0 else src[size - 1]
        for m in range(n):
            out[m] = value
        return
    if s != 1 or size == 1:
        for m in range(n):
            out[m] = src[source_index(p + m * s, size, mode)]
        return
    col = source_index(p, size, mode)
    step = 1
    if mode == PAD_REFLECT:  # descending where p lies in the second half of a period
        period = 2 * (size - 1)
        p %= period
        if p < 0:
            p += period
        step = 1 if p < size - 1 else -1
    for m in range(n):
        out[m] = src[col]
        if mode == PAD_CIRCULAR:
            col = 0 if col == size - 1 else col + 1
        else:
            if (step > 0 and col == size - 1) or (step < 0 and col == 0):
                step = -step
            col += step


cdef void load_tile_row(floating* dst, const floating* src, const Geometry* g,
                        Py_ssize_t first, Py_ssize_t width) noexcept nogil:
    """Fill one (channel, kernel row) of the tile from an input row.

    Run i holds src[first + m*stride_w + phases[i]] for the m that the
    tile's ``width`` outputs read, and zeros after them up to where the
    kernel's whole chunks read (every value it reads must be set, and only
    those: an edge of a few points may sit in a long tile); ``src`` is NULL
    for a row that lies in zero padding.  With ``fixed_columns`` the zeros
    of a row that has data are there from before.
    """
    cdef Py_ssize_t s = g.stride_w, size = g.w_in
    cdef Py_ssize_t used = min(width + g.reach, g.phase_len)
    cdef bint zeros = g.padding_mode == PAD_ZEROS
    cdef bint write_zeros = not g.fixed_columns
    # (a division costs more than a short row's copy: only where needed)
    cdef Py_ssize_t read = 0
    if write_zeros or src == NULL:
        read = min((width + g.quantum - 1) // g.quantum * g.quantum + g.reach, g.phase_len)
    cdef Py_ssize_t i, m, m_lo, m_hi, start
    cdef floating* out
    for i in range(g.n_phases):
        out = dst + i * g.phase_len
        start = first + g.phases[i]
        if src == NULL:
            for m in range(read):
                out[m] = 0
            continue
        # Columns [m_lo, m_hi) lie inside the row and are copied as they are.
        if s == 1:
            m_lo, m_hi = max(-start, 0), max(size - start, 0)
        else:
            m_lo = 0 if start >= 0 else (-start + s - 1) // s
            m_hi = 0 if start >= size else (size - start + s - 1) // s
        m_lo, m_hi = min(m_lo, used), min(m_hi, used)
        if m_hi < m_lo:
            m_hi = m_lo
        if not zeros:
            fill_padding(out, src, start, m_lo, s, size, g.padding_mode)
            fill_padding(out + m_hi, src, start + m_hi * s, used - m_hi, s, size,
                         g.padding_mode)
        elif write_zeros:  # (loops: a call costs more than the few points of an edge)
            for m in range(m_lo):
                out[m] = 0
        if s == 1:
            memcpy(out + m_lo, src + start + m_lo, (m_hi - m_lo) * sizeof(floating))
        elif s == 2:  # the common stride, spelled out so that it vectorises
            for m in range(m_lo, m_hi):
                out[m] = src[start + 2 * m]
        else:
            for m in range(m_lo, m_hi):
                out[m] = src[start + m * s]
        if write_zeros:
            for m in range(m_hi if zeros else used, read):
                out[m] = 0


cdef inline void prefetch_span(const floating* src, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Ask for src[lo:hi] ahead of a copy."""
    cdef Py_ssize_t line = CACHE_LINE // sizeof(floating)
    while lo < hi:
        fd_prefetch(src + lo)
        lo += line


cdef void load_tile(floating* tile, const floating* x_image, const Geometry* g,
                    Py_ssize_t row0, Py_ssize_t n_rows, Py_ssize_t t0, Py_ssize_t width) noexcept nogil:
    """Copy what output rows [row0, row0 + n_rows), points [t0, t0 + width) read."""
    load_tile_rows(tile, x_image, g, row0, n_rows, t0, width, 0, g.kh)


cdef void load_tile_rows(floating* tile, const floating* x_image, const Geometry* g,
                         Py_ssize_t row0, Py_ssize_t n_rows, Py_ssize_t t0, Py_ssize_t width,
                         Py_ssize_t kh_lo, Py_ssize_t kh_hi) noexcept nogil:
    """load_tile for the kernel rows [kh_lo, kh_hi) only (the others are not read).

    Channel after channel, each (kernel row, output row) of it.  A channel's
    rows lie a plane away from the last one's, where the hardware does not
    look ahead: each copy first asks for the same row PREFETCH_ROWS rows'
    worth of channels ahead (the loop starts that many channels early).
    """
    cdef Py_ssize_t first = t0 * g.stride_w - g.pad_left
    cdef Py_ssize_t lo = max(first, 0)
    cdef Py_ssize_t hi = min(first + (width + g.reach) * g.stride_w, g.w_in)
    cdef Py_ssize_t plane = g.h_in * g.w_in
    cdef Py_ssize_t ahead = (PREFETCH_ROWS + (kh_hi - kh_lo) * n_rows - 1) // max(
        1, (kh_hi - kh_lo) * n_rows)
    cdef Py_ssize_t c, kh, r, row
    for c in range(-ahead, g.c_in):
        for kh in range(kh_lo, kh_hi):
            for r in range(n_rows):
                row = source_index((row0 + r) * g.stride_h + kh * g.dilation_h - g.pad_top,
                                   g.h_in, g.padding_mode)
                if row >= 0 and c + ahead < g.c_in:
                    prefetch_span(x_image + (c + ahead) * plane + row * g.w_in, lo, hi)
                if c >= 0:
                    load_tile_row(tile + c * g.channel_len + (kh * g.rows + r) * g.row_len,
                                  NULL if row < 0 else x_image + c * plane + row * g.w_in,
                                  g, first, width)


cdef struct Taps:
    # Where the kernels read a work item's input: channel c's tap k is at
    # start + c * channel_step + offsets[k], in the tile or, where the thin
    # kernel reads an unpadded stride-1 stretch, in the input itself.
    const Py_ssize_t* tile_offsets
    const Py_ssize_t* input_offsets


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
