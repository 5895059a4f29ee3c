# Included by _core.pyx: the WaveNet stack of fastdilate.models, run block by
# block for any number of streams, every layer in one nogil loop.
#
# How a block runs.  Signals are frame-major (frame t's channels are
# contiguous, padded to whole vectors), so a layer is a small matrix times
# each frame: an output vector of channels accumulates, over (tap, input
# channel), a weight vector times one input value, for a few frames at once
# (FD_WN_FRAMES accumulators, their weight load shared).  The same sequence
# of operations computes every frame, whatever the block size or where the
# frame falls in it: that is what makes a stream bitwise equal to one pass
# over the whole signal.  A net of few channels (whose channel vectors would
# be mostly padding) runs time-major instead: each channel is a row of
# frames, and an output channel's vector of frames accumulates a weight
# times an input row's vector of frames, in the same order; every block
# then runs whole vectors of frames.  Each layer's input lives in a linear
# history buffer (the taps read back dilation * (K - 1) frames); when a
# buffer runs out of room its history is moved to the front.  A stream's buffers and
# their positions are arrays owned by Python (models/wavenet.py), which
# lays out every weight, buffer and scratch offset and describes them in
# the int tables the kernel reads (fields below).

from libc.string cimport memmove, memset

cdef extern from "_wavenet.h":
    enum:
        FD_WN_FRAMES
        FD_WN_WIDE_BYTES
    ctypedef struct wn_source "fd_wn_source":
        const void* x
        Py_ssize_t step, stride, n_in, n_taps
        const Py_ssize_t* offsets
        const void* w
    void fd_wn_matmul_f32(float* out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t width,
                          const float* bias, const float* add, Py_ssize_t add_step,
                          const wn_source* srcs, int n_src) nogil
    void fd_wn_matmul_f64(double* out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t width,
                          const double* bias, const double* add, Py_ssize_t add_step,
                          const wn_source* srcs, int n_src) nogil
    void fd_wn_tmatmul_f32(float* out, Py_ssize_t out_stride, Py_ssize_t n, Py_ssize_t width,
                           const float* bias, const float* add, Py_ssize_t add_stride,
                           const wn_source* srcs, int n_src) nogil
    void fd_wn_tmatmul_f64(double* out, Py_ssize_t out_stride, Py_ssize_t n, Py_ssize_t width,
                           const double* bias, const double* add, Py_ssize_t add_stride,
                           const wn_source* srcs, int n_src) nogil
    void fd_wn_activate_f32(float* a, Py_ssize_t a_step, const float* z, Py_ssize_t z_step,
                            Py_ssize_t z_half, Py_ssize_t n, Py_ssize_t width, int gating, int kind1,
                            const float* p1, int kind2, const float* p2, float* head,
                            Py_ssize_t head_step) nogil
    void fd_wn_activate_f64(double* a, Py_ssize_t a_step, const double* z, Py_ssize_t z_step,
                            Py_ssize_t z_half, Py_ssize_t n, Py_ssize_t width, int gating, int kind1,
                            const double* p1, int kind2, const double* p2, double* head,
                            Py_ssize_t head_step) nogil

# The descriptor tables, one row per layer, layer array and history buffer;
# models/wavenet.py fills them by these names.  Offsets into the weights are
# in values; a weight offset of -1 means the part is absent.
WAVENET_LAYER_FIELDS = ("buffer", "next_buffer", "channels", "channels_width", "taps",
                        "tap_offsets", "mid_width", "bottleneck", "bottleneck_width",
                        "conv_weight", "conv_bias", "mixin_weight", "layer1x1_weight",
                        "layer1x1_bias", "head1x1_weight", "head1x1_bias", "head_width",
                        "gating", "activation", "secondary", "activation_params",
                        "secondary_params")
WAVENET_ARRAY_FIELDS = ("first_layer", "n_layers", "input_channels", "rechannel_weight",
                        "head_buffer", "head_channels", "head_taps", "head_tap_offsets",
                        "head_weight", "head_bias", "head_out_width")
