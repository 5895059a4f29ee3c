/* What the micro-kernels need and Cython cannot spell: a cache prefetch
 * hint, and the one SIMD operation, a register block of ROWS output
 * channels x VECS vectors of time points updated with one outer product
 * per (input channel, tap):
 *
 *   block[r][j] += w[r] * x[j]   for r < ROWS, j < VECS (vectors)
 *
 * The vectors are a run of consecutive points, or one from each of VECS
 * output rows of an image (x_step and vec_step say where they lie).
 * Shapes: "dense" (4, 6 or 8 rows, for many channels), "narrow" (the
 * same rows, one vector: what a single row leaves after whole dense runs,
 * so short rows waste no work), "rows1".."rows4" (1-4 rows of a dense run:
 * a group's last channels when fewer than a dense block remain, so that no
 * zero channel is computed), "thin" (1 row, for one channel at a
 * time, wide to spread each tap's overhead) and "tail" (1 x 1: what a row
 * leaves after whole thin chunks).  A vector is
 * 32 bytes, or 64 in the AVX-512 build, which has 32 registers and so
 * affords twice the accumulators per dense block (measured on an AVX2 EPYC at
 * 1 thread, 6 x 2 against 4 x 3: 1.0-1.3x on 1-D and 2-D layers of 12 and more
 * output channels, 0.83-0.95x at 4 and 8):
 *
 *   build     vector  dense block             narrow   rowsR   thin block  tail
 *   AVX-512   64 B    8 x 3 (24 of 32 zmm)     8 x 1    R x 3   1 x 6       1 x 1
 *   AVX2      32 B    6 x 2 (12 of 16 ymm)     6 x 1    R x 2   1 x 6       1 x 1
 *   baseline  32 B    4 x 3 (SSE pairs)        4 x 1    R x 3   1 x 6       1 x 1
 *
 * GCC and Clang get vector extensions, which become AVX-512 or AVX2 FMAs in
 * those builds and SSE pairs in the baseline build; other compilers (MSVC)
 * get plain loops over the same layout.  A block is a local of the caller,
 * so once these inline the compiler keeps it in registers.
 */
#ifndef FASTDILATE_SIMD_H
#define FASTDILATE_SIMD_H

#include <stddef.h>
#include <string.h>

#if defined(__AVX512F__)
#define FD_VECTOR_BYTES 64
#define FD_DENSE_ROWS 8
#define FD_DENSE_VECS 3
#elif defined(__AVX2__) && defined(__FMA__)
/* 6 x 2: each input vector loaded feeds 6 FMAs, not 4 (the tile streams from
 * L2, and 16 registers hold no more than 12 accumulators) */
#define FD_VECTOR_BYTES 32
#define FD_DENSE_ROWS 6
#define FD_DENSE_VECS 2
#else
#define FD_VECTOR_BYTES 32
#define FD_DENSE_ROWS 4
#define FD_DENSE_VECS 3
#endif
#define FD_THIN_VECS 6

/* Bytes of points in a dense run and a thin chunk.  A tile holds whole thin
 * chunks, or for the dense kernel whole vectors (its narrow block finishes
 * what the runs leave).  And the float32 values of the largest block, to
 * size a buffer for any. */
#define FD_DENSE_CHUNK_BYTES (FD_DENSE_VECS * FD_VECTOR_BYTES)
#define FD_THIN_CHUNK_BYTES (FD_THIN_VECS * FD_VECTOR_BYTES)
#define FD_BLOCK_FLOATS (FD_DENSE_ROWS * FD_DENSE_CHUNK_BYTES / 4)

/* -DFD_VECTOR_EXTENSIONS=0 builds the plain-loop path with GCC too, to
 * test what MSVC compiles. */
#ifndef FD_VECTOR_EXTENSIONS
#if defined(__GNUC__) || defined(__clang__)
#define FD_VECTOR_EXTENSIONS 1
#else
#define FD_VECTOR_EXTENSIONS 0
#endif
#endif

#if FD_VECTOR_EXTENSIONS
typedef float fd_f32v __attribute__((vector_size(FD_VECTOR_BYTES)));
typedef double fd_f64v __attribute__((vector_size(FD_VECTOR_BYTES)));
#else
typedef struct { float e[FD_VECTOR_BYTES / sizeof(float)]; } fd_f32v;
typedef struct { double e[FD_VECTOR_BYTES / sizeof(double)]; } fd_f64v;
#endif

/* Unroll a block's loops whole, so that its accumulators stay in registers
 * (a loop left rolled keeps the block in memory, on the stack). */
#if defined(__clang__)
#define FD_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define FD_UNROLL _Pragma("GCC unroll 64")
#else
#define FD_UNROLL
#endif

#if FD_VECTOR_EXTENSIONS
#define FD_DEFINE_VECTOR_OPS(T, V, SUFFIX)                                        \
static inline V fd_load_##SUFFIX(const T* p) { V v; memcpy(&v, p, sizeof v); return v; } \
static inline V fd_splat_##SUFFIX(T value) {                                      \
    V v;                                                                          \
    for (int i = 0; i < (int) (sizeof(V) / sizeof(T)); i++) v[i] = value;        \
    return v;                                                                     \
}
#define FD_BLOCK_INIT(V, SUFFIX) a[r * VECS + j] = fd_splat_##SUFFIX(bias[r])
#define FD_BLOCK_UPDATE(V, SUFFIX)                                                \
    V xs[VECS];                                                                   \
    FD_UNROLL for (int j = 0; j < VECS; j++) xs[j] = fd_load_##SUFFIX(x + j * x_step); \
    /* scalar * vector: the compiler broadcasts w[r] straight from memory */  \
    FD_UNROLL for (int r = 0; r < ROWS; r++)                                      \
        FD_UNROLL for (int j = 0; j < VECS; j++) a[r * VECS + j] += w[r] * xs[j];
