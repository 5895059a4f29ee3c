"""Typed nogil loops of fastdilate.

Everything here trusts its arguments: shapes, strides, dtypes and padding
are checked and prepared by ``fastdilate._api`` before any call.  The same
source is compiled twice by setup.py, once for the baseline instruction set
(``_core``) and once with AVX2+FMA (``_core_avx2``); ``_dispatch`` picks one.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.stdlib cimport malloc, free

cdef extern from "_platform.h" nogil:
    int FD_HAVE_OPENMP
    const char* FD_TARGET_ISA
    const char* FD_COMPILER
    int omp_get_max_threads()
    int fd_cpu_has_avx2_fma()
    int fd_in_forked_child()
    int fd_watch_fork()

# Output channels accumulated together: each input sample loaded feeds
# CO_BLOCK multiply-adds.
cdef enum:
    CO_BLOCK = 4
    # Output positions per work item; CO_BLOCK rows of this many accumulators
    # stay in L1 while every (input channel, tap) pair streams past them.
    TIME_TILE = 256

fd_watch_fork()


def build_facts():
    """What the compiler knew when it built this module."""
    return {
        "openmp": bool(FD_HAVE_OPENMP),
        "isa": FD_TARGET_ISA.decode(),
        "compiler": FD_COMPILER.decode(),
    }


def default_num_threads():
    """OpenMP's default team size (follows OMP_NUM_THREADS and threadpoolctl)."""
    return omp_get_max_threads()


def cpu_has_avx2_fma():
    return bool(fd_cpu_has_avx2_fma())


def in_forked_child():
    return bool(fd_in_forked_child())


cdef void accumulate_taps(floating* acc, Py_ssize_t rows, Py_ssize_t width,
                          const floating* x_row, Py_ssize_t stride,
                          Py_ssize_t dilation, Py_ssize_t n_taps,
                          const floating* w, Py_ssize_t w_row_step) noexcept nogil:
    """acc[r, t] += sum_k w[r, k] * x_row[t*stride + k*dilation] for one input row.

    ``w`` points at tap 0 of output row 0; rows are ``w_row_step`` apart and
    taps are adjacent.  Every output sums its taps in the same order whatever
    the blocking, so results do not depend on the thread count.
    """
    cdef Py_ssize_t k, t, r
    cdef const floating* xk
    cdef floating w0, w1, w2, w3, xv
    cdef floating* a0
    cdef floating* a1
    cdef floating* a2
    cdef floating* a3
    for k in range(n_taps):
        xk = x_row + k * dilation
        if rows == CO_BLOCK:
            w0 = w[k]
            w1 = w[w_row_step + k]
            w2 = w[2 * w_row_step + k]
            w3 = w[3 * w_row_step + k]
            a0 = acc
            a1 = acc + TIME_TILE
            a2 = acc + 2 * TIME_TILE
            a3 = acc + 3 * TIME_TILE
            if stride == 1:
                for t in range(width):
                    xv = xk[t]
                    a0[t] += w0 * xv
                    a1[t] += w1 * xv
                    a2[t] += w2 * xv
                    a3[t] += w3 * xv
            else:
                for t in range(width):
                    xv = xk[t * stride]
                    a0[t] += w0 * xv
                    a1[t] += w1 * xv
                    a2[t] += w2 * xv
                    a3[t] += w3 * xv
        else:
            for r in range(rows):
                w0 = w[r * w_row_step + k]
                a0 = acc + r * TIME_TILE
                if stride == 1:
                    for t in range(width):
                        a0[t] += w0 * xk[t]
                else:
                    for t in range(width):
                        a0[t] += w0 * xk[t * stride]


