"""fd.conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
*, padding_mode="zeros", out=None, num_threads=None): PyTorch's conv2d.

input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in // groups, KH, KW);
stride and dilation an int or a pair; padding an int, a pair (ph, pw),
((top, bottom), (left, right)), "valid" or "same".  Values agree with
``fastdilate.reference.conv2d`` (1e-12 for float64, 1e-5 for float32,
relative to sum |w*x| over each output's taps); any thread count gives the
same bits.
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


def make(seed, n, c_in, c_out, size, kernel, groups=1, bias=True, dtype=np.float64):
    """Random (input, weight, bias); size=(H, W), kernel=(KH, KW); n=None: unbatched."""
    rng = np.random.default_rng(seed)
    x = random_array(rng, ((c_in,) if n is None else (n, c_in)) + tuple(size), dtype)
    w = random_array(rng, (c_out, c_in // groups) + tuple(kernel), dtype)
    b = random_array(rng, (c_out,), dtype) if bias else None
    return x, w, b


def check(x, w, b=None, **kwargs):
    """conv2d leaves its inputs alone and matches the reference."""
    untouched = Unchanged(x, w, b)
    got = fd.conv2d(x, w, b, **kwargs)
    untouched.check()
    assert_matches_reference(got, reference.conv2d, np.asarray(x), np.asarray(w),
                             None if b is None else np.asarray(b), **kwargs)
    return got


def out_shape(size, kernel, padding, stride, dilation):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    pads = resolve_padding(padding, kernel, pair(dilation), 2)
    return tuple(output_size(s, p, k, d, st_) for s, p, k, d, st_ in
                 zip(size, pads, kernel, pair(dilation), pair(stride)))


# ------------------------------------------------------- explicit values
def test_single_tap_identity_returns_the_input():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    assert np.array_equal(fd.conv2d(x, np.eye(3)[:, :, None, None]), x)


def test_small_example_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = [[[[1.0, 0.0], [0.0, 10.0]]]]  # x[i, j] + 10 x[i+2, j+2] with dilation 2
    got = fd.conv2d(x, w, [1.0], dilation=2)
    assert got.tolist() == [[[[101.0, 112.0], [145.0, 156.0]]]]


def test_stride_and_dilation_pairs_act_on_their_own_axes():
    x = np.arange(70.0).reshape(1, 7, 10)  # unbatched (C_in=1, H=7, W=10)
    got = fd.conv2d(x, [[[[1.0, 1.0]]]], stride=(3, 2), dilation=(1, 4))
    # rows 0, 3, 6; columns j = 0, 2, 4 (j + 4 < 10): x[i, j] + x[i, j + 4]
    expected = [[[x[0, i, j] + x[0, i, j + 4] for j in (0, 2, 4)] for i in (0, 3, 6)]]
    assert got.tolist() == expected


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("padding, pads", [
    (1, ((1, 1), (1, 1))), ((2, 1), ((2, 2), (1, 1))), (((1, 2), (0, 3)), ((1, 2), (0, 3))),
    ([[3, 0], [2, 1]], ((3, 0), (2, 1))), ([0, 2], ((0, 0), (2, 2)))], ids=str)
def test_padding_forms_and_corners_by_hand(padding_mode, padding, pads):
    # A single unit tap returns the padded input; corners as PyTorch's
    # separable padding (np.pad, axis by axis) gives them.
    x = np.arange(1.0, 21.0).reshape(1, 1, 4, 5)
    got = fd.conv2d(x, [[[[1.0]]]], padding=padding, padding_mode=padding_mode)
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[padding_mode]
    assert np.array_equal(got, np.pad(x, ((0, 0), (0, 0)) + pads, mode=np_mode))


@pytest.mark.parametrize("kernel, dilation", [
    ((1, 1), 1), ((2, 3), 1), ((3, 2), (2, 5)), ((4, 4), 3), ((2, 5), (64, 1)), ((5, 2), (1, 64))])
def test_same_padding_splits_each_span_with_the_extra_after(kernel, dilation):
    x, w, b = make(1, 1, 2, 3, (12, 13), kernel)
    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    spans = [di * (k - 1) for di, k in zip(d, kernel)]
    explicit = tuple((s // 2, s - s // 2) for s in spans)
    same = check(x, w, b, padding="same", dilation=dilation)
    assert same.shape == (1, 3, 12, 13)
    assert_bitwise_equal(same, fd.conv2d(x, w, b, padding=explicit, dilation=dilation))


def test_valid_padding_is_no_padding():
    x, w, b = make(2, 2, 2, 2, (9, 8), (2, 3))
    assert_bitwise_equal(fd.conv2d(x, w, b, padding="valid"), fd.conv2d(x, w, b, padding=0))


@pytest.mark.parametrize("size, kernel, padding, stride, dilation", [
    ((10, 10), (3, 3), 0, 1, 1), ((10, 11), (3, 2), 0, (2, 3), (4, 1)),
    ((5, 5), (3, 3), ((4, 4), (0, 9)), (4, 1), (3, 2)), ((1, 1), (2, 2), 1, 1, 1),
    ((3, 40), (1, 5), (0, 7), (1, 4), (1, 9)), ((40, 3), (5, 1), (7, 0), (4, 1), (9, 1))], ids=str)
@pytest.mark.parametrize("batched", [True, False])
def test_output_size_is_the_contract_formula_on_each_axis(size, kernel, padding, stride, dilation,
                                                          batched):
    x, w, b = make(3, 2 if batched else None, 2, 3, size, kernel)
    got = check(x, w, b, stride=stride, padding=padding, dilation=dilation)
    expected = out_shape(size, kernel, padding, stride, dilation)
    assert got.shape == ((2, 3) if batched else (3,)) + expected


# ------------------------------------------------- randomised vs reference
SMALL_DTYPES = [np.float64, np.float32, np.float16, np.int32, np.bool_]


@st.composite
def conv2d_cases(draw):
    """A small valid conv2d call: (x, w, b, kwargs); every padding form and mode."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    big = draw(st.sampled_from([None, 0, 1]))  # an axis with a large dilation, or none
    dilation = tuple(draw(st.integers(5, 64)) if axis == big else draw(st.integers(1, 3))
                     for axis in range(2))
    form = draw(st.sampled_from(["int", "pair", "pairs", "valid", "same"]))
    stride = (1, 1) if form == "same" else (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    mode = draw(st.sampled_from(PADDING_MODES))
    spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
    pad = lambda axis: draw(st.integers(0, spans[axis] + 2))
    padding = {"int": lambda: draw(st.integers(0, min(spans) + 2)),
               "pair": lambda: (pad(0), pad(1)),
               "pairs": lambda: ((pad(0), pad(0)), (pad(1), pad(1))),
               }.get(form, lambda: form)()
    pads = resolve_padding(padding, kernel, dilation, 2)
    size = []
    for axis in range(2):
        before, after = pads[axis]
        minimum = max(1, spans[axis] + 1 - before - after)
        if mode == "reflect":
            minimum = max(minimum, before + 1, after + 1)
        if mode == "circular":
            minimum = max(minimum, before, after)
        size.append(minimum + draw(st.integers(0, 5)))
    outputs = np.prod(out_shape(size, kernel, padding, stride, dilation))
    groups, c_in_g, c_out_g = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(
        st.sampled_from([1, 2, 3, 4, 5]))
    n = draw(st.sampled_from([None, 1, 2]))
    if (n or 1) * groups * c_out_g * c_in_g * np.prod(kernel) * outputs > 5000:
        n, groups, c_in_g, c_out_g = None, 1, 1, min(c_out_g, 4)
    dtype = draw(st.sampled_from([np.float64] * 3 + [np.float32] * 3 + SMALL_DTYPES))
    x, w, b = make(draw(st.integers(0, 2**32 - 1)), n, groups * c_in_g, groups * c_out_g, size,
                   kernel, groups, draw(st.booleans()), dtype)
    x = relayout(x, draw(st.sampled_from(LAYOUTS)))
    stride = stride if draw(st.booleans()) or stride[0] != stride[1] else stride[0]
    dilation = dilation if dilation[0] != dilation[1] else dilation[0]
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                         padding_mode=mode)


