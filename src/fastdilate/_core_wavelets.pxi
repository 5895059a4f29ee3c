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
    cdef Py_ssize_t c, t, o, keep
    while i0 < end:
        keep = min(chunk, end - i0)
        for c in range(g.n_in):
            for t in range(g.n_taps):
                taps[c * g.n_taps + t] = line_tap(ins[c] + line, i0 + g.offsets[t], chunk, g.n,
                                                  window + (c * g.n_taps + t) * chunk)
        for o in range(g.n_out):
            atrous_chunk(outs[o] + line + i0, keep, taps, w + o * g.n_in * g.n_taps, g)
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
            for o in range(g.n_out):
                atrous_chunk(outs[o] + plane + i * g.post + q, chunk, taps,
                             w + o * g.n_in * g.n_taps, g)
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
