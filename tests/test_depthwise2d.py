"""The depthwise kernel: 2-D layers with groups == C_in == C_out (a single
channel included) run a band of one channel's rows per work item, through a
tile of the band's padded input rows, in blocks of one vector column of
several rows and a row at a time for the rows a band leaves.  Swept over
bands, widths that leave every vector remainder, strides, dilations, every
padding mode, against the reference and NumPy, bitwise across thread counts.
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
def depthwise_cases(draw, max_rows, max_width):
    channels = draw(st.integers(1, 5))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
    size = (spans[0] + draw(st.integers(2, max_rows)), spans[1] + draw(st.integers(2, max_width)))
    pad = lambda axis: draw(st.integers(0, min(size[axis] - 1, spans[axis] + 2)))
    padding = ((pad(0), pad(0)), (pad(1), pad(1)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (draw(st.integers(1, 2)), channels) + size, dtype)
    w = random_array(rng, (channels, 1) + kernel, dtype)
    b = random_array(rng, (channels,), dtype) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, dilation=dilation, padding=padding, groups=channels,
                         padding_mode=draw(st.sampled_from(PADDING_MODES)))


def test_2d_depthwise_and_single_channel_layers_take_the_depthwise_kernel():
    assert _layout.kernel_family(64, 64, 64, 3, 56) == core.DEPTHWISE_KERNEL
    assert _layout.kernel_family(1, 1, 1, 1, 7) == core.DEPTHWISE_KERNEL
    assert _layout.kernel_family(64, 64, 64, 1, 1) == core.THIN_KERNEL  # 1-D
    assert _layout.kernel_family(8, 16, 8, 3, 56) != core.DEPTHWISE_KERNEL  # a multiplier


@pytest.mark.parametrize("planes, threads", [(1, 1), (1, 2), (64, 2), (3, 3)])
def test_bands_fit_the_tile_and_give_every_thread_work(planes, threads):
    for h_out, w_out in ((1, 5), (7, 7), (65, 65), (512, 4096), (4096, 4096)):
        rows = _layout.depthwise_band_rows(4, h_out, w_out, 3, 3, (1, 1), (2, 2), planes,
                                           threads)
        assert 1 <= rows <= h_out
        assert rows == 1 or (rows + 4) * w_out * 4 <= 2 * _layout.TILE_BYTES
        if planes * h_out >= 4 * threads:
            assert planes * -(-h_out // rows) >= min(4 * threads, planes * h_out)


@sweep(80)
@given(depthwise_cases(max_rows=14, max_width=20))
def test_matches_reference(case):
    x, w, b, kwargs = case
    assert_matches_reference(fd.conv2d(x, w, b, **kwargs), reference.conv2d, x, w, b, **kwargs)


@sweep(60)
@given(depthwise_cases(max_rows=60, max_width=90))
def test_matches_numpy_bitwise_for_any_thread_count(case):
    x, w, b, kwargs = case
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, b, threads=(2, 3), **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size, dilation", [((33, 33), 2), ((65, 65), 12), ((56, 57), 4),
                                            ((9, 300), 1)])
def test_layer_shapes_match_numpy_for_any_thread_count(size, dilation, dtype):
    rng = np.random.default_rng(3)
    x = random_array(rng, (2, 24) + size, dtype)
    w = random_array(rng, (24, 1, 3, 3), dtype)
    b = random_array(rng, (24,), dtype)
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, b, threads=(2, 3), groups=24,
                                         dilation=dilation, padding="same")


def test_a_plane_cut_into_bands_matches_numpy_for_any_thread_count():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 1, 300, 1500))
    w = rng.standard_normal((1, 1, 3, 3))
    rows = _layout.depthwise_band_rows(8, 300, 1500, 3, 3, (1, 1), (5, 5), 1, 2)
    assert rows < 300  # several bands, each with its halo
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, threads=(2, 3), dilation=5,
                                         padding=(2, 7), padding_mode="reflect")