WAVENET_BUFFER_FIELDS = ("offset", "history", "room", "width")
# Scratch sections of one thread, each ``chunk`` frames of its widest use.
WAVENET_SCRATCH_FIELDS = ("mid", "activated", "residual", "head_out", "audio", "length")
WAVENET_ACTIVATIONS = ("Identity", "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "Hardtanh",
                       "LeakyHardtanh", "Softsign", "Softsigmoid", "SiLU")
WAVENET_GATINGS = ("none", "gated", "blended")
WAVENET_FRAMES = FD_WN_FRAMES
# Frame-major signal widths are whole vectors of this many bytes, or 16 bytes
# for a few channels; time-major ones run frames in vectors of this many bytes.
WAVENET_VECTOR_BYTES = FD_WN_WIDE_BYTES

cdef enum:
    NEXT_RESIDUAL = -1  # the layer's residual goes to the scratch (last of its array)
    NO_RESIDUAL = -2    # nothing reads it (last layer of the last array)

cdef enum:  # layer fields
    L_BUFFER, L_NEXT, L_CHANNELS, L_CHANNELS_WIDTH, L_TAPS, L_TAP_OFFSETS, L_MID_WIDTH,
    L_BOTTLENECK, L_BOTTLENECK_WIDTH, L_CONV_W, L_CONV_B, L_MIXIN_W, L_1X1_W, L_1X1_B,
    L_HEAD1X1_W, L_HEAD1X1_B, L_HEAD_WIDTH, L_GATING, L_ACT, L_SECONDARY, L_ACT_PARAMS,
    L_SECONDARY_PARAMS, N_LAYER_FIELDS

cdef enum:  # array fields
    A_FIRST, A_COUNT, A_INPUT_CHANNELS, A_RECHANNEL_W, A_HEAD_BUFFER, A_HEAD_CHANNELS,
    A_HEAD_TAPS, A_HEAD_TAP_OFFSETS, A_HEAD_W, A_HEAD_B, A_HEAD_OUT_WIDTH, N_ARRAY_FIELDS

cdef enum:  # buffer fields
    B_OFFSET, B_HISTORY, B_ROOM, B_WIDTH, N_BUFFER_FIELDS

cdef enum:  # scratch fields
    S_MID, S_ACTIVATED, S_RESIDUAL, S_HEAD_OUT, S_AUDIO, S_LENGTH, N_SCRATCH_FIELDS


cdef struct WnNet:
    const Py_ssize_t* layers
    const Py_ssize_t* arrays
    const Py_ssize_t* buffers
    const Py_ssize_t* offsets  # tap offsets (values); entry 0 is the one tap of a 1x1
    const Py_ssize_t* scratch
    const void* weights
    Py_ssize_t n_layers, n_arrays, n_buffers, state_len, chunk
    # time-major signals (see WaveNetKernel); frames run in whole vectors of pad
    bint time_major
    Py_ssize_t pad
    double head_scale


cdef struct WnSignal:
    # A signal's values: frame t, channel c at at + t * step + c * stride.
    void* at
    Py_ssize_t step, stride


cdef inline void wn_matmul(const WnNet* net, WnSignal out, Py_ssize_t n, Py_ssize_t width,
                           const floating* bias, const WnSignal* add, wn_source* srcs,
                           int n_src) noexcept nogil:
    """out (+)= the product of the sources, in the net's layout."""
    cdef const floating* added = NULL if add == NULL else <const floating*> add.at
    cdef Py_ssize_t add_step = 0 if add == NULL else add.step
    cdef Py_ssize_t add_stride = 0 if add == NULL else add.stride
    if net.time_major:
        if floating is float:
            fd_wn_tmatmul_f32(<float*> out.at, out.stride, n, width, bias, added, add_stride,
                              srcs, n_src)
        else:
            fd_wn_tmatmul_f64(<double*> out.at, out.stride, n, width, bias, added, add_stride,
                              srcs, n_src)
    elif floating is float:
        fd_wn_matmul_f32(<float*> out.at, out.step, n, width, bias, added, add_step, srcs, n_src)
    else:
        fd_wn_matmul_f64(<double*> out.at, out.step, n, width, bias, added, add_step, srcs, n_src)


cdef inline void wn_source_of(wn_source* src, WnSignal x, Py_ssize_t n_in, Py_ssize_t n_taps,
                              const Py_ssize_t* offsets, const void* w) noexcept nogil:
    src.x, src.step, src.stride, src.n_in = x.at, x.step, x.stride, n_in
    src.n_taps, src.offsets, src.w = n_taps, offsets, w


