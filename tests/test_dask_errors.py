"""fastdilate.dask raises the in-memory errors, with the same messages, when
the graph is built: the in-memory error tests of test_errors.py run again
here with ``fd`` and ``CASES`` swapped for the Dask front end, each call
checked against the in-memory one.  Then the Dask-only rules."""
import types

import dask
import dask.array as da
import numpy as np
import pytest

import fastdilate as fd
import fastdilate.dask as fdd
import test_errors
from conftest import run_isolated
from test_errors import (  # noqa: F401  (collected again here, on Dask arrays)
    test_bias_must_have_shape_c_out, test_causal_padding_is_for_conv1d_only,
    test_circular_padding_must_not_exceed_the_input, test_conv1d_stride_and_dilation_take_no_pair,
    test_conv2d_padding_pairs_of_the_wrong_type, test_conv2d_stride_and_dilation_pairs,
    test_dilated_convolve_1d_dilation, test_dilated_convolve_1d_kernel_must_be_1d_and_non_empty,
    test_dilated_convolve_1d_non_real_dtypes, test_dilated_convolve_1d_signal_must_be_1d_or_2d,
    test_empty_conv1d_output_is_an_error_that_gives_the_numbers,
    test_empty_conv2d_output_on_one_axis_gives_the_numbers, test_groups_below_1,
    test_groups_must_divide_input_and_output_channels, test_groups_not_an_int,
    test_input_with_the_wrong_number_of_dimensions, test_negative_padding,
    test_negative_padding_in_a_tuple, test_non_real_dtypes_are_a_type_error,
    test_num_threads_below_1, test_num_threads_checked_even_when_the_output_is_empty,
    test_num_threads_not_an_int, test_numpy_integer_scalars_are_ints,
    test_padding_of_the_wrong_type, test_padding_tuple_of_the_wrong_length,
    test_python_complex_and_string_lists_are_a_type_error,
    test_reflect_padding_must_be_smaller_than_the_input,
    test_same_and_causal_padding_obey_the_mode_limits_too, test_same_padding_needs_stride_1,
    test_same_padding_needs_stride_1_on_both_axes, test_stride_and_dilation_below_1,
    test_stride_and_dilation_not_an_int, test_the_valid_baseline_calls_work,
    test_unknown_padding_mode, test_unknown_padding_string,
    test_weight_shape_1_must_be_input_channels_over_groups,
    test_weight_with_the_wrong_number_of_dimensions)


def as_dask(value):
    """The first operand as a Dask array, its last axis in chunks of 4."""
    array = np.asarray(value)
    return da.from_array(array, chunks={array.ndim - 1: 4} if array.ndim else -1)


def same_as_in_memory(in_memory, lazy, first):
    """``lazy`` on Dask input, checked against ``in_memory``: the same error
    (type and message) raised while building the graph, or the same bits."""
    def call(*args, **kwargs):
        if args:
            value, args = args[0], args[1:]
        else:
            value = kwargs.pop(first)
        try:
            expected = in_memory(value, *args, **kwargs)
        except (ValueError, TypeError) as error:
            expected = error
        try:
            graph = lazy(as_dask(value), *args, **kwargs)
        except (ValueError, TypeError) as error:
            assert type(error) is type(expected), (error, expected)
            assert str(error) == str(expected)
            raise
        assert not isinstance(expected, Exception), f"expected {expected!r}"
        got = graph.compute(scheduler="sync")
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
        return got
    return call


@pytest.fixture(autouse=True)
def dask_front_end(monkeypatch):
    lazy = types.SimpleNamespace(
        conv1d=same_as_in_memory(fd.conv1d, fdd.conv1d, "input"),
        conv2d=same_as_in_memory(fd.conv2d, fdd.conv2d, "input"),
        dilated_convolve_1d=same_as_in_memory(fd.dilated_convolve_1d, fdd.dilated_convolve_1d,
                                              "signal"))
    monkeypatch.setattr(test_errors, "fd", lazy)
    monkeypatch.setattr(test_errors, "CASES", {op: (getattr(lazy, op), x, w)
                                               for op, (_, x, w) in test_errors.CASES.items()})


# ------------------------------------------------------ Dask-only rules
X = da.ones((2, 4, 30), chunks=(1, 4, 7))
W = np.ones((3, 4, 3))


