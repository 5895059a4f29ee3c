"""fastdilate.reference.conv1d/conv2d, the oracle of the contract: the same
arguments, result shapes and errors as the compiled functions, on nested
lists, batched or not.

The oracle is checked against PyTorch (its unbatched inputs included) and
against the NumPy oracle of conftest; every error rule gives the compiled
functions' exception and message.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdilate as fd
from conftest import PADDING_MODES, numpy_conv
from fastdilate import reference

OPS = {1: (reference.conv1d, fd.conv1d), 2: (reference.conv2d, fd.conv2d)}


def as_lists(*arrays):
    return [None if a is None else np.asarray(a).tolist() for a in arrays]


# ------------------------------------------------------------- sweeps
@st.composite
def conv_calls(draw, dims):
    """(x, w, b, kwargs) of a valid call, unbatched half of the time."""
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    size = tuple(draw(st.integers(d * (k - 1) + 1, d * (k - 1) + 5))
                 for k, d in zip(kernel, dilation))
    mode = draw(st.sampled_from(PADDING_MODES))
    limit = min(size) - 1 if mode == "reflect" else min(size)
    forms = ["valid", draw(st.integers(0, limit))]
    if all(s == 1 for s in stride) and (mode != "reflect" or max(
            d * (k - 1) - d * (k - 1) // 2 for k, d in zip(kernel, dilation)) < min(size)):
        forms.append("same")
    padding = draw(st.sampled_from(forms))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    batch = draw(st.sampled_from([None, 1, 2]))
    x = rng.standard_normal(((batch,) if batch else ()) + (c_in,) + size)
    w = rng.standard_normal((c_out, c_in // groups) + kernel)
    b = rng.standard_normal(c_out) if draw(st.booleans()) else None
    pick = (lambda v: v[0]) if dims == 1 else (lambda v: v)
    kwargs = dict(stride=pick(stride), padding=padding, dilation=pick(dilation), groups=groups,
                  padding_mode=mode)
    return x, w, b, kwargs


@pytest.mark.parametrize("dims", [1, 2])
@settings(deadline=None, max_examples=60)
@given(data=st.data())
def test_reference_matches_numpy_batched_or_not(dims, data):
    x, w, b, kwargs = data.draw(conv_calls(dims))
    slow, fast = OPS[dims]
    got = np.array(slow(*as_lists(x, w, b), **kwargs))
    expected = numpy_conv(x, w, b, **kwargs)
    assert got.shape == expected.shape == fast(x, w, b, **kwargs).shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2])
@settings(deadline=None, max_examples=30)
@given(data=st.data())
def test_unbatched_is_the_batch_of_one(dims, data):
    x, w, b, kwargs = data.draw(conv_calls(dims))
    x = x if x.ndim == dims + 1 else x[0]
    slow, _ = OPS[dims]
    unbatched = slow(*as_lists(x, w, b), **kwargs)
    batched = slow(*as_lists(x[np.newaxis], w, b), **kwargs)
    assert unbatched == batched[0]


# -------------------------------------------------- PyTorch's unbatched inputs
# Argument sets of PyTorch's own Conv1d/Conv2d module tests (common_nn), each
# on an unbatched input, for every padding mode the module takes.
TORCH_CASES = [
    (1, (4, 10), (5, 4, 3), dict()),
    (1, (4, 10), (5, 4, 3), dict(stride=2)),
    (1, (4, 10), (5, 4, 3), dict(padding=1)),
    (1, (4, 10), (5, 4, 4), dict(padding="same")),
    (1, (4, 10), (5, 4, 3), dict(padding="same", dilation=2)),
    (1, (4, 10), (4, 1, 3), dict(groups=4)),
    (1, (4, 10), (6, 2, 3), dict(groups=2, dilation=2, padding=2)),
    (2, (3, 7, 5), (4, 3, 3, 2), dict()),
    (2, (3, 7, 5), (4, 3, 3, 3), dict(stride=(2, 2), padding=(1, 1))),
    (2, (3, 7, 6), (4, 3, 3, 2), dict(padding="same", dilation=(2, 1))),
    (2, (4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
    (2, (4, 8, 8), (4, 2, 2, 2), dict(groups=2, dilation=(2, 3), stride=(1, 2))),
]


def torch_module(dims, x, w, b, padding_mode, kwargs):
    """nn.Conv1d/Conv2d (it takes padding_mode) holding w and b, in float64."""
    conv_class = torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d
    module = conv_class(w.shape[1] * kwargs.get("groups", 1), w.shape[0], w.shape[2:],
                        bias=b is not None, padding_mode=padding_mode, dtype=torch.float64,
                        **kwargs)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        if b is not None:
            module.bias.copy_(torch.from_numpy(b))
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("dims, x_shape, w_shape, kwargs", TORCH_CASES, ids=str)
def test_unbatched_matches_pytorch(dims, x_shape, w_shape, kwargs, with_bias, padding_mode):
    rng = np.random.default_rng(len(x_shape) + sum(w_shape))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if with_bias else None
    expected = torch_module(dims, x, w, b, padding_mode, kwargs)
    slow, fast = OPS[dims]
    got = np.array(slow(*as_lists(x, w, b), **kwargs, padding_mode=padding_mode))
    assert got.shape == expected.shape == fast(x, w, b, **kwargs,
                                               padding_mode=padding_mode).shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- errors
X1, W1 = np.ones((2, 4, 10)), np.ones((6, 2, 3))
X2, W2 = np.ones((2, 4, 8, 9)), np.ones((6, 2, 3, 3))
BAD_CALLS = [  # (dims, changes to a valid groups=2 call)
    (1, dict(x=np.ones((10,)))), (1, dict(x=np.ones((1, 2, 4, 10)))),
    (2, dict(x=np.ones((4, 9)))), (1, dict(w=np.ones((6, 2)))), (2, dict(w=np.ones((6, 2, 3)))),
    (1, dict(groups=3)), (1, dict(groups=0)), (2, dict(groups=1.5)), (1, dict(groups=True)),
    (1, dict(w=np.ones((6, 3, 3)))), (2, dict(b=np.ones(5))), (1, dict(b=np.ones((1, 6)))),
    (1, dict(stride=0)), (1, dict(dilation=-1)), (1, dict(stride=1.5)), (1, dict(dilation="2")),
    (1, dict(stride=(1, 1))), (2, dict(stride=(1, 0))), (2, dict(dilation=(1, 1, 1))),
    (1, dict(padding=-1)), (2, dict(padding=(1, 2, 3))), (2, dict(padding=((1, 2), (1,)))),
    (1, dict(padding=(1,))), (1, dict(padding="full")), (2, dict(padding="causal")),
    (1, dict(padding="same", stride=2)), (2, dict(padding=1.0)),
    (1, dict(padding_mode="mirror")), (1, dict(padding_mode="reflect", padding=10)),
    (2, dict(padding_mode="circular", padding=(9, 0))),
    (1, dict(x=np.ones((2, 4, 2)))), (2, dict(x=np.ones((2, 4, 1, 9)))),
    (1, dict(x=np.ones((2, 4, 10)), w=np.ones((6, 2, 3)), dilation=5)),
]


@pytest.mark.parametrize("dims, change", BAD_CALLS, ids=str)
def test_every_error_rule_is_the_compiled_functions(dims, change):
    x, w = (X1, W1) if dims == 1 else (X2, W2)
    args = dict(x=x, w=w, b=None, groups=2) | change
    x, w, b = args.pop("x"), args.pop("w"), args.pop("b")
    slow, fast = OPS[dims]
    with pytest.raises((ValueError, TypeError)) as expected:
        fast(x, w, b, **args)
    with pytest.raises(expected.type) as got:
        slow(*as_lists(x, w, b), **args)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("name, x, w, b, error, words", [
    ("input", [[1.0, 2.0], [3.0]], [[[1.0]]], None, ValueError, "input must be a rectangular"),
    ("input", [[1.0, [2.0]]], [[[1.0]]], None, TypeError, r"input\[0, 1\] must be a real number"),
    ("input", [[1j, 2.0]], [[[1.0]]], None, TypeError, r"input\[0, 0\] must be a real number"),
    ("weight", [[1.0, 2.0]], [[["a"]]], None, TypeError, r"weight\[0, 0, 0\] must be a real"),
    ("bias", [[1.0, 2.0]], [[[1.0]]], [None], TypeError, r"bias\[0\] must be a real number"),
    ("input", 3.0, [[[1.0]]], None, ValueError, "input must have 3 dimensions"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_nested_lists_that_are_not_arrays_of_reals(name, x, w, b, error, words):
    with pytest.raises(error, match=words):
        reference.conv1d(x, w, b)
