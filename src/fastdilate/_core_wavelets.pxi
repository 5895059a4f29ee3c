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
# (input, tap), read in place where no tap wraps and from a small circular
# window where one does; along an inner axis each output row is a sum of
# whole input rows, a thin chunk of them at a time.

cdef enum:
    ATROUS_MAX_BANDS = 2
    ATROUS_MAX_TAPS = 256
    # Output points (post == 1) or rows (post > 1) per work item.
    ATROUS_ITEM_POINTS = 4096


cdef struct Atrous:
    Py_ssize_t pre, n, post, n_in, n_out, n_taps
    Py_ssize_t min_offset, span   # offsets lie in [min_offset, min_offset + span]
    Py_ssize_t item_len, n_items_per_line
    const Py_ssize_t* offsets


cdef inline Py_ssize_t wrap_index(Py_ssize_t j, Py_ssize_t n) noexcept nogil:
    j %= n  # C's % keeps the sign of j
    return j + n if j < 0 else j


cdef void atrous_chunk(floating* out, Py_ssize_t keep, const floating* const* x,
                       Py_ssize_t x_step, const floating* w, const Atrous* g) noexcept nogil:
    """One thin chunk of one output: ``x[c] + offsets[t] * x_step`` is
    where input c's tap t reads the chunk's first point; ``keep`` points
    are stored (a whole chunk, or fewer at a line's end)."""
    cdef Py_ssize_t lanes = VECTOR_BYTES // sizeof(floating)
    cdef thin_block block
    cdef floating zero = 0
    cdef floating partial[ACC_LEN]
    cdef Py_ssize_t c, t
    block_init(&block, &zero)
    for c in range(g.n_in):
        for t in range(g.n_taps):
            block_update(&block, x[c] + g.offsets[t] * x_step, lanes, w + c * g.n_taps + t)
    if keep * sizeof(floating) == THIN_CHUNK_BYTES:
        block_store(&block, out, 0, lanes)
    else:
        block_store(&block, partial, 0, lanes)
        memcpy(out, partial, keep * sizeof(floating))


cdef void atrous_line_item(Py_ssize_t item, const floating* const* ins, floating* const* outs,
                           const floating* w, floating* window, const Atrous* g) noexcept nogil:
    """Points [i0, i0 + item_len) of line p (post == 1)."""
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t p = item // g.n_items_per_line
    cdef Py_ssize_t i0 = (item % g.n_items_per_line) * g.item_len
    cdef Py_ssize_t end = min(i0 + g.item_len, g.n)
    cdef Py_ssize_t line = p * g.n
    cdef Py_ssize_t window_len = chunk + g.span
    cdef const floating* x[ATROUS_MAX_BANDS]
    cdef Py_ssize_t i, c, k, o, keep
    cdef bint inside
    while i0 < end:
        keep = min(chunk, end - i0)
        # In place only if every tap of the whole chunk reads inside the line.
        inside = i0 + g.min_offset >= 0 and i0 + chunk + g.min_offset + g.span <= g.n
        for c in range(g.n_in):
            if inside:
                x[c] = ins[c] + line + i0
            else:
                for k in range(window_len):
                    window[c * window_len + k] = ins[c][line + wrap_index(i0 + g.min_offset + k, g.n)]
                x[c] = window + c * window_len - g.min_offset
        for o in range(g.n_out):
            atrous_chunk(outs[o] + line + i0, keep, x, 1, w + o * g.n_in * g.n_taps, g)
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
    cdef Py_ssize_t row_offsets[ATROUS_MAX_TAPS]
    cdef const floating* x[ATROUS_MAX_BANDS]
    cdef const floating* row
    cdef Py_ssize_t i, c, t, o, q
    cdef floating s
    cdef Atrous rows = g[0]
    rows.offsets = row_offsets
    for i in range(i0, end):
        # Tap t of row i reads input row (i + offset_t) mod n: relative to
        # the row itself, so atrous_chunk's x + offset * x_step finds it.
        for t in range(g.n_taps):
            row_offsets[t] = wrap_index(i + g.offsets[t], g.n) - i
        q = 0
        while q < whole:
            for c in range(g.n_in):
                x[c] = ins[c] + plane + i * g.post + q
            for o in range(g.n_out):
                atrous_chunk(outs[o] + plane + i * g.post + q, chunk, x, g.post,
                             w + o * g.n_in * g.n_taps, &rows)
            q += chunk
        for o in range(g.n_out):
            for q in range(whole, g.post):
                s = 0
                for c in range(g.n_in):
                    for t in range(g.n_taps):
                        row = ins[c] + plane + (i + row_offsets[t]) * g.post
                        s = s + w[(o * g.n_in + c) * g.n_taps + t] * row[q]
                outs[o][plane + i * g.post + q] = s


cdef void run_atrous(const floating* const* ins, floating* const* outs, const floating* w,
                     Atrous* g, int num_threads) except *:
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t window_len = chunk + g.span
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
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_IS_C_CONTIGUOUS(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be C-contiguous float32 or float64")
    for array in inputs + outputs:
        if (array.ndim != 3 or first.ndim != 3 or array.shape[0] != first.shape[0]
                or array.shape[1] != first.shape[1] or array.shape[2] != first.shape[2]):
            raise ValueError("fastdilate core: inputs and outputs must share one 3-D shape")
    if (weights.ndim != 3 or weights.shape[0] != len(outputs) or weights.shape[1] != len(inputs)
            or not 1 <= weights.shape[2] <= ATROUS_MAX_TAPS or cnp.PyArray_TYPE(offsets) != cnp.NPY_INT64
            or offsets.ndim != 1 or offsets.shape[0] != weights.shape[2]
            or not cnp.PyArray_IS_C_CONTIGUOUS(offsets) or first.shape[1] < 1
            or abs(offsets).max() >= first.shape[1]):
        raise ValueError("fastdilate core: weights and offsets do not agree")
    g.pre, g.n, g.post = first.shape[0], first.shape[1], first.shape[2]
    g.n_out, g.n_in, g.n_taps = weights.shape[0], weights.shape[1], weights.shape[2]
    g.offsets = <const Py_ssize_t*> cnp.PyArray_DATA(offsets)
    g.min_offset = offsets.min()
    g.span = offsets.max() - g.min_offset
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
