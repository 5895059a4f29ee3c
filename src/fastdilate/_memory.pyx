"""The output pool (_memory.h): large outputs are allocated through it, so
that a call reuses the block of an output of the same size freed before it
rather than a fresh one, which the kernel faults in and zeroes page by page.
It keeps at most SLOTS blocks of MIN_BYTES to MAX_BYTES."""
cimport numpy as cnp
from cpython.ref cimport PyObject
import numpy as np

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    PyObject* PyDataMem_DefaultHandler
    object PyDataMem_SetHandler(object handler)

cdef extern from "_memory.h":
    size_t FD_POOL_MIN_BYTES, FD_POOL_MAX_BYTES
    int FD_POOL_SLOTS
    object fd_pool_new_handler(object base)
    int fd_pool_count()

MIN_BYTES = FD_POOL_MIN_BYTES
MAX_BYTES = FD_POOL_MAX_BYTES
SLOTS = FD_POOL_SLOTS
HANDLER_NAME = "fastdilate_output_pool"
_handler = fd_pool_new_handler(<object> PyDataMem_DefaultHandler)


def empty(shape, dtype):
    """np.empty(shape, dtype), its memory from the pool."""
    previous = PyDataMem_SetHandler(_handler)
    try:
        return np.empty(shape, dtype)
    finally:
        PyDataMem_SetHandler(previous)


def pooled_blocks():
    """How many freed blocks the pool holds now."""
    return fd_pool_count()