@sweep(600)
@given(conv2d_cases())
def test_matches_reference(case):
    x, w, b, kwargs = case
    got = check(x, w, b, **kwargs)
    assert got.dtype == expected_dtype(np.asarray(x), w, b)


# ------------------------------------------------------ grids: padding
PADDINGS_2D = [0, 2, (1, 2), (0, 3), ((1, 2), (0, 3)), ((0, 0), (2, 1)), ((3, 0), (0, 0)),
               [[1, 0], [0, 1]], "valid", "same"]


@pytest.mark.parametrize("padding", PADDINGS_2D, ids=str)
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (1, (2, 3)), ((2, 1), 2), (3, (1, 2))],
                         ids=str)
def test_every_padding_form_and_mode(padding, padding_mode, stride, dilation):
    if padding == "same":
        stride = 1
    x, w, b = make(4, 2, 2, 4, (7, 8), (3, 2), groups=2)
    check(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=2,
          padding_mode=padding_mode)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_largest_padding_each_mode_allows(padding_mode):
    h, w_ = 4, 6
    limit = {"reflect": lambda s: s - 1, "circular": lambda s: s}.get(padding_mode,
                                                                      lambda s: 2 * s)
    x, w, b = make(5, 1, 1, 2, (h, w_), (3, 3))
    check(x, w, b, padding=(limit(h), limit(w_)), padding_mode=padding_mode)
    check(x, w, b, padding=((limit(h), 0), (0, limit(w_))), dilation=2, padding_mode=padding_mode)


