# One level of a 2-D stationary wavelet transform in one pass over memory
# (included by _core_wavelets.pxi, whose kernels it reuses).
#
# Arrays are (pre, n_a, row): axis a is the outer transformed axis, and each
# of its rows holds a (mid, n_b, post) block with the inner axis b inside.
# A level is a pass along b inside every row and one along a across rows.
# Along a the level's dilation d is split into d phases (rows k, k + d,
# k + 2d, ...): a phase of m = n_a / d rows at dilation 1.  A work item
# walks the rows of one segment of one phase in order, keeping the rows
# that the taps along a reach in a ring of back + ahead + 1 rows, each
# filled by the pass along b when first needed:
#
#   analysis:  ring rows lo_b(x), hi_b(x); out bands (lo_a, hi_a) of each;
#   synthesis: ring rows L = syn_b(aa, ad), H = syn_b(da, dd);
#              out = syn_a(L, H), written over aa (or into a new array).
#
# So every band is read or written once per level and the only scratch is
# the rings and, for the synthesis in place, the halos: the L rows an item
# reads outside its segment, taken before any item writes there (before
# the item starts when one item holds the whole phase).

cdef struct Atrous2d:
    Py_ssize_t pre, n_a, row, dilation, m
    Py_ssize_t n_taps, back, ahead      # the taps along a, at dilation 1 over a phase
    const Py_ssize_t* offsets
    Py_ssize_t n_segments, segment_rows, ring_rows, halo_len, slots_len, per_thread
    Atrous b                            # the pass along b inside a row


cdef inline Py_ssize_t row_at(Py_ssize_t p, Py_ssize_t k, Py_ssize_t y,
                              const Atrous2d* g) noexcept nogil:
    """Offset of row y (any integer, taken mod m) of phase k of plane p."""
    return (p * g.n_a + wrap_index(y, g.m) * g.dilation + k) * g.row


cdef void pass_b(const floating* in0, const floating* in1, floating* out0, floating* out1,
                 const floating* w, floating* slots, const Atrous* gb) noexcept nogil:
    """The pass along b over one row: 1 or 2 inputs into 1 or 2 outputs."""
    cdef const floating* ins[ATROUS_MAX_BANDS]
    cdef floating* outs[ATROUS_MAX_BANDS]
    cdef Py_ssize_t item
    ins[0], ins[1], outs[0], outs[1] = in0, in1, out0, out1
    for item in range(gb.pre * gb.n_items_per_line):
        if gb.post == 1:
            atrous_line_item(item, ins, outs, w, slots, gb)
        else:
            atrous_row_item(item, ins, outs, w, gb)


cdef struct Item2d:
    Py_ssize_t p, k, first, end


cdef inline void item2d_bounds(Py_ssize_t item, const Atrous2d* g, Item2d* it) noexcept nogil:
    cdef Py_ssize_t segment = item % g.n_segments
    cdef Py_ssize_t phase = item // g.n_segments
    it.p = phase // g.dilation
    it.k = phase % g.dilation
    it.first = segment * g.segment_rows
    it.end = min(it.first + g.segment_rows, g.m)


cdef void synth_halo(Py_ssize_t item, const floating* const* bands, floating* halo,
                     const floating* wb, floating* slots, const Atrous2d* g) noexcept nogil:
    """L rows first - back .. first - 1, then end .. end + ahead - 1."""
    cdef Item2d it
    cdef Py_ssize_t j, y, at
    item2d_bounds(item, g, &it)
    for j in range(g.back + g.ahead):
        y = it.first - g.back + j if j < g.back else it.end + j - g.back
        at = row_at(it.p, it.k, y, g)
        pass_b(bands[0] + at, bands[1] + at, halo + j * g.row, NULL, wb, slots, &g.b)


