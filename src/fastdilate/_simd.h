/* The one SIMD operation the dense micro-kernel needs and Cython cannot
 * spell: a register block of CO_BLOCK (4) output channels x 3 vectors of
 * time points, updated with one outer product per (input channel, tap).
 *
 * GCC and Clang get vector extensions, which become AVX2 FMAs in the
 * _core_avx2 build and SSE pairs in the baseline build; other compilers
 * (MSVC) get plain loops over the same layout.  The block is a local struct
 * of the caller, so once these inline the compiler keeps it in registers.
 */
#ifndef FASTDILATE_SIMD_H
#define FASTDILATE_SIMD_H

#include <stddef.h>
#include <string.h>

#define FD_ROWS 4
#define FD_VECS 3

#if defined(__GNUC__) || defined(__clang__)
typedef float fd_f32v __attribute__((vector_size(32)));
typedef double fd_f64v __attribute__((vector_size(32)));
#else
typedef struct { float e[8]; } fd_f32v;
typedef struct { double e[4]; } fd_f64v;
#endif

/* One register block; the member in use is the one of the element type. */
typedef union { fd_f32v f32[FD_ROWS * FD_VECS]; fd_f64v f64[FD_ROWS * FD_VECS]; } fd_dense_acc;

#if defined(__GNUC__) || defined(__clang__)
#define FD_DEFINE_BLOCK(T, V, SUFFIX)                                          \
static inline V fd_load_##SUFFIX(const T* p) { V v; memcpy(&v, p, sizeof v); return v; } \
static inline V fd_splat_##SUFFIX(T value) {                                   \
    V v;                                                                       \
    for (int i = 0; i < (int) (sizeof(V) / sizeof(T)); i++) v[i] = value;     \
    return v;                                                                  \
}                                                                              \
static inline void fd_dense_init_##SUFFIX(fd_dense_acc* acc, const T* bias) {  \
    V* a = acc->SUFFIX;                                                        \
    for (int r = 0; r < FD_ROWS; r++)                                          \
        for (int j = 0; j < FD_VECS; j++) a[r * FD_VECS + j] = fd_splat_##SUFFIX(bias[r]); \
}                                                                              \
static inline void fd_dense_update_##SUFFIX(fd_dense_acc* acc, const T* x, const T* w) { \
    V* a = acc->SUFFIX;                                                        \
    const int n = sizeof(V) / sizeof(T);                                       \
    V x0 = fd_load_##SUFFIX(x), x1 = fd_load_##SUFFIX(x + n), x2 = fd_load_##SUFFIX(x + 2 * n); \
    for (int r = 0; r < FD_ROWS; r++) {                                        \
        V wr = fd_splat_##SUFFIX(w[r]);                                                  \
        a[r * FD_VECS] += wr * x0;                                             \
        a[r * FD_VECS + 1] += wr * x1;                                         \
        a[r * FD_VECS + 2] += wr * x2;                                         \
    }                                                                          \
}                                                                              \
static inline void fd_dense_store_##SUFFIX(const fd_dense_acc* acc, T* out, ptrdiff_t row_step) { \
    const V* a = acc->SUFFIX;                                            \
    for (int r = 0; r < FD_ROWS; r++)                                          \
        memcpy(out + r * row_step, &a[r * FD_VECS], FD_VECS * sizeof(V));      \
}
#else
#define FD_DEFINE_BLOCK(T, V, SUFFIX)                                          \
static inline void fd_dense_init_##SUFFIX(fd_dense_acc* acc, const T* bias) {  \
    T* a = (T*) acc->SUFFIX;                                                        \
    const int n = FD_VECS * sizeof(V) / sizeof(T);                             \
    for (int r = 0; r < FD_ROWS; r++)                                          \
        for (int t = 0; t < n; t++) a[r * n + t] = bias[r];                    \
}                                                                              \
static inline void fd_dense_update_##SUFFIX(fd_dense_acc* acc, const T* x, const T* w) { \
    T* a = (T*) acc->SUFFIX;                                                        \
    const int n = FD_VECS * sizeof(V) / sizeof(T);                             \
    for (int r = 0; r < FD_ROWS; r++)                                          \
        for (int t = 0; t < n; t++) a[r * n + t] += w[r] * x[t];               \
}                                                                              \
static inline void fd_dense_store_##SUFFIX(const fd_dense_acc* acc, T* out, ptrdiff_t row_step) { \
    const T* a = (const T*) acc->SUFFIX;                                            \
    const int n = FD_VECS * sizeof(V) / sizeof(T);                             \
    for (int r = 0; r < FD_ROWS; r++) memcpy(out + r * row_step, a + r * n, n * sizeof(T)); \
}
#endif

FD_DEFINE_BLOCK(float, fd_f32v, f32)
FD_DEFINE_BLOCK(double, fd_f64v, f64)

#endif
