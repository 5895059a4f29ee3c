# The à trous kernel of fastdilate.wavelets (included by _core.pyx).
#
# One level of a stationary wavelet transform along one axis of (pre, n,
# post) arrays: 1 or 2 inputs into 1 or 2 outputs, each output the sum over
# inputs and taps of a weight times the input shifted circularly,
#
#     out_o[p, i, q] = sum_c sum_t w[o, c, t] * in_c[p, (i + offset_t) mod n, q],
#
# so that analysis (one input, two bands) and synthesis (two bands, one
# output) each read and write every array once, which fastdilate.conv2d,
# with one input array and one output array, cannot.  Along the last axis
# (post == 1) each thin chunk of a line is one register block over every
# (input, tap), each tap read in place or, where it wraps around the line,
# from a small copy; along an inner axis each output row is a sum of whole
# input rows, a thin chunk of them at a time.

cdef enum:
    ATROUS_MAX_BANDS = 2
    ATROUS_MAX_TAPS = 256
    # Output points (post == 1) or rows (post > 1) per work item.
    ATROUS_ITEM_POINTS = 4096


cdef struct Atrous:
    Py_ssize_t pre, n, post, n_in, n_out, n_taps
    Py_ssize_t item_len, n_items_per_line
    const Py_ssize_t* offsets


cdef inline Py_ssize_t wrap_index(Py_ssize_t j, Py_ssize_t n) noexcept nogil:
    j %= n  # C's % keeps the sign of j
    return j + n if j < 0 else j


cdef void atrous_chunk(floating* out, Py_ssize_t keep, const floating* const* taps,
                       const floating* w, const Atrous* g) noexcept nogil:
    """One thin chunk of one output: ``taps[c * n_taps + t]`` holds the
    chunk's points as input c's tap t reads them; ``keep`` points are
    stored (a whole chunk, or fewer at a line's end)."""
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef thin_block block
    cdef floating zero = 0
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t k
    block_init(&block, &zero)
    for k in range(g.n_in * g.n_taps):
        block_update(&block, taps[k], lanes, w + k)
    if keep * sizeof(floating) == THIN_CHUNK_BYTES:
        block_store(&block, out, 0, lanes)
    else:
        block_store(&block, partial, 0, lanes)
        memcpy(out, partial, keep * sizeof(floating))


cdef void atrous_chunk_pair(floating* out0, floating* out1, Py_ssize_t keep,
                            const floating* const* taps, const floating* w,
                            const Atrous* g) noexcept nogil:
    """atrous_chunk for two outputs at once (an analysis level's bands):
    each tap's points are loaded once for both, the same sums in the
    same order."""
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef Py_ssize_t n = g.n_in * g.n_taps
    cdef thin_block block0, block1
    cdef floating zero = 0
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t k
    block_init(&block0, &zero)
    block_init(&block1, &zero)
    for k in range(n):
        block_update(&block0, taps[k], lanes, w + k)
        block_update(&block1, taps[k], lanes, w + n + k)
    if keep * sizeof(floating) == THIN_CHUNK_BYTES:
        block_store(&block0, out0, 0, lanes)
        block_store(&block1, out1, 0, lanes)
    else:
        block_store(&block0, partial, 0, lanes)
        memcpy(out0, partial, keep * sizeof(floating))
        block_store(&block1, partial, 0, lanes)
        memcpy(out1, partial, keep * sizeof(floating))


cdef inline void atrous_outputs(floating* const* outs, Py_ssize_t at, Py_ssize_t keep,
                                const floating* const* taps, const floating* w,
                                const Atrous* g) noexcept nogil:
    """Every output's chunk at offset ``at``."""
    if g.n_out == 2:
        atrous_chunk_pair(outs[0] + at, outs[1] + at, keep, taps, w, g)
    else:
        atrous_chunk(outs[0] + at, keep, taps, w, g)


cdef const floating* line_tap(const floating* line, Py_ssize_t start, Py_ssize_t chunk,
                              Py_ssize_t n, floating* slot) noexcept nogil:
    """Where a tap reads line[(start + k) mod n] for k < chunk: in place
    when that stays inside the line, else copied into ``slot``."""
    cdef Py_ssize_t j, k
    if 0 <= start and start + chunk <= n:
        return line + start
    j = wrap_index(start, n)
    for k in range(chunk):
        slot[k] = line[j]
        j += 1
        if j == n:
            j = 0
    return slot


