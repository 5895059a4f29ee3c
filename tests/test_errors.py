"""Bad input is a ValueError or TypeError that names the argument: never a
crash, never a silent wrong answer.

Shapes that would index out of bounds if a check were missing run in a
subprocess, so a crash fails one test instead of killing the run.
"""
import re

import numpy as np
import pytest

import fastdilate as fd
from conftest import BAD_ARGUMENT, run_isolated

X1 = np.ones((2, 4, 10))      # conv1d input (N, C_in, L)
W1 = np.ones((6, 2, 3))       # conv1d weight for groups=2
X2 = np.ones((2, 4, 8, 9))    # conv2d input (N, C_in, H, W)
W2 = np.ones((6, 2, 3, 3))    # conv2d weight for groups=2
CASES = {"conv1d": (fd.conv1d, X1, W1), "conv2d": (fd.conv2d, X2, W2)}
both = pytest.mark.parametrize("op", ["conv1d", "conv2d"])


def call(op, **kwargs):
    """CASES[op] with groups=2 and the given arguments replaced."""
    function, x, w = CASES[op]
    args = dict(input=x, weight=w, groups=2) | kwargs
    return function(**args)


def test_the_valid_baseline_calls_work():
    assert call("conv1d").shape == (2, 6, 8)
    assert call("conv2d").shape == (2, 6, 6, 7)


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("op, shape", [
    ("conv1d", ()), ("conv1d", (10,)), ("conv1d", (1, 2, 4, 10)),
    ("conv2d", ()), ("conv2d", (4, 9)), ("conv2d", (1, 1, 4, 8, 9))], ids=str)
def test_input_with_the_wrong_number_of_dimensions(op, shape):
    with pytest.raises(ValueError, match="input"):
        call(op, input=np.ones(shape))


@pytest.mark.parametrize("op, shape", [
    ("conv1d", (6, 2)), ("conv1d", (6, 2, 3, 1)), ("conv1d", (3,)),
    ("conv2d", (6, 2, 3)), ("conv2d", (6, 2, 3, 3, 1))], ids=str)
def test_weight_with_the_wrong_number_of_dimensions(op, shape):
    with pytest.raises(ValueError, match="weight"):
        call(op, weight=np.ones(shape))


