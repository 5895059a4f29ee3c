/* Facts about the build that only the C preprocessor knows, and the
 * OpenMP / CPU-feature queries the Cython core needs.  Kept tiny on
 * purpose: the loops themselves live in _core.pyx. */
#ifndef FASTDILATE_PLATFORM_H
#define FASTDILATE_PLATFORM_H

#ifdef _OPENMP
#include <omp.h>
#define FD_HAVE_OPENMP 1
#else
#define FD_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
#endif

/* MSVC defines __AVX2__ under /arch:AVX2, which implies FMA, but no __FMA__. */
#if defined(__AVX512F__)
#define FD_TARGET_ISA "avx512f"
#elif defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#define FD_TARGET_ISA "avx2+fma"
#elif defined(__x86_64__) || defined(_M_X64)
#define FD_TARGET_ISA "x86-64 (sse2)"
#elif defined(__aarch64__) || defined(_M_ARM64)
#define FD_TARGET_ISA "aarch64 (neon)"
#else
#define FD_TARGET_ISA "generic"
#endif

#define FD_STR2(x) #x
#define FD_STR(x) FD_STR2(x)
#if defined(__clang__)
#define FD_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define FD_COMPILER "gcc " __VERSION__
#elif defined(_MSC_VER)
#define FD_COMPILER "msvc " FD_STR(_MSC_FULL_VER)
#else
#define FD_COMPILER "unknown"
#endif

/* Whether this CPU (and its OS, which must save the wider registers) can
 * run the AVX2+FMA and the AVX-512 builds of the core. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static inline int fd_cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static inline int fd_cpu_has_avx512f(void) {
    __builtin_cpu_init();
    return fd_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f");
}
#elif defined(_MSC_VER) && defined(_M_X64)
#include <intrin.h>
#include <immintrin.h>
static inline int fd_cpu_has_avx2_fma(void) {
    int info[4];
    __cpuid(info, 0);
    if (info[0] < 7) return 0;
    __cpuid(info, 1);
    int fma = (info[2] >> 12) & 1, osxsave = (info[2] >> 27) & 1, avx = (info[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    if ((_xgetbv(0) & 6) != 6) return 0;  /* the OS saves the YMM registers */
    __cpuidex(info, 7, 0);
    return (info[1] >> 5) & 1;
}
static inline int fd_cpu_has_avx512f(void) {
    int info[4];
    if (!fd_cpu_has_avx2_fma()) return 0;
    if ((_xgetbv(0) & 0xe6) != 0xe6) return 0;  /* ... and the ZMM registers */
    __cpuidex(info, 7, 0);
    return (info[1] >> 16) & 1;
}
#else
static inline int fd_cpu_has_avx2_fma(void) { return 0; }
static inline int fd_cpu_has_avx512f(void) { return 0; }
#endif

/* GNU libgomp's thread pool does not survive fork(): a child that enters a
 * parallel region after the parent used one waits forever.  The core runs
 * serially in a forked child instead. */
#if defined(_WIN32)
static inline int fd_in_forked_child(void) { return 0; }
static inline int fd_watch_fork(void) { return 0; }
#else
#include <pthread.h>
static int fd_forked_child_flag = 0;
static void fd_mark_forked_child(void) { fd_forked_child_flag = 1; }
static inline int fd_in_forked_child(void) { return fd_forked_child_flag; }
static inline int fd_watch_fork(void) { return pthread_atfork(NULL, NULL, fd_mark_forked_child); }
#endif

#endif