# ------------------------------------------ grids: dilation and stride
@pytest.mark.parametrize("dilation", range(1, 65))
def test_every_dilation_up_to_64(dilation):
    d = dilation
    x, w, b = make(d, None, 1, 2, (d + 4, d + 5), (2, 2))
    got = check(x, w, b, dilation=d)                                 # valid, both axes
    assert got.shape == (2, 4, 5)
    x, w, b = make(d + 100, 1, 1, 1, (6, d + 3), (2, 3))
    check(x, w, b, padding="same", dilation=(1, d), padding_mode="reflect" if d < 6 else "zeros")
    check(x, w, b, padding=((d, 0), (0, 0)), dilation=(d, 1), padding_mode="replicate")
    check(x, w, b, padding=(0, (d + 1) // 2), dilation=(2, (d + 1) // 2), padding_mode="circular")


@pytest.mark.parametrize("stride_h", [1, 2, 3, 4])
@pytest.mark.parametrize("stride_w", [1, 2, 3, 4])
@pytest.mark.parametrize("dilation", [1, (2, 3)], ids=str)
@pytest.mark.parametrize("padding", [0, ((1, 0), (2, 3))], ids=str)
def test_every_stride_pair(stride_h, stride_w, dilation, padding):
    x, w, b = make(stride_h * 5 + stride_w, 2, 2, 3, (11, 13), (3, 2))
    check(x, w, b, stride=(stride_h, stride_w), padding=padding, dilation=dilation)


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_int_stride_and_dilation_mean_both_axes(stride):
    x, w, b = make(stride, 1, 2, 2, (17, 15), (2, 3))
    assert_bitwise_equal(fd.conv2d(x, w, b, stride=stride, dilation=2),
                         fd.conv2d(x, w, b, stride=(stride, stride), dilation=(2, 2)))


# ------------------------------------------------------- grids: groups
@pytest.mark.parametrize("c_in, c_out, groups", [
    (1, 1, 1), (3, 5, 1), (4, 4, 2), (6, 9, 3),
    (4, 4, 4), (6, 6, 6),              # depthwise
    (3, 6, 3), (2, 8, 2), (4, 16, 4),  # channel multipliers 2, 4, 4
    (8, 4, 4), (4, 8, 1),
])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_groups(c_in, c_out, groups, bias, batched):
    x, w, b = make(c_in * 17 + c_out, 2 if batched else None, c_in, c_out, (6, 7), (2, 3),
                   groups, bias)
    got = check(x, w, b, padding=1, dilation=(2, 1), groups=groups, padding_mode="replicate")
    assert got.shape == ((2,) if batched else ()) + (c_out, 6, 7)


# ------------------------------------------------------- grids: dtypes
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.uint8, np.bool_]


@pytest.mark.parametrize("x_dtype", DTYPES)
@pytest.mark.parametrize("w_dtype", DTYPES)
@pytest.mark.parametrize("b_dtype", [None, np.float32, np.float64, np.int8])
def test_result_dtype_and_values_for_every_dtype_mix(x_dtype, w_dtype, b_dtype):
    rng = np.random.default_rng(6)
    x = random_array(rng, (1, 2, 5, 6), x_dtype)
    w = random_array(rng, (2, 2, 2, 2), w_dtype)
    b = None if b_dtype is None else random_array(rng, (2,), b_dtype)
    got = check(x, w, b, padding=1, dilation=(1, 2))
    single = {np.dtype(d) for d in (x_dtype, w_dtype, b_dtype) if d is not None} <= {
        np.dtype(np.float32), np.dtype(np.float16)}
    assert got.dtype == (np.float32 if single else np.float64)


# ------------------------------------------------------ grids: layouts
@pytest.mark.parametrize("operand", ["input", "weight", "bias"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_any_layout_of_any_operand(operand, layout, dtype):
    x, w, b = make(7, 2, 4, 4, (8, 9), (3, 2), groups=2, dtype=dtype)
    x, w, b = [relayout(a, layout) if name == operand else a
               for name, a in zip(["input", "weight", "bias"], (x, w, b))]
    check(x, w, b, stride=(2, 1), padding=((2, 1), (1, 0)), dilation=(1, 3), groups=2,
          padding_mode="reflect")


def test_channels_last_view_and_reversed_weights():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 9, 10, 3)).transpose(0, 3, 1, 2)  # NHWC memory, NCHW view
    w = rng.standard_normal((4, 3, 3, 3))[:, :, ::-1, ::-1]
    check(x, w, None, padding="same", dilation=2, padding_mode="circular")


# ------------------------------------------------------------------ out=
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_is_filled_and_returned(batched, dtype):
    x, w, b = make(9, 2 if batched else None, 2, 4, (9, 10), (3, 3), dtype=dtype)
    kwargs = dict(stride=(1, 2), padding=((1, 2), (0, 1)), dilation=(2, 1))
    expected = fd.conv2d(x, w, b, **kwargs)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    untouched = Unchanged(x, w, b)
    assert fd.conv2d(x, w, b, **kwargs, out=out) is out
    untouched.check()
    assert_bitwise_equal(out, expected)
    assert_matches_reference(out, reference.conv2d, x, w, b, **kwargs)


def test_out_with_threads_on_a_big_problem():
    x, w, b = make(10, 2, 4, 8, (40, 50), (3, 3))
    out = np.empty((2, 8, 40, 50))
    fd.conv2d(x, w, b, padding="same", dilation=3, out=out, num_threads=2)
    assert_bitwise_equal(out, fd.conv2d(x, w, b, padding="same", dilation=3, num_threads=1))


# --------------------------------------------------------- NaN and inf
@pytest.mark.parametrize("padding, padding_mode", [
    ("valid", "zeros"), (2, "zeros"), ("same", "reflect"), (((2, 0), (1, 3)), "replicate"),
    ((1, 2), "circular")], ids=str)
@pytest.mark.parametrize("where", [(0, 0), (3, 5), (7, 8)], ids=str)
def test_nan_in_input_poisons_exactly_the_outputs_whose_taps_touch_it(padding, padding_mode,
                                                                       where):
    x, w, b = make(11, 1, 2, 4, (8, 9), (3, 2), groups=2)
    x[(0, 1) + where] = np.nan
    kwargs = dict(stride=1 if padding == "same" else (2, 1), padding=padding, dilation=(2, 3),
                  groups=2, padding_mode=padding_mode)
    got = fd.conv2d(x, w, b, **kwargs)
    touched = taps_touching(reference.conv2d, np.isnan(x), w.shape, **kwargs)
    assert np.array_equal(np.isnan(got), touched)
    assert not np.isnan(got[:, :2]).any()  # the other group is untouched


def test_inf_and_zero_weight_give_nan_only_through_that_tap():
    x = np.ones((1, 1, 6, 6))
    x[0, 0, 3, 3] = np.inf
    w = np.array([[[[1.0, 0.0], [2.0, 3.0]]]])
    got = fd.conv2d(x, w)[0, 0]
    assert np.isnan(got[3, 2])  # tap (0, 1), weight 0, reads the inf
    assert np.isposinf(got[[3, 2, 2], [3, 3, 2]]).all()  # taps (0, 0), (1, 0), (1, 1)
    mask = np.ones_like(got, dtype=bool)
    mask[[3, 3, 2, 2], [2, 3, 3, 2]] = False
    assert np.isfinite(got[mask]).all()


# --------------------------------------- big cases: threads and NumPy
BIG_CASES = {
    # name: (n, c_in, c_out, (H, W), (KH, KW), kwargs)
    "dense": (2, 8, 8, (48, 48), (3, 3), dict(padding=1)),
    "depthwise-same-reflect": (1, 6, 6, (100, 120), (3, 3), dict(padding="same", dilation=(4, 8),
                                                                groups=6, padding_mode="reflect")),
    "multiplier-stride-circular": (2, 3, 12, (100, 140), (3, 2), dict(
        stride=(2, 3), padding=((2, 1), (0, 3)), dilation=2, groups=3, padding_mode="circular")),
    "unbatched-dilation-16": (None, 4, 4, (60, 60), (3, 3), dict(padding=(16, 0), dilation=(16, 1),
                                                                 padding_mode="replicate")),
    "one-row": (2, 4, 4, (1, 5000), (1, 5), dict(dilation=(1, 7), padding=(0, 14))),
    "one-column": (2, 4, 4, (5000, 1), (5, 1), dict(dilation=(7, 1), stride=(2, 1))),
    "dilation-64": (2, 4, 8, (200, 200), (2, 3), dict(dilation=64, stride=(1, 2))),
}


@pytest.mark.parametrize("name", list(BIG_CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_big_case_bitwise_equal_for_1_and_2_threads_and_matches_numpy(name, dtype):
    n, c_in, c_out, size, kernel, kwargs = BIG_CASES[name]
    groups = kwargs.get("groups", 1)
    x, w, b = make(len(name), n, c_in, c_out, size, kernel, groups, dtype=dtype)
    one = assert_threads_agree_and_match_numpy(fd.conv2d, x, w, b, threads=(2, 3, None),
                                               **kwargs)
    assert one.size * (c_in // groups) * np.prod(kernel) > 4 * SERIAL_MACS


@st.composite
def medium_conv2d_cases(draw):
    """Shapes too big for the pure-Python reference, checked against NumPy."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    form = draw(st.sampled_from(["int", "pair", "pairs", "valid", "same"]))
    strides = st.one_of(st.integers(1, 4), st.integers(5, 20))
    stride = (1, 1) if form == "same" else (draw(strides), draw(strides))
    spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
    size = [s + draw(st.integers(1, 60)) for s in spans]
    pad = lambda axis: draw(st.integers(0, min(size[axis] - 1, spans[axis] + 3)))
    padding = {"int": lambda: draw(st.integers(0, min(size) - 1)),
               "pair": lambda: (pad(0), pad(1)),
               "pairs": lambda: ((pad(0), pad(0)), (pad(1), pad(1))),
               }.get(form, lambda: form)()
    mode = draw(st.sampled_from(PADDING_MODES))
    if mode == "reflect" and form == "same" and any(s >= z for s, z in zip(spans, size)):
        mode = "zeros"
    groups = draw(st.sampled_from([1, 2, 4]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.sampled_from([1, 2, 4]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    x, w, b = make(draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from([None, 1, 2])), c_in,
                   c_out, size, kernel, groups, draw(st.booleans()), dtype)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                         padding_mode=mode)


@sweep(200)
@given(medium_conv2d_cases())
def test_medium_shapes_match_numpy_for_any_thread_count(case):
    x, w, b, kwargs = case
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, b, **kwargs)


# Many output channels per group: the dense kernel, which takes three output
# rows at a time (one vector from each) and single rows for the rest.  Heights
# leave every remainder of three, widths partial vectors, and channels per
# group are whole blocks of both the AVX-512 (8) and the AVX2 build (4).
@st.composite
def dense_conv2d_cases(draw, max_rows, max_width):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 5)), draw(st.integers(1, 20)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "pairs"]))
    spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
    size = (spans[0] + draw(st.integers(1, max_rows)), spans[1] + draw(st.integers(1, max_width)))
    if padding == "pairs":
        pad = lambda axis: draw(st.integers(0, min(size[axis] - 1, spans[axis] + 2)))
        padding = ((pad(0), pad(0)), (pad(1), pad(1)))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.sampled_from([8, 16]))
    x, w, b = make(draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from([None, 1, 2])), c_in,
                   c_out, size, kernel, groups, draw(st.booleans()),
                   draw(st.sampled_from([np.float64, np.float32])))
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                         padding_mode=draw(st.sampled_from(PADDING_MODES)))


@sweep(60)
@given(dense_conv2d_cases(max_rows=8, max_width=24))
def test_dense_rows_match_reference(case):
    x, w, b, kwargs = case
    check(x, w, b, **kwargs)


@sweep(100)
@given(dense_conv2d_cases(max_rows=40, max_width=120))
def test_dense_rows_match_numpy_for_any_thread_count(case):
    x, w, b, kwargs = case
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, b, threads=(2, 3), **kwargs)


# Wide rows with room above and below: the thin kernel reads the inner
# tiles of the inner rows in place and copies the others with padding.
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_wide_images_read_in_place_and_through_tiles_agree_with_numpy(padding_mode):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 3, 9, 5000))
    w = rng.standard_normal((3, 1, 3, 2))
    kwargs = dict(padding=((2, 1), (9, 4)), dilation=(2, 5), groups=3, padding_mode=padding_mode)
    assert_matches_numpy(fd.conv2d(x, w, num_threads=2, **kwargs), x, w, **kwargs)


# Weights beyond L2 (here 1.2 MB): the dense kernel streams them from memory.
def test_weights_larger_than_l2_agree_with_numpy():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 128, 6, 70))
    w = rng.standard_normal((128, 128, 3, 3))
    kwargs = dict(padding="same", dilation=(1, 2))
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, **kwargs)


# ------------------------------------- the dense kernel's tile, 2-D
@st.composite
def dense_tile_cases(draw):
    """Dense 2-D calls whose tile keeps its columns from item to item (one
    time tile) or not, padding far past the image (whole kernel rows of
    zeros, left unread) and every mode's padding filled at stride 1 and 2."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 12)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    mode = draw(st.sampled_from(PADDING_MODES))
    spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
    size = (spans[0] + draw(st.integers(1, 14)), spans[1] + draw(st.integers(1, 40)))
    limit = {"reflect": lambda s: s - 1, "circular": lambda s: s}.get(mode, lambda s: 3 * s)
    pad = lambda axis: draw(st.integers(0, limit(size[axis])))
    padding = ((pad(0), pad(0)), (pad(1), pad(1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (draw(st.integers(1, 2)), draw(st.integers(1, 4))) + size, dtype)
    w = random_array(rng, (draw(st.integers(8, 13)), x.shape[1]) + kernel, dtype)
    b = random_array(rng, (w.shape[0],), dtype) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, dilation=dilation, padding=padding, padding_mode=mode)


@sweep(80)
@given(dense_tile_cases())
def test_dense_tiles_match_numpy_bitwise_for_any_thread_count(case):
    x, w, b, kwargs = case
    assert_threads_agree_and_match_numpy(fd.conv2d, x, w, b, threads=(2, 3), **kwargs)