@both
@pytest.mark.parametrize("groups, c_out", [(3, 6), (4, 6), (8, 8), (5, 5)])
def test_groups_must_divide_input_and_output_channels(op, groups, c_out):
    _, x, w = CASES[op]
    weight = np.ones((c_out, max(1, 4 // groups)) + w.shape[2:])
    with pytest.raises(ValueError, match="groups"):
        call(op, weight=weight, groups=groups)


@both
@pytest.mark.parametrize("groups", [0, -1])
def test_groups_below_1(op, groups):
    with pytest.raises(ValueError, match="groups"):
        call(op, groups=groups)


@both
@pytest.mark.parametrize("groups", [2.0, 1.5, True, "2", None, np.float64(2.0)], ids=repr)
def test_groups_not_an_int(op, groups):
    call(op, groups=2)  # an equal valid value first: a bad one must not ride on it
    with pytest.raises(BAD_ARGUMENT, match="groups"):
        call(op, groups=groups)


@both
@pytest.mark.parametrize("c_in_group", [1, 3, 4])
def test_weight_shape_1_must_be_input_channels_over_groups(op, c_in_group):
    _, _, w = CASES[op]
    with pytest.raises(ValueError, match="weight"):
        call(op, weight=np.ones((6, c_in_group) + w.shape[2:]))


@both
@pytest.mark.parametrize("shape", [(5,), (7,), (1, 6), (6, 1), (), (0,)], ids=str)
def test_bias_must_have_shape_c_out(op, shape):
    with pytest.raises(ValueError, match="bias"):
        call(op, bias=np.ones(shape))


# ---------------------------------------------------- stride and dilation
@both
@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("value", [0, -1, -3])
def test_stride_and_dilation_below_1(op, name, value):
    with pytest.raises(ValueError, match=name):
        call(op, **{name: value})


@both
@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("value", [1.0, 1.5, True, False, "1", None, np.float64(2.0)], ids=repr)
def test_stride_and_dilation_not_an_int(op, name, value):
    for valid in (1, 2):  # equal valid values first: a bad one must not ride on them
        call(op, **{name: valid})
    with pytest.raises(BAD_ARGUMENT, match=name):
        call(op, **{name: value})


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("value", [(1, 0), (0, 1), (1, -2), (1, 1.5), (True, 1), (1,), (1, 1, 1),
                                   ()], ids=str)
def test_conv2d_stride_and_dilation_pairs(name, value):
    call("conv2d", **{name: (1, 1)})
    with pytest.raises(BAD_ARGUMENT, match=name):
        call("conv2d", **{name: value})


@pytest.mark.parametrize("name", ["stride", "dilation"])
def test_conv1d_stride_and_dilation_take_no_pair(name):
    with pytest.raises(BAD_ARGUMENT, match=name):
        call("conv1d", **{name: (1, 1)})


@both
def test_numpy_integer_scalars_are_ints(op):
    expected = call(op, stride=2, padding=1, dilation=2, groups=2, num_threads=1)
    got = call(op, stride=np.int64(2), padding=np.int32(1), dilation=np.uint8(2),
               groups=np.int16(2), num_threads=np.int64(1))
    assert np.array_equal(got, expected)


# ----------------------------------------------------------------- padding
@both
@pytest.mark.parametrize("padding", [-1, -5])
def test_negative_padding(op, padding):
    with pytest.raises(ValueError, match="padding"):
        call(op, padding=padding)


@pytest.mark.parametrize("op, padding", [
    ("conv1d", (-1, 0)), ("conv1d", (0, -2)),
    ("conv2d", (-1, 0)), ("conv2d", ((0, 0), (0, -1))), ("conv2d", ((-1, 0), 1))], ids=str)
def test_negative_padding_in_a_tuple(op, padding):
    with pytest.raises(ValueError, match="padding"):
        call(op, padding=padding)


@both
@pytest.mark.parametrize("padding", ["full", "SAME", "Valid", "", "zeros", "causal "])
def test_unknown_padding_string(op, padding):
    with pytest.raises(ValueError, match="padding"):
        call(op, padding=padding)


@pytest.mark.parametrize("op, padding", [
    ("conv1d", ()), ("conv1d", (1,)), ("conv1d", (1, 2, 3)), ("conv1d", ((1, 2), (3, 4))),
    ("conv2d", ()), ("conv2d", (1,)), ("conv2d", (1, 2, 3)), ("conv2d", ((1, 2, 3), (0, 0))),
    ("conv2d", ((1,), (0, 0))), ("conv2d", ((1, 2), (3, 4), (5, 6)))], ids=str)
def test_padding_tuple_of_the_wrong_length(op, padding):
    with pytest.raises(BAD_ARGUMENT, match="padding"):
        call(op, padding=padding)


@both
@pytest.mark.parametrize("padding", [1.5, 1.0, True, None, b"same", np.float64(1.0), (1.0, 0),
                                     (True, 0), (0.0, 1)], ids=repr)
def test_padding_of_the_wrong_type(op, padding):
    for valid in (1, (1, 0), (0, 1)):  # equal valid values first
        call(op, padding=valid)
    with pytest.raises(BAD_ARGUMENT, match="padding"):
        call(op, padding=padding)


@pytest.mark.parametrize("padding", [((1.0, 0), (0, 0)), ((True, 0), (0, 0)), ((0, 0), 1.0)],
                         ids=repr)
def test_conv2d_padding_pairs_of_the_wrong_type(padding):
    call("conv2d", padding=((1, 0), (0, 0)))
    call("conv2d", padding=((0, 0), 1))
    with pytest.raises(BAD_ARGUMENT, match="padding"):
        call("conv2d", padding=padding)


@both
@pytest.mark.parametrize("stride", [2, 3])
def test_same_padding_needs_stride_1(op, stride):
    with pytest.raises(ValueError, match="same"):
        call(op, padding="same", stride=stride)


def test_same_padding_needs_stride_1_on_both_axes():
    with pytest.raises(ValueError, match="same"):
        call("conv2d", padding="same", stride=(1, 2))


def test_causal_padding_is_for_conv1d_only():
    with pytest.raises(ValueError, match="padding"):
        call("conv2d", padding="causal")


@both
@pytest.mark.parametrize("mode", ["constant", "Zeros", "wrap", "edge", "", None, 0, ["zeros"]])
def test_unknown_padding_mode(op, mode):
    with pytest.raises(BAD_ARGUMENT, match="padding_mode"):
        call(op, padding=1, padding_mode=mode)


@pytest.mark.parametrize("op, padding, size", [
    ("conv1d", 10, 10), ("conv1d", (0, 10), 10), ("conv1d", (11, 0), 10),
    ("conv2d", 8, 8), ("conv2d", (0, 9), 9), ("conv2d", ((0, 0), (9, 0)), 9)], ids=str)
def test_reflect_padding_must_be_smaller_than_the_input(op, padding, size):
    with pytest.raises(ValueError, match="padding") as error:
        call(op, padding=padding, padding_mode="reflect")
    assert re.search(rf"\b{size}\b", str(error.value)), "the message should give the size"


@pytest.mark.parametrize("op, padding", [
    ("conv1d", 11), ("conv1d", (0, 11)), ("conv2d", 9), ("conv2d", ((0, 0), (10, 0)))], ids=str)
def test_circular_padding_must_not_exceed_the_input(op, padding):
    with pytest.raises(ValueError, match="padding"):
        call(op, padding=padding, padding_mode="circular")


@pytest.mark.parametrize("mode", ["reflect", "circular"])
def test_same_and_causal_padding_obey_the_mode_limits_too(mode):
    # span 20*(3-1) = 40 > L = 10: "same" pads 20 a side, "causal" 40 on the left.
    for padding in ("same", "causal"):
        with pytest.raises(ValueError, match="padding"):
            fd.conv1d(np.ones((1, 1, 10)), np.ones((1, 1, 3)), padding=padding, dilation=20,
                      padding_mode=mode)


# ------------------------------------------------------ empty output size
@pytest.mark.parametrize("length, kernel, dilation, stride, padding", [
    (5, 3, 7, 1, 0), (5, 3, 7, 3, 0), (2, 3, 1, 1, 0), (12, 4, 5, 2, (1, 0)), (3, 40, 1, 1, 2)])
def test_empty_conv1d_output_is_an_error_that_gives_the_numbers(length, kernel, dilation,
                                                                stride, padding):
    with pytest.raises(ValueError) as error:
        fd.conv1d(np.ones((1, 1, length)), np.ones((1, 1, kernel)), stride=stride,
                  padding=padding, dilation=dilation)
    message = str(error.value)
    for number in (length, kernel, dilation):
        assert re.search(rf"(?<![\d-]){number}(?!\d)", message), (number, message)


def test_empty_conv2d_output_on_one_axis_gives_the_numbers():
    with pytest.raises(ValueError) as error:
        fd.conv2d(np.ones((1, 1, 30, 7)), np.ones((1, 1, 3, 3)), dilation=(2, 5))
    message = str(error.value)
    for number in (30, 7, 5):
        assert re.search(rf"(?<![\d-]){number}(?!\d)", message), (number, message)


# ------------------------------------------------------------------ dtypes
BAD_VALUES = {
    "complex": lambda shape: np.ones(shape, dtype=complex),
    "complex64": lambda shape: np.ones(shape, dtype=np.complex64),
    "object": lambda shape: np.ones(shape, dtype=object),
    "str": lambda shape: np.full(shape, "1"),
    "bytes": lambda shape: np.full(shape, b"1"),
    "datetime": lambda shape: np.zeros(shape, dtype="datetime64[s]"),
}


@both
@pytest.mark.parametrize("kind", list(BAD_VALUES))
@pytest.mark.parametrize("name", ["input", "weight", "bias"])
def test_non_real_dtypes_are_a_type_error(op, kind, name):
    _, x, w = CASES[op]
    shape = {"input": x.shape, "weight": w.shape, "bias": (6,)}[name]
    with pytest.raises(TypeError, match=name):
        call(op, **{name: BAD_VALUES[kind](shape)})


def test_python_complex_and_string_lists_are_a_type_error():
    with pytest.raises(TypeError, match="input"):
        fd.conv1d([[[1j, 2.0, 3.0]]], [[[1.0]]])
    with pytest.raises(TypeError, match="weight"):
        fd.conv1d([[[1.0, 2.0, 3.0]]], [[["a"]]])


@pytest.mark.parametrize("kind", list(BAD_VALUES))
@pytest.mark.parametrize("name", ["signal", "kernel"])
def test_dilated_convolve_1d_non_real_dtypes(kind, name):
    args = {"signal": np.ones(10), "kernel": np.ones(3)}
    args[name] = BAD_VALUES[kind](args[name].shape)
    with pytest.raises(TypeError, match=name):
        fd.dilated_convolve_1d(**args)


@pytest.mark.parametrize("name, value", [
    ("input", [[[1.0, 2.0], [1.0]]]), ("input", [[[1.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]]]),
    ("weight", [[[1.0], [1.0, 2.0]]]), ("bias", [[1.0], 2.0])], ids=str)
def test_ragged_lists(name, value):
    args = dict(input=np.ones((1, 2, 5)), weight=np.ones((2, 2, 1)), bias=np.ones(2))
    args[name] = value
    with pytest.raises(BAD_ARGUMENT, match=name):
        fd.conv1d(**args)


def test_ragged_signal():
    with pytest.raises(BAD_ARGUMENT, match="signal"):
        fd.dilated_convolve_1d([[1.0, 2.0, 3.0], [1.0]], [1.0])


# --------------------------------------------------------------------- out
def _expected_out(op):
    return call(op)


@both
@pytest.mark.parametrize("change", ["short", "long", "extra-axis", "missing-axis", "swapped"])
def test_out_of_the_wrong_shape(op, change):
    shape = _expected_out(op).shape
    bad = {"short": shape[:-1] + (shape[-1] - 1,), "long": shape[:-1] + (shape[-1] + 1,),
           "extra-axis": (1,) + shape, "missing-axis": shape[1:],
           "swapped": shape[:-2] + (shape[-1], shape[-2])}[change]
    with pytest.raises(ValueError, match="out"):
        call(op, out=np.empty(bad))


def test_out_for_an_unbatched_input_has_no_batch_axis():
    with pytest.raises(ValueError, match="out"):
        fd.conv1d(np.ones((2, 10)), np.ones((3, 2, 3)), out=np.empty((1, 3, 8)))
    out = np.empty((3, 8))
    assert fd.conv1d(np.ones((2, 10)), np.ones((3, 2, 3)), out=out) is out


@both
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.complex128, object])
def test_out_of_the_wrong_dtype(op, dtype):
    shape = _expected_out(op).shape
    with pytest.raises(BAD_ARGUMENT, match="out"):
        call(op, out=np.zeros(shape, dtype=dtype))


def test_out_must_be_float32_for_a_float32_result():
    x, w = np.ones((1, 1, 5), np.float32), np.ones((1, 1, 2), np.float32)
    with pytest.raises(BAD_ARGUMENT, match="out"):
        fd.conv1d(x, w, out=np.empty((1, 1, 4)))


@both
def test_out_not_c_contiguous(op):
    shape = _expected_out(op).shape
    strided = np.empty(shape[:-1] + (2 * shape[-1],))[..., ::2]
    with pytest.raises(ValueError, match="out"):
        call(op, out=strided)
    with pytest.raises(ValueError, match="out"):
        call(op, out=np.asfortranarray(np.empty(shape)))
    with pytest.raises(ValueError, match="out"):
        call(op, out=np.empty(shape[::-1]).T)


@both
def test_out_read_only(op):
    out = np.empty(_expected_out(op).shape)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="out"):
        call(op, out=out)