cdef void fill_ring(Py_ssize_t y, bint analysis, const Item2d* it, const floating* const* bands,
                    floating* ring0, floating* ring1, const floating* halo, const floating* wb,
                    floating* slots, const Atrous2d* g) noexcept nogil:
    """Ring rows of row y: lo_b and hi_b of x (analysis), or L and H."""
    cdef Py_ssize_t at = row_at(it.p, it.k, y, g)
    cdef Py_ssize_t slot = wrap_index(y, g.ring_rows) * g.row
    if analysis:
        pass_b(bands[0] + at, NULL, ring0 + slot, ring1 + slot, wb, slots, &g.b)
        return
    if y < it.first:
        memcpy(ring0 + slot, halo + (y - it.first + g.back) * g.row, g.row * sizeof(floating))
    elif y >= it.end:
        memcpy(ring0 + slot, halo + (g.back + y - it.end) * g.row, g.row * sizeof(floating))
    else:  # a row not yet written
        pass_b(bands[0] + at, bands[1] + at, ring0 + slot, NULL, wb, slots, &g.b)
    pass_b(bands[2] + at, bands[3] + at, ring1 + slot, NULL, wb, slots, &g.b)


cdef void emit_row(Py_ssize_t r, bint analysis, const Item2d* it, floating* const* outs,
                   const floating* ring0, const floating* ring1, const floating* wa,
                   const Atrous2d* g, const Atrous* block) noexcept nogil:
    """Row r of the outputs from the ring, a thin chunk at a time (a chunk
    may read past a ring row: the ring has a chunk to spare at its end)."""
    cdef Py_ssize_t chunk = THIN_CHUNK_BYTES // sizeof(floating)
    cdef Py_ssize_t at = row_at(it.p, it.k, r, g)
    cdef const floating* taps[ATROUS_MAX_BANDS * ATROUS_MAX_TAPS]
    cdef Py_ssize_t t, j, q, keep, slot
    for t in range(g.n_taps):
        slot = wrap_index(r + g.offsets[t], g.ring_rows) * g.row
        taps[t] = ring0 + slot
        taps[g.n_taps + t] = ring1 + slot
    q = 0
    while q < g.row:
        keep = min(chunk, g.row - q)
        if analysis:  # (aa, da) from lo_b's rows, (ad, dd) from hi_b's
            atrous_chunk_pair(outs[0] + at + q, outs[2] + at + q, keep, taps, wa, block)
            atrous_chunk_pair(outs[1] + at + q, outs[3] + at + q, keep, taps + g.n_taps, wa,
                              block)
        else:
            atrous_chunk(outs[0] + at + q, keep, taps, wa, block)
        for j in range(2 * g.n_taps):
            taps[j] += chunk
        q += chunk


cdef void run_item2d(Py_ssize_t item, bint analysis, const floating* const* bands,
                     floating* const* outs, const floating* wb, const floating* wa,
                     floating* mine, floating* halo, bint own_halo, const Atrous2d* g,
                     const Atrous* block) noexcept nogil:
    cdef Py_ssize_t ring_len = g.ring_rows * g.row + THIN_CHUNK_BYTES // sizeof(floating)
    cdef floating* ring0 = mine
    cdef floating* ring1 = mine + ring_len
    cdef floating* slots = mine + 2 * ring_len
    cdef Item2d it
    cdef Py_ssize_t y, r
    item2d_bounds(item, g, &it)
    if own_halo:
        synth_halo(item, bands, halo, wb, slots, g)
    for y in range(it.first - g.back, it.first + g.ahead):
        fill_ring(y, analysis, &it, bands, ring0, ring1, halo, wb, slots, g)
    for r in range(it.first, it.end):
        fill_ring(r + g.ahead, analysis, &it, bands, ring0, ring1, halo, wb, slots, g)
        emit_row(r, analysis, &it, outs, ring0, ring1, wa, g, block)


cdef void item2d_job(Py_ssize_t item, int thread, bint analysis, const floating* const* bands,
                     floating* const* outs, const floating* wb, const floating* wa,
                     floating* scratch, floating* halos, const Atrous2d* g,
                     const Atrous* block) noexcept nogil:
    """Item ``item`` on thread ``thread``'s scratch, with its halo from
    ``halos`` (taken before, when not NULL) or its own at the scratch's end."""
    cdef floating* mine = scratch + thread * g.per_thread
    cdef bint own_halo = not analysis and halos == NULL
    cdef floating* halo = (halos + item * g.halo_len if halos != NULL
                           else mine + g.per_thread - g.halo_len)
    run_item2d(item, analysis, bands, outs, wb, wa, mine, halo, own_halo, g, block)


