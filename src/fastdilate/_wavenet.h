/* The WaveNet kernel family's register-blocked C (see _core_wavenet.pxi):
 * the frame-blocked matmul and the activations, for float32 and float64. */
#ifndef FD_WAVENET_H
#define FD_WAVENET_H

#include <math.h>
#include "_simd.h"

/* Frames computed at once (register blocks of frames x output vectors):
 * as many accumulators as the registers hold beside the weights, enough
 * to cover the FMA latency.  FD_WN_FRAMES for two output vectors, twice
 * that for one. */
#if defined(__AVX512F__)
#define FD_WN_FRAMES 8
#else
#define FD_WN_FRAMES 6
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
/* min(hi, x) is x > hi ? hi : x and max(lo, x) is x < lo ? lo : x, NaN
 * included (the instructions return their second operand when unordered). */
#define FD_WN_MIN_16(hi, x) ((fd_wn_v_f32_16) _mm_min_ps((__m128) (hi), (__m128) (x)))
#define FD_WN_MAX_16(lo, x) ((fd_wn_v_f32_16) _mm_max_ps((__m128) (lo), (__m128) (x)))
#endif
#if FD_VECTOR_EXTENSIONS && defined(__AVX__)
static inline __m256 fd_wn_div_m256(__m256 p, __m256 q) {
    __m256 r = _mm256_rcp_ps(q);
    r = _mm256_mul_ps(r, _mm256_sub_ps(_mm256_set1_ps(2.0f), _mm256_mul_ps(q, r)));
    return _mm256_mul_ps(p, r);
}
#define FD_WN_DIV_32(p, q) ((fd_wn_v_f32_32) fd_wn_div_m256((__m256) (p), (__m256) (q)))
#define FD_WN_MIN_32(hi, x) ((fd_wn_v_f32_32) _mm256_min_ps((__m256) (hi), (__m256) (x)))
#define FD_WN_MAX_32(lo, x) ((fd_wn_v_f32_32) _mm256_max_ps((__m256) (lo), (__m256) (x)))
#endif
#if FD_VECTOR_EXTENSIONS && defined(__AVX512F__)
static inline __m512 fd_wn_div_m512(__m512 p, __m512 q) {
    __m512 r = _mm512_rcp14_ps(q);
    r = _mm512_mul_ps(r, _mm512_sub_ps(_mm512_set1_ps(2.0f), _mm512_mul_ps(q, r)));
    return _mm512_mul_ps(p, r);
}
#define FD_WN_DIV_64(p, q) ((fd_wn_v_f32_64) fd_wn_div_m512((__m512) (p), (__m512) (q)))
#define FD_WN_MIN_64(hi, x) ((fd_wn_v_f32_64) _mm512_min_ps((__m512) (hi), (__m512) (x)))
#define FD_WN_MAX_64(lo, x) ((fd_wn_v_f32_64) _mm512_max_ps((__m512) (lo), (__m512) (x)))
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
#ifndef FD_WN_MIN_16
#define FD_WN_MIN_16(hi, x) fd_wn_select_f32_16(x > hi, hi, x)
#define FD_WN_MAX_16(lo, x) fd_wn_select_f32_16(x < lo, lo, x)
#endif
#ifndef FD_WN_MIN_32
#define FD_WN_MIN_32(hi, x) fd_wn_select_f32_32(x > hi, hi, x)
#define FD_WN_MAX_32(lo, x) fd_wn_select_f32_32(x < lo, lo, x)
#endif
#ifndef FD_WN_MIN_64
#define FD_WN_MIN_64(hi, x) fd_wn_select_f32_64(x > hi, hi, x)
#define FD_WN_MAX_64(lo, x) fd_wn_select_f32_64(x < lo, lo, x)
#endif