@both
def test_out_not_an_array(op):
    with pytest.raises(BAD_ARGUMENT, match="out"):
        call(op, out=_expected_out(op).tolist())


def test_out_that_is_the_input():
    x = np.arange(12.0).reshape(1, 2, 6)
    before = x.copy()
    with pytest.raises(ValueError, match="out"):
        fd.conv1d(x, np.ones((2, 2, 1)), out=x)
    assert np.array_equal(x, before)


def test_out_that_overlaps_part_of_the_input():
    buffer = np.arange(40.0)
    x = buffer[:20].reshape(1, 2, 10)
    out = buffer[15:31].reshape(1, 2, 8)   # shares buffer[15:20] with x
    before = buffer.copy()
    with pytest.raises(ValueError, match="out"):
        fd.conv1d(x, np.ones((2, 2, 3)), out=out)
    assert np.array_equal(buffer, before)


def test_out_that_overlaps_an_input_view():
    base = np.zeros((2, 2, 8))
    x = base[:, :, ::-1]  # a reversed view of the same memory
    with pytest.raises(ValueError, match="out"):
        fd.conv1d(x, np.ones((2, 2, 1)), out=base)


def test_out_that_overlaps_the_weight_or_the_bias():
    buffer = np.ones(64)
    w, out = buffer[:8].reshape(2, 2, 2), buffer[:18].reshape(1, 2, 9)
    with pytest.raises(ValueError, match="out"):
        fd.conv1d(np.ones((1, 2, 10)), w, out=out)
    bias, out = buffer[40:42], buffer[34:52].reshape(1, 2, 9)
    with pytest.raises(ValueError, match="out"):
        fd.conv1d(np.ones((1, 2, 10)), np.ones((2, 2, 2)), bias, out=out)


