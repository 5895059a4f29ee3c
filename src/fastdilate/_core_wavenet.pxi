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
# over the whole signal.  Each layer's input lives in a linear history
# buffer (the taps read back dilation * (K - 1) frames); when a buffer runs
# out of room its history is moved to the front.  A stream's buffers and
# their positions are arrays owned by Python (models/wavenet.py), which
# lays out every weight, buffer and scratch offset and describes them in
# the int tables the kernel reads (fields below).

from libc.string cimport memmove, memset

cdef extern from *:
    """
    #include <math.h>
    #include "_simd.h"

    #if defined(__AVX512F__)
    #define FD_WN_FRAMES 8
    #else
    #define FD_WN_FRAMES 4
    #endif

    /* p / q for the float32 tanh: a reciprocal estimate and one Newton step
     * (about 23 bits) where the ISA has one, else a division. */
    #if FD_VECTOR_EXTENSIONS && defined(__SSE__)
    #include <immintrin.h>
    static inline __m128 fd_wn_div_m128(__m128 p, __m128 q) {
        __m128 r = _mm_rcp_ps(q);
        r = _mm_mul_ps(r, _mm_sub_ps(_mm_set1_ps(2.0f), _mm_mul_ps(q, r)));
        return _mm_mul_ps(p, r);
    }
    #define FD_WN_DIV_16(p, q) ((fd_wn_v_f32_16) fd_wn_div_m128((__m128) (p), (__m128) (q)))
    #endif
    #if FD_VECTOR_EXTENSIONS && defined(__AVX__)
    static inline __m256 fd_wn_div_m256(__m256 p, __m256 q) {
        __m256 r = _mm256_rcp_ps(q);
        r = _mm256_mul_ps(r, _mm256_sub_ps(_mm256_set1_ps(2.0f), _mm256_mul_ps(q, r)));
        return _mm256_mul_ps(p, r);
    }
    #define FD_WN_DIV_32(p, q) ((fd_wn_v_f32_32) fd_wn_div_m256((__m256) (p), (__m256) (q)))
    #endif
    #if FD_VECTOR_EXTENSIONS && defined(__AVX512F__)
    static inline __m512 fd_wn_div_m512(__m512 p, __m512 q) {
        __m512 r = _mm512_rcp14_ps(q);
        r = _mm512_mul_ps(r, _mm512_sub_ps(_mm512_set1_ps(2.0f), _mm512_mul_ps(q, r)));
        return _mm512_mul_ps(p, r);
    }
    #define FD_WN_DIV_64(p, q) ((fd_wn_v_f32_64) fd_wn_div_m512((__m512) (p), (__m512) (q)))
    #endif
    #ifndef FD_WN_DIV_16
    #define FD_WN_DIV_16(p, q) ((p) / (q))
    #endif
    #ifndef FD_WN_DIV_32
    #define FD_WN_DIV_32(p, q) ((p) / (q))
    #endif
    #ifndef FD_WN_DIV_64
    #define FD_WN_DIV_64(p, q) ((p) / (q))
    #endif

    enum { FD_WN_IDENTITY, FD_WN_TANH, FD_WN_SIGMOID, FD_WN_RELU, FD_WN_LEAKY_RELU,
           FD_WN_HARDTANH, FD_WN_LEAKY_HARDTANH, FD_WN_SOFTSIGN, FD_WN_SOFTSIGMOID,
           FD_WN_SILU };
    enum { FD_WN_UNGATED, FD_WN_GATED, FD_WN_BLENDED };

    /* One input of a matrix product: n_taps frame offsets (in values) into
     * a frame-major signal of ``step`` values per frame, of which n_in
     * channels are read; weights [tap][channel][output width]. */
    typedef struct {
        const void* x;
        ptrdiff_t step, n_in, n_taps;
        const ptrdiff_t* offsets;
        const void* w;
    } fd_wn_source;

    /* The scalar activations (params: the activation's 4 parameters). */
    static inline float fd_wn_tanh_f32(float x) {
        /* A rational minimax fit on [-7.9, 7.9] (the one Eigen uses),
         * within a few float32 ulps of tanh; written once for the scalar and
         * the vector path. */
        const float clamp = 7.90531110763549805f;
        x = x > clamp ? clamp : (x < -clamp ? -clamp : x);
        float x2 = x * x;
        float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
        p = x2 * p + -8.60467152213735e-11f;
        p = x2 * p + 5.12229709037114e-08f;
        p = x2 * p + 1.48572235717979e-05f;
        p = x2 * p + 6.37261928875436e-04f;
        p = x2 * p + 4.89352455891786e-03f;
        float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
        q = x2 * q + 2.26843463243900e-03f;
        q = x2 * q + 4.89352518554385e-03f;
        return x * p / q;
    }
    static inline double fd_wn_tanh_f64(double x) { return tanh(x); }

    #define FD_WN_SCALAR_ACT(T, SUF)                                              \\
    static inline T fd_wn_act_##SUF(T x, int kind, const T* p) {                 \\
        switch (kind) {                                                           \\
        case FD_WN_TANH: return fd_wn_tanh_##SUF(x);                              \\
        case FD_WN_SIGMOID: return (T) 0.5 + (T) 0.5 * fd_wn_tanh_##SUF((T) 0.5 * x); \\
        case FD_WN_SILU: return x * ((T) 0.5 + (T) 0.5 * fd_wn_tanh_##SUF((T) 0.5 * x)); \\
        case FD_WN_RELU: return x > 0 ? x : (T) 0;                                \\
        case FD_WN_LEAKY_RELU: return x > 0 ? x : p[0] * x;                       \\
        case FD_WN_HARDTANH: return x < p[0] ? p[0] : (x > p[1] ? p[1] : x);      \\
        case FD_WN_LEAKY_HARDTANH:                                                \\
            return x < p[0] ? (x - p[0]) * p[2] + p[0]                            \\
                 : (x > p[1] ? (x - p[1]) * p[3] + p[1] : x);                     \\
        case FD_WN_SOFTSIGN: return x / ((T) 1 + fabs(x));                        \\
        case FD_WN_SOFTSIGMOID: return (T) 0.5 * ((T) 1 + x / ((T) 1 + fabs(x))); \\
        default: return x;                                                        \\
        }                                                                         \\
    }
    FD_WN_SCALAR_ACT(float, f32)
    FD_WN_SCALAR_ACT(double, f64)

    #if FD_VECTOR_EXTENSIONS
    #define FD_WN_VECTOR(T, I, SUF, BYTES)                                        \\
    typedef T fd_wn_##SUF##_##BYTES __attribute__((vector_size(BYTES)));          \\
    typedef I fd_wn_##SUF##_##BYTES##_mask __attribute__((vector_size(BYTES)));
    #define FD_WN_LANE(v, i) (v)[i]
    #else
    #define FD_WN_VECTOR(T, I, SUF, BYTES)                                        \\
    typedef struct { T e[BYTES / sizeof(T)]; } fd_wn_##SUF##_##BYTES;
    #define FD_WN_LANE(v, i) (v).e[i]
    #endif

    /* The kernels of one element type and vector size. */
    #define FD_WN_KERNELS(T, I, SUF, BYTES)                                       \\
    FD_WN_VECTOR(T, I, SUF, BYTES)                                                \\
    typedef fd_wn_##SUF##_##BYTES fd_wn_v_##SUF##_##BYTES;                         \\
    enum { FD_WN_L_##SUF##_##BYTES = BYTES / sizeof(T) };                          \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_load_##SUF##_##BYTES(const T* p) {  \\
        fd_wn_v_##SUF##_##BYTES v; memcpy(&v, p, sizeof v); return v;             \\
    }                                                                             \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_splat_##SUF##_##BYTES(T s) {      \\
        fd_wn_v_##SUF##_##BYTES v;                                                \\
        for (int i = 0; i < FD_WN_L_##SUF##_##BYTES; i++) FD_WN_LANE(v, i) = s;   \\
        return v;                                                                 \\
    }                                                                             \\
    FD_WN_VECTOR_OPS(T, SUF, BYTES)                                               \\
    FD_WN_ACTIVATE(T, SUF, BYTES)                                                 \\
    FD_WN_FRAME_BLOCK(T, SUF, BYTES, FD_WN_FRAMES, 2, many2)                      \\
    FD_WN_FRAME_BLOCK(T, SUF, BYTES, 1, 2, one2)                                  \\
    FD_WN_FRAME_BLOCK(T, SUF, BYTES, 2 * FD_WN_FRAMES, 1, many1)                      \\
    FD_WN_FRAME_BLOCK(T, SUF, BYTES, 1, 1, one1)                                  \\
    static void fd_wn_matmul_##SUF##_##BYTES(T* out, ptrdiff_t out_step, ptrdiff_t n, \\
            ptrdiff_t width, const T* bias, const T* add, ptrdiff_t add_step,     \\
            const fd_wn_source* srcs, int n_src) {                                \\
        const ptrdiff_t lanes = FD_WN_L_##SUF##_##BYTES;                          \\
        ptrdiff_t j = 0, t;                                                       \\
        for (; j + 2 * lanes <= width; j += 2 * lanes) {                          \\
            for (t = 0; t + FD_WN_FRAMES <= n; t += FD_WN_FRAMES)                 \\
                fd_wn_block_many2_##SUF##_##BYTES(out, out_step, t, j, width, bias, add, \\
                                                  add_step, srcs, n_src);         \\
            for (; t < n; t++)                                                    \\
                fd_wn_block_one2_##SUF##_##BYTES(out, out_step, t, j, width, bias, add, \\
                                                 add_step, srcs, n_src);          \\
        }                                                                         \\
        for (; j < width; j += lanes) {  /* one vector: twice the frames */     \\
            for (t = 0; t + 2 * FD_WN_FRAMES <= n; t += 2 * FD_WN_FRAMES)         \\
                fd_wn_block_many1_##SUF##_##BYTES(out, out_step, t, j, width, bias, add, \\
                                                  add_step, srcs, n_src);         \\
            for (; t < n; t++)                                                    \\
                fd_wn_block_one1_##SUF##_##BYTES(out, out_step, t, j, width, bias, add, \\
                                                 add_step, srcs, n_src);          \\
        }                                                                         \\
    }

    /* Frames [t, t + B) of output vectors j .. j + NV: bias, then every
     * source's (tap, channel) products in one fixed order, then the added
     * signal.  Each value gets the same operations for any B and NV. */
    #define FD_WN_FRAME_BLOCK(T, SUF, BYTES, B, NV, NAME)                         \\
    static inline void fd_wn_block_##NAME##_##SUF##_##BYTES(T* out, ptrdiff_t out_step, \\
            ptrdiff_t t, ptrdiff_t j, ptrdiff_t width, const T* bias, const T* add, \\
            ptrdiff_t add_step, const fd_wn_source* srcs, int n_src) {            \\
        typedef fd_wn_v_##SUF##_##BYTES V;                                        \\
        const int lanes = FD_WN_L_##SUF##_##BYTES;                                \\
        V acc[B][NV], wv[NV];                                                     \\
        for (int v = 0; v < NV; v++)                                              \\
            wv[v] = bias ? fd_wn_load_##SUF##_##BYTES(bias + j + v * lanes)       \\
                         : fd_wn_splat_##SUF##_##BYTES(0);                        \\
        for (int f = 0; f < B; f++)                                               \\
            for (int v = 0; v < NV; v++) acc[f][v] = wv[v];                       \\
        for (int s = 0; s < n_src; s++) {                                         \\
            const fd_wn_source* src = srcs + s;                                   \\
            const T* w = (const T*) src->w + j;                                   \\
            const ptrdiff_t step = src->step;                                     \\
            for (ptrdiff_t k = 0; k < src->n_taps; k++) {                         \\
                const T* x = (const T*) src->x + t * step + src->offsets[k];      \\
                for (ptrdiff_t c = 0; c < src->n_in; c++, w += width) {           \\
                    for (int v = 0; v < NV; v++)                                  \\
                        wv[v] = fd_wn_load_##SUF##_##BYTES(w + v * lanes);        \\
                    for (int f = 0; f < B; f++) {                                 \\
                        T xs = x[f * step + c];                                   \\
                        for (int v = 0; v < NV; v++)                              \\
                            acc[f][v] = fd_wn_madd_##SUF##_##BYTES(acc[f][v], wv[v], xs); \\
                    }                                                             \\
                }                                                                 \\
            }                                                                     \\
        }                                                                         \\
        for (int f = 0; f < B; f++)                                               \\
            for (int v = 0; v < NV; v++) {                                        \\
                T* o = out + (t + f) * out_step + j + v * lanes;                  \\
                if (add) acc[f][v] = fd_wn_add_##SUF##_##BYTES(                   \\
                    fd_wn_load_##SUF##_##BYTES(add + (t + f) * add_step + j + v * lanes), acc[f][v]); \\
                memcpy(o, &acc[f][v], sizeof(V));                                 \\
            }                                                                     \\
    }

    #if FD_VECTOR_EXTENSIONS
    #define FD_WN_VECTOR_OPS(T, SUF, BYTES)                                       \\
    typedef fd_wn_##SUF##_##BYTES##_mask fd_wn_m_##SUF##_##BYTES;                  \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_madd_##SUF##_##BYTES(             \\
            fd_wn_v_##SUF##_##BYTES acc, fd_wn_v_##SUF##_##BYTES w, T x) { return acc + w * x; } \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_add_##SUF##_##BYTES(              \\
            fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) { return a + b; } \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_mul_##SUF##_##BYTES(              \\
            fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) { return a * b; } \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_blend_##SUF##_##BYTES(            \\
            fd_wn_v_##SUF##_##BYTES s, fd_wn_v_##SUF##_##BYTES v, fd_wn_v_##SUF##_##BYTES p) { \\
        return s * v + (1 - s) * p; }                                             \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_select_##SUF##_##BYTES(           \\
            fd_wn_m_##SUF##_##BYTES m, fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) { \\
        return (fd_wn_v_##SUF##_##BYTES) ((m & (fd_wn_m_##SUF##_##BYTES) a)        \\
                                          | (~m & (fd_wn_m_##SUF##_##BYTES) b)); }
    #else
    #define FD_WN_LANEWISE(SUF, BYTES, EXPR)                                      \\
        fd_wn_v_##SUF##_##BYTES r;                                                \\
        for (int i = 0; i < FD_WN_L_##SUF##_##BYTES; i++) r.e[i] = EXPR;          \\
        return r;
    #define FD_WN_VECTOR_OPS(T, SUF, BYTES)                                       \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_madd_##SUF##_##BYTES(             \\
            fd_wn_v_##SUF##_##BYTES acc, fd_wn_v_##SUF##_##BYTES w, T x) {         \\
        FD_WN_LANEWISE(SUF, BYTES, acc.e[i] + w.e[i] * x) }                       \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_add_##SUF##_##BYTES(              \\
            fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) {                \\
        FD_WN_LANEWISE(SUF, BYTES, a.e[i] + b.e[i]) }                             \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_mul_##SUF##_##BYTES(              \\
            fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) {                \\
        FD_WN_LANEWISE(SUF, BYTES, a.e[i] * b.e[i]) }                             \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_blend_##SUF##_##BYTES(            \\
            fd_wn_v_##SUF##_##BYTES s, fd_wn_v_##SUF##_##BYTES v, fd_wn_v_##SUF##_##BYTES p) { \\
        FD_WN_LANEWISE(SUF, BYTES, s.e[i] * v.e[i] + (1 - s.e[i]) * p.e[i]) }
    #endif

    /* The float32 tanh on whole vectors (the scalar formula, lane for lane). */
    #if FD_VECTOR_EXTENSIONS
    #define FD_WN_VECTOR_TANH(BYTES)                                              \\
    static inline fd_wn_v_f32_##BYTES fd_wn_vtanh_f32_##BYTES(fd_wn_v_f32_##BYTES x) { \\
        typedef fd_wn_v_f32_##BYTES V;                                            \\
        const V hi = fd_wn_splat_f32_##BYTES(7.90531110763549805f), lo = -hi;     \\
        x = fd_wn_select_f32_##BYTES(x > hi, hi, x);                              \\
        x = fd_wn_select_f32_##BYTES(x < lo, lo, x);                              \\
        V x2 = x * x;                                                             \\
        V p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;                \\
        p = x2 * p + -8.60467152213735e-11f;                                      \\
        p = x2 * p + 5.12229709037114e-08f;                                       \\
        p = x2 * p + 1.48572235717979e-05f;                                       \\
        p = x2 * p + 6.37261928875436e-04f;                                       \\
        p = x2 * p + 4.89352455891786e-03f;                                       \\
        V q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;                 \\
        q = x2 * q + 2.26843463243900e-03f;                                       \\
        q = x2 * q + 4.89352518554385e-03f;                                       \\
        return FD_WN_DIV_##BYTES(x * p, q);                                       \\
    }
    #define FD_WN_VECTOR_ACT_f32(BYTES, v, kind)                                  \\
        if (kind == FD_WN_TANH) return fd_wn_vtanh_f32_##BYTES(v);                \\
        if (kind == FD_WN_SIGMOID) return 0.5f + 0.5f * fd_wn_vtanh_f32_##BYTES(0.5f * v);
    #else
    #define FD_WN_VECTOR_TANH(BYTES)
    #define FD_WN_VECTOR_ACT_f32(BYTES, v, kind)
    #endif
    #define FD_WN_VECTOR_ACT_f64(BYTES, v, kind)

    /* a = act1(z1) (ungated), act1(z1) * act2(z2) (gated) or
     * act2(z2) * act1(z1) + (1 - act2(z2)) * z1 (blended), z2 being the
     * ``width`` values after z1 in each frame. */
    #define FD_WN_ACTIVATE(T, SUF, BYTES)                                         \\
    FD_WN_VECTOR_TANH_##SUF(BYTES)                                                \\
    static inline fd_wn_v_##SUF##_##BYTES fd_wn_vact_##SUF##_##BYTES(             \\
            fd_wn_v_##SUF##_##BYTES v, int kind, const T* p) {                    \\
        FD_WN_VECTOR_ACT_##SUF(BYTES, v, kind)                                    \\
        for (int i = 0; i < FD_WN_L_##SUF##_##BYTES; i++)                         \\
            FD_WN_LANE(v, i) = fd_wn_act_##SUF(FD_WN_LANE(v, i), kind, p);        \\
        return v;                                                                 \\
    }                                                                             \\
    static void fd_wn_activate_##SUF##_##BYTES(T* a, ptrdiff_t a_step, const T* z, \\
            ptrdiff_t z_step, ptrdiff_t n, ptrdiff_t width, int gating,           \\
            int kind1, const T* p1, int kind2, const T* p2) {                     \\
        typedef fd_wn_v_##SUF##_##BYTES V;                                        \\
        FD_WN_TANH_FAST_##SUF(BYTES)                                              \\
        for (ptrdiff_t t = 0; t < n; t++)                                         \\
            for (ptrdiff_t j = 0; j < width; j += FD_WN_L_##SUF##_##BYTES) {      \\
                V z1 = fd_wn_load_##SUF##_##BYTES(z + t * z_step + j);            \\
                V v = fd_wn_vact_##SUF##_##BYTES(z1, kind1, p1);                  \\
                if (gating != FD_WN_UNGATED) {                                    \\
                    V s = fd_wn_vact_##SUF##_##BYTES(                             \\
                        fd_wn_load_##SUF##_##BYTES(z + t * z_step + width + j), kind2, p2); \\
                    v = gating == FD_WN_GATED ? fd_wn_mul_##SUF##_##BYTES(v, s)   \\
                                              : fd_wn_blend_##SUF##_##BYTES(s, v, z1); \\
                }                                                                 \\
                memcpy(a + t * a_step + j, &v, sizeof(V));                        \\
            }                                                                     \\
    }
    #define FD_WN_VECTOR_TANH_f32(BYTES) FD_WN_VECTOR_TANH(BYTES)
    #define FD_WN_VECTOR_TANH_f64(BYTES)
    #define FD_WN_TANH_FAST_f64(BYTES)

    /* NAM's two activations without the per-vector dispatch, the ungated one
     * over four vectors at a time so that their polynomials overlap (the
     * same operations on every value as the general loop). */
    #if FD_VECTOR_EXTENSIONS
    #define FD_WN_TANH_FAST_f32(BYTES)                                            \\
        const ptrdiff_t lanes = FD_WN_L_f32_##BYTES;                              \\
        if (kind1 == FD_WN_TANH && gating == FD_WN_UNGATED && z_step == width     \\
                && a_step == width) {                                             \\
            ptrdiff_t total = n * width, i = 0;                                   \\
            for (; i + 4 * lanes <= total; i += 4 * lanes) {                      \\
                V v[4];                                                           \\
                for (int u = 0; u < 4; u++) v[u] = fd_wn_load_f32_##BYTES(z + i + u * lanes); \\
                for (int u = 0; u < 4; u++) v[u] = fd_wn_vtanh_f32_##BYTES(v[u]); \\
                memcpy(a + i, v, sizeof v);                                       \\
            }                                                                     \\
            for (; i < total; i += lanes) {                                       \\
                V v = fd_wn_vtanh_f32_##BYTES(fd_wn_load_f32_##BYTES(z + i));     \\
                memcpy(a + i, &v, sizeof v);                                      \\
            }                                                                     \\
            return;                                                               \\
        }                                                                         \\
        if (kind1 == FD_WN_TANH && kind2 == FD_WN_SIGMOID && gating == FD_WN_GATED) { \\
            for (ptrdiff_t t = 0; t < n; t++)                                     \\
                for (ptrdiff_t j = 0; j < width; j += lanes) {                    \\
                    V p = fd_wn_vtanh_f32_##BYTES(fd_wn_load_f32_##BYTES(z + t * z_step + j)); \\
                    V s = 0.5f + 0.5f * fd_wn_vtanh_f32_##BYTES(                  \\
                        0.5f * fd_wn_load_f32_##BYTES(z + t * z_step + width + j)); \\
                    V v = fd_wn_mul_f32_##BYTES(p, s);                            \\
                    memcpy(a + t * a_step + j, &v, sizeof v);                     \\
                }                                                                 \\
            return;                                                               \\
        }
    #else
    #define FD_WN_TANH_FAST_f32(BYTES)
    #endif

    /* The native vector (whole registers: wider ones, emulated, go through
     * the stack) and a 16-byte one for signals of a few channels.
     * models/wavenet.py pads every width to 16 bytes or whole native vectors. */
    FD_WN_KERNELS(float, int, f32, 16)
    FD_WN_KERNELS(double, long long, f64, 16)
    #if defined(__AVX512F__)
    #define FD_WN_WIDE_BYTES 64
    FD_WN_KERNELS(float, int, f32, 64)
    FD_WN_KERNELS(double, long long, f64, 64)
    #define FD_WN_WIDE(NAME, SUF) fd_wn_##NAME##_##SUF##_64
    #elif defined(__AVX__)
    #define FD_WN_WIDE_BYTES 32
    FD_WN_KERNELS(float, int, f32, 32)
    FD_WN_KERNELS(double, long long, f64, 32)
    #define FD_WN_WIDE(NAME, SUF) fd_wn_##NAME##_##SUF##_32
    #else
    #define FD_WN_WIDE_BYTES 16
    #define FD_WN_WIDE(NAME, SUF) fd_wn_##NAME##_##SUF##_16
    #endif

    #define FD_WN_DISPATCH(SUF, T, NAME, ...)                                     \\
        if (width % (FD_WN_WIDE_BYTES / sizeof(T)) == 0) FD_WN_WIDE(NAME, SUF)(__VA_ARGS__); \\
        else fd_wn_##NAME##_##SUF##_16(__VA_ARGS__);
    #define FD_WN_ENTRY(T, SUF)                                                   \\
    static void fd_wn_matmul_##SUF(T* out, ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t width, \\
            const T* bias, const T* add, ptrdiff_t add_step, const fd_wn_source* srcs, int n_src) { \\
        FD_WN_DISPATCH(SUF, T, matmul, out, out_step, n, width, bias, add, add_step, srcs, n_src) \\
    }                                                                             \\
    static void fd_wn_activate_##SUF(T* a, ptrdiff_t a_step, const T* z, ptrdiff_t z_step, \\
            ptrdiff_t n, ptrdiff_t width, int gating, int kind1, const T* p1, int kind2, \\
            const T* p2) {                                                        \\
        FD_WN_DISPATCH(SUF, T, activate, a, a_step, z, z_step, n, width, gating, kind1, p1, \\
                       kind2, p2)                                                 \\
    }
    FD_WN_ENTRY(float, f32)
    FD_WN_ENTRY(double, f64)
    """
    enum:
        FD_WN_FRAMES
        FD_WN_WIDE_BYTES
    ctypedef struct wn_source "fd_wn_source":
        const void* x
        Py_ssize_t step, n_in, n_taps
        const Py_ssize_t* offsets
        const void* w
    void fd_wn_matmul_f32(float* out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t width,
                          const float* bias, const float* add, Py_ssize_t add_step,
                          const wn_source* srcs, int n_src) nogil
    void fd_wn_matmul_f64(double* out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t width,
                          const double* bias, const double* add, Py_ssize_t add_step,
                          const wn_source* srcs, int n_src) nogil
    void fd_wn_activate_f32(float* a, Py_ssize_t a_step, const float* z, Py_ssize_t z_step,
                            Py_ssize_t n, Py_ssize_t width, int gating, int kind1,
                            const float* p1, int kind2, const float* p2) nogil
    void fd_wn_activate_f64(double* a, Py_ssize_t a_step, const double* z, Py_ssize_t z_step,
                            Py_ssize_t n, Py_ssize_t width, int gating, int kind1,
                            const double* p1, int kind2, const double* p2) nogil

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
WAVENET_SCRATCH_FIELDS = ("mid", "activated", "residual", "head_out", "length")
WAVENET_ACTIVATIONS = ("Identity", "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "Hardtanh",
                       "LeakyHardtanh", "Softsign", "Softsigmoid", "SiLU")
