"""fastdilate.dask against the in-memory functions: the same bits over any
chunking, the documented output chunks, each output chunk computed once
from exactly the input it reads, causality across seams, the thread policy,
and the same on a dask.distributed cluster of processes."""
import bisect
import itertools
import json

import dask
import dask.array as da
import numpy as np
import pytest
from dask.array.utils import assert_eq
from hypothesis import given, strategies as st

import fastdilate as fd
import fastdilate.dask as fdd
from conftest import PADDING_MODES, assert_bitwise_equal, random_array, run_isolated, sweep


# ---------------------------------------------------------------- helpers
def partition(draw, size, span, stride):
    """Chunk sizes for an axis of ``size``: one chunk, chunks of 1, chunks
    smaller than the halo, irregular, not stride-aligned, a last chunk of 1."""
    kind = draw(st.sampled_from(["single", "ones", "below-halo", "irregular", "misaligned",
                                 "last-one"]))
    if kind == "single" or size == 1:
        return (size,)
    if kind == "ones":
        return (1,) * size
    if kind == "last-one":
        return (size - 1, 1)
    if kind == "misaligned":
        width = stride * draw(st.integers(0, 3)) + draw(st.integers(1, stride)) if stride > 1 \
            else draw(st.integers(2, 7))
        return normalised(width, size)
    high = max(1, span - 1) if kind == "below-halo" else max(2, size // 2)
    chunks, left = [], size
    while left:
        chunks.append(min(draw(st.integers(1, high)), left))
        left -= chunks[-1]
    return tuple(chunks)


def normalised(width, size):
    return (width,) * (size // width) + ((size % width,) if size % width else ())


def padding_for(draw, spatial_dims, span, stride):
    forms = ["int", "pair", "valid"] + (["same"] if stride == 1 else [])
    forms += ["causal"] if spatial_dims == 1 else ["pairs"]
    form = draw(st.sampled_from(forms))
    side = st.integers(0, span + 2)
    if form in ("valid", "same", "causal"):
        return form
    if form == "int":
        return draw(side)
    if form == "pair" or spatial_dims == 1:
        return (draw(side), draw(side))
    return ((draw(side), draw(side)), (draw(side), draw(side)))


@st.composite
def conv_cases(draw, spatial_dims):
    """(input, weight, bias, kwargs, chunks) for a conv1d or conv2d call."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(spatial_dims))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(spatial_dims))
    stride = draw(st.integers(1, 3)) if spatial_dims == 1 else (draw(st.integers(1, 3)),) * 2
    strides = stride if spatial_dims == 2 else (stride,)
    spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
    size = tuple(draw(st.integers(s + 1, s + (30 if spatial_dims == 1 else 12))) for s in spans)
    batch = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = random_array(rng, (batch, c_in) + size, dtype)
    w = random_array(rng, (c_out, c_in // groups) + kernel, dtype)
    b = random_array(rng, (c_out,), dtype) if draw(st.booleans()) else None
    chunks = (partition(draw, batch, 1, 1), (c_in,)) + tuple(
        partition(draw, n, s, st_) for n, s, st_ in zip(size, spans, strides))
    kwargs = dict(stride=stride, dilation=dilation if spatial_dims == 2 else dilation[0],
                  groups=groups, padding=padding_for(draw, spatial_dims, max(spans), strides[0]),
                  padding_mode=draw(st.sampled_from(PADDING_MODES)))
    if draw(st.booleans()):  # unbatched
        x, chunks = x[0], chunks[1:]
    return x, w, b, kwargs, chunks


def check_against_in_memory(op, lazy_op, x, w, b, kwargs, chunks):
    """Bitwise equal to the in-memory call, or the same error at build time."""
    try:
        expected = op(x, w, b, **kwargs)
    except ValueError as error:  # e.g. reflect padding >= the size drawn
        with pytest.raises(ValueError) as lazy_error:
            lazy_op(da.from_array(x, chunks=chunks), w, b, **kwargs)
        assert str(lazy_error.value) == str(error)
        return
    views = da.from_array(x, chunks=chunks)  # chunks that are strided views of x
    for lazy in (views, contiguous(views)):
        got = lazy_op(lazy, w, b, **kwargs)
        assert_eq(got, expected, check_graph=False)  # declared chunks, dtype, values
        assert_bitwise_equal(got.compute(), expected)


def contiguous(lazy):
    """The same array, each chunk a C-contiguous array of its own (as read
    from Zarr): the tasks read their own chunk in place."""
    return lazy.map_blocks(np.copy, dtype=lazy.dtype)


def expected_chunks(chunks, stride, out_size):
    """The documented rule, spelled out: output o goes to the input chunk
    holding sample o * stride (the last chunk past the end); empty dropped."""
    offsets = list(itertools.accumulate(chunks, initial=0))
    counts = [0] * len(chunks)
    for o in range(out_size):
        counts[min(bisect.bisect_right(offsets, o * stride) - 1, len(chunks) - 1)] += 1
    return tuple(c for c in counts if c)


# ------------------------------------------------------------- equality
@sweep(150)
@given(conv_cases(1))
def test_conv1d_equals_in_memory_over_any_chunking(case):
    check_against_in_memory(fd.conv1d, fdd.conv1d, *case)


@sweep(50)
@given(conv_cases(2))
def test_conv2d_equals_in_memory_over_any_chunking(case):
    check_against_in_memory(fd.conv2d, fdd.conv2d, *case)


# "same" needs stride 1 (other strides are an error, tested in test_dask_errors)
PADDINGS_AND_STRIDES = [(padding, stride) for padding in (0, 3, (5, 1), "valid", "same", "causal")
                        for stride in (1, 2, 3) if padding != "same" or stride == 1]


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("padding, stride", PADDINGS_AND_STRIDES, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_every_padding_form_mode_and_stride(mode, padding, stride, dtype):
    rng = np.random.default_rng(stride)
    x, w = random_array(rng, (2, 4, 41), dtype), random_array(rng, (6, 2, 3), dtype)
    b = random_array(rng, (6,), dtype)
    kwargs = dict(stride=stride, padding=padding, dilation=3, groups=2, padding_mode=mode)
    check_against_in_memory(fd.conv1d, fdd.conv1d, x, w, b, kwargs,
                            ((1, 1), (4,), (5, 2, 13, 1, 8, 11, 1)))


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("padding", [0, 2, ((4, 1), (0, 3)), "valid", "same"], ids=repr)
def test_conv2d_both_axes_chunked_corners_included(mode, padding):
    rng = np.random.default_rng(5)
    x = random_array(rng, (2, 2, 17, 19), np.float32)
    w = random_array(rng, (4, 2, 3, 2), np.float32)
    kwargs = dict(padding=padding, dilation=(2, 3), padding_mode=mode)
    check_against_in_memory(fd.conv2d, fdd.conv2d, x, w, None, kwargs,
                            ((2,), (2,), (1, 3, 6, 7), (2, 1, 9, 7)))


@pytest.mark.parametrize("c_in, c_out, groups", [(16, 16, 16), (8, 12, 1), (6, 10, 2), (4, 36, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kernel_family_is_bitwise_equal_across_chunks(c_in, c_out, groups, dtype):
    """Depthwise, dense with a channel remainder, grouped: whichever kernel the
    core picks for the shapes, each output's sum does not depend on the chunk."""
    rng = np.random.default_rng(c_out)
    x2 = random_array(rng, (2, c_in, 23, 29), dtype)
    w2 = random_array(rng, (c_out, c_in // groups, 3, 3), dtype)
    check_against_in_memory(fd.conv2d, fdd.conv2d, x2, w2, None,
                            dict(padding="same", dilation=(2, 3), groups=groups,
                                 padding_mode="reflect"),
                            ((1, 1), (c_in,), (5, 1, 17), (8, 8, 13)))
    x1 = random_array(rng, (2, c_in, 300), dtype)
    w1 = random_array(rng, (c_out, c_in // groups, 3), dtype)
    check_against_in_memory(fd.conv1d, fdd.conv1d, x1, w1, None,
                            dict(padding="causal", dilation=7, groups=groups),
                            ((2,), (c_in,), (64, 1, 100, 135)))


def test_integer_and_float16_input_follow_the_dtype_rules():
    rng = np.random.default_rng(1)
    for x_dtype, w_dtype in [(np.int16, np.float32), (np.float16, np.float32), (bool, np.float64)]:
        x, w = random_array(rng, (1, 2, 30), x_dtype), random_array(rng, (3, 2, 3), w_dtype)
        check_against_in_memory(fd.conv1d, fdd.conv1d, x, w, None,
                                dict(padding="same", padding_mode="reflect"),
                                ((1,), (2,), (4,) * 7 + (2,)))


def test_an_empty_batch():
    x = da.zeros((0, 2, 20), chunks=(1, 2, 6))
    got = fdd.conv1d(x, np.ones((3, 2, 3)), padding="same")
    assert got.shape == (0, 3, 20)
    expected = fd.conv1d(np.zeros((0, 2, 20)), np.ones((3, 2, 3)), padding="same")
    assert_bitwise_equal(got.compute(), expected)


@pytest.mark.parametrize("shape, chunks", [((40,), (7,)), ((3, 40), (2, 1)), ((2, 9), (2, 3))],
                         ids=str)
@pytest.mark.parametrize("kernel_size, dilation", [(3, 4), (1, 50), (5, 1), (3, 40)])
def test_dilated_convolve_1d_equals_in_memory(shape, chunks, kernel_size, dilation):
    rng = np.random.default_rng(2)
    signal, kernel = rng.standard_normal(shape), rng.standard_normal(kernel_size)
    got = fdd.dilated_convolve_1d(da.from_array(signal, chunks=chunks), kernel, dilation)
    expected = fd.dilated_convolve_1d(signal, kernel, dilation)
    assert_eq(got, expected, check_graph=False)
    assert_bitwise_equal(got.compute(), expected)


# ---------------------------------------------------------------- chunks
@pytest.mark.parametrize("chunks", [(10,) * 6, (7, 13, 1, 30, 9), (1,) * 60, (59, 1)], ids=str)
@pytest.mark.parametrize("padding, stride", PADDINGS_AND_STRIDES, ids=repr)
def test_output_chunks_follow_the_documented_rule(chunks, stride, padding):
    x = da.ones((1, 1, 60), chunks=((1,), (1,), chunks))
    got = fdd.conv1d(x, np.ones((1, 1, 4)), stride=stride, padding=padding, dilation=2)
    assert got.chunks[2] == expected_chunks(chunks, stride, got.shape[2])
    assert got.chunks[:2] == ((1,), (1,))


def test_same_and_causal_keep_the_chunks_and_strided_chunks_stay_regular():
    x = da.ones((3, 2, 96), chunks=(2, 2, 24))
    for padding in ("same", "causal"):
        assert fdd.conv1d(x, np.ones((4, 2, 3)), padding=padding, dilation=5).chunks == (
            (2, 1), (4,), (24,) * 4)
    assert fdd.conv1d(x, np.ones((4, 2, 3)), stride=3, padding="causal").chunks[2] == (8,) * 4
    assert fdd.conv1d(x, np.ones((4, 2, 3)), dilation=5).chunks[2] == (24, 24, 24, 14)


def piece_recorder(monkeypatch):
    """Record the (input shape, padding, num_threads) of each in-memory call
    that the tasks make."""
    calls = []
    for name in ("conv1d", "conv2d"):
        real = getattr(fd, name)

        def record(x, *args, _real=real, **kwargs):
            calls.append((x.shape, kwargs["padding"], kwargs["num_threads"]))
            return _real(x, *args, **kwargs)
        monkeypatch.setattr(fdd._api, name, record)
    return calls


@pytest.mark.parametrize("chunks", [(6,) * 10, (1,) * 60, (2, 27, 31)], ids=str)
@pytest.mark.parametrize("stride, padding, mode", [(1, "same", "reflect"), (2, (7, 0), "zeros"),
                                                   (3, 5, "circular"), (1, 0, "replicate")])
def test_each_output_chunk_is_computed_once_from_exactly_what_it_reads(monkeypatch, chunks, stride,
                                                                        padding, mode):
    calls = piece_recorder(monkeypatch)
    x = da.from_array(np.random.default_rng(0).standard_normal((1, 2, 60)), chunks=(1, 2, chunks))
    got = fdd.conv1d(x, np.ones((3, 2, 4)), stride=stride, padding=padding, dilation=3,
                     padding_mode=mode)
    got.compute(scheduler="sync")
    assert len(calls) == len(got.chunks[2])
    read = sorted(shape[2] + sum(pad) for shape, pad, _ in calls)
    needed = sorted((n - 1) * stride + 3 * 3 + 1 for n in got.chunks[2])
    assert read == needed  # the window of its outputs, not one sample more


@pytest.mark.parametrize("chunks", [(20,) * 3, (9, 30, 21), (1, 58, 1)], ids=str)
@pytest.mark.parametrize("stride, padding, mode", [(1, "same", "reflect"), (1, (7, 2), "zeros"),
                                                   (1, "causal", "circular"), (1, 0, "replicate")])
def test_a_contiguous_chunk_is_read_in_place_and_only_the_seams_again(monkeypatch, chunks,
                                                                      stride, padding, mode):
    """The task's call on its own chunk reads the chunk itself (no copy);
    the other calls compute only outputs whose windows reach past it.  (At
    stride 1 every chunk's window covers the chunk; at other strides the
    windows may stop short of its end, and the chunk is copied.)"""
    inputs, computed = [], []

    def record(x, *args, **kwargs):
        inputs.append(x)
        computed.append(fd.conv1d(x, *args, **kwargs))
        return computed[-1]
    monkeypatch.setattr(fdd._api, "conv1d", record)
    blocks = []

    def copy(block):  # each chunk a contiguous array of its own, as read from Zarr
        blocks.append(block.copy())
        return blocks[-1]
    x = np.random.default_rng(0).standard_normal((1, 2, 60))
    lazy = da.from_array(x, chunks=(1, 2, chunks)).map_blocks(copy, dtype=x.dtype)
    w = np.ones((3, 2, 4))
    got = fdd.conv1d(lazy, w, stride=stride, padding=padding, dilation=3, padding_mode=mode)
    assert_bitwise_equal(got.compute(scheduler="sync"),
                         fd.conv1d(x, w, stride=stride, padding=padding, dilation=3,
                                   padding_mode=mode))
    def whole_block(piece):
        return any(piece.shape == b.shape and np.shares_memory(piece, b) for b in blocks)
    in_place = sum(map(whole_block, inputs))
    assert in_place  # at least the chunk of 20 or more in the middle
    seam = -(-9 // stride)  # outputs per side whose windows reach 9 samples past the chunk
    assert sum(y.shape[2] for y in computed) <= got.shape[2] + in_place * 2 * seam


# -------------------------------------------------------------- causality
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("cut", [0, 9, 10, 11, 37, 58])
def test_causal_outputs_never_see_the_future_across_seams(stride, cut):
    rng = np.random.default_rng(cut)
    x = rng.standard_normal((2, 3, 60))
    w = rng.standard_normal((4, 3, 3))
    future = x.copy()
    future[..., cut:] = rng.standard_normal(future[..., cut:].shape)
    chunks = (1, 3, (10, 1, 5, 4, 20, 7, 13))
    before, after = (fdd.conv1d(da.from_array(a, chunks=chunks), w, padding="causal",
                                dilation=4, stride=stride).compute() for a in (x, future))
    past = -(-cut // stride)  # outputs o with o * stride < cut
    assert_bitwise_equal(before[..., :past], after[..., :past])
    assert not np.array_equal(before[..., past:], after[..., past:])


# ---------------------------------------------------------------- threads
def test_one_thread_per_task_under_the_local_schedulers(monkeypatch):
    calls = piece_recorder(monkeypatch)
    x = da.ones((2, 2, 4000), chunks=(1, 2, 1000))
    for scheduler in ("threads", "sync"):
        fdd.conv1d(x, np.ones((8, 2, 3)), padding="same").compute(scheduler=scheduler)
    assert calls and {threads for _, _, threads in calls} == {1}


def test_num_threads_overrides_the_policy(monkeypatch):
    calls = piece_recorder(monkeypatch)
    fdd.conv1d(da.ones((1, 2, 100), chunks=(1, 2, 30)), np.ones((2, 2, 3)),
               num_threads=2).compute()
    assert {threads for _, _, threads in calls} == {2}


# ------------------------------------------------------------ distributed
@pytest.fixture(scope="module")
def client():
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.mark.parametrize("op, lazy_op, shape, w_shape, chunks, kwargs", [
    (fd.conv1d, fdd.conv1d, (3, 4, 101), (6, 2, 3), ((2, 1), (4,), (30, 1, 7, 63)),
     dict(padding="same", dilation=7, groups=2, padding_mode="reflect")),
    (fd.conv1d, fdd.conv1d, (2, 3, 80), (4, 3, 5), ((1, 1), (3,), (9,) * 8 + (8,)),
     dict(padding="causal", stride=2, dilation=3)),
    (fd.conv1d, fdd.conv1d, (1, 2, 50), (2, 2, 2), ((1,), (2,), (1,) * 50),
     dict(padding=(4, 9), padding_mode="circular")),
    (fd.conv2d, fdd.conv2d, (2, 3, 21, 18), (5, 3, 3, 3), ((1, 1), (3,), (4, 10, 7), (5, 13)),
     dict(padding="same", dilation=(2, 3), padding_mode="replicate")),
], ids=["reflect", "causal-strided", "circular-ones", "conv2d-replicate"])
def test_equal_on_a_cluster_of_processes(client, op, lazy_op, shape, w_shape, chunks, kwargs):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    got = client.compute(lazy_op(da.from_array(x, chunks=chunks), w, b, **kwargs)).result()
    assert_bitwise_equal(got, op(x, w, b, **kwargs))


def test_the_thread_policy_in_a_distributed_worker(client):
    # The nanny sets OMP_NUM_THREADS=1: one thread per worker thread.
    assert set(client.run(fdd._task_threads, None).values()) == {1}
    assert set(client.run(fdd._task_threads, 2).values()) == {2}


# ---------------------------------------------------------------- imports
def test_the_module_imports_the_real_dask_and_only_when_called():
    code = """
        import json, sys
        import fastdilate, fastdilate.dask
        before = sorted(m for m in ("dask", "distributed", "zarr") if m in sys.modules)
        import numpy as np, dask, dask.array as da
        fastdilate.dask.conv1d(da.ones((1, 1, 9), chunks=3), np.ones((1, 1, 2))).compute()
        print(json.dumps([before, dask.__file__, "fastdilate" in dask.__file__]))
    """
    returncode, out, err = run_isolated(code)
    assert returncode == 0, err
    before, dask_file, inside = json.loads(out)
    assert before == [] and not inside, (before, dask_file)
