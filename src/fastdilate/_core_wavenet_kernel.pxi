# Included by _core.pyx after _core_wavenet.pxi: the WaveNet kernel object
# that checks a plan and its operands once, and the loops that share the
# streams or the pieces of whole signals among the threads.


cdef class WaveNetKernel:
    """The compiled stack of one ``models.WaveNet`` plan: its weights (one
    flat array of the dtype it runs in) and the descriptor tables.

    The plan is checked once here, as the last line of defence before raw
    pointers: every offset it gives must lie inside its array.  Failing
    that is a bug in fastdilate.models, never in the caller.

    ``time_major``: every signal is a row of frames per channel and the
    products vectorise over frames (for nets of few channels, whose
    channel vectors would be mostly padding), not frame-major.
    """
    cdef WnNet net
    cdef object keep  # the arrays that the net's pointers point into
    cdef readonly object dtype
    cdef readonly Py_ssize_t state_len, n_buffers, scratch_len, chunk
    # One prepared stream (bind): its arrays, checked once, for stream_bound.
    cdef object bound
    cdef void* bound_state
    cdef Py_ssize_t* bound_positions
    cdef void* bound_scratch

    def __init__(self, cnp.ndarray weights, cnp.ndarray layers, cnp.ndarray arrays,
                 cnp.ndarray buffers, cnp.ndarray offsets, cnp.ndarray scratch,
                 Py_ssize_t state_len, Py_ssize_t chunk, double head_scale,
                 bint time_major=False):
        for table in (layers, arrays, buffers, offsets, scratch):
            if cnp.PyArray_TYPE(table) != cnp.NPY_INTP or not cnp.PyArray_ISCARRAY_RO(table):
                raise ValueError("fastdilate core: WaveNet tables must be aligned C-contiguous "
                                 "intp")
        if (weights.ndim != 1 or not cnp.PyArray_ISCARRAY_RO(weights)
                or cnp.PyArray_TYPE(weights) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("fastdilate core: WaveNet weights must be flat float32 or float64")
        if (layers.size % N_LAYER_FIELDS or arrays.size % N_ARRAY_FIELDS or arrays.size == 0
                or buffers.size % N_BUFFER_FIELDS or scratch.size != N_SCRATCH_FIELDS
                or offsets.size < 1 or chunk < 1):
            raise ValueError("fastdilate core: WaveNet tables have the wrong sizes")
        self.keep = (weights, layers, arrays, buffers, offsets, scratch)
        self.dtype = weights.dtype
        self.net.weights = cnp.PyArray_DATA(weights)
        self.net.layers = <const Py_ssize_t*> cnp.PyArray_DATA(layers)
        self.net.arrays = <const Py_ssize_t*> cnp.PyArray_DATA(arrays)
        self.net.buffers = <const Py_ssize_t*> cnp.PyArray_DATA(buffers)
        self.net.offsets = <const Py_ssize_t*> cnp.PyArray_DATA(offsets)
        self.net.scratch = <const Py_ssize_t*> cnp.PyArray_DATA(scratch)
        self.net.n_layers = layers.size // N_LAYER_FIELDS
        self.net.n_arrays = arrays.size // N_ARRAY_FIELDS
        self.net.n_buffers = buffers.size // N_BUFFER_FIELDS
        self.net.state_len, self.net.chunk, self.net.head_scale = state_len, chunk, head_scale
        self.net.time_major = time_major
        self.net.pad = FD_WN_WIDE_BYTES // weights.itemsize if time_major else 1
        self.state_len, self.n_buffers, self.chunk = state_len, self.net.n_buffers, chunk
        self.scratch_len = self.net.scratch[S_LENGTH]
        if not wn_plan_fits(weights.size, layers.reshape(-1, N_LAYER_FIELDS),
                            arrays.reshape(-1, N_ARRAY_FIELDS), buffers.reshape(-1, N_BUFFER_FIELDS),
                            offsets, scratch, state_len, chunk,
                            # frame-major widths: whole 16-byte vectors at least
                            1 if time_major else 16 // weights.itemsize, time_major,
                            self.net.pad):
            raise ValueError("fastdilate core: the WaveNet plan does not fit its arrays")

    cdef _check_run(self, cnp.ndarray x, cnp.ndarray y, Py_ssize_t n_streams, Py_ssize_t length,
                    cnp.ndarray state, cnp.ndarray positions, Py_ssize_t n_states,
                    cnp.ndarray scratch, Py_ssize_t n_scratch, bint written_first=False):
        """Operands of a run; ``written_first``: positions the run sets before reading."""
        cdef int dtype = cnp.PyArray_TYPE(self.keep[0])
        cdef cnp.ndarray array
        for array in (x, y, state, scratch):
            if cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_ISCARRAY_RO(array):
                raise ValueError("fastdilate core: WaveNet operands must be aligned C-contiguous "
                                 "arrays of the weights' dtype")
        if cnp.PyArray_TYPE(positions) != cnp.NPY_INTP or not cnp.PyArray_ISCARRAY_RO(positions):
            raise ValueError("fastdilate core: WaveNet positions must be aligned C-contiguous intp")
        if (n_streams < 0 or length < 0 or x.size != n_streams * length or y.size != x.size
                or state.size != n_states * self.state_len
                or positions.size != n_states * self.n_buffers
                or n_scratch < 1 or scratch.size != n_scratch * self.scratch_len):
            raise ValueError("fastdilate core: WaveNet operand sizes do not agree")
        if not written_first and not self._positions_fit(<const Py_ssize_t*> cnp.PyArray_DATA(positions), n_states):
            raise ValueError("fastdilate core: WaveNet buffer positions out of range")

    cdef bint _positions_fit(self, const Py_ssize_t* pos, Py_ssize_t n_states):
        cdef Py_ssize_t s, b
        cdef const Py_ssize_t* buf
        for s in range(n_states):
            for b in range(self.n_buffers):
                buf = self.net.buffers + b * N_BUFFER_FIELDS
                if not buf[B_HISTORY] <= pos[s * self.n_buffers + b] <= buf[B_HISTORY] + buf[B_ROOM]:
                    return False
        return True

    def stream(self, cnp.ndarray x, cnp.ndarray y, Py_ssize_t n_streams, Py_ssize_t length,
               cnp.ndarray state, cnp.ndarray positions, cnp.ndarray scratch, int num_threads):
        """Run ``length`` frames of each of n_streams streams (x, y: n_streams
        x length values), stream i with state row i; one scratch row per
        thread.  The streams share the threads; each stream runs on one."""
        self._check_run(x, y, n_streams, length, state, positions, n_streams, scratch,
                        scratch.shape[0] if scratch.ndim else 0)
        team = max(1, min(num_threads, n_streams, scratch.shape[0]))
        if cnp.PyArray_TYPE(y) == cnp.NPY_FLOAT32:
            run_streams(&self.net, <const float*> cnp.PyArray_DATA(x), <float*> cnp.PyArray_DATA(y),
                        n_streams, length, <float*> cnp.PyArray_DATA(state),
                        <Py_ssize_t*> cnp.PyArray_DATA(positions), <float*> cnp.PyArray_DATA(scratch),
                        self.scratch_len, team)
        else:
            run_streams(&self.net, <const double*> cnp.PyArray_DATA(x), <double*> cnp.PyArray_DATA(y),
                        n_streams, length, <double*> cnp.PyArray_DATA(state),
                        <Py_ssize_t*> cnp.PyArray_DATA(positions), <double*> cnp.PyArray_DATA(scratch),
                        self.scratch_len, team)

    def bind(self, cnp.ndarray state, cnp.ndarray positions, cnp.ndarray scratch):
        """Keep one stream's state, positions and scratch (one row each) for
        stream_bound, checked here once."""
        cdef cnp.ndarray empty = cnp.PyArray_EMPTY(1, [0], cnp.PyArray_TYPE(self.keep[0]), 0)
        self._check_run(empty, empty, 1, 0, state, positions, 1, scratch, 1)
        self.bound = (state, positions, scratch)
        self.bound_state = cnp.PyArray_DATA(state)
        self.bound_positions = <Py_ssize_t*> cnp.PyArray_DATA(positions)
        self.bound_scratch = cnp.PyArray_DATA(scratch)

    def stream_bound(self, object block, object out):
        """Run the bound stream over ``block`` into ``out`` when both are what
        it takes as they are: aligned C-contiguous (T,) or (1, T) arrays of the
        weights' dtype, of one shape, out writeable and apart from block.
        Returns whether it ran; anything else is left to the checked path."""
        cdef cnp.ndarray x, y
        cdef int dtype = cnp.PyArray_TYPE(self.keep[0]), nd, d
        cdef char* x_at
        cdef char* y_at
        cdef Py_ssize_t length, nbytes
        if (self.bound is None or type(block) is not cnp.ndarray or type(out) is not cnp.ndarray
                or block is out):
            return False
        x, y = block, out
        nd = cnp.PyArray_NDIM(x)
        if (cnp.PyArray_TYPE(x) != dtype or cnp.PyArray_TYPE(y) != dtype
                or not cnp.PyArray_ISCARRAY_RO(x) or not cnp.PyArray_ISCARRAY_RO(y)
                or not cnp.PyArray_ISWRITEABLE(y) or nd < 1 or nd > 2 or cnp.PyArray_NDIM(y) != nd
                or (nd == 2 and cnp.PyArray_DIM(x, 0) != 1)):
            return False
        for d in range(nd):
            if cnp.PyArray_DIM(x, d) != cnp.PyArray_DIM(y, d):
                return False
        length = cnp.PyArray_DIM(x, nd - 1)
        nbytes = length * cnp.PyArray_ITEMSIZE(x)
        x_at, y_at = <char*> cnp.PyArray_DATA(x), <char*> cnp.PyArray_DATA(y)
        if (length and x_at < y_at + nbytes and y_at < x_at + nbytes) or not self._positions_fit(
                self.bound_positions, 1):
            return False
        if dtype == cnp.NPY_FLOAT32:
            run_streams(&self.net, <const float*> x_at, <float*> y_at, 1, length,
                        <float*> self.bound_state, self.bound_positions,
                        <float*> self.bound_scratch, self.scratch_len, 1)
        else:
            run_streams(&self.net, <const double*> x_at, <double*> y_at, 1, length,
                        <double*> self.bound_state, self.bound_positions,
                        <double*> self.bound_scratch, self.scratch_len, 1)
        return True

    def offline(self, cnp.ndarray x, cnp.ndarray y, Py_ssize_t n_streams, Py_ssize_t length,
                cnp.ndarray silence, cnp.ndarray silence_positions, cnp.ndarray work,
                cnp.ndarray work_positions, cnp.ndarray scratch, Py_ssize_t n_segments,
                Py_ssize_t warmup, int num_threads):
        """Whole signals: each of n_streams rows cut into n_segments pieces,
        one work item each.  An item starts from the ``silence`` state,
        runs the ``warmup`` frames before its piece (enough to fill every
        history: the receptive field - 1) and then its piece; one work and
        scratch row per thread."""
        self._check_run(x, y, n_streams, length, silence, silence_positions, 1, scratch,
                        scratch.shape[0] if scratch.ndim else 0)
        self._check_run(x, y, n_streams, length, work, work_positions,
                        work.shape[0] if work.ndim == 2 else 0, scratch, scratch.shape[0], True)
        if n_segments < 1 or warmup < 0 or work.shape[0] != scratch.shape[0]:
            raise ValueError("fastdilate core: WaveNet work rows do not agree")
        team = max(1, min(num_threads, n_streams * n_segments, scratch.shape[0]))
        if cnp.PyArray_TYPE(y) == cnp.NPY_FLOAT32:
            run_pieces(&self.net, <const float*> cnp.PyArray_DATA(x), <float*> cnp.PyArray_DATA(y),
                       n_streams, length, <const float*> cnp.PyArray_DATA(silence),
                       <const Py_ssize_t*> cnp.PyArray_DATA(silence_positions),
                       <float*> cnp.PyArray_DATA(work), <Py_ssize_t*> cnp.PyArray_DATA(work_positions),
                       <float*> cnp.PyArray_DATA(scratch), self.scratch_len, n_segments, warmup, team)
        else:
            run_pieces(&self.net, <const double*> cnp.PyArray_DATA(x), <double*> cnp.PyArray_DATA(y),
                       n_streams, length, <const double*> cnp.PyArray_DATA(silence),
                       <const Py_ssize_t*> cnp.PyArray_DATA(silence_positions),
                       <double*> cnp.PyArray_DATA(work), <Py_ssize_t*> cnp.PyArray_DATA(work_positions),
                       <double*> cnp.PyArray_DATA(scratch), self.scratch_len, n_segments, warmup, team)


def wn_plan_fits(n_weights, layers, arrays, buffers, offsets, scratch, state_len, chunk, lanes,
                 time_major=False, pad=1):
    """Whether every offset of a plan lies inside its array, every width is
    whole vectors of ``lanes`` and the tables agree with each other.  A
    time-major plan's frames run in whole vectors of ``pad`` (its chunk
    too); its taps step one value per frame."""
    def fits(start, length, size=n_weights, absent_ok=True):
        return (start == -1 and absent_ok) or (0 <= start and 0 <= length and start + length <= size)

    def width(b):
        return buffers[b, B_WIDTH] if 0 <= b < len(buffers) else -1

    def taps_fit(index, taps, b):
        if not fits(index, taps, len(offsets), False) or width(b) < 0:
            return False
        reach = buffers[b, B_HISTORY] * (1 if time_major else buffers[b, B_WIDTH])
        return all(-reach <= offsets[index + k] <= 0 for k in range(taps))

    def scratch_fits(section, row_width):
        return 0 <= scratch[section] and scratch[section] + chunk * row_width <= scratch[S_LENGTH]

    def layer_fits(layer, c_width, head_width, last, last_array):
        b_width, mid = layer[L_BOTTLENECK_WIDTH], layer[L_MID_WIDTH]
        next_ok = (layer[L_NEXT] == (NO_RESIDUAL if last_array else NEXT_RESIDUAL) if last
                   else width(layer[L_NEXT]) == c_width)
        return (next_ok and layer[L_CHANNELS_WIDTH] == c_width == width(layer[L_BUFFER])
                and 1 <= layer[L_CHANNELS] <= c_width and 1 <= layer[L_BOTTLENECK] <= b_width
                and b_width % lanes == 0 and layer[L_HEAD_WIDTH] == head_width
                and 0 <= layer[L_GATING] < len(WAVENET_GATINGS)
                and mid == (b_width if layer[L_GATING] == 0 else 2 * b_width)
                and all(0 <= layer[f] < len(WAVENET_ACTIVATIONS) for f in (L_ACT, L_SECONDARY))
                and fits(layer[L_CONV_W], layer[L_TAPS] * layer[L_CHANNELS] * mid, absent_ok=False)
                and fits(layer[L_CONV_B], mid) and fits(layer[L_MIXIN_W], mid, absent_ok=False)
                and fits(layer[L_ACT_PARAMS], 4, absent_ok=False)
                and fits(layer[L_SECONDARY_PARAMS], 4, absent_ok=False)
                and fits(layer[L_1X1_W], layer[L_BOTTLENECK] * c_width)
                and fits(layer[L_1X1_B], c_width) and (layer[L_1X1_W] >= 0 or b_width == c_width)
                and fits(layer[L_HEAD1X1_W], layer[L_BOTTLENECK] * head_width)
                and fits(layer[L_HEAD1X1_B], head_width)
                and (layer[L_HEAD1X1_W] >= 0 or b_width == head_width)
                and taps_fit(layer[L_TAP_OFFSETS], layer[L_TAPS], layer[L_BUFFER])
                and scratch_fits(S_MID, mid) and scratch_fits(S_ACTIVATED, b_width))

    if offsets[0] != 0 or chunk < 1 or chunk % pad or not scratch_fits(S_AUDIO, 1):
        return False
    for buf in buffers:
        if not (buf[B_ROOM] >= chunk and buf[B_HISTORY] >= 0 and buf[B_WIDTH] > 0
                and buf[B_WIDTH] % lanes == 0
                and fits(buf[B_OFFSET], (buf[B_HISTORY] + buf[B_ROOM]) * buf[B_WIDTH], state_len)):
            return False
    prev_width, prev_out, next_first = 1, -1, 0
    for a, arr in enumerate(arrays):
        if arr[A_FIRST] != next_first or arr[A_COUNT] < 1 or next_first + arr[A_COUNT] > len(layers):
            return False
        c_width, head_width = layers[arr[A_FIRST], L_CHANNELS_WIDTH], width(arr[A_HEAD_BUFFER])
        out_width = arr[A_HEAD_OUT_WIDTH]
        if not (head_width > 0 and (a == 0 or prev_out == head_width)
                and 1 <= arr[A_INPUT_CHANNELS] <= prev_width
                and fits(arr[A_RECHANNEL_W], arr[A_INPUT_CHANNELS] * c_width, absent_ok=False)
                and 1 <= arr[A_HEAD_CHANNELS] <= head_width
                and taps_fit(arr[A_HEAD_TAP_OFFSETS], arr[A_HEAD_TAPS], arr[A_HEAD_BUFFER])
                and out_width > 0 and out_width % lanes == 0
                and fits(arr[A_HEAD_W], arr[A_HEAD_TAPS] * arr[A_HEAD_CHANNELS] * out_width,
                         absent_ok=False)
                and fits(arr[A_HEAD_B], out_width)
                and scratch_fits(S_HEAD_OUT, out_width) and scratch_fits(S_RESIDUAL, c_width)):
            return False
        for l in range(arr[A_FIRST], arr[A_FIRST] + arr[A_COUNT]):
            if not layer_fits(layers[l], c_width, head_width, l == arr[A_FIRST] + arr[A_COUNT] - 1,
                              a == len(arrays) - 1):
                return False
        prev_width, prev_out, next_first = c_width, out_width, arr[A_FIRST] + arr[A_COUNT]
    return next_first == len(layers)


cdef void run_streams(const WnNet* net, const floating* x, floating* y, Py_ssize_t n_streams,
                      Py_ssize_t length, floating* state, Py_ssize_t* positions,
                      floating* scratch, Py_ssize_t scratch_len, int team) noexcept:
    cdef Py_ssize_t i
    if team > 1 and not fd_in_forked_child():
        with nogil, parallel(num_threads=team):
            for i in prange(n_streams, schedule="static"):
                wn_process(net, state + i * net.state_len, positions + i * net.n_buffers,
                           scratch + threadid() * scratch_len, x + i * length, y + i * length,
                           length)
    else:
        with nogil:
            for i in range(n_streams):
                wn_process(net, state + i * net.state_len, positions + i * net.n_buffers,
                           scratch, x + i * length, y + i * length, length)


cdef void run_piece(const WnNet* net, Py_ssize_t item, const floating* x, floating* y,
                    Py_ssize_t length, const floating* silence, const Py_ssize_t* silence_pos,
                    floating* work, Py_ssize_t* work_pos, floating* scratch,
                    Py_ssize_t n_segments, Py_ssize_t warmup) noexcept nogil:
    cdef Py_ssize_t row = item // n_segments, piece = item % n_segments
    cdef Py_ssize_t piece_len = (length + n_segments - 1) // n_segments
    cdef Py_ssize_t start = piece * piece_len, end = min(length, start + piece_len)
    cdef Py_ssize_t first = max(0, start - warmup)
    if start >= end:
        return
    memcpy(work, silence, net.state_len * sizeof(floating))
    memcpy(work_pos, silence_pos, net.n_buffers * sizeof(Py_ssize_t))
    x += row * length
    y += row * length
    wn_process(net, work, work_pos, scratch, x + first, NULL, start - first)
    wn_process(net, work, work_pos, scratch, x + start, y + start, end - start)


cdef void run_pieces(const WnNet* net, const floating* x, floating* y, Py_ssize_t n_streams,
                     Py_ssize_t length, const floating* silence, const Py_ssize_t* silence_pos,
                     floating* work, Py_ssize_t* work_pos, floating* scratch,
                     Py_ssize_t scratch_len, Py_ssize_t n_segments, Py_ssize_t warmup,
                     int team) noexcept:
    cdef Py_ssize_t item, tid
    if team > 1 and not fd_in_forked_child():
        with nogil, parallel(num_threads=team):
            for item in prange(n_streams * n_segments, schedule="static"):
                tid = threadid()
                run_piece(net, item, x, y, length, silence, silence_pos,
                          work + tid * net.state_len, work_pos + tid * net.n_buffers,
                          scratch + tid * scratch_len, n_segments, warmup)
    else:
        with nogil:
            for item in range(n_streams * n_segments):
                run_piece(net, item, x, y, length, silence, silence_pos, work, work_pos,
                          scratch, n_segments, warmup)