def test_out_next_to_the_input_in_one_buffer_is_fine():
    buffer = np.arange(36.0)
    x, out = buffer[:20].reshape(1, 2, 10), buffer[20:36].reshape(1, 2, 8)
    expected = fd.conv1d(x.copy(), np.ones((2, 2, 3)))
    assert fd.conv1d(x, np.ones((2, 2, 3)), out=out) is out
    assert np.array_equal(out, expected)


# ------------------------------------------------------------- num_threads
@pytest.mark.parametrize("value", [0, -1, -8])
@pytest.mark.parametrize("op", ["conv1d", "conv2d", "dilated_convolve_1d"])
@pytest.mark.parametrize("size", ["small", "big"])
def test_num_threads_below_1(value, op, size):
    with pytest.raises(ValueError, match="num_threads"):
        _threads_call(op, size, value)


@pytest.mark.parametrize("value", [1.5, 2.0, True, False, "2", np.float64(2)], ids=repr)
@pytest.mark.parametrize("op", ["conv1d", "conv2d", "dilated_convolve_1d"])
@pytest.mark.parametrize("size", ["small", "big"])
def test_num_threads_not_an_int(value, op, size):
    with pytest.raises(BAD_ARGUMENT, match="num_threads"):
        _threads_call(op, size, value)