cdef inline const floating* wn_weight(const WnNet* net, Py_ssize_t offset,
                                      floating tag) noexcept nogil:
    """The weights at ``offset``, NULL for an absent part (offset -1)."""
    return NULL if offset < 0 else (<const floating*> net.weights) + offset


cdef inline WnSignal wn_frames(const WnNet* net, floating* state, const Py_ssize_t* pos,
                               Py_ssize_t b) noexcept nogil:
    """Buffer b from its next frame on: frame-major, or one row of history
    + room frames per channel."""
    cdef const Py_ssize_t* buf = net.buffers + b * N_BUFFER_FIELDS
    cdef WnSignal sig
    sig.step = 1 if net.time_major else buf[B_WIDTH]
    sig.stride = buf[B_HISTORY] + buf[B_ROOM] if net.time_major else 1
    sig.at = state + buf[B_OFFSET] + pos[b] * sig.step
    return sig


cdef inline WnSignal wn_scratch(const WnNet* net, floating* scratch, Py_ssize_t section,
                                Py_ssize_t width) noexcept nogil:
    """A scratch section of ``width`` channels: chunk frames of it."""
    cdef WnSignal sig
    sig.at = scratch + net.scratch[section]
    sig.step = 1 if net.time_major else width
    sig.stride = net.chunk if net.time_major else 1
    return sig


cdef inline Py_ssize_t wn_rows(const WnNet* net, Py_ssize_t width) noexcept nogil:
    """Rows of a signal of ``width`` channels: a row per channel, time-major."""
    return width if net.time_major else 1


cdef inline Py_ssize_t wn_row_length(const WnNet* net, Py_ssize_t width,
                                     Py_ssize_t n) noexcept nogil:
    """Values of n frames in one row."""
    return n if net.time_major else n * width


cdef void wn_make_room(const WnNet* net, floating* state, Py_ssize_t* pos,
                       Py_ssize_t n) noexcept nogil:
    """Move a buffer's history to its front when n more frames would not fit."""
    cdef Py_ssize_t b, r
    cdef const Py_ssize_t* buf
    cdef WnSignal front
    for b in range(net.n_buffers):
        buf = net.buffers + b * N_BUFFER_FIELDS
        if pos[b] + n > buf[B_HISTORY] + buf[B_ROOM]:
            front = wn_frames(net, state, pos, b)
            front.at = state + buf[B_OFFSET]
            for r in range(wn_rows(net, buf[B_WIDTH])):
                memmove(<floating*> front.at + r * front.stride,
                        <floating*> front.at + r * front.stride
                        + (pos[b] - buf[B_HISTORY]) * front.step,
                        wn_row_length(net, buf[B_WIDTH], buf[B_HISTORY]) * sizeof(floating))
            pos[b] = buf[B_HISTORY]


cdef void wn_sum_into(const WnNet* net, WnSignal dst, WnSignal a, WnSignal b,
                      Py_ssize_t width, Py_ssize_t n, floating tag) noexcept nogil:
    """dst = a + b (b absent: a copy of a; a absent: zeros), n frames of width channels."""
    cdef Py_ssize_t r, i, length = wn_row_length(net, width, n)
    cdef floating* d
    cdef const floating* x
    cdef const floating* y
    for r in range(wn_rows(net, width)):
        d = <floating*> dst.at + r * dst.stride
        if a.at == NULL:
            memset(d, 0, length * sizeof(floating))
            continue
        x = <const floating*> a.at + r * a.stride
        if b.at == NULL:
            memcpy(d, x, length * sizeof(floating))
            continue
        y = <const floating*> b.at + r * b.stride
        for i in range(length):
            d[i] = x[i] + y[i]


