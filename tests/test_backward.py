"""fd.conv1d_backward / fd.conv2d_backward(grad_output, input, weight, stride=1,
padding=0, dilation=1, groups=1, *, padding_mode="zeros",
output_mask=(True, True, True), num_threads=None) -> (grad_input, grad_weight,
grad_bias): the gradients of conv1d/conv2d.

Two oracles: the adjoint identities <conv(x, w), g> = <x, dx(g)> = <w, dw(g)>
(NumPy only, over Hypothesis sweeps), and PyTorch's autograd on PyTorch's own
conv module cases (common_nn's Conv1d/Conv2d tests with their padding-mode
loop, common_methods_invocations' sample_inputs_conv1d/conv2d).  Any thread
count gives the same bits.
"""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import fastdilate as fd
from fastdilate import _backward
from fastdilate._dispatch import core
from conftest import (BAD_ARGUMENT, PADDING_MODES, SERIAL_MACS, TOLERANCE, Unchanged,
                      assert_bitwise_equal, random_array, sweep)

FORWARD = {1: fd.conv1d, 2: fd.conv2d}
BACKWARD = {1: fd.conv1d_backward, 2: fd.conv2d_backward}


def _module(dims, c_in, c_out, kernel, x_shape, stride=1, padding=0, dilation=1, groups=1,
            bias=True, padding_mode="zeros"):
    """A case as nn.Conv{dims}d(c_in, c_out, kernel, ...) on an input of x_shape builds it."""
    kernel = (kernel,) * dims if isinstance(kernel, int) else tuple(kernel)
    return (dims, x_shape, (c_out, c_in // groups) + kernel, bias,
            dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                 padding_mode=padding_mode))


def _sample(dims, x_shape, w_shape, bias, **kwargs):
    """A case as sample_inputs_conv{dims}d lists it (1-tuples as ints)."""
    kwargs = {k: v[0] if isinstance(v, tuple) and len(v) == 1 else v for k, v in kwargs.items()}
    return dims, x_shape, w_shape, bias is not None, kwargs