def test_num_threads_checked_even_when_the_output_is_empty():
    with pytest.raises(ValueError, match="num_threads"):
        fd.dilated_convolve_1d(np.ones(2), np.ones(5), num_threads=0)
    with pytest.raises(BAD_ARGUMENT, match="num_threads"):
        fd.dilated_convolve_1d(np.ones((0, 10)), np.ones(3), num_threads=1.5)


def _threads_call(op, size, num_threads):
    length = 10 if size == "small" else 100_000
    if op == "dilated_convolve_1d":
        return fd.dilated_convolve_1d(np.ones(length), np.ones(3), num_threads=num_threads)
    if op == "conv1d":
        return fd.conv1d(np.ones((1, 2, length)), np.ones((2, 2, 3)), num_threads=num_threads)
    side = 5 if size == "small" else 300
    return fd.conv2d(np.ones((1, 2, side, side)), np.ones((2, 2, 3, 3)), num_threads=num_threads)


# ----------------------------------------------------- dilated_convolve_1d
@pytest.mark.parametrize("kernel", [np.ones((1, 3)), np.ones((3, 1)), np.ones(()), np.ones(0),
                                    [], [[1.0, 2.0]]], ids=repr)
def test_dilated_convolve_1d_kernel_must_be_1d_and_non_empty(kernel):
    with pytest.raises(ValueError, match="kernel"):
        fd.dilated_convolve_1d(np.ones(10), kernel)


@pytest.mark.parametrize("signal", [np.ones((2, 2, 10)), np.ones(()), 3.0], ids=repr)
def test_dilated_convolve_1d_signal_must_be_1d_or_2d(signal):
    with pytest.raises(ValueError, match="signal"):
        fd.dilated_convolve_1d(signal, np.ones(3))


@pytest.mark.parametrize("dilation", [0, -1, 1.5, True, "2", None], ids=repr)
def test_dilated_convolve_1d_dilation(dilation):
    with pytest.raises(BAD_ARGUMENT, match="dilation"):
        fd.dilated_convolve_1d(np.ones(10), np.ones(3), dilation)


# -------------------------------------------- adversarial shapes, isolated
CHILD = """
import numpy as np
import fastdilate as fd
try:
    result = {call}
except (ValueError, TypeError, MemoryError, OverflowError) as error:
    print(type(error).__name__)
else:
    print("ok", tuple(result.shape), repr(np.asarray(result).ravel()[:4].tolist()))
"""