cdef void wn_layer(const WnNet* net, const Py_ssize_t* layer, floating* state,
                   const Py_ssize_t* pos, floating* scratch, WnSignal x,
                   WnSignal head_sum, Py_ssize_t n) noexcept nogil:
    """One layer over n frames: dilated conv + input mixin, activation,
    1x1 + residual into the next layer's buffer, head term into head_sum."""
    cdef floating tag = 0
    cdef Py_ssize_t c_width = layer[L_CHANNELS_WIDTH], b_width = layer[L_BOTTLENECK_WIDTH]
    cdef Py_ssize_t mid_width = layer[L_MID_WIDTH], head_width = layer[L_HEAD_WIDTH]
    cdef WnSignal mid = wn_scratch(net, scratch, S_MID, mid_width)
    cdef WnSignal activated = wn_scratch(net, scratch, S_ACTIVATED, b_width)
    cdef WnSignal layer_in = wn_frames(net, state, pos, layer[L_BUFFER])
    cdef WnSignal residual
    cdef wn_source srcs[2]
    # without a head 1x1 the activation adds itself into the head sum
    cdef floating* head_add = <floating*> head_sum.at if layer[L_HEAD1X1_W] < 0 else NULL
    # the activation's rows: frames of channels, or a row of frames per channel
    cdef Py_ssize_t rows = b_width if net.time_major else n
    cdef Py_ssize_t length = n if net.time_major else b_width
    wn_source_of(&srcs[0], layer_in, layer[L_CHANNELS], layer[L_TAPS],
                 net.offsets + layer[L_TAP_OFFSETS], wn_weight(net, layer[L_CONV_W], tag))
    wn_source_of(&srcs[1], x, 1, 1, net.offsets, wn_weight(net, layer[L_MIXIN_W], tag))
    wn_matmul(net, mid, n, mid_width, wn_weight(net, layer[L_CONV_B], tag), NULL, srcs, 2)
    if floating is float:
        fd_wn_activate_f32(<float*> activated.at, activated.step * activated.stride,
                           <float*> mid.at, mid.step * mid.stride, b_width * mid.stride,
                           rows, length, <int> layer[L_GATING], <int> layer[L_ACT],
                           wn_weight(net, layer[L_ACT_PARAMS], tag), <int> layer[L_SECONDARY],
                           wn_weight(net, layer[L_SECONDARY_PARAMS], tag), head_add,
                           head_sum.step * head_sum.stride)
    else:
        fd_wn_activate_f64(<double*> activated.at, activated.step * activated.stride,
                           <double*> mid.at, mid.step * mid.stride, b_width * mid.stride,
                           rows, length, <int> layer[L_GATING], <int> layer[L_ACT],
                           wn_weight(net, layer[L_ACT_PARAMS], tag), <int> layer[L_SECONDARY],
                           wn_weight(net, layer[L_SECONDARY_PARAMS], tag), head_add,
                           head_sum.step * head_sum.stride)
    # 1x1 sources: the activated bottleneck, one tap.
    wn_source_of(&srcs[0], activated, layer[L_BOTTLENECK], 1, net.offsets, NULL)
    if layer[L_NEXT] != NO_RESIDUAL:
        residual = (wn_scratch(net, scratch, S_RESIDUAL, c_width) if layer[L_NEXT] == NEXT_RESIDUAL
                    else wn_frames(net, state, pos, layer[L_NEXT]))
        if layer[L_1X1_W] >= 0:
            srcs[0].w = wn_weight(net, layer[L_1X1_W], tag)
            wn_matmul(net, residual, n, c_width, wn_weight(net, layer[L_1X1_B], tag), &layer_in,
                      srcs, 1)
        else:  # x + activation: channels and bottleneck are one width
            wn_sum_into(net, residual, layer_in, activated, c_width, n, tag)
    if layer[L_HEAD1X1_W] >= 0:
        srcs[0].w = wn_weight(net, layer[L_HEAD1X1_W], tag)
        wn_matmul(net, head_sum, n, head_width, wn_weight(net, layer[L_HEAD1X1_B], tag),
                  &head_sum, srcs, 1)