WAVENET_GATINGS = ("none", "gated", "blended")
WAVENET_FRAMES = FD_WN_FRAMES
# Signal widths are whole vectors of this many bytes, or 16 bytes for a few channels.
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
    S_MID, S_ACTIVATED, S_RESIDUAL, S_HEAD_OUT, S_LENGTH, N_SCRATCH_FIELDS


cdef struct WnNet:
    const Py_ssize_t* layers
    const Py_ssize_t* arrays
    const Py_ssize_t* buffers
    const Py_ssize_t* offsets  # tap offsets (values); entry 0 is the one tap of a 1x1
    const Py_ssize_t* scratch
    const void* weights
    Py_ssize_t n_layers, n_arrays, n_buffers, state_len, chunk
    double head_scale


cdef inline void wn_matmul(floating* out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t width,
                           const floating* bias, const floating* add, Py_ssize_t add_step,
                           const wn_source* srcs, int n_src) noexcept nogil:
    if floating is float:
        fd_wn_matmul_f32(out, out_step, n, width, bias, add, add_step, srcs, n_src)
    else:
        fd_wn_matmul_f64(out, out_step, n, width, bias, add, add_step, srcs, n_src)


cdef inline const floating* wn_weight(const WnNet* net, Py_ssize_t offset,
                                      floating tag) noexcept nogil:
    """The weights at ``offset``, NULL for an absent part (offset -1)."""
    return NULL if offset < 0 else (<const floating*> net.weights) + offset


