"""Unaligned operands: C-contiguous arrays at an odd address (np.frombuffer at
an odd offset, a packed record's field, a frame a Dask worker received).
The core reads through typed pointers, so every front end hands it an
aligned copy: the results equal those from aligned arrays bit for bit, the
inputs are untouched, an unaligned ``out`` is refused, and the core itself
refuses an unaligned operand.  (The convolution and dilated_convolve_1d
sweeps take "unaligned" as one of their layouts.)"""
import dask.array as da
import numpy as np
import pytest

import fastdilate as fd
import fastdilate.dask as fdd
from conftest import Unchanged, arrays_of, assert_bitwise_equal, unaligned
from fastdilate import _api, stream, wavelets
from fastdilate.models import WaveNet
from fastdilate.models.nam import random_a1_nam


def random(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_same_from_unaligned(run, *operands):
    """run(*operands) from unaligned copies equals run(*operands), and
    leaves the copies as they were."""
    copies = [unaligned(a) for a in operands]
    untouched = Unchanged(*copies)
    got, expected = run(*copies), run(*operands)
    untouched.check()
    got, expected = arrays_of(got), arrays_of(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_bitwise_equal(g, e)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask", [(True, True, True), (True, False, False), (False, True, False)])
@pytest.mark.parametrize("forward, backward, x_shape, w_shape, kwargs", [
    (fd.conv1d, fd.conv1d_backward, (2, 4, 40), (6, 2, 3),
     dict(stride=2, padding=(4, 1), dilation=3, groups=2)),
    (fd.conv2d, fd.conv2d_backward, (1, 3, 9, 11), (5, 3, 3, 2),
     dict(padding="same", dilation=2, padding_mode="reflect")),
])
def test_conv_backward(dtype, mask, forward, backward, x_shape, w_shape, kwargs):
    x, w = random(x_shape, 1, dtype), random(w_shape, 2, dtype)
    g = random(forward(x, w, **kwargs).shape, 3, dtype)
    assert_same_from_unaligned(
        lambda g, x, w: [a for a in backward(g, x, w, output_mask=mask, **kwargs)
                         if a is not None], g, x, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_conv(dtype):
    x, w, b = random((2, 3, 50), 1, dtype), random((4, 3, 3), 2, dtype), random(4, 3, dtype)
    first, state = stream.conv1d_step(x[..., :20], w, b, dilation=5)

    def step(x, w, b, history):
        return stream.conv1d_step(x, w, b, state=state._replace(history=history), dilation=5)

    assert_same_from_unaligned(lambda *a: step(*a)[0], x[..., 20:], w, b, state.history)
    layer = stream.StreamingConv1d(unaligned(w), unaligned(b), dilation=5)
    assert_bitwise_equal(np.concatenate([layer(unaligned(x[..., :20])),
                                         layer(unaligned(x[..., 20:]))], -1),
                         np.concatenate([first, step(x[..., 20:], w, b, state.history)[0]], -1))


def test_wavenet_offline_and_streamed():
    net = WaveNet.from_nam(random_a1_nam("nano", seed=1))
    x = random((2, 300), 2, np.float32)
    assert_same_from_unaligned(net, x)
    expected = net(x[:1])
    net.prepare(64)
    blocks = [net.stream(unaligned(x[0, i:i + 64])).copy() for i in range(0, 300, 64)]
    assert_bitwise_equal(np.concatenate(blocks), expected[0])
    net.reset()
    with pytest.raises(ValueError, match="out must be a writeable, aligned"):
        net.stream(x[0, :64], out=unaligned(np.zeros(64, np.float32)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_wavelets(dtype):
    x = random((3, 64), 1, np.float64).astype(dtype)
    assert_same_from_unaligned(lambda x: wavelets.swt(x, "db2", level=3), x)
    coeffs = wavelets.swt(x, "db2", level=3)
    flat = [a for pair in coeffs for a in pair]
    assert_same_from_unaligned(
        lambda *f: wavelets.iswt([(f[i], f[i + 1]) for i in range(0, len(f), 2)], "db2"), *flat)
    image = random((32, 32), 2, np.float64).astype(dtype)
    assert_same_from_unaligned(lambda x: wavelets.swt2(x, "haar", level=2), image)
    if dtype != np.complex128:
        assert_same_from_unaligned(lambda x: wavelets.starlet(x, 3), image)
        planes = wavelets.starlet(image, 3)
        assert_same_from_unaligned(lambda p: wavelets.istarlet(p), planes)


def test_dask_chunks():
    x, w = random((2, 3, 90), 1), random((4, 3, 3), 2)
    chunks = da.from_array(x, chunks=(1, 3, 25)).map_blocks(unaligned, dtype=x.dtype)
    got = fdd.conv1d(chunks, w, padding="same", dilation=4).compute(scheduler="sync")
    assert_bitwise_equal(got, fd.conv1d(x, w, padding="same", dilation=4))


@pytest.mark.parametrize("op, shape", [(fd.conv1d, (2, 3, 20)), (fd.conv2d, (1, 3, 6, 7))])
def test_unaligned_out_is_refused(op, shape):
    x, w = random(shape), random((4, 3) + (2,) * (len(shape) - 2))
    out = unaligned(np.zeros(op(x, w).shape))
    with pytest.raises(ValueError, match="out must be a writeable, aligned, C-contiguous"):
        op(x, w, out=out)


def test_the_core_refuses_an_unaligned_operand():
    # The last line of defence, should a front end ever pass one through.
    x, w = random((1, 3, 1, 20)), random((4, 3, 1, 3))
    plan = _api.core_plan(np.dtype(np.float64), x.shape, w.shape, (1, 4, 1, 18), (1, 1), (1, 1),
                          (0, 0), "zeros", 1, 1)
    out = np.zeros((1, 4, 1, 18))
    _api.run_core(plan, x, w, None, out)  # aligned: runs
    for operands in ((unaligned(x), w, out), (x, unaligned(w), out), (x, w, unaligned(out))):
        with pytest.raises(ValueError, match="aligned C-contiguous"):
            _api.run_core(plan, operands[0], operands[1], None, operands[2])


def test_torch_front_end():
    # torch.from_numpy and torch.frombuffer keep an odd address as it is.
    import torch

    import fastdilate.torch as fdt

    x, w, b = random((2, 3, 30), 1), random((4, 3, 3), 2), random(4, 3)

    def forward_and_grads(x, w, b):
        x, w, b = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        y = fdt.conv1d(x, w, b, padding=2, dilation=2)
        y.backward(torch.ones_like(y))
        return [t.detach().numpy() for t in (y, x.grad, w.grad, b.grad)]

    assert_same_from_unaligned(forward_and_grads, x, w, b)