cdef void wn_chunk(const WnNet* net, floating* state, Py_ssize_t* pos, floating* scratch,
                   const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """n <= chunk frames of one stream through every layer array; y may be
    NULL (a warm-up whose outputs nobody reads).  Time-major, every layer
    runs whole vectors of frames (n rounded up: the frames past n are
    written where the next block's frames go, and never read before)."""
    cdef floating tag = 0
    cdef Py_ssize_t run = (n + net.pad - 1) // net.pad * net.pad
    cdef WnSignal audio, head_sum, head_out, none, prev
    cdef const Py_ssize_t* arr
    cdef const Py_ssize_t* first
    cdef Py_ssize_t a, l, t, head_width, out_width = 1, b
    cdef wn_source src
    none.at, none.step, none.stride = NULL, 0, 0
    audio.at, audio.step, audio.stride = <void*> x, 1, 1
    if run != n:  # the audio, padded to whole vectors
        audio.at = scratch + net.scratch[S_AUDIO]
        memcpy(audio.at, x, n * sizeof(floating))
        memset(<floating*> audio.at + n, 0, (run - n) * sizeof(floating))
    prev = audio
    wn_make_room(net, state, pos, run)
    for a in range(net.n_arrays):
        arr = net.arrays + a * N_ARRAY_FIELDS
        first = net.layers + arr[A_FIRST] * N_LAYER_FIELDS
        # rechannel: the audio (array 0) or the last array's residual, 1x1, no bias
        wn_source_of(&src, prev, arr[A_INPUT_CHANNELS], 1, net.offsets,
                     wn_weight(net, arr[A_RECHANNEL_W], tag))
        wn_matmul(net, wn_frames(net, state, pos, first[L_BUFFER]), run, first[L_CHANNELS_WIDTH],
                  <const floating*> NULL, NULL, &src, 1)
        # the head sum starts from the last array's head output (zero for the first)
        head_width = net.buffers[arr[A_HEAD_BUFFER] * N_BUFFER_FIELDS + B_WIDTH]
        head_sum = wn_frames(net, state, pos, arr[A_HEAD_BUFFER])
        wn_sum_into(net, head_sum, none if a == 0 else head_out, none, head_width, run, tag)
        for l in range(arr[A_FIRST], arr[A_FIRST] + arr[A_COUNT]):
            wn_layer(net, net.layers + l * N_LAYER_FIELDS, state, pos, scratch, audio, head_sum,
                     run)
        # head rechannel: a causal conv over the head sum's history
        out_width = arr[A_HEAD_OUT_WIDTH]
        head_out = wn_scratch(net, scratch, S_HEAD_OUT, out_width)
        wn_source_of(&src, head_sum, arr[A_HEAD_CHANNELS], arr[A_HEAD_TAPS],
                     net.offsets + arr[A_HEAD_TAP_OFFSETS], wn_weight(net, arr[A_HEAD_W], tag))
        wn_matmul(net, head_out, run, out_width, wn_weight(net, arr[A_HEAD_B], tag), NULL, &src, 1)
        prev = wn_scratch(net, scratch, S_RESIDUAL, first[L_CHANNELS_WIDTH])
    if y != NULL:
        for t in range(n):
            y[t] = <floating> net.head_scale * (<floating*> head_out.at)[t * head_out.step]
    for b in range(net.n_buffers):
        pos[b] += n


cdef void wn_process(const WnNet* net, floating* state, Py_ssize_t* pos, floating* scratch,
                     const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """Any number of frames of one stream, chunk by chunk."""
    cdef Py_ssize_t t = 0, step
    while t < n:
        step = min(net.chunk, n - t)
        wn_chunk(net, state, pos, scratch, x + t, NULL if y == NULL else y + t, step)
        t += step


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
            if cnp.PyArray_TYPE(table) != cnp.NPY_INTP or not cnp.PyArray_IS_C_CONTIGUOUS(table):
                raise ValueError("fastdilate core: WaveNet tables must be C-contiguous intp")
        if (weights.ndim != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(weights)
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
            if cnp.PyArray_TYPE(array) != dtype or not cnp.PyArray_IS_C_CONTIGUOUS(array):
                raise ValueError("fastdilate core: WaveNet operands must be C-contiguous "
                                 "arrays of the weights' dtype")
        if cnp.PyArray_TYPE(positions) != cnp.NPY_INTP or not cnp.PyArray_IS_C_CONTIGUOUS(positions):
            raise ValueError("fastdilate core: WaveNet positions must be C-contiguous intp")
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
        it takes as they are: C-contiguous (T,) or (1, T) arrays of the
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
                or not cnp.PyArray_IS_C_CONTIGUOUS(x) or not cnp.PyArray_IS_C_CONTIGUOUS(y)
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