# torch/testing/_internal/common_nn.py: new_module_tests, Conv1d and Conv2d.
MODULE_CASES = {
    "Conv1d": _module(1, 4, 5, 3, (2, 4, 10)),
    "Conv1d_stride": _module(1, 4, 5, 3, (2, 4, 10), stride=2),
    "Conv1d_pad1": _module(1, 4, 5, 3, (2, 4, 10), padding=1),
    "Conv1d_pad2": _module(1, 4, 5, 5, (2, 4, 10), padding=2),
    "Conv1d_pad1size1": _module(1, 4, 4, 3, (1, 4, 1), padding=1),
    "Conv1d_pad2size1": _module(1, 4, 4, 5, (1, 4, 1), padding=2),
    "Conv1d_zero_batch": _module(1, 4, 5, 3, (0, 4, 10)),
    "Conv1d_dilated": _module(1, 4, 5, 3, (2, 4, 10), dilation=2),
    "Conv1d_groups": _module(1, 4, 6, 3, (2, 4, 6), groups=2),
    "Conv1d_pad_valid": _module(1, 4, 5, 3, (2, 4, 10), padding="valid"),
    "Conv1d_pad_same": _module(1, 4, 5, 3, (2, 4, 10), padding="same"),
    "Conv1d_pad_same2": _module(1, 4, 5, 4, (2, 4, 10), padding="same"),
    "Conv1d_pad_same_dilated": _module(1, 4, 5, 4, (2, 4, 10), padding="same", dilation=2),
    "Conv2d": _module(2, 3, 4, (3, 2), (2, 3, 7, 5)),
    "Conv2d_strided": _module(2, 3, 4, 3, (2, 3, 6, 6), stride=(2, 2)),
    "Conv2d_padding": _module(2, 3, 4, 3, (2, 3, 6, 6), stride=(2, 2), padding=(1, 1)),
    "Conv2d_dilated": _module(2, 3, 2, 3, (2, 3, 8, 8), stride=(2, 2), padding=(1, 1),
                              dilation=(2, 2)),
    "Conv2d_no_bias": _module(2, 3, 4, (3, 2), (2, 3, 6, 5), bias=False),
    "Conv2d_zero_batch": _module(2, 3, 4, (3, 2), (0, 3, 7, 5)),
    "Conv2d_groups": _module(2, 4, 6, (3, 2), (2, 4, 6, 5), groups=2),
    "Conv2d_pad_valid": _module(2, 2, 4, (3, 4), (2, 2, 6, 5), padding="valid"),
    "Conv2d_pad_same": _module(2, 2, 4, (3, 4), (2, 2, 6, 5), padding="same"),
    "Conv2d_pad_same_dilated": _module(2, 2, 4, (3, 4), (2, 2, 6, 5), padding="same",
                                       dilation=2),
    "Conv2d_depthwise": _module(2, 4, 4, 3, (2, 4, 6, 6), groups=4),
    "Conv2d_depthwise_with_multiplier": _module(2, 4, 8, 3, (2, 4, 6, 6), groups=4),
    "Conv2d_depthwise_strided": _module(2, 4, 4, 3, (2, 4, 6, 6), stride=(2, 2), groups=4),
    "Conv2d_depthwise_padded": _module(2, 4, 4, 3, (2, 4, 6, 6), padding=(1, 1), groups=4),
    "Conv2d_depthwise_dilated": _module(2, 4, 4, 2, (2, 4, 5, 5), dilation=(2, 2), groups=4),
}
# ... and its padding-mode loop: Conv{d}d(2, 3, 3, 2, padding=(1, ..., d), padding_mode=mode).
for _mode in ("reflect", "circular", "replicate", "zeros"):
    MODULE_CASES[f"Conv1d_{_mode}_stride2_pad2"] = _module(1, 2, 3, 3, (2, 2, 4), stride=2,
                                                           padding=1, padding_mode=_mode)
    MODULE_CASES[f"Conv2d_{_mode}_stride2_pad2"] = _module(2, 2, 3, 3, (2, 2, 4, 4), stride=2,
                                                           padding=(1, 2), padding_mode=_mode)

# torch/testing/_internal/common_methods_invocations.py: sample_inputs_conv1d/conv2d,
# each batched and unbatched.
_SAMPLES = [
    _sample(1, (1, 3, 4), (3, 3, 3), (3,), stride=(2,), padding=2, groups=1),
    _sample(1, (2, 4, 8), (2, 2, 3), (2,), stride=3, padding=1, groups=2, dilation=2),
    _sample(1, (1, 4, 5), (1, 4, 3), None, stride=(2,), padding="valid"),
    _sample(1, (2, 2, 4), (2, 1, 4), (2,), stride=(1,), padding="same", groups=2, dilation=(2,)),
    _sample(1, (1, 4, 5), (3, 4, 3), None),
    _sample(2, (1, 3, 4, 4), (3, 3, 3, 3), (3,), stride=(2, 2), padding=2, groups=1),
    _sample(2, (2, 4, 8, 8), (2, 2, 3, 3), (2,), stride=(3, 2), padding=(2, 1), groups=2,
            dilation=(4, 4)),
    _sample(2, (1, 4, 5, 5), (1, 4, 2, 3), (1,), stride=2, padding=1, groups=1, dilation=(2, 3)),
    _sample(2, (1, 2, 4, 3), (4, 2, 3, 4), None, stride=2, padding=1, groups=1),
    _sample(2, (1, 4, 5, 5), (1, 4, 2, 3), (1,), stride=2, padding="valid"),
    _sample(2, (1, 4, 5, 5), (1, 4, 2, 3), (1,), stride=1, padding="same", dilation=3),
    _sample(2, (2, 4, 6, 6), (4, 1, 3, 3), (4,), groups=4),
    _sample(2, (2, 4, 6, 6), (8, 1, 3, 3), (8,), groups=4),
    _sample(2, (2, 4, 6, 6), (8, 1, 3, 3), None, groups=4),
    _sample(2, (2, 4, 6, 6), (4, 1, 3, 3), (4,), groups=4, stride=(3, 2)),
    _sample(2, (2, 4, 6, 6), (4, 1, 3, 3), (4,), groups=4, padding=(1, 1)),
    _sample(2, (2, 4, 5, 5), (4, 1, 2, 2), (4,), groups=4, dilation=(2, 2)),
    _sample(2, (2, 4, 6, 5), (6, 2, 3, 2), (6,), groups=2),
    _sample(2, (1, 4, 5, 5), (3, 4, 3, 3), None),
]
SAMPLE_CASES = {}
for _i, (_dims, _x, _w, _b, _kw) in enumerate(_SAMPLES):
    SAMPLE_CASES[f"sample_conv{_dims}d_{_i}"] = (_dims, _x, _w, _b, _kw)
    SAMPLE_CASES[f"sample_conv{_dims}d_{_i}_unbatched"] = (_dims, _x[1:], _w, _b, _kw)
