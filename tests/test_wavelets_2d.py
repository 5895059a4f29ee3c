"""The one-pass 2-D level of fastdilate.wavelets (the core's atrous_2d):
swt2/iswt2, and swtn/iswtn over two axes, against PyWavelets over drawn
shapes, batches, axis orders, levels and wavelets, the inverse on random
coefficients; bitwise equal at 1, 2 and 3 threads (through each road of
the kernel: phases split between threads, a phase split into segments
whose halos are taken before any is written); memory within the output.
"""
import tracemalloc
import warnings

import numpy as np
import pytest
import pywt
from hypothesis import given
from hypothesis import strategies as st

from conftest import arrays_of, sweep
from fastdilate import wavelets as fw
from test_wavelets import DISCRETE, assert_close, assert_same_coeffs, random_like


def assert_bitwise(first, other):
    for a, b in zip(arrays_of(first), arrays_of(other), strict=True):
        np.testing.assert_array_equal(a, b)


@st.composite
def two_axes_cases(draw):
    """Data of 2 to 4 dimensions (a batch before, between or after the two
    transformed axes), either axis order, a length along each that pywt
    accepts."""
    ndim = draw(st.integers(2, 4))
    axes = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=2, max_size=2,
                         unique_by=lambda a: a % ndim))
    level, start_level = draw(st.integers(1, 3)), draw(st.integers(0, 1))
    unit = 2 ** (level + start_level)
    shape = tuple(unit * draw(st.integers(1, 4)) if any(a % ndim == i for a in axes)
                  else draw(st.integers(1, 3)) for i in range(ndim))
    wavelet = draw(st.sampled_from(DISCRETE))
    if draw(st.booleans()):
        wavelet = (wavelet, draw(st.sampled_from(DISCRETE)))
    return dict(shape=shape, axes=tuple(axes), level=level, start_level=start_level,
                wavelet=wavelet, trim=draw(st.booleans()), norm=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64, np.complex128])),
                order=draw(st.sampled_from("CF")), seed=draw(st.integers(0, 2 ** 16)))