enum { FD_WN_IDENTITY, FD_WN_TANH, FD_WN_SIGMOID, FD_WN_RELU, FD_WN_LEAKY_RELU,
       FD_WN_HARDTANH, FD_WN_LEAKY_HARDTANH, FD_WN_SOFTSIGN, FD_WN_SOFTSIGMOID,
       FD_WN_SILU };
enum { FD_WN_UNGATED, FD_WN_GATED, FD_WN_BLENDED };

/* One input of a matrix product: n_taps frame offsets (in values) into
 * a signal of ``step`` values per frame and ``stride`` per channel (a
 * frame-major one: step = its width, stride 1; a time-major one: step 1,
 * stride its row length), of which n_in channels are read; weights
 * [tap][channel][output width]. */
typedef struct {
    const void* x;
    ptrdiff_t step, stride, n_in, n_taps;
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

#define FD_WN_SCALAR_ACT(T, SUF)                                              \
static inline T fd_wn_act_##SUF(T x, int kind, const T* p) {                 \
    switch (kind) {                                                           \
    case FD_WN_TANH: return fd_wn_tanh_##SUF(x);                              \
    case FD_WN_SIGMOID: return (T) 0.5 + (T) 0.5 * fd_wn_tanh_##SUF((T) 0.5 * x); \
    case FD_WN_SILU: return x * ((T) 0.5 + (T) 0.5 * fd_wn_tanh_##SUF((T) 0.5 * x)); \
    case FD_WN_RELU: return x > 0 ? x : (T) 0;                                \
    case FD_WN_LEAKY_RELU: return x > 0 ? x : p[0] * x;                       \
    case FD_WN_HARDTANH: return x < p[0] ? p[0] : (x > p[1] ? p[1] : x);      \
    case FD_WN_LEAKY_HARDTANH:                                                \
        return x < p[0] ? (x - p[0]) * p[2] + p[0]                            \
             : (x > p[1] ? (x - p[1]) * p[3] + p[1] : x);                     \
    case FD_WN_SOFTSIGN: return x / ((T) 1 + fabs(x));                        \
    case FD_WN_SOFTSIGMOID: return (T) 0.5 * ((T) 1 + x / ((T) 1 + fabs(x))); \
    default: return x;                                                        \
    }                                                                         \
}
FD_WN_SCALAR_ACT(float, f32)
FD_WN_SCALAR_ACT(double, f64)

#if FD_VECTOR_EXTENSIONS
#define FD_WN_VECTOR(T, I, SUF, BYTES)                                        \
typedef T fd_wn_##SUF##_##BYTES __attribute__((vector_size(BYTES)));          \
typedef I fd_wn_##SUF##_##BYTES##_mask __attribute__((vector_size(BYTES)));
#define FD_WN_LANE(v, i) (v)[i]
#else
#define FD_WN_VECTOR(T, I, SUF, BYTES)                                        \
typedef struct { T e[BYTES / sizeof(T)]; } fd_wn_##SUF##_##BYTES;
#define FD_WN_LANE(v, i) (v).e[i]
#endif

/* The kernels of one element type and vector size. */
#define FD_WN_KERNELS(T, I, SUF, BYTES)                                       \
FD_WN_VECTOR(T, I, SUF, BYTES)                                                \
typedef fd_wn_##SUF##_##BYTES fd_wn_v_##SUF##_##BYTES;                         \
enum { FD_WN_L_##SUF##_##BYTES = BYTES / sizeof(T) };                          \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_load_##SUF##_##BYTES(const T* p) {  \
    fd_wn_v_##SUF##_##BYTES v; memcpy(&v, p, sizeof v); return v;             \
}                                                                             \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_splat_##SUF##_##BYTES(T s) {      \
    fd_wn_v_##SUF##_##BYTES v;                                                \
    for (int i = 0; i < FD_WN_L_##SUF##_##BYTES; i++) FD_WN_LANE(v, i) = s;   \
    return v;                                                                 \
}                                                                             \
FD_WN_VECTOR_OPS(T, SUF, BYTES)                                               \
FD_WN_ACTIVATE(T, SUF, BYTES)                                                 \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, FD_WN_FRAMES, 2, many2)                      \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 4, 2, four2)                                 \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 2, 2, two2)                                  \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 1, 2, one2)                                  \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 2 * FD_WN_FRAMES, 1, many1)                  \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 8, 1, eight1)                                \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 4, 1, four1)                                 \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 2, 1, two1)                                  \
FD_WN_FRAME_BLOCK(T, SUF, BYTES, 1, 1, one1)                                  \
FD_WN_TIME_BLOCK(T, SUF, BYTES, 4, 3, four3)                                  \
FD_WN_TIME_BLOCK(T, SUF, BYTES, 4, 1, four1)                                  \
FD_WN_TIME_BLOCK(T, SUF, BYTES, 2, 5, two5)                                   \
FD_WN_TIME_BLOCK(T, SUF, BYTES, 2, 1, two1)                                   \
FD_WN_TIME_BLOCK(T, SUF, BYTES, 1, 8, one8)                                   \
FD_WN_TIME_BLOCK(T, SUF, BYTES, 1, 1, one1)                                   \
FD_WN_TIME_MATMUL(T, SUF, BYTES)                                              \
static void fd_wn_matmul_##SUF##_##BYTES(T* out, ptrdiff_t out_step, ptrdiff_t n, \
        ptrdiff_t width, const T* bias, const T* add, ptrdiff_t add_step,     \
        const fd_wn_source* srcs, int n_src) {                                \
    const ptrdiff_t lanes = FD_WN_L_##SUF##_##BYTES;                          \
    ptrdiff_t j = 0, t;                                                       \
    for (; j + 2 * lanes <= width; j += 2 * lanes) {                          \
        for (t = 0; t + FD_WN_FRAMES <= n; t += FD_WN_FRAMES)                 \
            FD_WN_CALL_BLOCK(many2, SUF, BYTES);                              \
        FD_WN_REMAINDER(4, four2, SUF, BYTES)                                 \
        FD_WN_REMAINDER(2, two2, SUF, BYTES)                                  \
        FD_WN_REMAINDER(1, one2, SUF, BYTES)                                  \
    }                                                                         \
    for (; j < width; j += lanes) {  /* one vector: twice the frames */       \
        for (t = 0; t + 2 * FD_WN_FRAMES <= n; t += 2 * FD_WN_FRAMES)         \
            FD_WN_CALL_BLOCK(many1, SUF, BYTES);                              \
        FD_WN_REMAINDER(8, eight1, SUF, BYTES)                                \
        FD_WN_REMAINDER(4, four1, SUF, BYTES)                                 \
        FD_WN_REMAINDER(2, two1, SUF, BYTES)                                  \
        FD_WN_REMAINDER(1, one1, SUF, BYTES)                                  \
    }                                                                         \
}

