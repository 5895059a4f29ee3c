"""fd.conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
*, padding_mode="zeros", out=None, num_threads=None): PyTorch's conv1d.

input (N, C_in, L) or (C_in, L); weight (C_out, C_in // groups, K);
L_out = floor((L + left + right - dilation*(K-1) - 1) / stride) + 1.
float64 agrees with ``fastdilate.reference.conv1d`` to 1e-12 and float32 to
1e-5, relative to sum |w*x| over each output's taps; any thread count gives
the same bits.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastdilate as fd
from conftest import (LAYOUTS, PADDING_MODES, SERIAL_MACS, Unchanged, assert_bitwise_equal,
                      assert_matches_numpy, assert_matches_reference,
                      assert_threads_agree_and_match_numpy, expected_dtype, output_size, random_array, relayout, resolve_padding, sweep,
                      taps_touching)
from fastdilate import reference

rng0 = np.random.default_rng


def make(seed, n, c_in, c_out, length, kernel, groups=1, bias=True, dtype=np.float64):
    """Random (input, weight, bias); n=None gives an unbatched input."""
    rng = rng0(seed)
    x_shape = (c_in, length) if n is None else (n, c_in, length)
    x = random_array(rng, x_shape, dtype)
    w = random_array(rng, (c_out, c_in // groups, kernel), dtype)
    b = random_array(rng, (c_out,), dtype) if bias else None
    return x, w, b


def check(x, w, b=None, **kwargs):
    """conv1d leaves its inputs alone, has the contract's shape, and matches the reference."""
    untouched = Unchanged(x, w, b)
    got = fd.conv1d(x, w, b, **kwargs)
    untouched.check()
    assert_matches_reference(got, reference.conv1d, np.asarray(x), np.asarray(w),
                             None if b is None else np.asarray(b), **kwargs)
    return got


# ------------------------------------------------------- explicit values
def test_single_tap_identity_returns_the_input():
    x = np.arange(12.0).reshape(2, 3, 2)
    assert np.array_equal(fd.conv1d(x, np.eye(3)[:, :, None]), x)


def test_small_example_by_hand():
    # out[t] = 1*x[t] + 10*x[t+2] + 100*x[t+4], plus bias 0.5
    x = [[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]]
    got = fd.conv1d(x, [[[1.0, 10.0, 100.0]]], [0.5], dilation=2)
    assert got.tolist() == [[[531.5, 642.5, 753.5]]]


def test_stride_and_zero_padding_by_hand():
    x = [[1.0, 2.0, 3.0, 4.0, 5.0]]  # unbatched (C_in=1, L=5)
    got = fd.conv1d(x, [[[1.0, 1.0]]], stride=2, padding=1)  # padded: 0 1 2 3 4 5 0
    assert got.tolist() == [[1.0, 5.0, 9.0]]


@pytest.mark.parametrize("mode, padded", [
    ("zeros", [0, 0, 1, 2, 3, 4, 0, 0, 0]),
    ("reflect", [3, 2, 1, 2, 3, 4, 3, 2, 1]),
    ("replicate", [1, 1, 1, 2, 3, 4, 4, 4, 4]),
    ("circular", [3, 4, 1, 2, 3, 4, 1, 2, 3]),
])
def test_padding_modes_by_hand(mode, padded):
    # With a single unit tap the output is the padded input itself.
    got = fd.conv1d([[[1.0, 2.0, 3.0, 4.0]]], [[[1.0]]], padding=(2, 3), padding_mode=mode)
    assert got.tolist() == [[padded]]


@pytest.mark.parametrize("length, pads, kernel, dilation, stride", [
    (10, (0, 0), 3, 1, 1), (10, (0, 0), 3, 4, 1), (10, (0, 0), 3, 4, 3), (9, (0, 0), 3, 4, 1),
    (7, (3, 2), 5, 2, 2), (1, (5, 5), 3, 5, 4), (100, (0, 7), 2, 50, 4), (17, (1, 0), 4, 3, 4),
])
@pytest.mark.parametrize("batched", [True, False])
def test_output_length_is_the_contract_formula(length, pads, kernel, dilation, stride, batched):
    x, w, b = make(0, 2 if batched else None, 2, 3, length, kernel)
    got = check(x, w, b, stride=stride, padding=pads, dilation=dilation)
    l_out = output_size(length, pads, kernel, dilation, stride)
    assert got.shape == ((2, 3, l_out) if batched else (3, l_out))


