"""fd.dilated_convolve_1d(signal, kernel, dilation=1, *, num_threads=None).

The seed's valid-mode dilated convolution, compiled and batched: signal (L,)
or (B, L), kernel (K,), output (L_out,) or (B, L_out) with
L_out = L - (K-1)*dilation, empty where the reference returns [], and equal
row by row to ``fastdilate.reference.dilated_convolve_1d``.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastdilate as fd
from conftest import (Unchanged, assert_bitwise_equal, assert_close, assert_matches_numpy,
                      expected_dtype, random_array, sweep, unaligned)
from fastdilate import reference

SEED_SIGNAL = [1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 5.0]
SEED_KERNEL = [1.0, 1.0, 1.0]
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]


def reference_rows(signal, kernel, dilation):
    """The reference applied row by row: (value, abs bound), float64 arrays."""
    signal, kernel = np.asarray(signal), np.asarray(kernel)
    rows = signal[np.newaxis] if signal.ndim == 1 else signal
    length = max(signal.shape[-1] - (kernel.shape[0] - 1) * dilation, 0)

    def run(rows, kernel):
        out = [reference.dilated_convolve_1d(r.tolist(), kernel.tolist(), dilation) for r in rows]
        return np.array(out, dtype=np.float64).reshape(signal.shape[:-1] + (length,))

    return run(rows, kernel), run(np.abs(rows), np.abs(kernel))


def assert_matches_reference_rows(got, signal, kernel, dilation):
    value, bound = reference_rows(signal, kernel, dilation)
    assert_close(got, value, bound, expected_dtype(signal, kernel))


# ------------------------------------------------------------ the seed
def test_seed_dilation_1():
    got = fd.dilated_convolve_1d(SEED_SIGNAL, SEED_KERNEL, 1)
    assert got.dtype == np.float64
    assert got.tolist() == [3.0, 2.0, 5.0, 3.0, 7.0, 4.0, 9.0]


def test_seed_dilation_2():
    got = fd.dilated_convolve_1d(SEED_SIGNAL, SEED_KERNEL, 2)
    assert got.tolist() == [6.0, 0.0, 9.0, 0.0, 12.0]


def test_dilation_defaults_to_1():
    got = fd.dilated_convolve_1d(SEED_SIGNAL, SEED_KERNEL)
    assert got.tolist() == [3.0, 2.0, 5.0, 3.0, 7.0, 4.0, 9.0]


def test_seed_as_a_batch_gives_each_row_its_own_result():
    batch = [SEED_SIGNAL, [v * 2 for v in SEED_SIGNAL], SEED_SIGNAL[::-1]]
    got = fd.dilated_convolve_1d(batch, SEED_KERNEL, dilation=2)
    assert got.shape == (3, 5)
    assert got.tolist() == [[6.0, 0.0, 9.0, 0.0, 12.0], [12.0, 0.0, 18.0, 0.0, 24.0],
                            [12.0, 0.0, 9.0, 0.0, 6.0]]


# ------------------------------------------------- randomised vs reference
@st.composite
def dilated_cases(draw):
    kernel_size = draw(st.integers(1, 5))
    dilation = draw(st.one_of(st.integers(1, 4), st.integers(5, 64)))
    span = (kernel_size - 1) * dilation
    # Lengths around the span: outputs of length 0 (empty), 1, and more.
    length = draw(st.one_of(st.integers(0, max(span, 1) + 2), st.integers(span, span + 40)))
    batch = draw(st.one_of(st.none(), st.integers(1, 3)))
    signal_dtype = draw(st.sampled_from(DTYPES))
    kernel_dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (length,) if batch is None else (batch, length)
    return (random_array(rng, shape, signal_dtype), random_array(rng, (kernel_size,), kernel_dtype),
            dilation)


@sweep(500)
@given(dilated_cases())
def test_matches_reference_row_by_row(case):
    signal, kernel, dilation = case
    untouched = Unchanged(signal, kernel)
    got = fd.dilated_convolve_1d(signal, kernel, dilation)
    untouched.check()
    out_length = max(signal.shape[-1] - (kernel.size - 1) * dilation, 0)
    assert got.shape == signal.shape[:-1] + (out_length,)
    assert_matches_reference_rows(got, signal, kernel, dilation)


@pytest.mark.parametrize("dilation", range(1, 65))
def test_every_dilation_up_to_64(dilation):
    rng = np.random.default_rng(dilation)
    signal = rng.standard_normal((2, 2 * dilation + 9))
    kernel = rng.standard_normal(3)
    got = fd.dilated_convolve_1d(signal, kernel, dilation)
    assert got.shape == (2, 9)
    assert_matches_reference_rows(got, signal, kernel, dilation)


# ---------------------------------------------------------- empty outputs
@pytest.mark.parametrize("length, kernel_size, dilation", [
    (0, 1, 1), (0, 3, 1), (2, 3, 1), (4, 3, 2), (5, 3, 64), (1, 2, 1), (100, 3, 50)])
@pytest.mark.parametrize("batch", [None, 1, 3])
def test_empty_where_the_reference_returns_empty(length, kernel_size, dilation, batch):
    shape = (length,) if batch is None else (batch, length)
    signal, kernel = np.ones(shape), np.ones(kernel_size)
    assert reference.dilated_convolve_1d([1.0] * length, [1.0] * kernel_size, dilation) == []
    got = fd.dilated_convolve_1d(signal, kernel, dilation)
    assert got.shape == shape[:-1] + (0,)
    assert got.dtype == np.float64


def test_empty_float32_result_keeps_float32():
    got = fd.dilated_convolve_1d(np.ones(2, np.float32), np.ones(3, np.float32))
    assert got.shape == (0,) and got.dtype == np.float32


def test_a_batch_of_no_rows_gives_no_rows():
    got = fd.dilated_convolve_1d(np.ones((0, 10)), np.ones(3), 2)
    assert got.shape == (0, 6)


def test_output_of_length_exactly_one():
    signal = np.arange(1.0, 8.0)  # L = 7 = (K-1)*d + 1 for K=4, d=2
    got = fd.dilated_convolve_1d(signal, [1.0, 10.0, 100.0, 1000.0], 2)
    assert got.tolist() == [1.0 + 30.0 + 500.0 + 7000.0]


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("signal_dtype", DTYPES)
@pytest.mark.parametrize("kernel_dtype", DTYPES)
def test_dtype_is_float32_only_when_both_are_single_precision(signal_dtype, kernel_dtype):
    rng = np.random.default_rng(0)
    signal = random_array(rng, (2, 20), signal_dtype)
    kernel = random_array(rng, (3,), kernel_dtype)
    got = fd.dilated_convolve_1d(signal, kernel, 3)
    single = {np.dtype(signal_dtype), np.dtype(kernel_dtype)} <= {np.dtype(np.float32),
                                                                  np.dtype(np.float16)}
    assert got.dtype == (np.float32 if single else np.float64)
    assert_matches_reference_rows(got, signal, kernel, 3)


# ----------------------------------------------------------------- layouts
def _layouts(rng):
    base = rng.standard_normal((3, 41))
    return {
        "list": base.tolist(),
        "non-contiguous": rng.standard_normal((3, 82))[:, ::2],
        "negative-stride": base[::-1, ::-1],
        "fortran": np.asfortranarray(base),
        "transposed-view": rng.standard_normal((41, 3)).T,
        "read-only": np.frombuffer(base.tobytes(), dtype=np.float64).reshape(3, 41),
        "unaligned": unaligned(base),
    }


@pytest.mark.parametrize("layout", ["list", "non-contiguous", "negative-stride", "fortran",
                                    "transposed-view", "read-only", "unaligned"])
def test_any_signal_layout(layout):
    rng = np.random.default_rng(1)
    signal = _layouts(rng)[layout]
    kernel = np.array([0.5, -1.0, 2.0, 0.25])
    untouched = Unchanged(signal, kernel)
    got = fd.dilated_convolve_1d(signal, kernel, 5)
    untouched.check()
    assert_matches_reference_rows(got, np.asarray(signal), kernel, 5)


@pytest.mark.parametrize("layout", ["list", "non-contiguous", "negative-stride", "read-only",
                                    "unaligned"])
def test_any_kernel_layout(layout):
    rng = np.random.default_rng(2)
    base = rng.standard_normal(4)
    kernel = {"list": base.tolist(), "non-contiguous": np.repeat(base, 3)[::3],
              "negative-stride": base[::-1].copy()[::-1],
              "read-only": np.frombuffer(base.tobytes(), dtype=np.float64),
              "unaligned": unaligned(base)}[layout]
    signal = rng.standard_normal((2, 30))
    got = fd.dilated_convolve_1d(signal, kernel, 3)
    assert_matches_reference_rows(got, signal, np.asarray(kernel), 3)


# ---------------------------------------------------------- NaN and inf
def test_nan_in_signal_poisons_exactly_the_outputs_whose_taps_touch_it():
    signal = np.arange(30.0)
    signal[13] = np.nan
    kernel, dilation = np.array([1.0, 0.0, -1.0]), 4
    got = fd.dilated_convolve_1d(signal, kernel, dilation)
    touching = {13 - t * dilation for t in range(3)}  # outputs i with i + t*d == 13
    assert set(np.flatnonzero(np.isnan(got))) == touching
    assert np.isfinite(np.delete(got, sorted(touching))).all()


def test_inf_times_a_zero_tap_is_nan_and_otherwise_inf():
    signal = np.ones(20)
    signal[10] = np.inf
    kernel, dilation = np.array([1.0, 0.0, 2.0]), 3
    got = fd.dilated_convolve_1d(signal, kernel, dilation)
    assert np.isposinf(got[10]) and np.isposinf(got[10 - 2 * dilation])
    assert np.isnan(got[10 - dilation])  # the zero tap reads the inf: 0 * inf
    others = np.delete(got, [10, 10 - dilation, 10 - 2 * dilation])
    assert np.isfinite(others).all()


# ---------------------------------------------- big cases, threads, NumPy
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel_size, dilation", [(3, 1), (5, 7), (2, 64), (16, 3)])
def test_big_batch_matches_numpy_and_is_bitwise_equal_for_1_and_2_threads(dtype, kernel_size,
                                                                           dilation):
    rng = np.random.default_rng(kernel_size * 100 + dilation)
    signal = rng.standard_normal((4, 20_000)).astype(dtype)
    kernel = rng.standard_normal(kernel_size).astype(dtype)
    one = fd.dilated_convolve_1d(signal, kernel, dilation, num_threads=1)
    two = fd.dilated_convolve_1d(signal, kernel, dilation, num_threads=2)
    default = fd.dilated_convolve_1d(signal, kernel, dilation)
    assert_bitwise_equal(one, two)
    assert_bitwise_equal(one, default)
    assert_matches_numpy(one[:, None, :], signal[:, None, :], kernel[None, None, :],
                         dilation=dilation)


def test_big_unbatched_signal_threads_bitwise_equal():
    rng = np.random.default_rng(3)
    signal, kernel = rng.standard_normal(200_000), rng.standard_normal(7)
    one = fd.dilated_convolve_1d(signal, kernel, 11, num_threads=1)
    two = fd.dilated_convolve_1d(signal, kernel, 11, num_threads=2)
    assert_bitwise_equal(one, two)
    assert_matches_numpy(one[None, None, :], signal[None, None, :], kernel[None, None, :],
                         dilation=11)
