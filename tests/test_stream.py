"""fastdilate.stream: any chunking of a stream gives the offline causal
convolution bitwise; states are values; bad chunks and states are refused
and leave the stream as it was."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastdilate as fd
from conftest import BAD_ARGUMENT, sweep
from fastdilate.stream import ConvState, StreamingConv1d, conv1d_step


def _operands(rng, batch, c_in, c_out, groups, kernel, length, dtype, with_bias=True):
    x = rng.standard_normal(batch + (c_in, length)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, kernel)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if with_bias else None
    return x, w, b


def _split(rng, length, largest):
    """Chunk sizes summing to ``length``: empty, single samples and longer runs."""
    sizes = []
    while sum(sizes) < length:
        sizes.append(int(rng.choice([0, 1, int(rng.integers(1, largest + 1))])))
    sizes[-1] -= sum(sizes) - length
    return sizes


def _stream(layer, x, sizes):
    outputs, start = [], 0
    for size in sizes:
        outputs.append(layer(x[..., start:start + size]))
        start += size
    return np.concatenate(outputs, axis=-1)


@sweep(120)
@given(seed=st.integers(0, 2**32 - 1), batched=st.booleans(), groups=st.sampled_from([1, 2, 4]),
       per_group=st.tuples(st.integers(1, 3), st.integers(1, 3)), kernel=st.integers(1, 5),
       dilation=st.integers(1, 9), stride=st.integers(1, 4), length=st.integers(1, 160),
       dtype=st.sampled_from([np.float32, np.float64]), with_bias=st.booleans(),
       num_threads=st.sampled_from([1, 2, 3]))
def test_any_chunking_equals_the_offline_causal_convolution_bitwise(
        seed, batched, groups, per_group, kernel, dilation, stride, length, dtype, with_bias,
        num_threads):
    rng = np.random.default_rng(seed)
    batch = (int(rng.integers(1, 4)),) if batched else ()
    x, w, b = _operands(rng, batch, groups * per_group[0], groups * per_group[1], groups, kernel,
                        length, dtype, with_bias)
    expected = fd.conv1d(x, w, b, stride=stride, dilation=dilation, groups=groups,
                         padding="causal")
    layer = StreamingConv1d(w, b, stride, dilation, groups, num_threads=num_threads)
    got = _stream(layer, x, _split(rng, length, 2 * stride * dilation * kernel))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected, strict=True)


@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunks_large_enough_for_a_thread_team_equal_offline(num_threads, dtype):
    rng = np.random.default_rng(7)
    x, w, b = _operands(rng, (3,), 16, 32, 1, 3, 3000, dtype)
    expected = fd.conv1d(x, w, b, dilation=64, padding="causal", num_threads=1)
    layer = StreamingConv1d(w, b, dilation=64, num_threads=num_threads)
    np.testing.assert_array_equal(_stream(layer, x, [1, 700, 0, 1299, 1000]), expected)


def test_strided_chunks_that_end_off_the_stride_carry_the_phase():
    rng = np.random.default_rng(1)
    x, w, b = _operands(rng, (), 2, 3, 1, 3, 50, np.float64)
    expected = fd.conv1d(x, w, b, stride=3, dilation=2, padding="causal")
    layer = StreamingConv1d(w, b, stride=3, dilation=2)
    sizes = [1, 1, 2, 4, 5, 37]
    got = [layer(x[..., s - n:s]).shape[-1] for s, n in zip(np.cumsum(sizes), sizes)]
    assert got == [1, 0, 1, 1, 2, 12]  # outputs at samples 0, 3, 6, ...
    layer.reset()
    np.testing.assert_array_equal(_stream(layer, x, sizes), expected)


def test_conv1d_step_threads_its_state_and_starts_from_silence():
    rng = np.random.default_rng(2)
    x, w, b = _operands(rng, (2,), 4, 4, 1, 3, 40, np.float32)
    first, state = conv1d_step(x[..., :15], w, b, dilation=3)
    rest, state = conv1d_step(x[..., 15:], w, b, state=state, dilation=3)
    np.testing.assert_array_equal(np.concatenate([first, rest], -1),
                                  fd.conv1d(x, w, b, dilation=3, padding="causal"))
    assert state.history.shape == (2, 4, 6) and not state.history.flags.writeable
    np.testing.assert_array_equal(state.history, x[..., -6:])


def test_an_empty_chunk_returns_no_outputs_and_keeps_the_state():
    rng = np.random.default_rng(3)
    x, w, b = _operands(rng, (), 3, 2, 1, 2, 5, np.float64)
    _, state = conv1d_step(x, w, b)
    out, after = conv1d_step(x[:, :0], w, b, state=state)
    assert out.shape == (2, 0)
    np.testing.assert_array_equal(after.history, state.history)


def test_out_is_filled_and_returned():
    rng = np.random.default_rng(4)
    x, w, b = _operands(rng, (1,), 2, 2, 1, 3, 9, np.float64)
    out = np.empty((1, 2, 9))
    result, _ = conv1d_step(x, w, b, out=out)
    assert result is out
    np.testing.assert_array_equal(out, fd.conv1d(x, w, b, padding="causal"))


def test_a_saved_state_restores_and_forks_the_stream():
    rng = np.random.default_rng(5)
    x, w, b = _operands(rng, (2,), 3, 3, 1, 3, 60, np.float32)
    layer = StreamingConv1d(w, b, dilation=4)
    layer(x[..., :20])
    saved = layer.state
    first = layer(x[..., 20:])
    layer.state = saved
    np.testing.assert_array_equal(layer(x[..., 20:]), first)
    fork = StreamingConv1d(w, b, dilation=4)
    fork.state = saved
    np.testing.assert_array_equal(fork(x[..., 20:]), first)
    layer.reset()
    assert layer.state is None
    np.testing.assert_array_equal(layer(x), fd.conv1d(x, w, b, dilation=4, padding="causal"))


def test_receptive_field():
    assert StreamingConv1d(np.ones((1, 1, 3)), dilation=4).receptive_field == 9
    assert StreamingConv1d(np.ones((1, 1, 1))).receptive_field == 1


# ----------------------------------------------------------------- errors
def _fed_layer():
    rng = np.random.default_rng(6)
    x, w, b = _operands(rng, (2,), 4, 2, 1, 3, 10, np.float32)
    layer = StreamingConv1d(w, b, dilation=2)
    layer(x)
    return layer, x


@pytest.mark.parametrize("chunk, error, words", [
    (np.zeros((2, 3, 5), np.float32), ValueError, "channels"),      # wrong channel count
    (np.zeros((3, 4, 5), np.float32), ValueError, "shape"),         # another batch
    (np.zeros((4, 5), np.float32), ValueError, "shape"),            # unbatched
    (np.zeros((2, 4, 5), np.float64), TypeError, "dtype"),          # another dtype
    (np.zeros((2, 4, 5), np.complex64), TypeError, "input"),        # not real
    (np.zeros((2, 4, 5, 1), np.float32), ValueError, "dimensions"),
])
def test_a_bad_chunk_is_refused_and_leaves_the_state_unchanged(chunk, error, words):
    layer, _ = _fed_layer()
    before = layer.state
    with pytest.raises(error, match=words):
        layer(chunk)
    assert layer.state is before


def test_a_state_from_another_layer_is_refused():
    layer, x = _fed_layer()
    other = StreamingConv1d(np.ones((2, 4, 3), np.float32), dilation=3)
    other(x)
    before = layer.state
    with pytest.raises(ValueError, match="another layer"):
        layer.state = other.state
    with pytest.raises(ValueError, match="another layer"):
        conv1d_step(x, layer.weight, state=other.state, dilation=2)
    with pytest.raises(TypeError, match="ConvState"):
        layer.state = np.zeros((2, 4, 4))
    assert layer.state is before


def test_a_state_for_other_chunks_is_refused():
    layer, x = _fed_layer()
    with pytest.raises(ValueError, match="shape"):
        conv1d_step(x[:1], layer.weight, state=layer.state, dilation=2)


@pytest.mark.parametrize("kwargs, words", [
    ({"stride": 0}, "stride"), ({"dilation": 0}, "dilation"), ({"groups": 3}, "groups"),
    ({"num_threads": 0}, "num_threads"),
])
def test_bad_arguments_name_themselves(kwargs, words):
    x = np.zeros((4, 8))
    w = np.zeros((2, 4, 3))
    with pytest.raises(BAD_ARGUMENT, match=words):
        conv1d_step(x, w, **kwargs)
    with pytest.raises(BAD_ARGUMENT, match=words):
        StreamingConv1d(w, **kwargs)


def test_a_bad_out_is_refused():
    x, w = np.zeros((2, 8)), np.zeros((2, 2, 3))
    with pytest.raises(ValueError, match="out must have shape"):
        conv1d_step(x, w, out=np.empty((2, 7)))
    with pytest.raises(ValueError, match="overlaps"):
        conv1d_step(x, w, out=x)


def test_conv_state_is_exported():
    assert ConvState._fields == ("history", "skip", "layer")