@given(two_axes_cases())
@sweep(80)
def test_swt2_and_iswt2_equal_pywt_on_any_two_axes(case):
    rng = np.random.default_rng(case["seed"])
    x = np.asarray(rng.standard_normal(case["shape"]).astype(case["dtype"]), order=case["order"])
    kwargs = dict(level=case["level"], start_level=case["start_level"], axes=case["axes"],
                  trim_approx=case["trim"], norm=case["norm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # norm=True, biorthogonal
        ours = fw.swt2(x, case["wavelet"], **kwargs)
        assert_same_coeffs(ours, pywt.swt2(x, case["wavelet"], **kwargs))
        as_dicts = fw.swtn(x, case["wavelet"], **kwargs)
        assert_same_coeffs(as_dicts, pywt.swtn(x, case["wavelet"], **kwargs))
    noise = random_like(ours, rng)
    back = dict(norm=case["norm"], axes=case["axes"])
    assert_close(fw.iswt2(noise, case["wavelet"], **back),
                 pywt.iswt2(noise, case["wavelet"], **back))
    if not case["trim"]:
        noise = random_like(as_dicts, rng)
        assert_close(fw.iswtn(noise, case["wavelet"], **back),
                     pywt.iswtn(noise, case["wavelet"], **back))


# Each road of the kernel at 2 and 3 threads: many phases per thread (level
# 3), phases fewer than the threads, so a phase's rows split into segments
# (level 1 and 2 of tall data), a batch of planes, the axes inner first, a
# trailing axis inside a row (complex data, and an axis after both).
@pytest.mark.parametrize("shape, axes, level, wavelet", [
    ((512, 96), (0, 1), 3, "db2"), ((1200, 40), (0, 1), 1, "sym4"),
    ((1024, 48), (-2, -1), 2, "db3"), ((2400, 16), (0, 1), 2, "db2"), ((3, 256, 64), (1, 2), 2, "haar"),
    ((640, 3, 40), (2, 0), 1, "coif2"), ((64, 800, 5), (1, 0), 2, "bior2.2")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_threads_give_bitwise_equal_results_equal_to_pywt(shape, axes, level, wavelet, dtype):
    rng = np.random.default_rng(21)
    x = rng.standard_normal(shape).astype(dtype)
    forward = [fw.swt2(x, wavelet, level, axes=axes, num_threads=t) for t in (1, 2, 3)]
    assert_same_coeffs(forward[0], pywt.swt2(x, wavelet, level, axes=axes))
    noise = random_like(forward[0], rng)
    inverse = [fw.iswt2(noise, wavelet, axes=axes, num_threads=t) for t in (1, 2, 3)]
    assert_close(inverse[0], pywt.iswt2(noise, wavelet, axes=axes))
    for t in (1, 2):
        assert_bitwise(forward[0], forward[t])
        assert_bitwise(inverse[0], inverse[t])


def test_filters_longer_than_a_phase_wrap_as_in_pywt():
    # 8 rows at level 3: a phase of one row, coif5's 30 taps all on it
    rng = np.random.default_rng(22)
    x = rng.standard_normal((8, 24))
    ours = fw.swt2(x, "coif5", 3)
    assert_same_coeffs(ours, pywt.swt2(x, "coif5", 3))
    noise = random_like(ours, rng)
    for threads in (1, 2, 3):
        assert_close(fw.iswt2(noise, "coif5", num_threads=threads), pywt.iswt2(noise, "coif5"))


@pytest.mark.parametrize("inverse, as_input", [
    (fw.iswt2, lambda c: c), (fw.iswtn, lambda c: [{"aa": a, "ad": h, "da": v, "dd": d}
                                                     for a, (h, v, d) in c])])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_2d_inverse_needs_only_its_output(inverse, as_input, threads):
    """The output + 10% (the kernel's scratch is a few rows, outside
    tracemalloc's sight: a ring of back + ahead + 1 rows per band and thread)."""
    rng = np.random.default_rng(23)
    coeffs = random_like(fw.swt2(rng.standard_normal((256, 192)), "sym4", 3), rng)
    given = as_input(coeffs)
    kept = [b.copy() for b in arrays_of(given)]
    tracemalloc.start()
    back = inverse(given, "sym4", num_threads=threads)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 1.1 * back.nbytes
    assert_bitwise(kept, arrays_of(given))  # inputs never written


def test_the_2d_kernel_refuses_operands_that_do_not_agree():
    from fastdilate._dispatch import core
    x = np.zeros((1, 8, 8))
    outs = tuple(np.zeros_like(x) for _ in range(4))
    taps = np.ones((2, 1, 2)), np.array([0, 1], dtype=np.int64)
    core.atrous_2d(True, (x,), outs, (1, 8, 1), *taps, *taps, 1, 1)
    inverse_taps = np.ones((1, 2, 2)), taps[1]
    core.atrous_2d(False, outs, (x,), (1, 8, 1), *inverse_taps, *inverse_taps, 1, 1)
    for bad in [(True, (x,), outs[:3], (1, 8, 1), *taps, *taps, 1),
                (True, (x,), outs[:3] + (np.zeros((1, 8, 4)),), (1, 8, 1), *taps, *taps, 1),
                (True, (x,), outs, (1, 4, 1), *taps, *taps, 1),
                (True, (x,), outs, (1, 8, 1), *taps, *taps, 3),
                (True, (x,), outs, (1, 8, 1), *taps, taps[0], np.array([0, 8]), 1),
                (True, (x,), outs, (1, 8, 1), taps[0].astype(np.float32), taps[1], *taps, 1),
                (True, (x,), outs, (1, 8, 1), *inverse_taps, *taps, 1),
                (False, outs, (x,), (1, 8, 1), *taps, *taps, 1),
                (True, (x[:, ::2],), outs, (1, 8, 1), *taps, *taps, 1)]:
        with pytest.raises(ValueError, match="fastdilate core"):
            core.atrous_2d(*bad, 1)