TORCH_CASES = {**MODULE_CASES, **SAMPLE_CASES}


def make_case(case, seed=0, dtype=np.float64):
    """(grad_output, input, weight, kwargs) of a case, grad_output random."""
    dims, x_shape, w_shape, _, kwargs = case
    rng = np.random.default_rng(seed)
    x, w = random_array(rng, x_shape, dtype), random_array(rng, w_shape, dtype)
    g = random_array(rng, FORWARD[dims](x, w, **kwargs).shape, dtype)
    return g, x, w, kwargs


def torch_gradients(torch, dims, g, x, w, kwargs):
    """PyTorch autograd's gradients (float64) of nn.Conv{dims}d with these
    arguments, on the given operands."""
    conv_class = torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d
    c_in = x.shape[-dims - 1]
    module = conv_class(c_in, w.shape[0], w.shape[2:], **kwargs).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.asarray(w, np.float64)))
    x_t = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    module(x_t).backward(torch.from_numpy(np.asarray(g, np.float64)))
    return x_t.grad.numpy(), module.weight.grad.numpy(), module.bias.grad.numpy()


@pytest.fixture(scope="module")
def torch():
    import torch
    return torch


# ------------------------------------------------------- PyTorch autograd
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_pytorch_autograd_on_its_conv_cases(torch, name, dtype):
    dims = TORCH_CASES[name][0]
    g, x, w, kwargs = make_case(TORCH_CASES[name], dtype=dtype)
    untouched = Unchanged(g, x, w)
    got = BACKWARD[dims](g, x, w, **kwargs)
    untouched.check()
    expected = torch_gradients(torch, dims, g, x, w, kwargs)
    # Each gradient is a sum of products: bound the error by the sum of |terms|.
    bounds = torch_gradients(torch, dims, np.abs(g), np.abs(x), np.abs(w), kwargs)
    for value, want, bound, like in zip(got, expected, bounds, (x, w, g[..., :1])):
        assert value.dtype == dtype and value.shape == want.shape and value.flags.c_contiguous
        tolerance = TOLERANCE[np.dtype(dtype)] * (bound + np.finfo(np.float64).tiny)
        assert np.all(np.abs(value - want) <= tolerance), name


def test_inputs_the_last_window_does_not_reach_get_zero_gradient():
    x, w = np.ones((1, 1, 10)), np.ones((1, 1, 3))
    g = np.ones((1, 1, 3))  # stride 3 reads x[0:9]; x[9] is never read
    grad_input, _, _ = fd.conv1d_backward(g, x, w, stride=3)
    assert grad_input.tolist() == [[[1.0] * 9 + [0.0]]]


