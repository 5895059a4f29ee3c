"""The dense kernel for any output channel count from DENSE_MIN_CHANNELS
(from 2 with more than FEW_CHANNELS_DENSE_INPUTS input channels per group):
each group's channels run in blocks of the core's DENSE_CO_BLOCK, and the
last block of a group that does not split evenly runs its real channels in
blocks of 1-4 rows (its single vectors beside zero channels, storing only
the real rows).  Swept over channel counts that leave every remainder of
the 4-channel (AVX2, baseline) and 8-channel (AVX-512) blocks, with groups,
1-D and 2-D, against the reference and NumPy, bitwise across thread counts.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastdilate as fd
from conftest import (PADDING_MODES, assert_matches_reference,
                      assert_threads_agree_and_match_numpy, random_array, sweep)
from fastdilate import _layout, reference
from fastdilate._dispatch import core


@st.composite
def remainder_cases(draw, ndim, max_size):
    """(op, x, w, b, kwargs): channels per group from a block to 19 (every remainder of a
    4- or 8-channel block), up to 3 groups, short and long rows."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.sampled_from([1, 2, 3, _layout.FEW_CHANNELS_DENSE_INPUTS + 1]))
    least = 2 if c_in // groups > _layout.FEW_CHANNELS_DENSE_INPUTS else _layout.DENSE_MIN_CHANNELS
    c_out = groups * draw(st.integers(least, 19))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    size = tuple(d * (k - 1) + draw(st.integers(2, max_size)) for d, k in zip(dilation, kernel))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (draw(st.integers(1, 2)), c_in) + size, dtype)
    w = random_array(rng, (c_out, c_in // groups) + kernel, dtype)
    b = random_array(rng, (c_out,), dtype) if draw(st.booleans()) else None
    padding = draw(st.sampled_from([0, 1]))
    kwargs = dict(groups=groups, padding=padding,
                  padding_mode=draw(st.sampled_from(PADDING_MODES)))
    if ndim == 1:
        kwargs.update(stride=stride[0], dilation=dilation[0])
        return fd.conv1d, reference.conv1d, x, w, b, kwargs
    kwargs.update(stride=stride, dilation=dilation)
    return fd.conv2d, reference.conv2d, x, w, b, kwargs


def test_every_channel_count_from_a_block_takes_the_dense_kernel():
    for c_out in range(_layout.DENSE_MIN_CHANNELS, 3 * core.DENSE_CO_BLOCK + 1):
        assert _layout.kernel_family(1, c_out, 1, 1, 1) == core.DENSE_KERNEL
        assert _layout.kernel_family(2, 2 * c_out, 2, 1, 1) == core.DENSE_KERNEL
    for c_out in range(1, _layout.DENSE_MIN_CHANNELS):
        assert _layout.kernel_family(1, c_out, 1, 1, 1) == core.THIN_KERNEL


def test_few_output_channels_take_the_dense_kernel_from_many_inputs():
    many = _layout.FEW_CHANNELS_DENSE_INPUTS + 1
    for c_out in range(2, _layout.DENSE_MIN_CHANNELS):
        assert _layout.kernel_family(many, c_out, 1, 1, 1) == core.DENSE_KERNEL
        assert _layout.kernel_family(2 * many, 2 * c_out, 2, 3, 5) == core.DENSE_KERNEL
        assert _layout.kernel_family(many - 1, c_out, 1, 1, 1) == core.THIN_KERNEL
    assert _layout.kernel_family(4 * many, 1, 1, 3, 5) == core.THIN_KERNEL


def test_packed_weights_pad_each_group_with_zero_channels():
    block = core.DENSE_CO_BLOCK
    w = np.arange(2 * (block + 1) * 3 * 2, dtype=np.float64).reshape(2 * (block + 1), 3, 2)
    packed = _layout.packed_weight(w, groups=2).reshape(2, 2, 3, 2, block)
    for grp in range(2):
        channels = np.moveaxis(packed[grp], -1, 1).reshape(2 * block, 3, 2)
        assert np.array_equal(channels[:block + 1], w[grp * (block + 1):(grp + 1) * (block + 1)])
        assert not channels[block + 1:].any()


def test_packed_weights_come_from_the_core_loop_checked():
    w = np.ones((6, 2, 1, 3))
    with pytest.raises(ValueError, match="fastdilate core"):
        core.pack_dense_weights(w, np.empty(5), 1)
    with pytest.raises(ValueError, match="fastdilate core"):
        core.pack_dense_weights(w, np.empty(_layout.packed_weight(w, 1).size, np.float32), 1)
    with pytest.raises(ValueError, match="fastdilate core"):
        core.pack_dense_weights(w, np.empty(_layout.packed_weight(w, 1).size), 4)


@sweep(80)
@given(remainder_cases(ndim=1, max_size=60))
def test_conv1d_remainders_match_reference(case):
    op, oracle, x, w, b, kwargs = case
    assert_matches_reference(op(x, w, b, **kwargs), oracle, x, w, b, **kwargs)


@sweep(40)
@given(remainder_cases(ndim=2, max_size=9))
def test_conv2d_remainders_match_reference(case):
    op, oracle, x, w, b, kwargs = case
    assert_matches_reference(op(x, w, b, **kwargs), oracle, x, w, b, **kwargs)


@sweep(60)
@given(st.sampled_from([1, 2]).flatmap(lambda ndim: remainder_cases(ndim, 300 if ndim == 1 else 40)))
def test_remainders_match_numpy_bitwise_for_any_thread_count(case):
    op, _, x, w, b, kwargs = case
    assert_threads_agree_and_match_numpy(op, x, w, b, threads=(2, 3), **kwargs)


def test_a_large_odd_channel_count_matches_numpy_for_any_thread_count():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 50, 3000)).astype(np.float32)
    w = rng.standard_normal((50, 50, 3)).astype(np.float32)
    b = rng.standard_normal(50).astype(np.float32)
    assert_threads_agree_and_match_numpy(fd.conv1d, x, w, b, threads=(2, 3), dilation=4,
                                         padding="same")