@pytest.mark.parametrize("kernel, dilation", [
    (1, 1), (2, 1), (3, 1), (2, 3), (4, 5), (5, 2), (6, 64)])
def test_same_padding_splits_the_span_with_the_extra_on_the_right(kernel, dilation):
    x, w, b = make(1, 2, 3, 2, 150, kernel)
    total = dilation * (kernel - 1)
    same = check(x, w, b, padding="same", dilation=dilation)
    explicit = fd.conv1d(x, w, b, padding=(total // 2, total - total // 2), dilation=dilation)
    assert same.shape == (2, 2, 150)
    assert_bitwise_equal(same, explicit)


@pytest.mark.parametrize("kernel, dilation", [(1, 1), (2, 1), (3, 2), (4, 8), (3, 64)])
def test_causal_padding_is_all_on_the_left(kernel, dilation):
    x, w, b = make(2, 1, 2, 3, 200, kernel)
    causal = check(x, w, b, padding="causal", dilation=dilation)
    explicit = fd.conv1d(x, w, b, padding=(dilation * (kernel - 1), 0), dilation=dilation)
    assert causal.shape == (1, 3, 200)
    assert_bitwise_equal(causal, explicit)
    # Output t only sees input up to t: changing the future leaves the past alone.
    future = x.copy()
    future[..., 120:] = 1e6
    assert_bitwise_equal(fd.conv1d(future, w, b, padding="causal", dilation=dilation)[..., :120],
                         causal[..., :120])


def test_valid_padding_is_no_padding():
    x, w, b = make(3, 2, 2, 2, 30, 3)
    assert_bitwise_equal(fd.conv1d(x, w, b, padding="valid", dilation=3),
                         fd.conv1d(x, w, b, padding=0, dilation=3))


# ------------------------------------------------- randomised vs reference
SMALL_DTYPES = [np.float64, np.float32, np.float16, np.int32, np.bool_]


@st.composite
def conv1d_cases(draw):
    """A small valid conv1d call: (x, w, b, kwargs); every padding form and mode."""
    kernel = draw(st.integers(1, 4))
    dilation = draw(st.one_of(st.integers(1, 4), st.integers(5, 64)))
    form = draw(st.sampled_from(["int", "pair", "valid", "same", "causal"]))
    stride = 1 if form == "same" else draw(st.integers(1, 4))
    mode = draw(st.sampled_from(PADDING_MODES))
    span = dilation * (kernel - 1)
    pad = st.integers(0, span + 2)
    padding = {"int": lambda: draw(pad), "pair": lambda: (draw(pad), draw(pad))}.get(
        form, lambda: form)()
    left, right = resolve_padding(padding, kernel, dilation, 1)[0]
    minimum = max(1, span + 1 - left - right)
    if mode == "reflect":
        minimum = max(minimum, left + 1, right + 1)
    if mode == "circular":
        minimum = max(minimum, left, right)
    length = minimum + draw(st.integers(0, 12))
    l_out = output_size(length, (left, right), kernel, dilation, stride)
    groups, c_in_g, c_out_g = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(
        st.sampled_from([1, 2, 3, 4, 5, 8]))
    n = draw(st.sampled_from([None, 1, 2]))
    if (n or 1) * groups * c_out_g * c_in_g * kernel * l_out > 6000:  # keep the reference quick
        n, groups, c_in_g, c_out_g = None, 1, 1, min(c_out_g, 4)
    dtype = draw(st.sampled_from([np.float64] * 3 + [np.float32] * 3 + SMALL_DTYPES))
    x, w, b = make(draw(st.integers(0, 2**32 - 1)), n, groups * c_in_g, groups * c_out_g,
                   length, kernel, groups, draw(st.booleans()), dtype)
    x = relayout(x, draw(st.sampled_from(LAYOUTS)))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  padding_mode=mode)
    return x, w, b, kwargs


@sweep(1000)
@given(conv1d_cases())
def test_matches_reference(case):
    x, w, b, kwargs = case
    got = check(x, w, b, **kwargs)
    assert got.dtype == expected_dtype(np.asarray(x), w, b)


# ------------------------------------------------------ grids: padding
PADDINGS_1D = [0, 1, 3, (0, 2), (3, 0), (2, 5), [1, 4], "valid", "same", "causal"]


@pytest.mark.parametrize("padding", PADDINGS_1D, ids=str)
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (1, 3), (2, 2), (3, 1)])
def test_every_padding_form_and_mode(padding, padding_mode, stride, dilation):
    if padding == "same" and stride != 1:
        stride = 1
    x, w, b = make(4, 2, 4, 4, 13, 3, groups=2)
    check(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=2,
          padding_mode=padding_mode)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_largest_padding_each_mode_allows(padding_mode):
    # reflect needs pad < L, circular pad <= L; zeros and replicate any pad.
    length = 6
    pad = {"reflect": length - 1, "circular": length}.get(padding_mode, 3 * length)
    x, w, b = make(5, 1, 2, 2, length, 3)
    check(x, w, b, padding=pad, dilation=2, padding_mode=padding_mode)
    check(x, w, b, padding=(pad, 0), padding_mode=padding_mode)
    check(x, w, b, padding=(0, pad), stride=3, padding_mode=padding_mode)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_length_one_input(padding_mode):
    x, w, b = make(6, 2, 1, 2, 1, 3)
    check(x, w[..., :1], b, padding_mode=padding_mode)
    if padding_mode != "reflect":  # reflect allows no padding of a length-1 input
        check(x, w, b, padding=1, padding_mode=padding_mode)


