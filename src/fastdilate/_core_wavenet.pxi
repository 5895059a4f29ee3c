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