# Fewer output channels than a block from many input channels: the thin
# kernel, which then reads through its tile (never in place) and computes a
# chunk of every channel in turn.
@sweep(40)
@given(st.integers(1, 7), st.integers(17, 40), st.integers(40, 400), st.integers(1, 9),
       st.sampled_from(["same", "causal", 0]), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**32 - 1))
def test_few_outputs_from_many_inputs_match_numpy(c_out, c_in, length, dilation, padding,
                                                  dtype, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, (2, c_in, length), dtype)
    w = random_array(rng, (c_out, c_in, 3), dtype)
    assert_threads_agree_and_match_numpy(fd.conv1d, x, w, threads=(2, 3), dilation=dilation,
                                         padding=padding)


# With zero padding, finite weights and no -0.0 bias, the dense kernel leaves
# out the taps through which a chunk reads only padding.  Such a tap adds an
# exact zero, so the bits are those of multiplying it: a bias of -0.0 on one
# channel turns the skipping off for the whole call, and changes nothing on
# the other channels (nor on that one, but for the sign of zero outputs).
@sweep(40)
@given(st.sampled_from([1, 2]), st.integers(8, 20), st.integers(1, 18), st.integers(0, 20),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_skipping_padding_taps_gives_the_bits_of_multiplying_them(ndim, c_out, dilation, pad,
                                                                 dtype, seed):
    rng = np.random.default_rng(seed)
    size = (9, 13) if ndim == 2 else (40,)
    x = random_array(rng, (2, 3) + size, dtype)
    w = random_array(rng, (c_out, 3) + (3,) * ndim, dtype)
    b = random_array(rng, (c_out,), dtype)
    b[0] = 0.0
    op = fd.conv2d if ndim == 2 else fd.conv1d
    kwargs = dict(dilation=dilation, padding=pad)
    if min(size) + 2 * pad <= 2 * dilation:
        return  # no output
    skipped = op(x, w, b, **kwargs)
    b[0] = -0.0
    multiplied = op(x, w, b, **kwargs)
    assert skipped[:, 1:].tobytes() == multiplied[:, 1:].tobytes()
    assert np.array_equal(skipped[:, 0], multiplied[:, 0])
    assert_threads_agree_and_match_numpy(op, x, w, b, threads=(2, 3), **kwargs)