cdef inline floating* wn_frame(const WnNet* net, floating* state, const Py_ssize_t* pos,
                               Py_ssize_t b) noexcept nogil:
    """Where buffer b's next frame goes."""
    cdef const Py_ssize_t* buf = net.buffers + b * N_BUFFER_FIELDS
    return state + buf[B_OFFSET] + pos[b] * buf[B_WIDTH]


cdef void wn_make_room(const WnNet* net, floating* state, Py_ssize_t* pos,
                       Py_ssize_t n) noexcept nogil:
    """Move a buffer's history to its front when n more frames would not fit."""
    cdef Py_ssize_t b
    cdef const Py_ssize_t* buf
    for b in range(net.n_buffers):
        buf = net.buffers + b * N_BUFFER_FIELDS
        if pos[b] + n > buf[B_HISTORY] + buf[B_ROOM]:
            memmove(state + buf[B_OFFSET],
                    state + buf[B_OFFSET] + (pos[b] - buf[B_HISTORY]) * buf[B_WIDTH],
                    buf[B_HISTORY] * buf[B_WIDTH] * sizeof(floating))
            pos[b] = buf[B_HISTORY]


cdef inline void wn_add_into(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = dst[i] + src[i]


cdef void wn_layer(const WnNet* net, const Py_ssize_t* layer, floating* state,
                   const Py_ssize_t* pos, floating* scratch, const floating* x,
                   floating* head_sum, Py_ssize_t n) noexcept nogil:
    """One layer over n frames: dilated conv + input mixin, activation,
    1x1 + residual into the next layer's buffer, head term into head_sum."""
    cdef floating tag = 0
    cdef floating* mid = scratch + net.scratch[S_MID]
    cdef floating* activated = scratch + net.scratch[S_ACTIVATED]
    cdef floating* layer_in = wn_frame(net, state, pos, layer[L_BUFFER])
    cdef floating* residual
    cdef Py_ssize_t c_width = layer[L_CHANNELS_WIDTH], b_width = layer[L_BOTTLENECK_WIDTH]
    cdef wn_source srcs[2]
    srcs[0].x, srcs[0].step, srcs[0].n_in = layer_in, c_width, layer[L_CHANNELS]
    srcs[0].n_taps, srcs[0].offsets = layer[L_TAPS], net.offsets + layer[L_TAP_OFFSETS]
    srcs[0].w = wn_weight(net, layer[L_CONV_W], tag)
    srcs[1].x, srcs[1].step, srcs[1].n_in, srcs[1].n_taps = x, 1, 1, 1
    srcs[1].offsets, srcs[1].w = net.offsets, wn_weight(net, layer[L_MIXIN_W], tag)
    wn_matmul(mid, layer[L_MID_WIDTH], n, layer[L_MID_WIDTH], wn_weight(net, layer[L_CONV_B], tag),
              <const floating*> NULL, 0, srcs, 2)
    if floating is float:
        fd_wn_activate_f32(activated, b_width, mid, layer[L_MID_WIDTH], n, b_width,
                           <int> layer[L_GATING], <int> layer[L_ACT],
                           wn_weight(net, layer[L_ACT_PARAMS], tag), <int> layer[L_SECONDARY],
                           wn_weight(net, layer[L_SECONDARY_PARAMS], tag))
    else:
        fd_wn_activate_f64(activated, b_width, mid, layer[L_MID_WIDTH], n, b_width,
                           <int> layer[L_GATING], <int> layer[L_ACT],
                           wn_weight(net, layer[L_ACT_PARAMS], tag), <int> layer[L_SECONDARY],
                           wn_weight(net, layer[L_SECONDARY_PARAMS], tag))
    # 1x1 sources: the activated bottleneck, one tap.
    srcs[0].x, srcs[0].step, srcs[0].n_in = activated, b_width, layer[L_BOTTLENECK]
    srcs[0].n_taps, srcs[0].offsets = 1, net.offsets
    if layer[L_NEXT] != NO_RESIDUAL:
        residual = (scratch + net.scratch[S_RESIDUAL] if layer[L_NEXT] == NEXT_RESIDUAL
                    else wn_frame(net, state, pos, layer[L_NEXT]))
        if layer[L_1X1_W] >= 0:
            srcs[0].w = wn_weight(net, layer[L_1X1_W], tag)
            wn_matmul(residual, c_width, n, c_width, wn_weight(net, layer[L_1X1_B], tag),
                      layer_in, c_width, srcs, 1)
        else:  # x + activation: channels and bottleneck are one width
            memcpy(residual, layer_in, n * c_width * sizeof(floating))
            wn_add_into(residual, activated, n * c_width)
    if layer[L_HEAD1X1_W] >= 0:
        srcs[0].w = wn_weight(net, layer[L_HEAD1X1_W], tag)
        wn_matmul(head_sum, layer[L_HEAD_WIDTH], n, layer[L_HEAD_WIDTH],
                  wn_weight(net, layer[L_HEAD1X1_B], tag), head_sum, layer[L_HEAD_WIDTH], srcs, 1)
    else:  # the head term is the activation itself, of the bottleneck's width
        wn_add_into(head_sum, activated, n * b_width)


cdef void wn_chunk(const WnNet* net, floating* state, Py_ssize_t* pos, floating* scratch,
                   const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """n <= chunk frames of one stream through every layer array; y may be
    NULL (a warm-up whose outputs nobody reads)."""
    cdef floating tag = 0
    cdef floating* residual = scratch + net.scratch[S_RESIDUAL]
    cdef floating* head_out = scratch + net.scratch[S_HEAD_OUT]
    cdef const Py_ssize_t* arr
    cdef const Py_ssize_t* first
    cdef Py_ssize_t a, l, t, prev_width = 1, head_width, out_width = 1, b
    cdef floating* head_sum
    cdef wn_source src
    wn_make_room(net, state, pos, n)
    for a in range(net.n_arrays):
        arr = net.arrays + a * N_ARRAY_FIELDS
        first = net.layers + arr[A_FIRST] * N_LAYER_FIELDS
        # rechannel: the audio (array 0) or the last array's residual, 1x1, no bias
        src.x, src.step, src.n_in = (x if a == 0 else residual), prev_width, arr[A_INPUT_CHANNELS]
        src.n_taps, src.offsets = 1, net.offsets
        src.w = wn_weight(net, arr[A_RECHANNEL_W], tag)
        wn_matmul(wn_frame(net, state, pos, first[L_BUFFER]), first[L_CHANNELS_WIDTH], n,
                  first[L_CHANNELS_WIDTH], <const floating*> NULL, <const floating*> NULL, 0,
                  &src, 1)
        # the head sum starts from the last array's head output (zero for the first)
        head_width = net.buffers[arr[A_HEAD_BUFFER] * N_BUFFER_FIELDS + B_WIDTH]
        head_sum = wn_frame(net, state, pos, arr[A_HEAD_BUFFER])
        if a == 0:
            memset(head_sum, 0, n * head_width * sizeof(floating))
        else:
            memcpy(head_sum, head_out, n * head_width * sizeof(floating))
        for l in range(arr[A_FIRST], arr[A_FIRST] + arr[A_COUNT]):
            wn_layer(net, net.layers + l * N_LAYER_FIELDS, state, pos, scratch, x, head_sum, n)
        # head rechannel: a causal conv over the head sum's history
        src.x, src.step, src.n_in = head_sum, head_width, arr[A_HEAD_CHANNELS]
        src.n_taps, src.offsets = arr[A_HEAD_TAPS], net.offsets + arr[A_HEAD_TAP_OFFSETS]
        src.w = wn_weight(net, arr[A_HEAD_W], tag)
        out_width = arr[A_HEAD_OUT_WIDTH]
        wn_matmul(head_out, out_width, n, out_width, wn_weight(net, arr[A_HEAD_B], tag),
                  <const floating*> NULL, 0, &src, 1)
        prev_width = first[L_CHANNELS_WIDTH]
    if y != NULL:
        for t in range(n):
            y[t] = <floating> net.head_scale * head_out[t * out_width]
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
    """
    cdef WnNet net
    cdef object keep  # the arrays that the net's pointers point into
    cdef readonly object dtype
    cdef readonly Py_ssize_t state_len, n_buffers, scratch_len, chunk

    def __init__(self, cnp.ndarray weights, cnp.ndarray layers, cnp.ndarray arrays,
                 cnp.ndarray buffers, cnp.ndarray offsets, cnp.ndarray scratch,
                 Py_ssize_t state_len, Py_ssize_t chunk, double head_scale):
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
        self.state_len, self.n_buffers, self.chunk = state_len, self.net.n_buffers, chunk
        self.scratch_len = self.net.scratch[S_LENGTH]
        if not wn_plan_fits(weights.size, layers.reshape(-1, N_LAYER_FIELDS),
                            arrays.reshape(-1, N_ARRAY_FIELDS), buffers.reshape(-1, N_BUFFER_FIELDS),
                            offsets, scratch, state_len, chunk, 16 // weights.itemsize):  # widths: whole 16-byte vectors at least
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


def wn_plan_fits(n_weights, layers, arrays, buffers, offsets, scratch, state_len, chunk, lanes):
    """Whether every offset of a plan lies inside its array, every width is
    whole vectors and the tables agree with each other."""
    def fits(start, length, size=n_weights, absent_ok=True):
        return (start == -1 and absent_ok) or (0 <= start and 0 <= length and start + length <= size)

    def width(b):
        return buffers[b, B_WIDTH] if 0 <= b < len(buffers) else -1

    def taps_fit(index, taps, b):
        if not fits(index, taps, len(offsets), False) or width(b) < 0:
            return False
        reach = buffers[b, B_HISTORY] * buffers[b, B_WIDTH]
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

    if offsets[0] != 0 or chunk < 1:
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