def test_edge_sums_of_the_padding_modes_by_hand():
    x, w, g = np.arange(4.0).reshape(1, 4), np.ones((1, 1, 1)), np.ones((1, 8))
    sums = {mode: fd.conv1d_backward(g, x, w, padding=2, padding_mode=mode)[0].tolist()
            for mode in PADDING_MODES}
    # padded positions read x at: zeros . . 0 1 2 3 . .; reflect 2 1 0 1 2 3 2 1;
    # replicate 0 0 0 1 2 3 3 3; circular 2 3 0 1 2 3 0 1
    assert sums == {"zeros": [[1, 1, 1, 1]], "reflect": [[1, 3, 3, 1]],
                    "replicate": [[3, 1, 1, 3]], "circular": [[2, 2, 2, 2]]}


# ------------------------------------------------------ adjoint identities
@st.composite
def conv_problems(draw, dims):
    """(grad_output, input, weight, kwargs) over every padding form and mode."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    spatial = tuple(draw(st.integers(1, 12)) for _ in range(dims))
    mode = draw(st.sampled_from(PADDING_MODES))
    forms = [st.integers(0, 4), st.tuples(st.integers(0, 4), st.integers(0, 4)), st.just("valid")]
    if stride == (1,) * dims:
        forms.append(st.just("same"))
    if dims == 1:
        forms.append(st.just("causal"))
    padding = draw(st.one_of(forms))
    if dims == 2 and isinstance(padding, tuple) and draw(st.booleans()):
        padding = (padding, padding[::-1])  # ((top, bottom), (left, right))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    kwargs = dict(stride=stride if dims == 2 else stride[0], padding=padding,
                  dilation=dilation if dims == 2 else dilation[0], groups=groups,
                  padding_mode=mode)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, batch + (c_in,) + spatial)
    w = random_array(rng, (c_out, c_in // groups) + kernel)
    try:
        y = FORWARD[dims](x, w, **kwargs)
    except ValueError:  # empty output, or padding past what the mode allows
        assume(False)
    return random_array(rng, y.shape), x, w, kwargs


def _check_adjoint(dims, g, x, w, kwargs):
    grad_input, grad_weight, grad_bias = BACKWARD[dims](g, x, w, **kwargs)
    value = np.vdot(FORWARD[dims](x, w, **kwargs), g)
    bound = np.vdot(FORWARD[dims](np.abs(x), np.abs(w), **kwargs), np.abs(g))
    tolerance = TOLERANCE[np.dtype(np.float64)] * bound + 1e-300
    assert abs(np.vdot(x, grad_input) - value) <= tolerance
    assert abs(np.vdot(w, grad_weight) - value) <= tolerance
    channels = tuple(i for i in range(g.ndim) if i != g.ndim - dims - 1)
    assert np.allclose(grad_bias, g.sum(axis=channels), rtol=1e-12, atol=1e-12)


@sweep(150)
@given(conv_problems(1))
def test_adjoint_identities_1d(problem):
    _check_adjoint(1, *problem)


@sweep(150)
@given(conv_problems(2))
def test_adjoint_identities_2d(problem):
    _check_adjoint(2, *problem)


@st.composite
def wide_problems(draw):
    """2-D problems for both weight-gradient kernels, channels per group from
    one to over three vectors, with a thread count and a piece size."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    lanes = core.GRAD_WEIGHT_VECTOR_BYTES // np.dtype(dtype).itemsize
    groups = draw(st.integers(1, 2))
    c_group = draw(st.integers(1, 3 * lanes + 1))
    o_group = draw(st.integers(1, 2 * core.GRAD_WEIGHT_CO_BLOCK + 1))
    kernel, stride, dilation = (tuple(draw(st.integers(1, 3)) for _ in range(2)) for _ in "ksd")
    spatial = tuple(draw(st.integers(4, 14)) for _ in range(2))
    mode = draw(st.sampled_from(PADDING_MODES))
    padding = tuple(draw(st.integers(0, 3)) for _ in range(2))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  padding_mode=mode)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_array(rng, (draw(st.integers(1, 3)), groups * c_group) + spatial, dtype)
    w = random_array(rng, (groups * o_group, c_group) + kernel, dtype)
    try:
        y = fd.conv2d(x, w, **kwargs)
    except ValueError:
        assume(False)
    piece_bytes = draw(st.sampled_from([1, 4096, _backward.PIECE_BYTES]))
    thin_items = draw(st.sampled_from([1, 7, _backward.THIN_ITEMS, 10**6]))
    return (random_array(rng, y.shape, dtype), x, w, kwargs, draw(st.integers(1, 3)),
            piece_bytes, thin_items)


