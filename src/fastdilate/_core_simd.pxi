# The register blocks of _simd.h, and one fused Cython front end for each
# of their operations (init, update, store) whatever the block's shape and
# element type.  Included by _core.pyx.

cdef extern from "_simd.h" nogil:
    # The blocking of this build (see _simd.h): output channels and vectors
    # per dense block, bytes per vector and per thin chunk, float32 values
    # in the largest block.
    enum:
        CO_BLOCK "FD_DENSE_ROWS"
        DENSE_VECS "FD_DENSE_VECS"
        VECTOR_BYTES "FD_VECTOR_BYTES"
        THIN_CHUNK_BYTES "FD_THIN_CHUNK_BYTES"
        ACC_LEN "FD_BLOCK_FLOATS"
    void fd_prefetch(const void* p)
    void fd_prefetch_write(void* p)
    ctypedef struct dense_block "fd_dense_block":
        pass
    ctypedef struct narrow_block "fd_narrow_block":
        pass
    ctypedef struct rows1_block "fd_rows1_block":
        pass
    ctypedef struct rows2_block "fd_rows2_block":
        pass
    ctypedef struct rows3_block "fd_rows3_block":
        pass
    ctypedef struct rows4_block "fd_rows4_block":
        pass
    ctypedef struct thin_block "fd_thin_block":
        pass
    ctypedef struct tail_block "fd_tail_block":
        pass
    void fd_dense_init_f32(dense_block* block, const float* bias)
    void fd_dense_init_f64(dense_block* block, const double* bias)
    void fd_dense_update_f32(dense_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_dense_update_f64(dense_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_dense_store_f32(const dense_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_dense_store_f64(const dense_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_narrow_init_f32(narrow_block* block, const float* bias)
    void fd_narrow_init_f64(narrow_block* block, const double* bias)
    void fd_narrow_update_f32(narrow_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_narrow_update_f64(narrow_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_narrow_store_f32(const narrow_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_narrow_store_f64(const narrow_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows1_init_f32(rows1_block* block, const float* bias)
    void fd_rows1_init_f64(rows1_block* block, const double* bias)
    void fd_rows1_update_f32(rows1_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_rows1_update_f64(rows1_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_rows1_store_f32(const rows1_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows1_store_f64(const rows1_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows2_init_f32(rows2_block* block, const float* bias)
    void fd_rows2_init_f64(rows2_block* block, const double* bias)
    void fd_rows2_update_f32(rows2_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_rows2_update_f64(rows2_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_rows2_store_f32(const rows2_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows2_store_f64(const rows2_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows3_init_f32(rows3_block* block, const float* bias)
    void fd_rows3_init_f64(rows3_block* block, const double* bias)
    void fd_rows3_update_f32(rows3_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_rows3_update_f64(rows3_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_rows3_store_f32(const rows3_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows3_store_f64(const rows3_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows4_init_f32(rows4_block* block, const float* bias)
    void fd_rows4_init_f64(rows4_block* block, const double* bias)
    void fd_rows4_update_f32(rows4_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_rows4_update_f64(rows4_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_rows4_store_f32(const rows4_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_rows4_store_f64(const rows4_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_thin_init_f32(thin_block* block, const float* bias)
    void fd_thin_init_f64(thin_block* block, const double* bias)
    void fd_thin_update_f32(thin_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_thin_update_f64(thin_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_thin_store_f32(const thin_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_thin_store_f64(const thin_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_tail_init_f32(tail_block* block, const float* bias)
    void fd_tail_init_f64(tail_block* block, const double* bias)
    void fd_tail_update_f32(tail_block* block, const float* x, Py_ssize_t x_step, const float* w)
    void fd_tail_update_f64(tail_block* block, const double* x, Py_ssize_t x_step, const double* w)
    void fd_tail_store_f32(const tail_block* block, float* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)
    void fd_tail_store_f64(const tail_block* block, double* out, Py_ssize_t row_step,
                           Py_ssize_t vec_step)


# Fused front ends of the register blocks in _simd.h: one for each
# operation, whatever the block's shape and element type.
ctypedef fused register_block:
    dense_block
    narrow_block
    rows1_block
    rows2_block
    rows3_block
    rows4_block
    thin_block
    tail_block

# The blocks of the dense kernel: many output channels at a time (or a
# group's last few).
ctypedef fused channel_block:
    dense_block
    narrow_block
    rows1_block
    rows2_block
    rows3_block
    rows4_block


cdef inline void block_init(register_block* block, const floating* bias) noexcept nogil:
    if register_block is dense_block:
        fd_dense_init_f32(block, bias) if floating is float else fd_dense_init_f64(block, bias)
    elif register_block is narrow_block:
        fd_narrow_init_f32(block, bias) if floating is float else fd_narrow_init_f64(block, bias)
    elif register_block is rows1_block:
        fd_rows1_init_f32(block, bias) if floating is float else fd_rows1_init_f64(block, bias)
    elif register_block is rows2_block:
        fd_rows2_init_f32(block, bias) if floating is float else fd_rows2_init_f64(block, bias)
    elif register_block is rows3_block:
        fd_rows3_init_f32(block, bias) if floating is float else fd_rows3_init_f64(block, bias)
    elif register_block is rows4_block:
        fd_rows4_init_f32(block, bias) if floating is float else fd_rows4_init_f64(block, bias)
    elif register_block is thin_block:
        fd_thin_init_f32(block, bias) if floating is float else fd_thin_init_f64(block, bias)
    else:
        fd_tail_init_f32(block, bias) if floating is float else fd_tail_init_f64(block, bias)


cdef inline void block_update(register_block* block, const floating* x, Py_ssize_t x_step,
                              const floating* w) noexcept nogil:
    if register_block is dense_block:
        fd_dense_update_f32(block, x, x_step, w) if floating is float else fd_dense_update_f64(block, x, x_step, w)
    elif register_block is narrow_block:
        fd_narrow_update_f32(block, x, x_step, w) if floating is float else fd_narrow_update_f64(block, x, x_step, w)
    elif register_block is rows1_block:
        fd_rows1_update_f32(block, x, x_step, w) if floating is float else fd_rows1_update_f64(block, x, x_step, w)
    elif register_block is rows2_block:
        fd_rows2_update_f32(block, x, x_step, w) if floating is float else fd_rows2_update_f64(block, x, x_step, w)
    elif register_block is rows3_block:
        fd_rows3_update_f32(block, x, x_step, w) if floating is float else fd_rows3_update_f64(block, x, x_step, w)
    elif register_block is rows4_block:
        fd_rows4_update_f32(block, x, x_step, w) if floating is float else fd_rows4_update_f64(block, x, x_step, w)
    elif register_block is thin_block:
        fd_thin_update_f32(block, x, x_step, w) if floating is float else fd_thin_update_f64(block, x, x_step, w)
    else:
        fd_tail_update_f32(block, x, x_step, w) if floating is float else fd_tail_update_f64(block, x, x_step, w)


cdef inline void block_store(const register_block* block, floating* out, Py_ssize_t row_step,
                             Py_ssize_t vec_step) noexcept nogil:
    if register_block is dense_block:
        fd_dense_store_f32(block, out, row_step, vec_step) if floating is float else fd_dense_store_f64(block, out, row_step, vec_step)
    elif register_block is narrow_block:
        fd_narrow_store_f32(block, out, row_step, vec_step) if floating is float else fd_narrow_store_f64(block, out, row_step, vec_step)
    elif register_block is rows1_block:
        fd_rows1_store_f32(block, out, row_step, vec_step) if floating is float else fd_rows1_store_f64(block, out, row_step, vec_step)
    elif register_block is rows2_block:
        fd_rows2_store_f32(block, out, row_step, vec_step) if floating is float else fd_rows2_store_f64(block, out, row_step, vec_step)
    elif register_block is rows3_block:
        fd_rows3_store_f32(block, out, row_step, vec_step) if floating is float else fd_rows3_store_f64(block, out, row_step, vec_step)
    elif register_block is rows4_block:
        fd_rows4_store_f32(block, out, row_step, vec_step) if floating is float else fd_rows4_store_f64(block, out, row_step, vec_step)
    elif register_block is thin_block:
        fd_thin_store_f32(block, out, row_step, vec_step) if floating is float else fd_thin_store_f64(block, out, row_step, vec_step)
    else:
        fd_tail_store_f32(block, out, row_step, vec_step) if floating is float else fd_tail_store_f64(block, out, row_step, vec_step)


cdef inline Py_ssize_t block_rows(const channel_block* block) noexcept nogil:
    """Output channels that a block of the dense kernel holds."""
    if channel_block is rows1_block:
        return 1
    elif channel_block is rows2_block:
        return 2
    elif channel_block is rows3_block:
        return 3
    elif channel_block is rows4_block:
        return 4
    return CO_BLOCK