cdef void conv_work_item(Py_ssize_t item, floating* acc,
                         const floating[:, :, :, ::1] x,
                         const floating[:, :, :, ::1] weight,
                         const floating[::1] bias,
                         floating[:, :, :, ::1] out,
                         Py_ssize_t stride_h, Py_ssize_t stride_w,
                         Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                         Py_ssize_t groups) noexcept nogil:
    """One (batch, output row, time tile, group, channel block) of the output."""
    cdef Py_ssize_t c_out = out.shape[1], h_out = out.shape[2], w_out = out.shape[3]
    cdef Py_ssize_t c_in_group = weight.shape[1], kh_size = weight.shape[2], kw_size = weight.shape[3]
    cdef Py_ssize_t c_out_group = c_out // groups
    cdef Py_ssize_t blocks = (c_out_group + CO_BLOCK - 1) // CO_BLOCK
    cdef Py_ssize_t tiles = (w_out + TIME_TILE - 1) // TIME_TILE
    # Channel block varies fastest so a thread's consecutive items reuse
    # the same input tile from cache.
    cdef Py_ssize_t block = item % blocks
    item //= blocks
    cdef Py_ssize_t g = item % groups
    item //= groups
    cdef Py_ssize_t tile = item % tiles
    item //= tiles
    cdef Py_ssize_t i = item % h_out
    cdef Py_ssize_t n = item // h_out

    cdef Py_ssize_t co0 = g * c_out_group + block * CO_BLOCK
    cdef Py_ssize_t rows = min(<Py_ssize_t> CO_BLOCK, (g + 1) * c_out_group - co0)
    cdef Py_ssize_t t0 = tile * TIME_TILE
    cdef Py_ssize_t width = min(<Py_ssize_t> TIME_TILE, w_out - t0)
    cdef Py_ssize_t w_row_step = c_in_group * kh_size * kw_size
    cdef Py_ssize_t r, t, ci, kh

    for r in range(rows):
        for t in range(width):
            acc[r * TIME_TILE + t] = bias[co0 + r]
    for ci in range(c_in_group):
        for kh in range(kh_size):
            accumulate_taps(acc, rows, width,
                            &x[n, g * c_in_group + ci, i * stride_h + kh * dilation_h, t0 * stride_w],
                            stride_w, dilation_w, kw_size,
                            &weight[co0, ci, kh, 0], w_row_step)
    for r in range(rows):
        for t in range(width):
            out[n, co0 + r, i, t0 + t] = acc[r * TIME_TILE + t]


def conv2d_forward(const floating[:, :, :, ::1] x,        # IN  (N, C_in, H_pad, W_pad)
                   const floating[:, :, :, ::1] weight,   # IN  (C_out, C_in // groups, KH, KW)
                   const floating[::1] bias,              # IN  (C_out,)
                   floating[:, :, :, ::1] out,            # OUT (N, C_out, H_out, W_out)
                   Py_ssize_t stride_h, Py_ssize_t stride_w,
                   Py_ssize_t dilation_h, Py_ssize_t dilation_w,
                   Py_ssize_t groups, int num_threads):
    """Direct 2-D cross-correlation of an already padded input (conv1d is H = 1).

    Work items are (batch, output row, time tile, group, channel block),
    shared statically among ``num_threads`` threads; 1 runs without a team.
    """
    cdef Py_ssize_t c_out_group = out.shape[1] // groups
    cdef Py_ssize_t n_items = (out.shape[0] * out.shape[2]
                               * ((out.shape[3] + TIME_TILE - 1) // TIME_TILE)
                               * groups * ((c_out_group + CO_BLOCK - 1) // CO_BLOCK))
    cdef Py_ssize_t item
    cdef bint use_threads = num_threads > 1 and not fd_in_forked_child()
    cdef int team = num_threads if use_threads else 1
    cdef floating* scratch = <floating*> malloc(team * CO_BLOCK * TIME_TILE * sizeof(floating))
    if scratch == NULL:
        raise MemoryError("fastdilate: no memory for the per-thread accumulators")
    with nogil, parallel(num_threads=team, use_threads_if=use_threads):
        for item in prange(n_items, schedule="static"):
            conv_work_item(item, scratch + threadid() * CO_BLOCK * TIME_TILE,
                           x, weight, bias, out, stride_h, stride_w,
                           dilation_h, dilation_w, groups)
    free(scratch)