X10 = "np.arange(1.0, 11.0).reshape(1, 1, 10)"   # conv1d input 1, 2, ..., 10
X25 = "np.arange(1.0, 26.0).reshape(1, 1, 5, 5)"  # conv2d input 1, 2, ..., 25
ONES3 = "np.ones((1, 1, 3))"
# A valid call on a huge scalar either works or is refused with a ValueError;
# never a crash, a MemoryError for a ten-sample problem, or garbage.
ADVERSARIAL = {
    # name: (call, accepted outcomes: an exception name or the exact "ok ..." line)
    "huge-dilation": (f"fd.conv1d({X10}, {ONES3}, dilation=2**40)", {"ValueError"}),
    "dilation-past-int64": (f"fd.conv1d({X10}, {ONES3}, dilation=2**64)", {"ValueError"}),
    "huge-dilation-2d": ("fd.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 2, 2)), "
                         "dilation=(1, 2**62))", {"ValueError"}),
    "huge-dilation-padded": (
        f"fd.conv1d({X10}, np.array([[[0.0, 2.0, 0.0]]]), dilation=10**6, padding=10**6)",
        {"ok (1, 1, 10) [2.0, 4.0, 6.0, 8.0]"}),
    # Taps 0 and 2 read padding 2**62 away; tap 1 reads x[i]: out = x.
    "dilation-2**60-padded": (f"fd.conv1d({X10}, {ONES3}, dilation=2**60, padding=2**60)",
                              {"ok (1, 1, 10) [1.0, 2.0, 3.0, 4.0]", "ValueError",
                               "MemoryError"}),
    "dilation-2**61-padded": (f"fd.conv1d({X10}, {ONES3}, dilation=2**61, padding=2**61)",
                              {"ok (1, 1, 10) [1.0, 2.0, 3.0, 4.0]", "ValueError",
                               "MemoryError"}),
    "dilation-2**62-padded": (f"fd.conv1d({X10}, {ONES3}, dilation=2**62, padding=2**62)",
                              {"ok (1, 1, 10) [1.0, 2.0, 3.0, 4.0]", "ValueError",
                               "MemoryError"}),
    "dilation-2**62-padded-2d-rows": (
        f"fd.conv2d({X25}, np.ones((1, 1, 3, 3)), dilation=(2**62, 1), "
        "padding=((2**62, 2**62), (0, 0)))",
        {"ok (1, 1, 5, 3) [6.0, 9.0, 12.0, 21.0]", "ValueError", "MemoryError"}),
    "dilation-2**62-padded-2d-columns": (
        f"fd.conv2d({X25}, np.ones((1, 1, 3, 3)), dilation=(1, 2**62), "
        "padding=((0, 0), (2**62, 2**62)))",
        {"ok (1, 1, 3, 5) [18.0, 21.0, 24.0, 27.0]", "ValueError", "MemoryError"}),
    # One output, x[0] + x[1] + x[2] = 6, whatever the stride past the input.
    "stride-bigger-than-input": (f"fd.conv1d({X10}, {ONES3}, stride=100)", {"ok (1, 1, 1) [6.0]"}),
    "stride-2**30": (f"fd.conv1d({X10}, {ONES3}, stride=2**30)",
                     {"ok (1, 1, 1) [6.0]", "ValueError"}),
    "stride-2**62": (f"fd.conv1d({X10}, {ONES3}, stride=2**62)",
                     {"ok (1, 1, 1) [6.0]", "ValueError"}),
    "stride-2**63-1": (f"fd.conv1d({X10}, {ONES3}, stride=2**63 - 1)",
                       {"ok (1, 1, 1) [6.0]", "ValueError"}),
    "stride-past-int64": (f"fd.conv1d({X10}, {ONES3}, stride=2**64)",
                          {"ok (1, 1, 1) [6.0]", "ValueError"}),
    "stride-bigger-than-input-2d": (f"fd.conv2d({X25}, np.ones((1, 1, 2, 2)), stride=(1000, 1000))",
                                    {"ok (1, 1, 1, 1) [16.0]"}),
    "stride-2**62-2d-rows": (f"fd.conv2d({X25}, np.ones((1, 1, 3, 3)), stride=(2**62, 1))",
                             {"ok (1, 1, 1, 3) [63.0, 72.0, 81.0]", "ValueError"}),
    "stride-2**62-2d-columns": (f"fd.conv2d({X25}, np.ones((1, 1, 3, 3)), stride=(1, 2**62))",
                                {"ok (1, 1, 3, 1) [63.0, 108.0, 153.0]", "ValueError"}),
    "padding-past-int64": (f"fd.conv1d({X10}, {ONES3}, padding=(2**64, 0), stride=2**64)",
                           {"ok (1, 1, 1) [0.0]", "ValueError", "MemoryError"}),
    "kernel-longer-than-input": ("fd.conv1d(np.ones((1, 1, 3)), np.ones((1, 1, 10)))",
                                 {"ValueError"}),
    "kernel-longer-than-input-2d": ("fd.conv2d(np.ones((1, 1, 20, 3)), np.ones((1, 1, 2, 10)))",
                                    {"ValueError"}),
    "kernel-longer-but-padded": ("fd.conv1d(np.ones((1, 1, 3)), np.ones((1, 1, 10)), "
                                 "padding=(4, 3))", {"ok (1, 1, 1) [3.0]"}),
    "weight-more-channels": ("fd.conv1d(np.ones((1, 2, 10)), np.ones((1, 5, 3)))",
                             {"ValueError"}),
    "weight-fewer-channels": ("fd.conv2d(np.ones((1, 4, 6, 6)), np.ones((2, 1, 3, 3)))",
                              {"ValueError"}),
    "bias-too-short": ("fd.conv1d(np.ones((1, 2, 10)), np.ones((8, 2, 3)), np.ones(2))",
                       {"ValueError"}),
    "out-too-small": ("fd.conv1d(np.ones((1, 1, 1000)), np.ones((1, 1, 3)), "
                      "out=np.empty((1, 1, 2)))", {"ValueError"}),
    "out-too-small-2d": ("fd.conv2d(np.ones((2, 1, 50, 50)), np.ones((4, 1, 3, 3)), "
                         "out=np.empty((1, 4, 48, 48)))", {"ValueError"}),
    "out-same-size-other-shape": ("fd.conv1d(np.ones((1, 1, 10)), np.ones((2, 1, 3)), "
                                  "out=np.empty((1, 4, 4)))", {"ValueError"}),
    "zero-length": ("fd.conv1d(np.ones((1, 1, 0)), np.ones((1, 1, 1)))", {"ValueError"}),
    "zero-length-padded": ("fd.conv1d(np.ones((1, 1, 0)), np.ones((1, 1, 1)), padding=2, "
                           "padding_mode='circular')", {"ValueError"}),
    "zero-width-2d": ("fd.conv2d(np.ones((1, 1, 5, 0)), np.ones((1, 1, 1, 1)), padding=1)",
                      {"ValueError"}),
    "zero-input-channels": ("fd.conv1d(np.ones((1, 0, 10)), np.ones((2, 0, 3)))",
                            {"ValueError", "ok (1, 2, 8) [0.0, 0.0, 0.0, 0.0]"}),
    "zero-output-channels": ("fd.conv1d(np.ones((1, 2, 10)), np.ones((0, 2, 3)))",
                             {"ValueError", "ok (1, 0, 8) []"}),
    "zero-kernel": ("fd.conv1d(np.ones((1, 1, 10)), np.ones((1, 1, 0)))", {"ValueError"}),
    "zero-kernel-2d": ("fd.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 0, 3)))", {"ValueError"}),
    "zero-batch": ("fd.conv1d(np.ones((0, 2, 10)), np.ones((3, 2, 3)))",
                   {"ValueError", "ok (0, 3, 8) []"}),
    "zero-batch-2d": ("fd.conv2d(np.ones((0, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding=1)",
                      {"ValueError", "ok (0, 1, 5, 5) []"}),
    "signal-shorter-than-kernel": ("fd.dilated_convolve_1d(np.ones(3), np.ones(10))",
                                   {"ok (0,) []"}),
    # The reference returns [] for any dilation past the signal, however large.
    "signal-huge-dilation": ("fd.dilated_convolve_1d(np.ones((2, 5)), np.ones(3), 2**62)",
                             {"ok (2, 0) []"}),
    "signal-dilation-past-int64": ("fd.dilated_convolve_1d(np.ones(5), np.ones(2), 2**64)",
                                   {"ok (0,) []"}),
    "signal-huge-dilation-kernel-1": ("fd.dilated_convolve_1d(np.arange(3.0), [2.0], 2**64)",
                                      {"ok (3,) [0.0, 2.0, 4.0]"}),
    "signal-empty": ("fd.dilated_convolve_1d(np.ones(0), np.ones(1))", {"ok (0,) []"}),
    "kernel-empty": ("fd.dilated_convolve_1d(np.ones(5), np.ones(0))", {"ValueError"}),
    "many-threads": ("fd.conv1d(np.ones((2, 4, 20000)), np.ones((4, 4, 3)), num_threads=64)",
                     {"ok (2, 4, 19998) [12.0, 12.0, 12.0, 12.0]"}),
    "num-threads-2**31": ("fd.conv1d(np.ones((2, 4, 20000)), np.ones((4, 4, 3)), "
                          "num_threads=2**31)",
                          {"ok (2, 4, 19998) [12.0, 12.0, 12.0, 12.0]", "ValueError"}),
    "num-threads-past-int64": ("fd.conv1d(np.ones((2, 4, 20000)), np.ones((4, 4, 3)), "
                               "num_threads=2**64)",
                               {"ok (2, 4, 19998) [12.0, 12.0, 12.0, 12.0]", "ValueError"}),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_shapes_in_a_subprocess(name):
    code, accepted = ADVERSARIAL[name]
    returncode, stdout, stderr = run_isolated(CHILD.format(call=code))
    assert returncode == 0, f"the child crashed ({returncode}): {stderr[-2000:]}"
    assert stdout in accepted, f"{code} printed {stdout!r}; expected one of {accepted}"


# ------------------------------------------------------- reads within bounds
# An input whose first or last byte touches a page that may not be read: a
# kernel that reads one value outside the array (a whole chunk computed past
# the end of a row, a tap before its start) dies with a segfault here, where
# elsewhere it would read garbage it then throws away.
GUARDED_CHILD = """
import ctypes, itertools, mmap
import numpy as np
import fastdilate as fd

libc = ctypes.CDLL(None)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
PAGE, PROT_NONE = mmap.PAGESIZE, 0
buffers = []

def guarded(array, side):
    '''A copy of ``array`` that ends just before (side "after") or starts
    just after (side "before") a page that may not be read.'''
    pages = -(-array.nbytes // PAGE) + 1
    buffer = mmap.mmap(-1, (pages + 1) * PAGE)
    buffers.append(buffer)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    guard = pages if side == "after" else 0
    assert libc.mprotect(base + guard * PAGE, PAGE, PROT_NONE) == 0
    offset = pages * PAGE - array.nbytes if side == "after" else PAGE
    copy = np.frombuffer(buffer, array.dtype, array.size, offset).reshape(array.shape)
    copy[...] = array
    return copy

rng = np.random.default_rng(0)
cases = 0
for dtype, side, threads in itertools.product((np.float32, np.float64), ("after", "before"), (1, 2)):
    for op, c_in, c_out, groups, shape, kernel, kwargs in {calls}:
        x = rng.standard_normal((1, c_in) + shape).astype(dtype)
        w = rng.standard_normal((c_out, c_in // groups) + kernel).astype(dtype)
        got = op(guarded(x, side), w, groups=groups, num_threads=threads, **kwargs)
        assert np.array_equal(got, op(x, w, groups=groups, num_threads=threads, **kwargs))
        cases += 1
print("ok", cases)
"""

GUARDED_CALLS = [
    # thin kernel, read in place between padded edges (conv1d, depthwise)
    (fd_op, 3, 3, 3, (length,), (3,), dict(dilation=5, padding=padding))
    for fd_op in ["fd.conv1d"]
    for length in (95, 96, 97, 191, 192, 193, 1000, 4097)
    for padding in (0, (7, 0), (0, 7), "same")
] + [
    # dense kernel: runs and single vectors of one row; rows of three in 2-D
    ("fd.conv1d", 4, 16, 1, (length,), (3,), dict(dilation=3, padding=padding))
    for length in (47, 48, 49, 1000) for padding in (0, "same")
] + [
    ("fd.conv2d", 4, 16, 1, (7, width), (3, 3), dict(dilation=2, padding=padding))
    for width in (15, 16, 17, 49, 100) for padding in (0, "same")
] + [
    # dense kernel with a part-zero channel block (any C_out // groups)
    ("fd.conv1d", 6, c_out, groups, (length,), (3,), dict(dilation=3, padding=padding))
    for c_out, groups in ((5, 1), (6, 2), (27, 3)) for length in (47, 49) for padding in (0, "same")
] + [
    ("fd.conv2d", 4, 13, 1, (7, width), (3, 3), dict(dilation=2, padding=padding))
    for width in (15, 17) for padding in (0, "same")
] + [
    # dense kernel, a group's last 1-7 channels in blocks of 1-4 rows (few outputs)
    (op, 34, c_out, groups, shape, kernel, dict(dilation=2, padding=padding))
    for c_out, groups in ((2, 1), (3, 1), (6, 2), (7, 1)) for padding in (0, "same")
    for op, shape, kernel in (("fd.conv1d", (49,), (3,)), ("fd.conv2d", (7, 17), (3, 3)))
] + [
    # dense 2-D tiles that keep their columns: every mode's padding, and
    # zero padding past the image whose kernel rows are left unread
    ("fd.conv2d", 3, 16, 1, (9, width), (3, 3), dict(dilation=(4, 2), padding=(5, 3),
                                                      padding_mode=mode))
    for width in (5, 17) for mode in ("zeros", "reflect", "replicate", "circular")
] + [
    ("fd.conv2d", 3, 16, 1, (6, 10), (3, 3), dict(dilation=(9, 1), stride=(1, 2),
                                                   padding=(17, 2)))
] + [
    # depthwise 2-D kernel: bands of padded rows, vector columns of a block of rows
    ("fd.conv2d", 3, 3, 3, (13, width), (3, 3), dict(dilation=2, padding=padding))
    for width in (7, 8, 9, 33, 100) for padding in (0, "same")
] + [
    ("fd.conv2d", 2, 2, 2, (20, 31), (3, 2), dict(stride=(2, 3), dilation=(3, 2), padding=1)),
    ("fd.conv2d", 1, 1, 1, (40, 17), (3, 3), dict(dilation=4, padding=(5, 2),
                                                    padding_mode="reflect")),
] + [
    ("fd.conv1d", 2, 2, 2, (1001,), (3,), dict(stride=2, dilation=4)),
    ("fd.conv1d", 2, 16, 1, (1001,), (3,), dict(stride=3, dilation=4, padding=5)),
]


def test_no_kernel_reads_outside_the_input():
    if not hasattr(__import__("mmap"), "PROT_READ"):
        pytest.skip("needs mmap with page protection (POSIX)")
    calls = "[" + ", ".join(
        f"({op}, {c_in}, {c_out}, {groups}, {shape}, {kernel}, {kwargs!r})"
        for op, c_in, c_out, groups, shape, kernel, kwargs in GUARDED_CALLS) + "]"
    returncode, stdout, stderr = run_isolated(GUARDED_CHILD.replace("{calls}", calls))
    assert returncode == 0, f"the child crashed ({returncode}): {stderr[-2000:]}"
    assert stdout == f"ok {8 * len(GUARDED_CALLS)}"