cdef void atrous_line_item(Py_ssize_t item, const floating* const* ins, floating* const* outs,
                           const floating* w, floating* window, const Atrous* g) noexcept nogil:
    """Points [i0, i0 + item_len) of line p (post == 1), chunk by chunk."""
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t p = item // g.n_items_per_line
    cdef Py_ssize_t i0 = (item % g.n_items_per_line) * g.item_len
    cdef Py_ssize_t end = min(i0 + g.item_len, g.n)
    cdef Py_ssize_t line = p * g.n
    cdef const floating* taps[ATROUS_MAX_BANDS * ATROUS_MAX_TAPS]
    cdef Py_ssize_t c, t, keep
    while i0 < end:
        keep = min(chunk, end - i0)
        for c in range(g.n_in):
            for t in range(g.n_taps):
                taps[c * g.n_taps + t] = line_tap(ins[c] + line, i0 + g.offsets[t], chunk, g.n,
                                                  window + (c * g.n_taps + t) * chunk)
        atrous_outputs(outs, line + i0, keep, taps, w, g)
        i0 += keep


cdef void atrous_row_item(Py_ssize_t item, const floating* const* ins, floating* const* outs,
                          const floating* w, const Atrous* g) noexcept nogil:
    """Output rows [i0, i0 + item_len) of plane p (post > 1): each a sum
    of whole input rows, chunk by chunk; the row's last, partial chunk
    one point at a time (a chunk would read past the array's end)."""
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t p = item // g.n_items_per_line
    cdef Py_ssize_t i0 = (item % g.n_items_per_line) * g.item_len
    cdef Py_ssize_t end = min(i0 + g.item_len, g.n)
    cdef Py_ssize_t plane = p * g.n * g.post
    cdef Py_ssize_t whole = g.post // chunk * chunk
    cdef const floating* rows[ATROUS_MAX_BANDS * ATROUS_MAX_TAPS]
    cdef const floating* taps[ATROUS_MAX_BANDS * ATROUS_MAX_TAPS]
    cdef Py_ssize_t i, c, t, k, o, q
    cdef floating s
    for i in range(i0, end):
        for c in range(g.n_in):
            for t in range(g.n_taps):
                rows[c * g.n_taps + t] = ins[c] + plane + wrap_index(i + g.offsets[t], g.n) * g.post
        q = 0
        while q < whole:
            for k in range(g.n_in * g.n_taps):
                taps[k] = rows[k] + q
            atrous_outputs(outs, plane + i * g.post + q, chunk, taps, w, g)
            q += chunk
        for o in range(g.n_out):
            for q in range(whole, g.post):
                s = 0
                for k in range(g.n_in * g.n_taps):
                    s = s + w[o * g.n_in * g.n_taps + k] * rows[k][q]
                outs[o][plane + i * g.post + q] = s