#else
#define FD_DEFINE_VECTOR_OPS(T, V, SUFFIX)
#define FD_BLOCK_INIT(V, SUFFIX)                                                  \
    for (int i = 0; i < (int) (sizeof(V) / sizeof(bias[0])); i++) a[r * VECS + j].e[i] = bias[r]
#define FD_BLOCK_UPDATE(V, SUFFIX)                                                \
    const int lanes = (int) (sizeof(V) / sizeof(*x));                             \
    for (int r = 0; r < ROWS; r++)                                                \
        for (int j = 0; j < VECS; j++)                                            \
            for (int i = 0; i < lanes; i++)                                       \
                a[r * VECS + j].e[i] = fd_madd_##SUFFIX(a[r * VECS + j].e[i], w[r], x[j * x_step + i]);
/* a + w * x, fused wherever the target has FMA: left to itself GCC fuses some
 * of these loops and not others, and a point's bits would then depend on
 * which block computed it (so on the tiling, so on the thread count). */
#if defined(__FMA__)
#include <math.h>
static inline float fd_madd_f32(float a, float w, float x) { return fmaf(w, x, a); }
static inline double fd_madd_f64(double a, double w, double x) { return fma(w, x, a); }
#else
static inline float fd_madd_f32(float a, float w, float x) { return a + w * x; }
static inline double fd_madd_f64(double a, double w, double x) { return a + w * x; }
#endif
#endif

/* init: every accumulator of row r starts at bias[r];
 * update: one outer product of w[0..ROWS) and the VECS vectors at
 *   x + j * x_step (x_step = lanes: one run of VECS * lanes points);
 * store: row r's vector j to out + r * row_step + j * vec_step. */
#define FD_DEFINE_BLOCK_OPS(KIND, ROWS_, VECS_, T, V, SUFFIX)                     \
static inline void fd_##KIND##_init_##SUFFIX(fd_##KIND##_block* block, const T* bias) { \
    enum { ROWS = ROWS_, VECS = VECS_ };                                          \
    V* a = block->SUFFIX;                                                         \
    FD_UNROLL for (int r = 0; r < ROWS; r++)                                      \
        FD_UNROLL for (int j = 0; j < VECS; j++) { FD_BLOCK_INIT(V, SUFFIX); }   \
}                                                                                 \
static inline void fd_##KIND##_update_##SUFFIX(fd_##KIND##_block* block, const T* x,   \
                                               ptrdiff_t x_step, const T* w) {   \
    enum { ROWS = ROWS_, VECS = VECS_ };                                          \
    V* a = block->SUFFIX;                                                         \
    FD_BLOCK_UPDATE(V, SUFFIX)                                                    \
}                                                                                 \
static inline void fd_##KIND##_store_##SUFFIX(const fd_##KIND##_block* block, T* out, \
                                              ptrdiff_t row_step, ptrdiff_t vec_step) { \
    /* a vector at a time, so each is one store straight from its register */ \
    FD_UNROLL for (int r = 0; r < ROWS_; r++)                                     \
        FD_UNROLL for (int j = 0; j < VECS_; j++)                                 \
            memcpy(out + r * row_step + j * vec_step, &block->SUFFIX[r * VECS_ + j], sizeof(V)); \
}

#define FD_DEFINE_BLOCK(KIND, ROWS, VECS)                                         \
typedef union { fd_f32v f32[(ROWS) * (VECS)]; fd_f64v f64[(ROWS) * (VECS)]; } fd_##KIND##_block; \
FD_DEFINE_BLOCK_OPS(KIND, ROWS, VECS, float, fd_f32v, f32)                        \
FD_DEFINE_BLOCK_OPS(KIND, ROWS, VECS, double, fd_f64v, f64)

/* A hint to fetch the cache line at p into L2 ahead of a copy, and one to
 * fetch it for writing ahead of stores. */
#if defined(__GNUC__) || defined(__clang__)
#define fd_prefetch(p) __builtin_prefetch((p), 0, 2)
#define fd_prefetch_write(p) __builtin_prefetch((p), 1, 2)
#elif defined(_M_X64)
#include <xmmintrin.h>
#define fd_prefetch(p) _mm_prefetch((const char*) (p), _MM_HINT_T1)
#define fd_prefetch_write(p) _mm_prefetch((const char*) (p), _MM_HINT_T1)
#else
#define fd_prefetch(p) ((void) (p))
#define fd_prefetch_write(p) ((void) (p))
#endif

FD_DEFINE_VECTOR_OPS(float, fd_f32v, f32)
FD_DEFINE_VECTOR_OPS(double, fd_f64v, f64)
FD_DEFINE_BLOCK(dense, FD_DENSE_ROWS, FD_DENSE_VECS)
FD_DEFINE_BLOCK(narrow, FD_DENSE_ROWS, 1)
FD_DEFINE_BLOCK(rows1, 1, FD_DENSE_VECS)
FD_DEFINE_BLOCK(rows2, 2, FD_DENSE_VECS)
FD_DEFINE_BLOCK(rows3, 3, FD_DENSE_VECS)
FD_DEFINE_BLOCK(rows4, 4, FD_DENSE_VECS)
FD_DEFINE_BLOCK(thin, 1, FD_THIN_VECS)
FD_DEFINE_BLOCK(tail, 1, 1)

#endif
