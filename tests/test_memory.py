"""The output pool (fastdilate._memory): a large output reuses the block of
one freed before it, never one still in use, and the results are the same
as into a fresh array."""
import numpy as np
import pytest
from numpy._core.multiarray import get_handler_name

import fastdilate as fd
from fastdilate import _memory

from conftest import assert_matches_numpy, run_in_threads

# A layer whose float32 output just reaches the pool's least size.
WEIGHT_SHAPE = (512, 2, 3)
LENGTH = _memory.MIN_BYTES // (4 * WEIGHT_SHAPE[0]) + 2


def layer_input(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((1, 2, LENGTH)).astype(dtype),
            rng.standard_normal(WEIGHT_SHAPE).astype(dtype))


def address(array):
    return array.__array_interface__["data"][0]


def test_the_layer_output_is_large_enough_for_the_pool():
    x, w = layer_input(0)
    y = fd.conv1d(x, w)
    assert _memory.MIN_BYTES <= y.nbytes <= _memory.MAX_BYTES
    assert get_handler_name(y) == _memory.HANDLER_NAME


@pytest.mark.parametrize("size", [_memory.MIN_BYTES // 4 - 1, _memory.MAX_BYTES // 4 + 1])
def test_outputs_outside_the_pool_sizes_come_from_numpy(size):
    y = fd.conv1d(np.ones((1, 1, size), np.float32), np.ones((1, 1, 1), np.float32))
    assert get_handler_name(y) == "default_allocator"


def test_a_freed_output_block_is_reused_and_overwritten():
    x, w = layer_input(1)
    first = fd.conv1d(x, w)
    freed = address(first)
    del first
    x2, w2 = layer_input(2)
    second = fd.conv1d(x2, w2)
    assert address(second) == freed
    assert_matches_numpy(second, x2, w2)


def test_an_output_in_use_keeps_its_block():
    x, w = layer_input(3)
    kept = fd.conv1d(x, w)
    copy = kept.copy()
    second = fd.conv1d(*layer_input(4))
    assert not np.shares_memory(kept, second)
    np.testing.assert_array_equal(kept, copy)


def test_a_view_keeps_its_output_block():
    x, w = layer_input(5)
    y = fd.conv1d(x, w)
    view = y[0, 7, 100:200]
    expected = view.copy()
    del y
    others = [fd.conv1d(*layer_input(6 + i)) for i in range(_memory.SLOTS + 1)]
    assert not any(np.shares_memory(view, other) for other in others)
    np.testing.assert_array_equal(view, expected)


def test_the_pool_keeps_at_most_its_slots():
    outputs = [fd.conv1d(*layer_input(10 + i)) for i in range(_memory.SLOTS + 2)]
    del outputs
    assert _memory.pooled_blocks() == _memory.SLOTS
    taken = [fd.conv1d(*layer_input(20 + i)) for i in range(_memory.SLOTS)]
    assert _memory.pooled_blocks() == 0
    assert len({address(y) for y in taken}) == _memory.SLOTS


def test_a_block_is_reused_only_for_its_size():
    y = fd.conv1d(*layer_input(30))
    freed = address(y)
    del y
    x = np.ones((1, 2, LENGTH + 64), np.float32)
    other = fd.conv1d(x, np.ones(WEIGHT_SHAPE, np.float32))
    assert address(other) != freed
    np.testing.assert_array_equal(other, np.full(other.shape, 6, np.float32))


def test_threads_allocating_and_freeing_outputs_get_their_own_results():
    cases = [layer_input(40 + i) for i in range(4)]
    expected = [fd.conv1d(x, w, num_threads=1) for x, w in cases]

    def run(index):
        x, w = cases[index]
        for _ in range(6):
            np.testing.assert_array_equal(fd.conv1d(x, w, num_threads=1), expected[index])

    errors = run_in_threads(run, len(cases))
    assert not errors, errors


def test_float64_and_dilated_convolve_1d_outputs_come_from_the_pool():
    x, w = layer_input(50, np.float64)
    y = fd.conv1d(x, w, dilation=3, padding="same")
    assert get_handler_name(y) == _memory.HANDLER_NAME
    assert_matches_numpy(y, x, w, dilation=3, padding="same")
    signal = np.ones((2, _memory.MIN_BYTES // 8 + 10), np.float32)
    z = fd.dilated_convolve_1d(signal, np.array([1, 2, 3], np.float32), dilation=2)
    assert get_handler_name(z.base) == _memory.HANDLER_NAME  # (z: a view of the batch's)
    np.testing.assert_array_equal(z, np.full(z.shape, 6, np.float32))