cdef void run_atrous(const floating* const* ins, floating* const* outs, const floating* w,
                     Atrous* g, int num_threads) except *:
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t window_len = g.n_taps * chunk  # a slot per (input, tap)
    g.item_len = ATROUS_ITEM_POINTS if g.post == 1 else max(1, ATROUS_ITEM_POINTS // g.post)
    g.n_items_per_line = (g.n + g.item_len - 1) // g.item_len
    cdef Py_ssize_t n_items = g.pre * g.n_items_per_line
    cdef bint use_threads = num_threads > 1 and n_items > 1 and not fd_in_forked_child()
    cdef int team = num_threads if use_threads else 1
    cdef floating* windows = <floating*> malloc(team * g.n_in * window_len * sizeof(floating))
    cdef Py_ssize_t item
    if windows == NULL:
        raise MemoryError("fastdilate: no memory for the à trous windows")
    if use_threads:
        with nogil, parallel(num_threads=team):
            for item in prange(n_items, schedule="static"):
                if g.post == 1:
                    atrous_line_item(item, ins, outs, w,
                                     windows + threadid() * g.n_in * window_len, g)
                else:
                    atrous_row_item(item, ins, outs, w, g)
    else:
        with nogil:
            for item in range(n_items):
                if g.post == 1:
                    atrous_line_item(item, ins, outs, w, windows, g)
                else:
                    atrous_row_item(item, ins, outs, w, g)
    free(windows)


def atrous_level(tuple inputs,         # IN  1 or 2 arrays (pre, n, post)
                 tuple outputs,        # OUT 1 or 2 arrays (pre, n, post)
                 cnp.ndarray weights,  # IN  (n_out, n_in, n_taps)
                 cnp.ndarray offsets,  # IN  (n_taps,) int64, each in (-n, n)
                 int num_threads):
    """``out_o[p, i, q] = sum_c sum_t weights[o, c, t] * in_c[p, (i + offsets[t]) mod n, q]``.

    fastdilate.wavelets checks and prepares everything; these checks are
    the last line of defence before raw pointers.  At most ATROUS_MAX_TAPS (256) taps.
    """
    cdef cnp.ndarray array
    cdef const void* in_ptrs[ATROUS_MAX_BANDS]
    cdef void* out_ptrs[ATROUS_MAX_BANDS]
    cdef Atrous g
    cdef Py_ssize_t i
    cdef int dtype = cnp.PyArray_TYPE(weights)
    if not (1 <= len(inputs) <= ATROUS_MAX_BANDS and 1 <= len(outputs) <= ATROUS_MAX_BANDS):
        raise ValueError("fastdilate core: 1 or 2 inputs and outputs")
    cdef cnp.ndarray first = inputs[0]
    for array in inputs + outputs + (weights,):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    for array in inputs + outputs:
        if (array.ndim != 3 or first.ndim != 3 or array.shape[0] != first.shape[0]
                or array.shape[1] != first.shape[1] or array.shape[2] != first.shape[2]):
            raise ValueError("fastdilate core: inputs and outputs must share one 3-D shape")
    if (weights.ndim != 3 or weights.shape[0] != len(outputs) or weights.shape[1] != len(inputs)
            or not 1 <= weights.shape[2] <= ATROUS_MAX_TAPS or cnp.PyArray_TYPE(offsets) != cnp.NPY_INT64
            or offsets.ndim != 1 or offsets.shape[0] != weights.shape[2]
            or not cnp.PyArray_ISCARRAY_RO(offsets) or first.shape[1] < 1
            or abs(offsets).max() >= first.shape[1]):
        raise ValueError("fastdilate core: weights and offsets do not agree")
    g.pre, g.n, g.post = first.shape[0], first.shape[1], first.shape[2]
    g.n_out, g.n_in, g.n_taps = weights.shape[0], weights.shape[1], weights.shape[2]
    g.offsets = <const Py_ssize_t*> cnp.PyArray_DATA(offsets)
    for i in range(g.n_in):
        in_ptrs[i] = cnp.PyArray_DATA(inputs[i])
    for i in range(g.n_out):
        out_ptrs[i] = cnp.PyArray_DATA(outputs[i])
    if g.pre * g.n * g.post == 0:
        return
    if dtype == cnp.NPY_FLOAT32:
        run_atrous(<const float* const*> in_ptrs, <float* const*> out_ptrs,
                   <const float*> cnp.PyArray_DATA(weights), &g, num_threads)
    else:
        run_atrous(<const double* const*> in_ptrs, <double* const*> out_ptrs,
                   <const double*> cnp.PyArray_DATA(weights), &g, num_threads)


# ------------------------------------------------------------ in place
# One synthesis level written over its approximation: with the level's
# dilation d folded into the rows (a line of n at dilation d is a (n/d, d)
# array at dilation 1), row i of plane p becomes
#
#     a[p, i, :] = sum_t wa[t] a[p, (i + o_t) mod m, :] + sum_t wd[t] d[p, (i + o_t) mod m, :]
#
# with every read of ``a`` seeing its original values.  A work item is a
# strip of columns (the whole row when rows are short) over a segment of
# rows; it walks its rows in blocks, keeping the originals it still needs
# in a window: rows [r0 - H, r1 + H') of the block (H, H' the reach of the
# taps back and ahead).  Rows outside the segment come from its halo, a
# copy taken before any item writes (before the item starts when one item
# holds every row of its strip).  Scratch: one window per thread and the
# halos, a few rows, never a copy of the array.

from libc.string cimport memmove

cdef enum:
    INPLACE_STRIP = 768        # columns per strip (whole thin chunks at any vector width)
    INPLACE_BLOCK_POINTS = 4096


cdef struct InPlace:
    Py_ssize_t pre, m, q, n_taps, n_in
    Py_ssize_t back, ahead          # H and H'
    Py_ssize_t strip, n_strips, n_segments, segment_rows, block_rows
    Py_ssize_t halo_len, window_len
    const Py_ssize_t* offsets


cdef void inplace_item_bounds(Py_ssize_t item, const InPlace* g, Py_ssize_t* plane,
                              Py_ssize_t* col0, Py_ssize_t* width, Py_ssize_t* first,
                              Py_ssize_t* end) noexcept nogil:
    cdef Py_ssize_t segment = item % g.n_segments
    cdef Py_ssize_t s = (item // g.n_segments) % g.n_strips
    plane[0] = (item // (g.n_segments * g.n_strips)) * g.m * g.q
    col0[0] = s * g.strip
    width[0] = min(g.strip, g.q - col0[0])
    first[0] = segment * g.segment_rows
    end[0] = min(first[0] + g.segment_rows, g.m)


cdef void inplace_halo(Py_ssize_t item, const floating* a, floating* halo,
                       const InPlace* g) noexcept nogil:
    """The originals of the rows item reads outside its segment: (first -
    H + k) mod m for k < H, then (end + k) mod m for k < H'."""
    cdef Py_ssize_t plane, col0, width, first, end, k
    inplace_item_bounds(item, g, &plane, &col0, &width, &first, &end)
    for k in range(g.back):
        memcpy(halo + k * width, a + plane + wrap_index(first - g.back + k, g.m) * g.q + col0,
               width * sizeof(floating))
    for k in range(g.ahead):
        memcpy(halo + (g.back + k) * width, a + plane + wrap_index(end + k, g.m) * g.q + col0,
               width * sizeof(floating))


cdef void copy_rows(floating* dst, const floating* src, Py_ssize_t rows, Py_ssize_t width,
                    Py_ssize_t src_step) noexcept nogil:
    cdef Py_ssize_t k
    if src_step == width:  # contiguous rows: one run
        memcpy(dst, src, rows * width * sizeof(floating))
        return
    for k in range(rows):
        memcpy(dst + k * width, src + k * src_step, width * sizeof(floating))


cdef void inplace_fill(floating* window, Py_ssize_t from_row, Py_ssize_t x0, Py_ssize_t x1,
                       const floating* a, const floating* halo, Py_ssize_t plane,
                       Py_ssize_t col0, Py_ssize_t width, Py_ssize_t first, Py_ssize_t end,
                       const InPlace* g) noexcept nogil:
    """Window rows for rows x0 <= x < x1 (the window starts at row
    ``from_row``): from the halo outside the segment, else in place (rows
    not yet written)."""
    cdef Py_ssize_t lo = min(x1, first), a0 = max(x0, first), a1 = min(x1, end), hi = max(x0, end)
    if x0 < lo:
        copy_rows(window + (x0 - from_row) * width, halo + (x0 - first + g.back) * width,
                  lo - x0, width, width)
    if a0 < a1:
        copy_rows(window + (a0 - from_row) * width, a + plane + a0 * g.q + col0, a1 - a0,
                  width, g.q)
    if hi < x1:
        copy_rows(window + (hi - from_row) * width, halo + (g.back + hi - end) * width,
                  x1 - hi, width, width)


cdef void inplace_rows(Py_ssize_t r0, Py_ssize_t r1, floating* a, const floating* d,
                       const floating* window, const floating* w, floating* slots,
                       Py_ssize_t plane, Py_ssize_t col0, Py_ssize_t width,
                       const InPlace* g, const Atrous* block) noexcept nogil:
    """Rows [r0, r1) of the item from the window (and ``d`` in place)."""
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef const floating* taps[ATROUS_MAX_BANDS * ATROUS_MAX_TAPS]
    cdef Py_ssize_t t, j, r, q, k, keep, total, whole = width // chunk * chunk
    cdef floating s
    if width == g.q:
        # Whole rows: rows r0..r1 are one run of points, in the window as in place.
        total = (r1 - r0) * g.q
        j = 0
        while j < total:
            keep = min(chunk, total - j)
            for t in range(g.n_taps):
                taps[t] = window + (g.back + g.offsets[t]) * g.q + j
                if g.n_in == 2:
                    taps[g.n_taps + t] = line_tap(d + plane, (r0 + g.offsets[t]) * g.q + j,
                                                  chunk, g.m * g.q, slots + t * chunk)
            atrous_chunk(a + plane + r0 * g.q + j, keep, taps, w, block)
            j += keep
        return
    for r in range(r0, r1):
        for t in range(g.n_taps):
            taps[t] = window + (r - r0 + g.back + g.offsets[t]) * width
            if g.n_in == 2:
                taps[g.n_taps + t] = d + plane + wrap_index(r + g.offsets[t], g.m) * g.q + col0
        q = 0
        while q < whole:
            atrous_chunk(a + plane + r * g.q + col0 + q, chunk, taps, w, block)
            for k in range(g.n_in * g.n_taps):
                taps[k] += chunk
            q += chunk
        for q in range(whole, width):  # the strip's last points, one at a time
            s = 0
            for k in range(g.n_in * g.n_taps):
                s = s + w[k] * taps[k][q - whole]
            a[plane + r * g.q + col0 + q] = s


cdef void inplace_item(Py_ssize_t item, floating* a, const floating* d, const floating* w,
                       floating* window, floating* halo, floating* slots, bint own_halo,
                       const InPlace* g, const Atrous* block) noexcept nogil:
    cdef Py_ssize_t plane, col0, width, first, end, r0, r1, keep_rows
    inplace_item_bounds(item, g, &plane, &col0, &width, &first, &end)
    if own_halo:
        inplace_halo(item, a, halo, g)
    r0 = first
    r1 = min(r0 + g.block_rows, end)
    inplace_fill(window, r0 - g.back, r0 - g.back, r1 + g.ahead, a, halo, plane, col0, width,
                 first, end, g)
    while True:
        inplace_rows(r0, r1, a, d, window, w, slots, plane, col0, width, g, block)
        if r1 == end:
            return
        # The next block's window starts H rows before r1: keep rows
        # [r1 - H, r1 + H') (originals, read before this block wrote).
        keep_rows = g.back + g.ahead
        memmove(window, window + (r1 - r0) * width, keep_rows * width * sizeof(floating))
        r0 = r1
        r1 = min(r0 + g.block_rows, end)
        inplace_fill(window, r0 - g.back, r0 + g.ahead, r1 + g.ahead, a, halo, plane, col0,
                     width, first, end, g)


cdef void inplace_run_item(Py_ssize_t item, int thread, floating* a, const floating* d,
                           const floating* w, floating* scratch, int team, const InPlace* g,
                           const Atrous* block) noexcept nogil:
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t per_thread = g.window_len + g.halo_len + g.n_taps * chunk
    cdef floating* mine = scratch + thread * per_thread
    cdef bint shared_halos = g.n_segments > 1
    cdef floating* halo = (scratch + team * per_thread + item * g.halo_len if shared_halos
                           else mine + g.window_len)
    inplace_item(item, a, d, w, mine, halo, mine + g.window_len + g.halo_len, not shared_halos,
                 g, block)


cdef void run_inplace(floating* a, const floating* d, const floating* w, InPlace* g,
                      int num_threads) except *:
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t n_items = g.pre * g.n_strips * g.n_segments
    cdef bint use_threads = num_threads > 1 and n_items > 1 and not fd_in_forked_child()
    cdef int team = num_threads if use_threads else 1
    cdef bint shared_halos = g.n_segments > 1
    cdef Py_ssize_t per_thread = g.window_len + g.halo_len + g.n_taps * chunk
    cdef Py_ssize_t halos_len = n_items * g.halo_len if shared_halos else 0
    cdef floating* scratch = <floating*> malloc((team * per_thread + halos_len) * sizeof(floating))
    cdef floating* halos = scratch + team * per_thread
    cdef Atrous block
    cdef Py_ssize_t item
    if scratch == NULL:
        raise MemoryError("fastdilate: no memory for the in-place à trous windows")
    block.n_in, block.n_taps, block.n_out = g.n_in, g.n_taps, 1
    with nogil:
        if use_threads:
            if shared_halos:  # every halo before any item writes
                for item in prange(n_items, schedule="static", num_threads=team):
                    inplace_halo(item, a, halos + item * g.halo_len, g)
            for item in prange(n_items, schedule="static", num_threads=team):
                inplace_run_item(item, threadid(), a, d, w, scratch, team, g, &block)
        else:
            if shared_halos:
                for item in range(n_items):
                    inplace_halo(item, a, halos + item * g.halo_len, g)
            for item in range(n_items):
                inplace_run_item(item, 0, a, d, w, scratch, team, g, &block)
    free(scratch)


def atrous_in_place(cnp.ndarray approx,    # IN/OUT (pre, m, q)
                    detail,                # IN (pre, m, q) or None
                    cnp.ndarray weights,   # IN (n_in, n_taps): approx's taps, then detail's
                    cnp.ndarray offsets,   # IN (n_taps,) int64, each in (-m, m)
                    int num_threads):
    """``approx[p, i, q] = sum_t weights[0, t] approx[p, (i + o_t) mod m, q]
    (+ sum_t weights[1, t] detail[p, (i + o_t) mod m, q])``, every read of
    approx seeing its values from before the call."""
    cdef InPlace g
    cdef cnp.ndarray array
    cdef int dtype = cnp.PyArray_TYPE(approx)
    cdef Py_ssize_t chunk
    operands = (approx, weights) + (() if detail is None else (detail,))
    for array in operands:
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    cdef cnp.ndarray other = approx if detail is None else detail
    if (approx.ndim != 3 or other.ndim != 3 or other.shape[0] != approx.shape[0]
            or other.shape[1] != approx.shape[1] or other.shape[2] != approx.shape[2]):
        raise ValueError("fastdilate core: approx and detail must share one 3-D shape")
    n_in = 1 if detail is None else 2
    if (weights.ndim != 2 or weights.shape[0] != n_in
            or not 1 <= weights.shape[1] <= ATROUS_MAX_TAPS
            or cnp.PyArray_TYPE(offsets) != cnp.NPY_INT64 or offsets.ndim != 1
            or offsets.shape[0] != weights.shape[1] or not cnp.PyArray_ISCARRAY_RO(offsets)
            or approx.shape[1] < 1 or abs(offsets).max() >= approx.shape[1]):
        raise ValueError("fastdilate core: weights and offsets do not agree")
    g.pre, g.m, g.q = approx.shape[0], approx.shape[1], approx.shape[2]
    g.n_in, g.n_taps = n_in, weights.shape[1]
    g.offsets = <const Py_ssize_t*> cnp.PyArray_DATA(offsets)
    g.back, g.ahead = max(0, -int(offsets.min())), max(0, int(offsets.max()))
    if g.pre * g.m * g.q == 0:
        return
    chunk = THIN_CHUNK_BYTES // (4 if dtype == cnp.NPY_FLOAT32 else 8)
    g.strip = g.q if g.q <= INPLACE_STRIP else INPLACE_STRIP
    g.n_strips = (g.q + g.strip - 1) // g.strip
    g.block_rows = max(1, INPLACE_BLOCK_POINTS // g.strip)
    # Split the rows only where the items are too few for the threads and
    # the halos stay a small part of the rows (50 rows of a segment per halo row).
    g.n_segments = 1
    if g.pre * g.n_strips < num_threads:
        g.n_segments = max(1, min(num_threads, g.m // (50 * (g.back + g.ahead + 1))))
    g.segment_rows = (g.m + g.n_segments - 1) // g.n_segments
    g.n_segments = (g.m + g.segment_rows - 1) // g.segment_rows
    g.halo_len = (g.back + g.ahead) * g.strip
    # the window, plus a chunk: a block's last chunk of whole rows reads past its end
    g.window_len = (g.block_rows + g.back + g.ahead) * g.strip + chunk
    if dtype == cnp.NPY_FLOAT32:
        run_inplace(<float*> cnp.PyArray_DATA(approx),
                    <const float*> (NULL if detail is None else cnp.PyArray_DATA(other)),
                    <const float*> cnp.PyArray_DATA(weights), &g, num_threads)
    else:
        run_inplace(<double*> cnp.PyArray_DATA(approx),
                    <const double*> (NULL if detail is None else cnp.PyArray_DATA(other)),
                    <const double*> cnp.PyArray_DATA(weights), &g, num_threads)
include "_core_wavelets_2d.pxi"