cdef void run_atrous_2d(bint analysis, const floating* const* bands, floating* const* outs,
                        const floating* wb, const floating* wa, Atrous2d* g,
                        int num_threads) except *:
    cdef Py_ssize_t n_items = g.pre * g.dilation * g.n_segments
    cdef bint use_threads = num_threads > 1 and n_items > 1 and not fd_in_forked_child()
    cdef int team = num_threads if use_threads else 1
    cdef bint shared_halos = not analysis and g.n_segments > 1
    cdef Py_ssize_t halos_len = n_items * g.halo_len if shared_halos else 0
    cdef floating* scratch = <floating*> malloc((team * g.per_thread + halos_len)
                                                * sizeof(floating))
    cdef floating* halos = scratch + team * g.per_thread
    cdef Atrous block
    cdef Py_ssize_t item
    if scratch == NULL:
        raise MemoryError("fastdilate: no memory for the 2-D à trous rings")
    block.n_in, block.n_taps = 1 if analysis else 2, g.n_taps
    with nogil:
        if use_threads:
            if shared_halos:  # every halo before any item writes
                for item in prange(n_items, schedule="static", num_threads=team):
                    synth_halo(item, bands, halos + item * g.halo_len, wb,
                               scratch + threadid() * g.per_thread, g)
            for item in prange(n_items, schedule="static", num_threads=team):
                item2d_job(item, threadid(), analysis, bands, outs, wb, wa, scratch,
                           halos if shared_halos else NULL, g, &block)
        else:
            if shared_halos:
                for item in range(n_items):
                    synth_halo(item, bands, halos + item * g.halo_len, wb, scratch, g)
            for item in range(n_items):
                item2d_job(item, 0, analysis, bands, outs, wb, wa, scratch,
                           halos if shared_halos else NULL, g, &block)
    free(scratch)