/* The frames left after the big blocks, in blocks of B down to one. */
#define FD_WN_CALL_BLOCK(NAME, SUF, BYTES)                                    \
    fd_wn_block_##NAME##_##SUF##_##BYTES(out, out_step, t, j, width, bias, add, \
                                         add_step, srcs, n_src)
#define FD_WN_REMAINDER(B, NAME, SUF, BYTES)                                  \
    for (; t + B <= n; t += B) FD_WN_CALL_BLOCK(NAME, SUF, BYTES);

/* Frames [t, t + B) of output vectors j .. j + NV: bias, then every
 * source's (tap, channel) products in one fixed order, then the added
 * signal.  Each value gets the same operations for any B and NV. */
#define FD_WN_FRAME_BLOCK(T, SUF, BYTES, B, NV, NAME)                         \
static inline void fd_wn_block_##NAME##_##SUF##_##BYTES(T* out, ptrdiff_t out_step, \
        ptrdiff_t t, ptrdiff_t j, ptrdiff_t width, const T* bias, const T* add, \
        ptrdiff_t add_step, const fd_wn_source* srcs, int n_src) {            \
    typedef fd_wn_v_##SUF##_##BYTES V;                                        \
    const int lanes = FD_WN_L_##SUF##_##BYTES;                                \
    V acc[B][NV], wv[NV];                                                     \
    for (int v = 0; v < NV; v++)                                              \
        wv[v] = bias ? fd_wn_load_##SUF##_##BYTES(bias + j + v * lanes)       \
                     : fd_wn_splat_##SUF##_##BYTES(0);                        \
    for (int f = 0; f < B; f++)                                               \
        for (int v = 0; v < NV; v++) acc[f][v] = wv[v];                       \
    for (int s = 0; s < n_src; s++) {                                         \
        const fd_wn_source* src = srcs + s;                                   \
        const T* w = (const T*) src->w + j;                                   \
        const ptrdiff_t step = src->step;                                     \
        for (ptrdiff_t k = 0; k < src->n_taps; k++) {                         \
            const T* x = (const T*) src->x + t * step + src->offsets[k];      \
            for (ptrdiff_t c = 0; c < src->n_in; c++, w += width) {           \
                for (int v = 0; v < NV; v++)                                  \
                    wv[v] = fd_wn_load_##SUF##_##BYTES(w + v * lanes);        \
                for (int f = 0; f < B; f++) {                                 \
                    T xs = x[f * step + c];                                   \
                    for (int v = 0; v < NV; v++)                              \
                        acc[f][v] = fd_wn_madd_##SUF##_##BYTES(acc[f][v], wv[v], xs); \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    for (int f = 0; f < B; f++)                                               \
        for (int v = 0; v < NV; v++) {                                        \
            T* o = out + (t + f) * out_step + j + v * lanes;                  \
            if (add) acc[f][v] = fd_wn_add_##SUF##_##BYTES(                   \
                fd_wn_load_##SUF##_##BYTES(add + (t + f) * add_step + j + v * lanes), acc[f][v]); \
            memcpy(o, &acc[f][v], sizeof(V));                                 \
        }                                                                     \
}

/* The time-major product (signals of few channels): out[j][t] over
 * output channels j and frames t, n a multiple of the lanes; blocks of J
 * output channels x F vectors of frames, then the frames left one vector
 * at a time.  Which block computes a value depends on j only, and every
 * block gives a value the same operations, as the frame-major one. */
#define FD_WN_TIME_MATMUL(T, SUF, BYTES)                                      \
static void fd_wn_tmatmul_##SUF##_##BYTES(T* out, ptrdiff_t out_stride, ptrdiff_t n, \
        ptrdiff_t width, const T* bias, const T* add, ptrdiff_t add_stride,   \
        const fd_wn_source* srcs, int n_src) {                                \
    const ptrdiff_t lanes = FD_WN_L_##SUF##_##BYTES;                          \
    ptrdiff_t j = 0, t;                                                       \
    for (; j + 4 <= width; j += 4) FD_WN_TIME_ROWS(four3, four1, 3, SUF, BYTES) \
    for (; j + 2 <= width; j += 2) FD_WN_TIME_ROWS(two5, two1, 5, SUF, BYTES)   \
    for (; j < width; j++) FD_WN_TIME_ROWS(one8, one1, 8, SUF, BYTES)           \
}
#define FD_WN_TIME_ROWS(MANY, ONE, F, SUF, BYTES) {                                     \
        for (t = 0; t + F * lanes <= n; t += F * lanes)                       \
            FD_WN_CALL_TIME(MANY, SUF, BYTES);                                \
        for (; t < n; t += lanes) FD_WN_CALL_TIME(ONE, SUF, BYTES);           \
    }
#define FD_WN_CALL_TIME(NAME, SUF, BYTES)                                     \
    fd_wn_tblock_##NAME##_##SUF##_##BYTES(out, out_stride, t, j, width, bias, add, \
                                          add_stride, srcs, n_src)

/* Output channels j .. j + J at frames [t, t + F vectors). */
#define FD_WN_TIME_BLOCK(T, SUF, BYTES, J, F, NAME)                          \
static inline void fd_wn_tblock_##NAME##_##SUF##_##BYTES(T* out, ptrdiff_t out_stride, \
        ptrdiff_t t, ptrdiff_t j, ptrdiff_t width, const T* bias, const T* add, \
        ptrdiff_t add_stride, const fd_wn_source* srcs, int n_src) {          \
    typedef fd_wn_v_##SUF##_##BYTES V;                                        \
    const int lanes = FD_WN_L_##SUF##_##BYTES;                                \
    V acc[J][F], xv[F];                                                       \
    for (int o = 0; o < J; o++) {                                             \
        V start = fd_wn_splat_##SUF##_##BYTES(bias ? bias[j + o] : (T) 0);    \
        for (int f = 0; f < F; f++) acc[o][f] = start;                        \
    }                                                                         \
    for (int s = 0; s < n_src; s++) {                                         \
        const fd_wn_source* src = srcs + s;                                   \
        const T* w = (const T*) src->w + j;                                   \
        for (ptrdiff_t k = 0; k < src->n_taps; k++) {                         \
            const T* x = (const T*) src->x + t + src->offsets[k];             \
            for (ptrdiff_t c = 0; c < src->n_in; c++, w += width) {           \
                for (int f = 0; f < F; f++)                                   \
                    xv[f] = fd_wn_load_##SUF##_##BYTES(x + c * src->stride + f * lanes); \
                for (int o = 0; o < J; o++) {                                 \
                    T ws = w[o];                                              \
                    for (int f = 0; f < F; f++)                               \
                        acc[o][f] = fd_wn_madd_##SUF##_##BYTES(acc[o][f], xv[f], ws); \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    for (int o = 0; o < J; o++)                                               \
        for (int f = 0; f < F; f++) {                                         \
            ptrdiff_t at = t + f * lanes;                                     \
            if (add) acc[o][f] = fd_wn_add_##SUF##_##BYTES(                   \
                fd_wn_load_##SUF##_##BYTES(add + (j + o) * add_stride + at), acc[o][f]); \
            memcpy(out + (j + o) * out_stride + at, &acc[o][f], sizeof(V));   \
        }                                                                     \
}

#if FD_VECTOR_EXTENSIONS
#define FD_WN_VECTOR_OPS(T, SUF, BYTES)                                       \
typedef fd_wn_##SUF##_##BYTES##_mask fd_wn_m_##SUF##_##BYTES;                  \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_madd_##SUF##_##BYTES(             \
        fd_wn_v_##SUF##_##BYTES acc, fd_wn_v_##SUF##_##BYTES w, T x) { return acc + w * x; } \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_add_##SUF##_##BYTES(              \
        fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) { return a + b; } \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_mul_##SUF##_##BYTES(              \
        fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) { return a * b; } \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_blend_##SUF##_##BYTES(            \
        fd_wn_v_##SUF##_##BYTES s, fd_wn_v_##SUF##_##BYTES v, fd_wn_v_##SUF##_##BYTES p) { \
    return s * v + (1 - s) * p; }                                             \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_select_##SUF##_##BYTES(           \
        fd_wn_m_##SUF##_##BYTES m, fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) { \
    return (fd_wn_v_##SUF##_##BYTES) ((m & (fd_wn_m_##SUF##_##BYTES) a)        \
                                      | (~m & (fd_wn_m_##SUF##_##BYTES) b)); }
#else
/* The multiply-adds through _simd.h's fd_madd, fused wherever the target
 * has FMA: GCC fuses some lanewise loops and not others, and streamed and
 * offline values would then differ in their last bit. */
#define FD_WN_LANEWISE(SUF, BYTES, EXPR)                                      \
    fd_wn_v_##SUF##_##BYTES r;                                                \
    for (int i = 0; i < FD_WN_L_##SUF##_##BYTES; i++) r.e[i] = EXPR;          \
    return r;
#define FD_WN_VECTOR_OPS(T, SUF, BYTES)                                       \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_madd_##SUF##_##BYTES(             \
        fd_wn_v_##SUF##_##BYTES acc, fd_wn_v_##SUF##_##BYTES w, T x) {         \
    FD_WN_LANEWISE(SUF, BYTES, fd_madd_##SUF(acc.e[i], w.e[i], x)) }          \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_add_##SUF##_##BYTES(              \
        fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) {                \
    FD_WN_LANEWISE(SUF, BYTES, a.e[i] + b.e[i]) }                             \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_mul_##SUF##_##BYTES(              \
        fd_wn_v_##SUF##_##BYTES a, fd_wn_v_##SUF##_##BYTES b) {                \
    FD_WN_LANEWISE(SUF, BYTES, a.e[i] * b.e[i]) }                             \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_blend_##SUF##_##BYTES(            \
        fd_wn_v_##SUF##_##BYTES s, fd_wn_v_##SUF##_##BYTES v, fd_wn_v_##SUF##_##BYTES p) { \
    FD_WN_LANEWISE(SUF, BYTES, fd_madd_##SUF((1 - s.e[i]) * p.e[i], s.e[i], v.e[i])) }
#endif

/* The float32 tanh on whole vectors (the scalar formula, lane for lane). */
#if FD_VECTOR_EXTENSIONS
#define FD_WN_VECTOR_TANH(BYTES)                                              \
static inline fd_wn_v_f32_##BYTES fd_wn_vtanh_f32_##BYTES(fd_wn_v_f32_##BYTES x) { \
    typedef fd_wn_v_f32_##BYTES V;                                            \
    const V hi = fd_wn_splat_f32_##BYTES(7.90531110763549805f), lo = -hi;     \
    x = FD_WN_MAX_##BYTES(lo, FD_WN_MIN_##BYTES(hi, x));                      \
    V x2 = x * x;                                                             \
    V p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;                \
    p = x2 * p + -8.60467152213735e-11f;                                      \
    p = x2 * p + 5.12229709037114e-08f;                                       \
    p = x2 * p + 1.48572235717979e-05f;                                       \
    p = x2 * p + 6.37261928875436e-04f;                                       \
    p = x2 * p + 4.89352455891786e-03f;                                       \
    V q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;                 \
    q = x2 * q + 2.26843463243900e-03f;                                       \
    q = x2 * q + 4.89352518554385e-03f;                                       \
    return FD_WN_DIV_##BYTES(x * p, q);                                       \
}
#define FD_WN_VECTOR_ACT_f32(BYTES, v, kind)                                  \
    if (kind == FD_WN_TANH) return fd_wn_vtanh_f32_##BYTES(v);                \
    if (kind == FD_WN_SIGMOID) return 0.5f + 0.5f * fd_wn_vtanh_f32_##BYTES(0.5f * v);
#else
#define FD_WN_VECTOR_TANH(BYTES)
#define FD_WN_VECTOR_ACT_f32(BYTES, v, kind)
#endif
#define FD_WN_VECTOR_ACT_f64(BYTES, v, kind)

/* a = act1(z1) (ungated), act1(z1) * act2(z2) (gated) or
 * act2(z2) * act1(z1) + (1 - act2(z2)) * z1 (blended), over n rows of
 * ``width`` values (frames of channels, or time-major channel rows of
 * frames), z2 being z_half values after z1; and head += a when head is
 * not NULL (a layer without a head 1x1). */
#define FD_WN_ACTIVATE(T, SUF, BYTES)                                         \
FD_WN_VECTOR_TANH_##SUF(BYTES)                                                \
static inline fd_wn_v_##SUF##_##BYTES fd_wn_vact_##SUF##_##BYTES(             \
        fd_wn_v_##SUF##_##BYTES v, int kind, const T* p) {                    \
    FD_WN_VECTOR_ACT_##SUF(BYTES, v, kind)                                    \
    for (int i = 0; i < FD_WN_L_##SUF##_##BYTES; i++)                         \
        FD_WN_LANE(v, i) = fd_wn_act_##SUF(FD_WN_LANE(v, i), kind, p);        \
    return v;                                                                 \
}                                                                             \
static inline void fd_wn_store_##SUF##_##BYTES(T* a, T* head,                 \
        fd_wn_v_##SUF##_##BYTES v) {                                          \
    memcpy(a, &v, sizeof v);                                                  \
    if (head) {                                                               \
        v = fd_wn_add_##SUF##_##BYTES(fd_wn_load_##SUF##_##BYTES(head), v);   \
        memcpy(head, &v, sizeof v);                                           \
    }                                                                         \
}                                                                             \
static void fd_wn_activate_##SUF##_##BYTES(T* a, ptrdiff_t a_step, const T* z, \
        ptrdiff_t z_step, ptrdiff_t z_half, ptrdiff_t n, ptrdiff_t width, int gating, \
        int kind1, const T* p1, int kind2, const T* p2, T* head, ptrdiff_t head_step) { \
    typedef fd_wn_v_##SUF##_##BYTES V;                                        \
    FD_WN_TANH_FAST_##SUF(BYTES)                                              \
    for (ptrdiff_t t = 0; t < n; t++)                                         \
        for (ptrdiff_t j = 0; j < width; j += FD_WN_L_##SUF##_##BYTES) {      \
            V z1 = fd_wn_load_##SUF##_##BYTES(z + t * z_step + j);            \
            V v = fd_wn_vact_##SUF##_##BYTES(z1, kind1, p1);                  \
            if (gating != FD_WN_UNGATED) {                                    \
                V s = fd_wn_vact_##SUF##_##BYTES(                             \
                    fd_wn_load_##SUF##_##BYTES(z + t * z_step + z_half + j), kind2, p2); \
                v = gating == FD_WN_GATED ? fd_wn_mul_##SUF##_##BYTES(v, s)   \
                                          : fd_wn_blend_##SUF##_##BYTES(s, v, z1); \
            }                                                                 \
            fd_wn_store_##SUF##_##BYTES(a + t * a_step + j,                   \
                                        head ? head + t * head_step + j : NULL, v); \
        }                                                                     \
}
#define FD_WN_VECTOR_TANH_f32(BYTES) FD_WN_VECTOR_TANH(BYTES)
#define FD_WN_VECTOR_TANH_f64(BYTES)
#define FD_WN_TANH_FAST_f64(BYTES)

/* NAM's two activations without the per-vector dispatch, the ungated one
 * over two vectors at a time so that their polynomials overlap (the
 * same operations on every value as the general loop). */
#if FD_VECTOR_EXTENSIONS
#define FD_WN_TANH_FAST_f32(BYTES)                                            \
    const ptrdiff_t lanes = FD_WN_L_f32_##BYTES;                              \
    if (kind1 == FD_WN_TANH && gating == FD_WN_UNGATED) {                     \
        ptrdiff_t rows = n, length = width, i;                                \
        if (z_step == width && a_step == width && (!head || head_step == width)) \
            rows = 1, length = n * width;  /* one run of contiguous rows */   \
        for (ptrdiff_t r = 0; r < rows; r++) {                                \
            const float* zr = z + r * z_step;                                 \
            float* ar = a + r * a_step;                                       \
            float* hr = head ? head + r * head_step : NULL;                   \
            for (i = 0; i + 2 * lanes <= length; i += 2 * lanes) {            \
                V v0 = fd_wn_vtanh_f32_##BYTES(fd_wn_load_f32_##BYTES(zr + i)); \
                V v1 = fd_wn_vtanh_f32_##BYTES(fd_wn_load_f32_##BYTES(zr + i + lanes)); \
                fd_wn_store_f32_##BYTES(ar + i, hr ? hr + i : NULL, v0);      \
                fd_wn_store_f32_##BYTES(ar + i + lanes, hr ? hr + i + lanes : NULL, v1); \
            }                                                                 \
            for (; i < length; i += lanes)                                    \
                fd_wn_store_f32_##BYTES(ar + i, hr ? hr + i : NULL,           \
                                        fd_wn_vtanh_f32_##BYTES(fd_wn_load_f32_##BYTES(zr + i))); \
        }                                                                     \
        return;                                                               \
    }                                                                         \
    if (kind1 == FD_WN_TANH && kind2 == FD_WN_SIGMOID && gating == FD_WN_GATED) { \
        for (ptrdiff_t t = 0; t < n; t++)                                     \
            for (ptrdiff_t j = 0; j < width; j += lanes) {                    \
                V p = fd_wn_vtanh_f32_##BYTES(fd_wn_load_f32_##BYTES(z + t * z_step + j)); \
                V s = 0.5f + 0.5f * fd_wn_vtanh_f32_##BYTES(                  \
                    0.5f * fd_wn_load_f32_##BYTES(z + t * z_step + z_half + j)); \
                fd_wn_store_f32_##BYTES(a + t * a_step + j,                   \
                                        head ? head + t * head_step + j : NULL, \
                                        fd_wn_mul_f32_##BYTES(p, s));         \
            }                                                                 \
        return;                                                               \
    }
#else
#define FD_WN_TANH_FAST_f32(BYTES)
#endif

/* The native vector (whole registers: wider ones, emulated, go through
 * the stack) and a 16-byte one for frame-major signals of a few channels.
 * models/wavenet.py pads every frame-major width to 16 bytes or whole
 * native vectors; time-major products run native vectors of frames. */
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

#define FD_WN_DISPATCH(SUF, T, NAME, ...)                                     \
    if (width % (FD_WN_WIDE_BYTES / sizeof(T)) == 0) FD_WN_WIDE(NAME, SUF)(__VA_ARGS__); \
    else fd_wn_##NAME##_##SUF##_16(__VA_ARGS__);
#define FD_WN_ENTRY(T, SUF)                                                   \
static void fd_wn_matmul_##SUF(T* out, ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t width, \
        const T* bias, const T* add, ptrdiff_t add_step, const fd_wn_source* srcs, int n_src) { \
    FD_WN_DISPATCH(SUF, T, matmul, out, out_step, n, width, bias, add, add_step, srcs, n_src) \
}                                                                             \
static void fd_wn_activate_##SUF(T* a, ptrdiff_t a_step, const T* z, ptrdiff_t z_step, \
        ptrdiff_t z_half, ptrdiff_t n, ptrdiff_t width, int gating, int kind1, const T* p1, \
        int kind2, const T* p2, T* head, ptrdiff_t head_step) {               \
    FD_WN_DISPATCH(SUF, T, activate, a, a_step, z, z_step, z_half, n, width, gating, kind1, \
                   p1, kind2, p2, head, head_step)                            \
}                                                                             \
static void fd_wn_tmatmul_##SUF(T* out, ptrdiff_t out_stride, ptrdiff_t n, ptrdiff_t width, \
        const T* bias, const T* add, ptrdiff_t add_stride, const fd_wn_source* srcs, int n_src) { \
    FD_WN_WIDE(tmatmul, SUF)(out, out_stride, n, width, bias, add, add_stride, srcs, n_src); \
}
FD_WN_ENTRY(float, f32)
FD_WN_ENTRY(double, f64)

#endif  /* FD_WAVENET_H */