def test_a_chunked_channel_axis_is_an_error_unless_rechunk_is_asked():
    x = X.rechunk((1, 2, 7))
    with pytest.raises(ValueError, match=r"channel axis \(axis 1\) must be one chunk"):
        fdd.conv1d(x, W)
    with pytest.raises(ValueError, match=r"channel axis \(axis 0\) must be one chunk"):
        fdd.conv1d(x[0], W)
    got = fdd.conv1d(x, W, padding="same", rechunk=True)
    assert got.chunks == ((1, 1), (3,), (7, 7, 7, 7, 2))
    assert np.array_equal(got.compute(), fd.conv1d(np.ones((2, 4, 30)), W, padding="same"))


def test_a_chunked_channel_axis_in_2d():
    x = da.ones((1, 4, 9, 9), chunks=(1, 3, 4, 4))
    with pytest.raises(ValueError, match="channel axis"):
        fdd.conv2d(x, np.ones((2, 4, 3, 3)))


def test_unknown_chunk_sizes_are_an_error():
    x = da.ones((2, 4, 30), chunks=(1, 4, 7))
    unknown = x[:, :, x[0, 0] > 0]  # boolean indexing: nan chunk sizes
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fdd.conv1d(unknown, W)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fdd.dilated_convolve_1d(unknown[0, 0], np.ones(3))
    known = unknown.compute_chunk_sizes()
    assert np.array_equal(fdd.conv1d(known, W).compute(), fd.conv1d(np.ones((2, 4, 30)), W))


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_weight_and_bias_must_be_concrete(name):
    args = {"weight": W, "bias": np.ones(3)}
    args[name] = da.from_array(args[name])
    with pytest.raises(TypeError, match=f"{name} must be a concrete array"):
        fdd.conv1d(X, **args)


def test_the_kernel_must_be_concrete():
    with pytest.raises(TypeError, match="kernel must be a concrete array"):
        fdd.dilated_convolve_1d(da.ones(10), da.ones(3))


@pytest.mark.parametrize("value", [np.ones((2, 4, 30)), [[[1.0, 2.0, 3.0]]], None], ids=repr)
def test_the_input_must_be_a_dask_array(value):
    with pytest.raises(TypeError, match="input must be a dask.array.Array"):
        fdd.conv1d(value, W)
    with pytest.raises(TypeError, match="signal must be a dask.array.Array"):
        fdd.dilated_convolve_1d(value, np.ones(3))



@pytest.mark.parametrize("name, value", [("weight", [[[1.0], [1.0, 2.0]]]), ("bias", [[1.0], 2.0])],
                         ids=str)
def test_ragged_weight_and_bias_lists(name, value):
    args = dict(weight=np.ones((2, 2, 1)), bias=np.ones(2)) | {name: value}
    with pytest.raises((ValueError, TypeError)) as expected:
        fd.conv1d(np.ones((1, 2, 5)), **args)
    with pytest.raises(type(expected.value), match=name) as got:
        fdd.conv1d(da.ones((1, 2, 5), chunks=2), **args)
    assert str(got.value) == str(expected.value)


# The in-memory adversarial calls (huge strides, dilations and paddings, empty
# axes...), each on a Dask array with its spatial axes cut in three: the same
# outcome, never a crash.  (The calls with ``out`` have no Dask form.)
DASK_CHILD = test_errors.CHILD.replace("import fastdilate as fd\n", """\
import dask.array as da
import fastdilate
import fastdilate.dask


class fd:
    def _lazy(name, spatial):
        def call(x, *args, **kwargs):
            x = np.asarray(x)
            chunks = dict((axis, max(1, x.shape[axis] // 3))
                          for axis in range(x.ndim - spatial, x.ndim))
            lazy = getattr(fastdilate.dask, name)(da.from_array(x, chunks=chunks), *args, **kwargs)
            return lazy.compute(scheduler="sync")
        return staticmethod(call)
    conv1d, conv2d = _lazy("conv1d", 1), _lazy("conv2d", 2)
    dilated_convolve_1d = _lazy("dilated_convolve_1d", 1)
""")


@pytest.mark.parametrize("name", [name for name, (code, _) in test_errors.ADVERSARIAL.items()
                                  if "out=" not in code])
def test_adversarial_calls_in_a_subprocess(name):
    code, accepted = test_errors.ADVERSARIAL[name]
    returncode, stdout, stderr = run_isolated(DASK_CHILD.format(call=code))
    assert returncode == 0, f"the child crashed ({returncode}): {stderr[-2000:]}"
    assert stdout in accepted, f"{code} printed {stdout!r}; expected one of {accepted}"
