/* The output pool: a NumPy memory handler that keeps the last few large
 * blocks freed through it and hands one back to the next request of the
 * same size.  A fresh block of tens of MB costs the kernel's page faults and
 * zeroing (5 ms for 47 MB on the machine this was measured on), more than
 * many a convolution that fills it; ONNX Runtime's arena avoids the same
 * cost.  Everything else goes to NumPy's default allocator, which the pool
 * wraps (and which asks for huge pages where NumPy does).  See _memory.pyx. */
#ifndef FD_MEMORY_H
#define FD_MEMORY_H

#include <Python.h>
#include <pythread.h>
#include <numpy/ndarraytypes.h>

/* Blocks kept, and the sizes kept: below the least, malloc reuses freed
 * memory by itself (glibc maps only blocks above its threshold, at most
 * 32 MiB, afresh each time); above the most, keeping one would hold too
 * much memory that its user has let go. */
#define FD_POOL_SLOTS 2
#define FD_POOL_MIN_BYTES ((size_t) 16 << 20)
#define FD_POOL_MAX_BYTES ((size_t) 128 << 20)
#define FD_POOL_KEEPS(size) ((size) >= FD_POOL_MIN_BYTES && (size) <= FD_POOL_MAX_BYTES)

typedef struct { void* ptr; size_t size; unsigned long long freed; } fd_pool_block;

static PyDataMemAllocator fd_pool_base;  /* NumPy's default allocator */
static PyThread_type_lock fd_pool_lock;  /* the slots; held for no call */
static fd_pool_block fd_pool_slots[FD_POOL_SLOTS];
static unsigned long long fd_pool_frees;  /* blocks kept so far: their order */

/* The last freed kept block of exactly ``size`` bytes (its cache lines the
 * likeliest still warm), taken out of the pool, or NULL. */
static void* fd_pool_take(size_t size) {
    void* ptr = NULL;
    int slot = -1;
    PyThread_acquire_lock(fd_pool_lock, WAIT_LOCK);
    for (int i = 0; i < FD_POOL_SLOTS; i++)
        if (fd_pool_slots[i].ptr != NULL && fd_pool_slots[i].size == size
                && (slot < 0 || fd_pool_slots[i].freed > fd_pool_slots[slot].freed))
            slot = i;
    if (slot >= 0) {
        ptr = fd_pool_slots[slot].ptr;
        fd_pool_slots[slot].ptr = NULL;
    }
    PyThread_release_lock(fd_pool_lock);
    return ptr;
}

/* Keep ``ptr`` in an empty slot or in the place of the block freed first;
 * returns the block it displaced (ptr NULL if none), for the caller to free. */
static fd_pool_block fd_pool_keep(void* ptr, size_t size) {
    fd_pool_block displaced = {NULL, 0, 0};
    int slot = 0;
    PyThread_acquire_lock(fd_pool_lock, WAIT_LOCK);
    for (int i = 1; i < FD_POOL_SLOTS && fd_pool_slots[slot].ptr != NULL; i++)
        if (fd_pool_slots[i].ptr == NULL || fd_pool_slots[i].freed < fd_pool_slots[slot].freed)
            slot = i;
    displaced = fd_pool_slots[slot];
    fd_pool_slots[slot].ptr = ptr;
    fd_pool_slots[slot].size = size;
    fd_pool_slots[slot].freed = ++fd_pool_frees;
    PyThread_release_lock(fd_pool_lock);
    return displaced;
}

static void* fd_pool_malloc(void* ctx, size_t size) {
    void* ptr = FD_POOL_KEEPS(size) ? fd_pool_take(size) : NULL;
    return ptr != NULL ? ptr : fd_pool_base.malloc(fd_pool_base.ctx, size);
}

static void* fd_pool_calloc(void* ctx, size_t nelem, size_t elsize) {
    return fd_pool_base.calloc(fd_pool_base.ctx, nelem, elsize);
}

static void* fd_pool_realloc(void* ctx, void* ptr, size_t new_size) {
    return fd_pool_base.realloc(fd_pool_base.ctx, ptr, new_size);
}

/* ``size`` is what NumPy asked for (the array's bytes), never more than
 * the block holds: a block is handed back only for that size. */
static void fd_pool_free(void* ctx, void* ptr, size_t size) {
    if (ptr != NULL && FD_POOL_KEEPS(size)) {
        fd_pool_block displaced = fd_pool_keep(ptr, size);
        if (displaced.ptr != NULL)
            fd_pool_base.free(fd_pool_base.ctx, displaced.ptr, displaced.size);
        return;
    }
    fd_pool_base.free(fd_pool_base.ctx, ptr, size);
}

static PyDataMem_Handler fd_pool_handler = {
    "fastdilate_output_pool", 1,
    {NULL, fd_pool_malloc, fd_pool_calloc, fd_pool_realloc, fd_pool_free}
};

/* The pool's handler capsule, over the allocator of NumPy's default
 * handler ``base`` (a "mem_handler" capsule); NULL with an exception set. */
static PyObject* fd_pool_new_handler(PyObject* base) {
    PyDataMem_Handler* numpy_default =
        (PyDataMem_Handler*) PyCapsule_GetPointer(base, "mem_handler");
    if (numpy_default == NULL) return NULL;
    if (fd_pool_lock == NULL) {
        fd_pool_lock = PyThread_allocate_lock();
        if (fd_pool_lock == NULL) return PyErr_NoMemory();
        fd_pool_base = numpy_default->allocator;
    }
    return PyCapsule_New(&fd_pool_handler, "mem_handler", NULL);
}

/* Blocks the pool holds now. */
static int fd_pool_count(void) {
    int n = 0;
    if (fd_pool_lock == NULL) return 0;
    PyThread_acquire_lock(fd_pool_lock, WAIT_LOCK);
    for (int i = 0; i < FD_POOL_SLOTS; i++) n += fd_pool_slots[i].ptr != NULL;
    PyThread_release_lock(fd_pool_lock);
    return n;
}

#endif
