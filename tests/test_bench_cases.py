"""The named cases of `fastdilate bench` (fastdilate.bench.cases): their
shapes as the speed issue defines them, reduced sizes, selection."""
import math

import numpy as np
import pytest

from bench_support import SMALL_CASES, SMALL_MACS
from fastdilate.bench import cases as fdb
from fastdilate.bench.peers import prepare_fastdilate
from fastdilate.bench.timing import QUICK


# (input, weight, output shape, dtype, bound) as the speed issue defines each case.
ISSUE_CASES = {
    "seed-single": ((1, 1, 1_000_000), (1, 1, 3), (1, 1, 999_996), "float32", "memory"),
    "batched-single": ((256, 1, 16384), (1, 1, 3), (256, 1, 16376), "float32", "memory"),
    "depthwise-audio": ((8, 64, 16000), (64, 1, 3), (8, 64, 16000), "float32", "memory"),
    "wavenet-dense": ((8, 64, 16000), (64, 64, 2), (8, 64, 16000), "float32", "compute"),
    "tcn-dense": ((16, 128, 4096), (128, 128, 3), (16, 128, 4096), "float32", "compute"),
    "wide-kernel": ((4, 32, 32768), (32, 32, 9), (4, 32, 32736), "float32", "compute"),
    "strided": ((16, 64, 8192), (64, 64, 5), (16, 64, 4090), "float32", "compute"),
    "tcn-dense-f64": ((16, 128, 4096), (128, 128, 3), (16, 128, 4096), "float64", "compute"),
    "conv2d-context": ((1, 64, 128, 128), (64, 64, 3, 3), (1, 64, 128, 128), "float32",
                       "compute"),
    "conv2d-aspp": ((2, 256, 64, 64), (256, 256, 3, 3), (2, 256, 64, 64), "float32", "compute"),
    "tiny-latency": ((1, 1, 256), (1, 1, 3), (1, 1, 252), "float32", "memory"),
}


def test_the_cases_are_the_issues_in_its_order():
    assert fdb.case_names() == list(ISSUE_CASES)


@pytest.mark.parametrize("name", ISSUE_CASES)
def test_case_shapes_dtype_and_bound_match_the_issue(name):
    (case,) = fdb.select_cases(name)
    input_shape, weight_shape, output_shape, dtype, bound = ISSUE_CASES[name]
    assert (case.input_shape, case.weight_shape, case.output_shape) == (
        input_shape, weight_shape, output_shape)
    assert (case.dtype, case.bound) == (dtype, bound)
    assert case.macs == math.prod(output_shape) * math.prod(weight_shape[1:])


def test_case_details_the_shapes_do_not_show():
    cases = {case.name: case for case in fdb.CASES}
    assert cases["seed-single"].api == "seed"
    assert (cases["depthwise-audio"].groups, cases["depthwise-audio"].depthwise) == (64, True)
    assert cases["wavenet-dense"].pads == ((256, 0),)
    assert cases["tcn-dense"].pads == ((16, 16),)
    assert (cases["strided"].stride, cases["strided"].dilation) == (2, 3)
    assert cases["conv2d-aspp"].dilation == 12
    assert cases["seed-single"].bytes_moved == 4 * (1_000_000 + 999_996)


@pytest.mark.parametrize("case", SMALL_CASES)
def test_fastdilate_output_has_the_case_output_shape(case):
    x, w = fdb.make_inputs(case)
    assert (x.shape, w.shape) == (case.input_shape, case.weight_shape)
    assert x.dtype == w.dtype == np.dtype(case.dtype)
    result = prepare_fastdilate(case, x, w, threads=1)()
    if case.api == "seed":  # dilated_convolve_1d takes and returns one signal
        assert result.shape == case.output_shape[-1:]
    else:
        assert result.shape == case.output_shape
    assert result.dtype == np.dtype(case.dtype)


@pytest.mark.parametrize("case", fdb.CASES, ids=fdb.case_names())
def test_shrink_keeps_the_kind_of_case_and_bounds_its_work(case):
    small = fdb.shrink(case, SMALL_MACS)
    kept = ("name", "kernel", "dilation", "padding", "stride", "dtype", "bound", "api")
    assert all(getattr(small, field) == getattr(case, field) for field in kept)
    assert small.depthwise == case.depthwise
    assert min(small.out_size) >= 1 and all(n > s for n, s in zip(small.size, small.spans))
    assert small.macs <= max(SMALL_MACS, fdb.shrink(case, 0).macs)
    assert fdb.shrink(case, math.inf) == case
    assert fdb.reduced(case, case) is None
    assert (fdb.reduced(case, small) is None) == (small == case)


def test_quick_keeps_every_case_name_and_reduces_only_large_cases():
    quick = [fdb.sized(case, QUICK) for case in fdb.CASES]
    assert [case.name for case in quick] == fdb.case_names()
    assert all(case.macs <= QUICK.max_macs or case == fdb.shrink(case, 0) for case in quick)
    memory_bound = [case for case in fdb.CASES if case.bound == fdb.MEMORY_BOUND]
    assert all(fdb.sized(case, QUICK) == case for case in memory_bound)


def test_select_cases_keeps_order_and_drops_repeats():
    chosen = fdb.select_cases(" tcn-dense, seed-single ,tcn-dense")
    assert [case.name for case in chosen] == ["tcn-dense", "seed-single"]
    assert fdb.select_cases(None) == list(fdb.CASES)


@pytest.mark.parametrize("text", ["nope", "tcn-dense,nope", "", ","])
def test_select_cases_refuses_unknown_or_no_names_and_lists_them(text):
    with pytest.raises(ValueError, match="tcn-dense.*tiny-latency"):
        fdb.select_cases(text)