# ------------------------------------------ grids: dilation and stride
@pytest.mark.parametrize("dilation", range(1, 65))
@pytest.mark.parametrize("padding, padding_mode", [
    ("valid", "zeros"), ("same", "reflect"), ("causal", "replicate"), (70, "circular")])
def test_every_dilation_up_to_64(dilation, padding, padding_mode):
    length = 2 * dilation + 9 if padding == "valid" else 75
    x, w, b = make(dilation, None, 2, 2, length, 3)
    got = check(x, w, b, padding=padding, dilation=dilation, padding_mode=padding_mode)
    left, right = resolve_padding(padding, 3, dilation, 1)[0]
    assert got.shape == (2, output_size(length, (left, right), 3, dilation, 1))


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("dilation", [1, 2, 5])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("padding", [0, (1, 2), "valid", "causal"], ids=str)
def test_every_stride(stride, dilation, kernel, padding):
    x, w, b = make(stride * 7 + dilation, 2, 3, 4, 23, kernel)
    check(x, w, b, stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("length", range(11, 15))
def test_stride_with_every_remainder(stride, length):
    # L_out rounds down: the last few samples may be read by no output.
    x, w, b = make(length, 1, 1, 1, length, 3)
    check(x, w, b, stride=stride, dilation=2)


# ------------------------------------------------------- grids: groups
@pytest.mark.parametrize("c_in, c_out, groups", [
    (1, 1, 1), (3, 5, 1), (4, 4, 2), (6, 4, 2), (6, 9, 3),
    (4, 4, 4), (8, 8, 8),              # depthwise: groups == C_in == C_out
    (3, 6, 3), (4, 12, 4), (2, 16, 2),  # channel multipliers 2, 3, 8
    (8, 4, 4), (8, 16, 2), (5, 20, 5),
])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_groups(c_in, c_out, groups, bias, batched):
    x, w, b = make(c_in * 31 + c_out, 2 if batched else None, c_in, c_out, 29, 3, groups, bias)
    got = check(x, w, b, padding=2, dilation=2, groups=groups, padding_mode="reflect")
    assert got.shape == ((2, c_out, 29) if batched else (c_out, 29))


def test_groups_keep_channels_apart():
    # Depthwise: output channel c depends on input channel c only.
    x, w, _ = make(7, 1, 4, 4, 20, 3, groups=4)
    base = fd.conv1d(x, w, groups=4)
    x2 = x.copy()
    x2[:, 2] += 100.0
    changed = fd.conv1d(x2, w, groups=4) != base
    assert changed[:, 2].all() and not changed[:, [0, 1, 3]].any()


# ------------------------------------------------------- grids: dtypes
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]