@sweep(60)
@given(wide_problems())
def test_blocked_weight_gradient_matches_the_thin_one(problem):
    g, x, w, kwargs, threads, piece_bytes, thin_items = problem
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_backward, "PIECE_BYTES", piece_bytes)
        patch.setattr(_backward, "THIN_ITEMS", thin_items)
        patch.setattr(_backward, "_takes_blocked", lambda c_group, o_group, lanes: True)
        blocked = fd.conv2d_backward(g, x, w, num_threads=threads, **kwargs)[1]
        patch.setattr(_backward, "_takes_blocked", lambda c_group, o_group, lanes: False)
        patch.setattr(_backward, "_grad_weight_blocked", None)  # must not be reached
        thin = fd.conv2d_backward(g, x, w, num_threads=threads, **kwargs)[1]
        assert_bitwise_equal(thin, fd.conv2d_backward(g, x, w, num_threads=1, **kwargs)[1])
    bound = fd.conv2d_backward(np.abs(g), np.abs(x), np.abs(w), **kwargs)[1]
    assert np.all(np.abs(blocked - thin) <= 2 * TOLERANCE[g.dtype] * bound)


# ------------------------------------------------------------ the results
@pytest.mark.parametrize("mask", list(itertools.product([True, False], repeat=3)))
@pytest.mark.parametrize("dims", [1, 2])
def test_output_mask_picks_the_gradients(dims, mask):
    case = TORCH_CASES["Conv1d_groups" if dims == 1 else "Conv2d_reflect_stride2_pad2"]
    g, x, w, kwargs = make_case(case)
    full = BACKWARD[dims](g, x, w, **kwargs)
    got = BACKWARD[dims](g, x, w, output_mask=mask, **kwargs)
    for wanted, value, reference in zip(mask, got, full):
        if wanted:
            assert_bitwise_equal(value, reference)
        else:
            assert value is None


@pytest.mark.parametrize("dims, x_shape, w_shape, kwargs", [
    (1, (3, 24, 700), (24, 24, 3), dict(padding="causal", dilation=4)),
    (1, (4, 8, 9999), (8, 1, 5), dict(stride=3, padding=4, groups=8, padding_mode="reflect")),
    (2, (2, 16, 30, 31), (16, 8, 3, 3), dict(stride=2, padding=2, dilation=2, groups=2,
                                             padding_mode="circular")),
    (2, (1, 6, 40, 40), (6, 6, 3, 2), dict(padding="same", dilation=(1, 3))),
])
def test_bitwise_identical_for_any_thread_count(dims, x_shape, w_shape, kwargs):
    rng = np.random.default_rng(3)
    x, w = random_array(rng, x_shape, np.float32), random_array(rng, w_shape, np.float32)
    g = random_array(rng, FORWARD[dims](x, w, **kwargs).shape, np.float32)
    assert g.size * np.prod(w_shape[1:]) > 4 * SERIAL_MACS
    one = BACKWARD[dims](g, x, w, num_threads=1, **kwargs)
    for threads in (2, 3):
        for a, b in zip(one, BACKWARD[dims](g, x, w, num_threads=threads, **kwargs)):
            assert_bitwise_equal(a, b)


@pytest.mark.parametrize("dtypes, expected", [
    ((np.float32,) * 3, np.float32),
    ((np.float16, np.float32, np.float32), np.float32),
    ((np.float32, np.float64, np.float32), np.float64),
    ((np.int64, np.int32, np.bool_), np.float64),
])
def test_dtype_follows_the_forward(dtypes, expected):
    g, x, w, kwargs = make_case(TORCH_CASES["Conv1d_stride"])
    got = fd.conv1d_backward(g.astype(dtypes[0]), x.astype(dtypes[1]), w.astype(dtypes[2]),
                             **kwargs)
    assert all(value.dtype == expected for value in got)


