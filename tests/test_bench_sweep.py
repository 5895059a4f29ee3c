"""The randomised sweep's draws (fastdilate.bench.sweep): a pure function of
the seed, every shape valid for fastdilate and within the caps, and the
distribution spanning what bench/README.md says it does."""
import collections
import math

import numpy as np
import pytest

import fastdilate as fd
from conftest import PADDING_MODES
from fastdilate import _checks
from fastdilate.bench import sweep as fdb
from fastdilate.bench.cases import MEMORY_BOUND

DRAWN = fdb.draw_cases(200, seed=11)


def test_the_same_seed_draws_the_same_shapes_and_another_seed_others():
    assert fdb.draw_cases(40, seed=3) == fdb.draw_cases(40, seed=3)
    assert fdb.draw_cases(40, seed=3) != fdb.draw_cases(40, seed=4)
    # more shapes extend the list: the first ones do not depend on how many follow
    assert fdb.draw_cases(200, seed=11)[:50] == fdb.draw_cases(50, seed=11) == DRAWN[:50]


def test_names_number_the_shapes_and_describe_them():
    assert [case.name.split()[0] for case in DRAWN[:3]] == ["001", "002", "003"]
    assert all(case.name == f"{i:03d} {fdb.describe(case)}" for i, case in enumerate(DRAWN, 1))
    assert len({case.name for case in DRAWN}) == len(DRAWN)


@pytest.mark.parametrize("seed", [0, 1, 11, 12345])
def test_every_drawn_shape_passes_fastdilates_checks_and_the_caps(seed):
    for case in fdb.draw_cases(100, seed):
        geometry = _checks.check_conv("sweep", case.ndim, case.input_shape, case.weight_shape,
                                      None, case.stride, case.padding, case.dilation,
                                      case.groups, case.padding_mode)
        assert geometry.out_shape == case.output_shape
        assert case.macs <= fdb.MAX_MACS and case.bytes_moved <= fdb.MAX_BYTES
        assert case.bound == (MEMORY_BOUND if case.depthwise else "compute")


def test_fastdilate_runs_every_small_drawn_shape_with_the_output_shape_the_case_says():
    small = [case for case in DRAWN if case.bytes_moved < 1 << 20][:60]
    assert len(small) == 60
    for case in small:
        conv = fd.conv1d if case.ndim == 1 else fd.conv2d
        x = np.zeros(case.input_shape, case.dtype)
        w = np.zeros(case.weight_shape, case.dtype)
        out = conv(x, w, stride=case.stride, padding=case.padding, dilation=case.dilation,
                   groups=case.groups, padding_mode=case.padding_mode)
        assert out.shape == case.output_shape and out.dtype == np.dtype(case.dtype)


def test_the_draws_span_the_documented_distribution():
    counts = collections.Counter
    assert set(counts(case.ndim for case in DRAWN)) == {1, 2}
    assert set(counts(case.dtype for case in DRAWN)) == {"float32", "float64"}
    assert set(counts(case.padding_mode for case in DRAWN)) == set(PADDING_MODES)
    forms = {_form(case) for case in DRAWN}
    assert forms == {(1, "valid"), (1, "same"), (1, "causal"), (1, "int"), (1, "pair"),
                     (2, "valid"), (2, "same"), (2, "int"), (2, "pair"), (2, "pairs")}
    kinds = counts("depthwise" if case.depthwise else "grouped" if case.groups > 1 else "dense"
                   for case in DRAWN)
    assert set(kinds) == {"dense", "grouped", "depthwise"}
    channels = [c for case in DRAWN for c in (case.c_in, case.c_out)]
    assert min(channels) == 1 and max(channels) <= 512 and any(c % 2 for c in channels if c > 1)
    kernels = [k for case in DRAWN for k in case.kernels]
    assert min(kernels) == 1 and max(kernels) <= 13 and 3 in kernels
    dilations = [d for case in DRAWN for d in case.dilations]
    strides = [s for case in DRAWN for s in case.strides]
    assert min(dilations) == 1 and 16 < max(dilations) <= 64
    assert set(strides) == {1, 2, 3, 4}
    assert {case.batch for case in DRAWN} <= set(range(1, 33)) and max(
        case.batch for case in DRAWN) > 16
    sizes = [case.bytes_moved for case in DRAWN]
    assert min(sizes) < 10_000 and max(sizes) > 10 << 20  # from tiny to tens of MB


def _form(case):
    padding = case.padding
    if isinstance(padding, str):
        return case.ndim, padding
    if isinstance(padding, int):
        return case.ndim, "int"
    return case.ndim, "pairs" if isinstance(padding[0], tuple) else "pair"


def test_log_int_stays_in_its_bounds_and_reaches_both():
    rng = np.random.default_rng(0)
    draws = [fdb._log_int(rng, 1, 13) for _ in range(2000)]
    assert min(draws) == 1 and max(draws) == 13
    # log-uniform: about as many draws in [1, 3] as in [4, 13] (log 4 / log 14 ~ 0.53)
    assert abs(sum(d <= 3 for d in draws) / len(draws) - math.log(4) / math.log(14)) < 0.05


def test_describe_shows_every_padding_form():
    texts = {_form(case): fdb.describe(case).split()[-1] for case in DRAWN
             if case.padding_mode == "zeros" and case.dtype == "float32"}
    assert texts[(1, "same")] == "same" and texts[(2, "valid")] == "valid"
    assert texts[(1, "int")].startswith("p") and ":" in texts[(1, "pair")]
    assert "," in texts[(2, "pair")] and texts[(2, "pairs")].count(":") == 2