def atrous_2d(bint analysis,
              tuple bands,          # IN  analysis (x,); synthesis (aa, ad, da, dd): (pre, n_a, row)
              tuple outputs,        # OUT analysis (aa, ad, da, dd); synthesis (out,), may be aa
              tuple inner,          # (mid, n_b, post) of a row
              cnp.ndarray weights_b,  # IN (n_out_b, n_in_b, n_taps_b): the pass along b
              cnp.ndarray offsets_b,  # IN (n_taps_b,) int64, each in (-n_b, n_b)
              cnp.ndarray weights_a,  # IN (n_out_a, n_in_a, n_taps_a): along a, a phase at dilation 1
              cnp.ndarray offsets_a,  # IN (n_taps_a,) int64, each in (-m, m)
              Py_ssize_t dilation,  # along a
              int num_threads):
    """One level of a 2-D SWT (analysis) or its inverse (synthesis), as
    the module comment says; 2-D keys are (a, b): 'ad' is the
    approximation along a and the detail along b.

    fastdilate.wavelets checks and prepares everything; these checks are
    the last line of defence before raw pointers.
    """
    cdef cnp.ndarray array, weights, offsets, first
    cdef const void* in_ptrs[4]
    cdef void* out_ptrs[4]
    cdef Atrous2d g
    cdef Py_ssize_t i, chunk, n_in_b = 1 if analysis else 2
    cdef int dtype
    if len(bands) != (1 if analysis else 4) or len(outputs) != (4 if analysis else 1):
        raise ValueError("fastdilate core: analysis takes 1 band into 4, synthesis 4 into 1")
    first = bands[0]
    dtype = cnp.PyArray_TYPE(first)
    for array in bands + outputs + (weights_a, weights_b):
        if (cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array)
                or dtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: operands must be aligned C-contiguous "
                             "float32 or float64")
    for array in bands + outputs:
        if (array.ndim != 3 or array.shape[0] != first.shape[0]
                or array.shape[1] != first.shape[1] or array.shape[2] != first.shape[2]):
            raise ValueError("fastdilate core: bands and outputs must share one 3-D shape")
    mid, n_b, post = inner
    if (mid * n_b * post != first.shape[2] or n_b < 1 or dilation < 1
            or first.shape[1] % dilation):
        raise ValueError("fastdilate core: the inner shape or the dilation does not fit a row")
    for weights, offsets, n_in, n_out, size in (
            (weights_b, offsets_b, n_in_b, 2 if analysis else 1, n_b),
            (weights_a, offsets_a, 2 if not analysis else 1, 2 if analysis else 1,
             first.shape[1] // dilation)):
        if (weights.ndim != 3 or weights.shape[0] != n_out or weights.shape[1] != n_in
                or not 1 <= weights.shape[2] <= ATROUS_MAX_TAPS
                or cnp.PyArray_TYPE(offsets) != cnp.NPY_INT64 or offsets.ndim != 1
                or offsets.shape[0] != weights.shape[2] or not cnp.PyArray_ISCARRAY_RO(offsets)
                or size < 1 or abs(offsets).max() >= size):
            raise ValueError("fastdilate core: weights and offsets do not agree")
    if first.shape[0] * first.shape[1] * first.shape[2] == 0:
        return
    chunk = THIN_CHUNK_BYTES // (4 if dtype == cnp.NPY_FLOAT32 else 8)
    g.pre, g.n_a, g.row, g.dilation = first.shape[0], first.shape[1], first.shape[2], dilation
    g.m = g.n_a // dilation
    g.n_taps, g.offsets = weights_a.shape[2], <const Py_ssize_t*> cnp.PyArray_DATA(offsets_a)
    g.back, g.ahead = max(0, -int(offsets_a.min())), max(0, int(offsets_a.max()))
    g.b.pre, g.b.n, g.b.post = mid, n_b, post
    g.b.n_in, g.b.n_out, g.b.n_taps = n_in_b, weights_b.shape[0], weights_b.shape[2]
    g.b.offsets = <const Py_ssize_t*> cnp.PyArray_DATA(offsets_b)
    g.b.item_len = ATROUS_ITEM_POINTS if post == 1 else max(1, ATROUS_ITEM_POINTS // post)
    g.b.n_items_per_line = (n_b + g.b.item_len - 1) // g.b.item_len
    g.ring_rows = g.back + g.ahead + 1
    # Split a phase's rows only where the phases are too few for the
    # threads and a segment is long beside the rows its taps reach.
    g.n_segments = 1
    if g.pre * dilation < num_threads:
        g.n_segments = max(1, min(num_threads, g.m // (50 * g.ring_rows)))
    g.segment_rows = (g.m + g.n_segments - 1) // g.n_segments
    g.n_segments = (g.m + g.segment_rows - 1) // g.segment_rows
    g.halo_len = 0 if analysis else (g.back + g.ahead) * g.row
    g.slots_len = n_in_b * g.b.n_taps * chunk
    # two rings, the slots of the pass along b, an own halo
    g.per_thread = 2 * (g.ring_rows * g.row + chunk) + g.slots_len + g.halo_len
    for i in range(len(bands)):
        in_ptrs[i] = cnp.PyArray_DATA(bands[i])
    for i in range(len(outputs)):
        out_ptrs[i] = cnp.PyArray_DATA(outputs[i])
    if dtype == cnp.NPY_FLOAT32:
        run_atrous_2d(analysis, <const float* const*> in_ptrs, <float* const*> out_ptrs,
                      <const float*> cnp.PyArray_DATA(weights_b),
                      <const float*> cnp.PyArray_DATA(weights_a), &g, num_threads)
    else:
        run_atrous_2d(analysis, <const double* const*> in_ptrs, <double* const*> out_ptrs,
                      <const double*> cnp.PyArray_DATA(weights_b),
                      <const double*> cnp.PyArray_DATA(weights_a), &g, num_threads)