def test_takes_array_likes_and_empty_batches():
    got = fd.conv1d_backward([[[1.0, 1.0]]], [[[1.0, 2.0, 3.0]]], [[[1.0, 10.0]]])
    assert [a.tolist() for a in got] == [[[[1.0, 11.0, 10.0]]], [[[3.0, 5.0]]], [2.0]]
    got = fd.conv2d_backward(np.ones((0, 3, 2, 2)), np.ones((0, 2, 4, 4)), np.ones((3, 2, 3, 3)))
    assert [a.shape for a in got] == [(0, 2, 4, 4), (3, 2, 3, 3), (3,)]
    assert not any(a.any() for a in got)


# ------------------------------------------------------------------ errors
def test_grad_output_of_the_wrong_shape_names_it():
    with pytest.raises(ValueError, match=r"grad_output .*\(2, 5, 8\), got \(2, 5, 9\)"):
        fd.conv1d_backward(np.ones((2, 5, 9)), np.ones((2, 4, 10)), np.ones((5, 4, 3)))
    with pytest.raises(ValueError, match="grad_output"):  # unbatched input, batched grad
        fd.conv2d_backward(np.ones((1, 5, 4, 4)), np.ones((4, 6, 6)), np.ones((5, 4, 3, 3)))


@pytest.mark.parametrize("name", ["grad_output", "input", "weight"])
def test_non_real_operands_name_the_argument(name):
    operands = dict(grad_output=np.ones((1, 1, 2)), input=np.ones((1, 1, 3)),
                    weight=np.ones((1, 1, 2)))
    operands[name] = operands[name] * 1j
    with pytest.raises(TypeError, match=name):
        fd.conv1d_backward(**operands)
    operands[name] = [[object()]]
    with pytest.raises(TypeError, match=name):
        fd.conv1d_backward(**operands)


def test_tensors_off_the_cpu_name_the_argument(torch):
    meta = torch.ones((1, 1, 3), device="meta")
    with pytest.raises(BAD_ARGUMENT, match="input"):
        fd.conv1d_backward(np.ones((1, 1, 2)), meta, np.ones((1, 1, 2)))


@pytest.mark.parametrize("kwargs", [
    dict(stride=0), dict(dilation=-1), dict(groups=3), dict(padding="same", stride=2),
    dict(padding=(1, 2, 3)), dict(padding_mode="wrap"), dict(padding=9, padding_mode="reflect"),
])
def test_geometry_errors_are_the_forwards(kwargs):
    x, w = np.ones((2, 4, 8)), np.ones((6, 2, 3))
    with pytest.raises(BAD_ARGUMENT) as forward:
        fd.conv1d(x, w, **kwargs)
    with pytest.raises(type(forward.value)) as backward:
        fd.conv1d_backward(np.ones((2, 6, 6)), x, w, **kwargs)
    assert str(backward.value) == str(forward.value)


@pytest.mark.parametrize("mask", [(True, True), (1, 1, 1), "yes", None, (True, True, "no")])
def test_bad_output_mask_names_it(mask):
    with pytest.raises(TypeError, match="output_mask"):
        fd.conv1d_backward(np.ones((1, 1, 2)), np.ones((1, 1, 3)), np.ones((1, 1, 2)),
                           output_mask=mask)


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2"])
def test_bad_num_threads_names_it(threads):
    with pytest.raises(BAD_ARGUMENT, match="num_threads"):
        fd.conv2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
                           num_threads=threads)


@pytest.mark.parametrize("mode", ["wrap", ["zeros"], None])
def test_a_bad_padding_mode_is_named(mode):
    with pytest.raises((ValueError, TypeError), match="padding_mode"):
        fd.conv1d_backward(np.ones((1, 1, 2)), np.ones((1, 1, 3)), np.ones((1, 1, 2)),
                           padding_mode=mode)
