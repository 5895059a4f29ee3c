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
    thin_block
    tail_block

# The blocks of the dense kernel: many output channels at a time.
ctypedef fused channel_block:
    dense_block
    narrow_block


cdef inline void block_init(register_block* block, const floating* bias) noexcept nogil:
    if register_block is dense_block:
        fd_dense_init_f32(block, bias) if floating is float else fd_dense_init_f64(block, bias)
    elif register_block is narrow_block:
        fd_narrow_init_f32(block, bias) if floating is float else fd_narrow_init_f64(block, bias)
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
    elif register_block is thin_block:
        fd_thin_store_f32(block, out, row_step, vec_step) if floating is float else fd_thin_store_f64(block, out, row_step, vec_step)
    else:
        fd_tail_store_f32(block, out, row_step, vec_step) if floating is float else fd_tail_store_f64(block, out, row_step, vec_step)