@pytest.mark.parametrize("x_dtype", DTYPES)
@pytest.mark.parametrize("w_dtype", DTYPES)
@pytest.mark.parametrize("b_dtype", [None, np.float32, np.float64, np.float16, np.int16])
def test_result_dtype_and_values_for_every_dtype_mix(x_dtype, w_dtype, b_dtype):
    rng = rng0(8)
    x = random_array(rng, (2, 2, 9), x_dtype)
    w = random_array(rng, (3, 2, 3), w_dtype)
    b = None if b_dtype is None else random_array(rng, (3,), b_dtype)
    got = check(x, w, b, padding=1, dilation=2)
    single = {np.dtype(d) for d in (x_dtype, w_dtype, b_dtype) if d is not None} <= {
        np.dtype(np.float32), np.dtype(np.float16)}
    assert got.dtype == (np.float32 if single else np.float64)


def test_python_int_and_bool_lists_give_float64():
    got = fd.conv1d([[[1, 2, 3, 4]]], [[[True, False, True]]], [2])
    assert got.dtype == np.float64 and got.tolist() == [[[6.0, 8.0]]]


# ------------------------------------------------------ grids: layouts
@pytest.mark.parametrize("operand", ["input", "weight", "bias"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_any_layout_of_any_operand(operand, layout, dtype):
    x, w, b = make(9, 2, 4, 6, 31, 3, groups=2, dtype=dtype)
    x, w, b = [relayout(a, layout) if name == operand else a
               for name, a in zip(["input", "weight", "bias"], (x, w, b))]
    check(x, w, b, stride=2, padding=(3, 1), dilation=3, groups=2, padding_mode="circular")


def test_transposed_and_sliced_views():
    rng = rng0(10)
    x = rng.standard_normal((40, 3, 2)).transpose(2, 1, 0)  # (2, 3, 40), no unit stride
    w = rng.standard_normal((3, 3, 8))[:, :, 1::3][::-1]     # (3, 3, 3) strided + reversed
    b = rng.standard_normal(6)[::2]
    check(x, w, b, padding="same", dilation=4, padding_mode="reflect")


def test_all_operands_read_only_and_fortran_at_once():
    x, w, b = make(11, 2, 3, 3, 25, 4, dtype=np.float32)
    x, w, b = relayout(x, "fortran"), relayout(w, "read-only"), relayout(b, "read-only")
    x.setflags(write=False)
    check(x, w, b, padding="causal", dilation=5, padding_mode="replicate")


# ------------------------------------------------------------------ out=
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_is_filled_and_returned(batched, dtype):
    x, w, b = make(12, 2 if batched else None, 4, 4, 40, 3, dtype=dtype)
    expected = fd.conv1d(x, w, b, stride=2, padding=3, dilation=2)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    untouched = Unchanged(x, w, b)
    result = fd.conv1d(x, w, b, stride=2, padding=3, dilation=2, out=out)
    untouched.check()
    assert result is out
    assert_bitwise_equal(out, expected)
    assert_matches_reference(out, reference.conv1d, x, w, b, stride=2, padding=3, dilation=2)


def test_out_can_be_reused():
    x, w, b = make(13, 2, 2, 2, 20, 3)
    out = np.empty((2, 2, 18))
    first = fd.conv1d(x, w, b, out=out).copy()
    assert_bitwise_equal(fd.conv1d(x, w, b, out=out), first)
    fd.conv1d(x * 2, w, b, out=out)
    assert_bitwise_equal(fd.conv1d(x * 2, w, b), out)


def test_out_with_threads_on_a_big_problem():
    x, w, b = make(14, 2, 8, 8, 5000, 3)
    out = np.empty((2, 8, 5000))
    fd.conv1d(x, w, b, padding="same", out=out, num_threads=2)
    assert_bitwise_equal(out, fd.conv1d(x, w, b, padding="same", num_threads=1))


# --------------------------------------------------------- NaN and inf
@pytest.mark.parametrize("padding, padding_mode", [
    ("valid", "zeros"), (3, "zeros"), ("same", "reflect"), ((4, 1), "replicate"),
    ("causal", "circular"), ((1, 5), "circular")])
@pytest.mark.parametrize("where", [0, 7, 19])
def test_nan_in_input_poisons_exactly_the_outputs_whose_taps_touch_it(padding, padding_mode, where):
    x, w, b = make(15, 2, 4, 4, 20, 3, groups=2)
    x[1, 2, where] = np.nan  # channel 2 belongs to group 1
    kwargs = dict(stride=1 if padding == "same" else 2, padding=padding, dilation=3, groups=2,
                  padding_mode=padding_mode)
    got = fd.conv1d(x, w, b, **kwargs)
    touched = taps_touching(reference.conv1d, np.isnan(x), w.shape, **kwargs)
    assert np.array_equal(np.isnan(got), touched)


def test_inf_in_input_times_a_zero_weight_is_nan():
    x = np.ones((1, 1, 20))
    x[0, 0, 10] = np.inf
    w = np.array([[[1.0, 0.0, -2.0]]])
    got = fd.conv1d(x, w, dilation=3)[0, 0]
    assert np.isposinf(got[10]) and np.isneginf(got[4])  # taps 0 and 2 read the inf
    assert np.isnan(got[7])                               # tap 1 reads it with weight 0
    assert np.isfinite(np.delete(got, [4, 7, 10])).all()


def test_inf_weight_times_a_zero_input_is_nan():
    x = np.array([[[1.0, 0.0, 2.0, 3.0, 0.0, 1.0]]])
    w = np.array([[[np.inf, 1.0]]])
    got = fd.conv1d(x, w)[0, 0]
    assert np.isnan(got[1]) and np.isnan(got[4])
    assert np.isposinf(got[[0, 2, 3]]).all()


def test_nan_weight_poisons_its_output_channel_and_nan_bias_likewise():
    x, w, b = make(16, 2, 2, 3, 15, 3)
    w[1, 0, 2] = np.nan
    b[2] = np.nan
    got = fd.conv1d(x, w, b)
    assert np.isnan(got[:, 1:]).all() and np.isfinite(got[:, 0]).all()


# --------------------------------------- big cases: threads and NumPy
BIG_CASES = {
    # name: (n, c_in, c_out, length, kernel, kwargs)
    "dense": (2, 8, 8, 3000, 3, dict()),
    "depthwise-same-reflect": (1, 6, 6, 40_000, 5, dict(padding="same", dilation=16, groups=6,
                                                         padding_mode="reflect")),
    "multiplier-stride-circular": (3, 4, 12, 5000, 3, dict(stride=3, padding=(5, 1), dilation=2,
                                                          groups=4, padding_mode="circular")),
    "causal-dilation-64": (2, 3, 5, 4000, 7, dict(padding="causal", dilation=64,
                                                  padding_mode="replicate")),
    "unbatched-stride-2": (None, 16, 16, 2000, 3, dict(stride=2, padding=4, dilation=4)),
    "stride-4-dilation-3": (2, 5, 7, 6000, 4, dict(stride=4, padding=9, dilation=3)),
    "long-kernel": (1, 2, 4, 3000, 33, dict(padding=16)),
}


@pytest.mark.parametrize("name", list(BIG_CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_big_case_bitwise_equal_for_1_and_2_threads_and_matches_numpy(name, dtype):
    n, c_in, c_out, length, kernel, kwargs = BIG_CASES[name]
    groups = kwargs.get("groups", 1)
    x, w, b = make(len(name), n, c_in, c_out, length, kernel, groups, dtype=dtype)
    one = assert_threads_agree_and_match_numpy(fd.conv1d, x, w, b, threads=(2, 3, None),
                                               **kwargs)
    assert one.size * (c_in // groups) * kernel > 4 * SERIAL_MACS  # big enough for threads


@st.composite
def medium_conv1d_cases(draw):
    """Shapes too big for the pure-Python reference, checked against NumPy."""
    kernel = draw(st.integers(1, 9))
    dilation = draw(st.integers(1, 64))
    form = draw(st.sampled_from(["int", "pair", "valid", "same", "causal"]))
    stride = 1 if form == "same" else draw(st.one_of(st.integers(1, 4), st.integers(5, 40)))
    mode = draw(st.sampled_from(PADDING_MODES))
    span = dilation * (kernel - 1)
    length = span + draw(st.integers(1, 3000))
    pad = st.integers(0, min(length - 1, span + 5))
    padding = {"int": lambda: draw(pad), "pair": lambda: (draw(pad), draw(pad))}.get(
        form, lambda: form)()
    if mode == "reflect" and form in ("same", "causal") and span >= length:
        mode = "zeros"
    groups = draw(st.sampled_from([1, 2, 4]))
    c_in = groups * draw(st.integers(1, 4))
    c_out = groups * draw(st.sampled_from([1, 2, 3, 4, 8]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    x, w, b = make(draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from([None, 1, 3])), c_in,
                   c_out, length, kernel, groups, draw(st.booleans()), dtype)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                         padding_mode=mode)


@sweep(250)
@given(medium_conv1d_cases())
def test_medium_shapes_match_numpy_for_any_thread_count(case):
    x, w, b, kwargs = case
    assert_threads_agree_and_match_numpy(fd.conv1d, x, w, b, **kwargs)


def test_infinite_weight_on_a_zero_padded_tap_is_nan_like_the_reference():
    x, w = [[[1.0, 2.0, 3.0]]], [[[np.inf, 1.0, 1.0]]]
    expected = reference.conv1d(x, w, padding=1)
    got = fd.conv1d(x, w, padding=1)
    np.testing.assert_array_equal(got, np.array(expected))
    assert np.isnan(got[0, 0, 0]) and np.isinf(got[0, 0, 1:]).all()


# The core reads long, unpadded stretches of input in place (thin kernel,
# stride 1) and copies the rest into tiles with the padding applied: a long
# input exercises both, and the seams between them, in one call.
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("c_out, groups", [(3, 1), (2, 2), (4, 4)])
def test_long_inputs_read_in_place_and_through_tiles_agree_with_numpy(
        c_out, groups, padding_mode, stride, threads):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, groups * 2, 9001))
    w = rng.standard_normal((c_out, 2, 3))
    got = fd.conv1d(x, w, stride=stride, padding=(37, 5), dilation=7, groups=groups,
                    padding_mode=padding_mode, num_threads=threads)
    assert_matches_numpy(got, x, w, stride=stride, padding=(37, 5), dilation=7, groups=groups,
                         padding_mode=padding_mode)


# The thin kernel computes a tile's outputs in place from where their taps
# leave the left padding, and through the tile for the padded edges and for
# the tail whose whole chunks would read past the input: any lengths,
# paddings and reaches put those seams anywhere in a chunk.
@st.composite
def seam_cases(draw):
    kernel, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 40))
    reach = dilation * (kernel - 1)
    length = reach + draw(st.integers(1, 3000))
    padding = (draw(st.integers(0, reach + 120)), draw(st.integers(0, reach + 120)))
    mode = draw(st.sampled_from(PADDING_MODES))
    if max(padding) >= length:  # beyond what reflect and circular padding allow
        mode = "zeros"
    groups = draw(st.sampled_from([1, 3]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (draw(st.integers(1, 2)), groups, length), dtype)
    w = random_array(rng, (groups, 1, kernel), dtype)
    return x, w, dict(padding=padding, dilation=dilation, groups=groups, padding_mode=mode)


@sweep(150)
@given(seam_cases())
def test_in_place_and_tiled_seams_agree_with_numpy_for_any_thread_count(case):
    x, w, kwargs = case
    assert_threads_agree_and_match_numpy(fd.conv1d, x, w, **kwargs)


# Many output channels take the dense kernel: whole chunks, then narrow
# chunks, then a partial one; every output length below splits differently.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_length", [1, 7, 8, 15, 16, 17, 31, 47, 48, 49, 64, 95, 97, 200, 777])
def test_dense_kernel_at_every_split_of_a_row_agrees_with_numpy(out_length, dtype):
    rng = np.random.default_rng(out_length)
    x = rng.standard_normal((2, 5, out_length + 2 * 3)).astype(dtype)
    w = rng.standard_normal((16, 5, 3)).astype(dtype)
    b = rng.standard_normal(16).astype(dtype)
    got = fd.conv1d(x, w, b, dilation=3)
    assert got.shape == (2, 16, out_length)
    assert_matches_numpy(got, x, w, b, dilation=3)
