"""The peers of `fastdilate bench` (fastdilate.bench.peers) agree with
fastdilate on the named cases and with the pure-Python reference on every
padding form and mode, stride, dilation, groups and dtype; they say why they
do not apply; the agreement check catches one wrong product."""
import dataclasses
import itertools
import os

import numpy as np
import pytest

from bench_support import SMALL_CASES, SMALL_MACS
from conftest import PADDING_MODES
from fastdilate import reference
from fastdilate.bench import peers as fdb
from fastdilate.bench.cases import Case, CASES, make_inputs, select_cases, shrink

# Why a peer declines a case, as a pattern of its NotApplicable message; a
# peer declining anything else fails the tests.
DECLINES = {
    "scipy": ("correlate1d", lambda case: not (
        case.ndim == 1 and case.depthwise and case.strides == (1,)
        and sum(case.pads[0]) <= case.spans[0])),
    "onnxruntime": ("float32 only", lambda case: case.dtype != "float32"),
    "reference": ("pure Python", lambda case: case.macs > fdb.REFERENCE_MAX_MACS[case.api]),
}


def declined(peer, case):
    """The pattern of the reason ``peer`` must give for not running ``case``, or None."""
    pattern, declines = DECLINES.get(peer, (None, lambda case: False))
    return pattern if declines(case) else None


def runner_unless_declined(peer, case, x, w):
    """The peer's call on (x, w) at one thread; None where it must decline
    the case, having checked that it does, and why."""
    if declined(peer, case):
        with pytest.raises(fdb.NotApplicable, match=declined(peer, case)):
            fdb.prepare_runner(peer, case, x, w, threads=1)
        return None
    return fdb.prepare_runner(peer, case, x, w, threads=1)


@pytest.mark.parametrize("peer", fdb.PEER_NAMES)
@pytest.mark.parametrize("case", SMALL_CASES)
def test_every_peer_agrees_with_fastdilate(case, peer):
    x, w = make_inputs(case, seed=3)
    run = runner_unless_declined(peer, case, x, w)
    if run is None:
        return
    check = fdb.check_against_fastdilate(case, x, w, 1, run)
    assert check["ok"], check


@pytest.mark.parametrize("case", SMALL_CASES)
def test_numpy_idiom_matches_the_reference_on_its_own(case):
    x, w = make_inputs(case, seed=4)
    conv = reference.conv1d if case.ndim == 1 else reference.conv2d
    expected = conv(x.tolist(), w.tolist(), None, case.stride, case.padding, case.dilation,
                    case.groups, case.padding_mode)
    np.testing.assert_allclose(fdb.numpy_conv(case, x, w), expected, rtol=1e-4, atol=1e-4)


def test_peers_say_why_they_do_not_apply():
    cases = {case.name: case for case in CASES}
    scipy = next(peer for peer in fdb.PEERS if peer.name == "scipy")
    assert [name for name, case in cases.items() if scipy.skip_reason(case) is None] == [
        "seed-single", "batched-single", "depthwise-audio", "tiny-latency"]
    with pytest.raises(fdb.NotApplicable, match="correlate1d"):
        fdb.prepare_runner("scipy", cases["strided"], None, None, 1)
    with pytest.raises(fdb.NotApplicable, match="pure Python"):
        fdb.prepare_runner("reference", cases["tcn-dense"], None, None, 1)


def test_torch_kernel_names_the_path_torch_took():
    import torch

    (case,) = select_cases("tcn-dense-f64")
    small = shrink(case, SMALL_MACS)
    x, w = make_inputs(small)
    facts = fdb.torch_kernel(fdb.prepare_runner("torch", small, x, w, 1))
    assert facts["path"] in set(fdb.TORCH_KERNELS.values())
    if torch.__version__.startswith("2.13."):  # float64 never goes through oneDNN
        assert facts == {"path": "slow_conv_dilated", "op": "aten::slow_conv_dilated2d"}


def test_agreement_catches_one_missing_product_among_thousands():
    case = Case("wide", batch=1, c_in=256, c_out=2, size=(8, 8), kernel=3, dilation=1)
    assert case.taps == 2304
    x, w = make_inputs(case)
    expected, scale = fdb.expected_output(case, x, w, 1)
    assert fdb.agreement(case, expected.astype(np.float32), expected, scale)["ok"]
    broken = w.copy()
    broken[0, 100, 1, 1] = 0.0
    got = fdb.prepare_fastdilate(case, x, broken, 1)()
    check = fdb.agreement(case, got, expected, scale)
    assert not check["ok"] and check["max_error"] > check["tolerance"]


def test_agreement_refuses_a_wrong_shape_and_nan():
    (case,) = select_cases("tiny-latency")
    x, w = make_inputs(case)
    expected, scale = fdb.expected_output(case, x, w, 1)
    assert not fdb.agreement(case, expected[..., :-1], expected, scale)["ok"]
    poisoned = expected.copy()
    poisoned[0, 0, 5] = np.nan
    assert not fdb.agreement(case, poisoned, expected, scale)["ok"]


def test_tolerance_follows_dtype_and_taps():
    (f32,) = select_cases("tcn-dense")
    f64 = dataclasses.replace(f32, dtype="float64")
    assert fdb.tolerance(f64) < 1e-12 < fdb.tolerance(f32) < 1e-4
    assert isinstance(fdb.tolerance(f32), float)


# ------------------------------------------- the peers against the reference
PADDING_FORMS = {1: ("valid", "same", "causal", 2, (1, 3)),
                 2: ("valid", "same", 1, (1, 2), ((0, 2), (1, 0)))}
# (C_in, C_out, groups, stride): dense and strided, grouped, depthwise.
CHANNELS = ((4, 6, 1, 2), (4, 6, 2, 1), (4, 4, 4, 1))


def oracle_cases():
    """Small cases over every padding form and mode, stride, dilation,
    groups and dtype, 1-D and 2-D (2-D with a different kernel, dilation
    and stride per axis)."""
    cases = []
    combos = itertools.product((1, 2), enumerate(PADDING_MODES), range(5))
    for index, (ndim, (mode_index, mode), form) in enumerate(combos):
        # Along the forms of each mode, every kind of channels in turn.
        c_in, c_out, groups, stride = CHANNELS[(form + mode_index) % len(CHANNELS)]
        padding = PADDING_FORMS[ndim][form]
        stride = 1 if padding == "same" else stride
        axes = dict(size=(13,), kernel=3, dilation=2, stride=stride) if ndim == 1 else dict(
            size=(7, 9), kernel=(3, 2), dilation=(2, 1), stride=(stride, 1))
        cases.append(Case(f"{ndim}d-{padding}-{mode}-g{groups}-s{stride}".replace(" ", ""),
                          batch=2, c_in=c_in, c_out=c_out, padding=padding, groups=groups,
                          padding_mode=mode, dtype=("float32", "float64")[index % 2], **axes))
    return cases


ORACLE_CASES = oracle_cases()


def reference_output(case, x, w):
    """(the reference's output, sum |w*x| at each output) as float64 arrays."""
    conv = reference.conv1d if case.ndim == 1 else reference.conv2d
    arguments = (None, case.stride, case.padding, case.dilation, case.groups, case.padding_mode)
    return (np.asarray(conv(x.tolist(), w.tolist(), *arguments)),
            np.asarray(conv(np.abs(x).tolist(), np.abs(w).tolist(), *arguments)))


def test_the_oracle_cases_cover_every_form_mode_and_kind():
    assert {(c.ndim, str(c.padding), c.padding_mode) for c in ORACLE_CASES} == {
        (ndim, str(form), mode) for ndim in (1, 2) for form in PADDING_FORMS[ndim]
        for mode in PADDING_MODES}
    assert {c.dtype for c in ORACLE_CASES} == {"float32", "float64"}
    for mode in PADDING_MODES:
        assert {(c.depthwise, c.groups > 1, max(c.strides) > 1) for c in ORACLE_CASES
                if c.padding_mode == mode and c.ndim == 1} >= {
            (False, False, True), (False, True, False), (True, True, False)}
    for peer in ("scipy", "onnxruntime"):  # each runs some and declines others
        assert len({declined(peer, c) is None for c in ORACLE_CASES}) == 2
    assert {c.padding_mode for c in ORACLE_CASES if declined("scipy", c) is None} == set(
        PADDING_MODES)


@pytest.mark.parametrize("peer", fdb.ENGINES)
@pytest.mark.parametrize("case", ORACLE_CASES, ids=[c.name for c in ORACLE_CASES])
def test_every_engine_agrees_with_the_reference(case, peer):
    x, w = make_inputs(case, seed=5)
    run = runner_unless_declined(peer, case, x, w)
    if run is None:
        return
    got = fdb.as_output(case, run())
    assert got.dtype == np.dtype(case.dtype)
    check = fdb.agreement(case, got, *reference_output(case, x, w))
    assert check["ok"], check


def test_jax_restarts_its_client_for_a_new_thread_count_and_leaves_nproc_alone():
    case = ORACLE_CASES[0]
    x, w = make_inputs(case)
    expected = reference_output(case, x, w)
    before = os.environ.get("NPROC")
    for threads in (1, 2, 1):
        got = fdb.as_output(case, fdb.prepare_runner("jax", case, x, w, threads)())
        assert fdb.agreement(case, got, *expected)["ok"]
        assert fdb._JAX_THREADS["count"] == threads
        assert os.environ.get("NPROC") == before


def test_the_onnx_model_pads_with_a_pad_node_only_for_other_modes():
    zeros, reflect = (next(c for c in ORACLE_CASES if c.padding_mode == mode and c.ndim == 2
                           and c.padding == ((0, 2), (1, 0))) for mode in ("zeros", "reflect"))
    w = make_inputs(zeros)[1]
    conv_only, pad_then_conv = fdb._onnx_model(zeros, w), fdb._onnx_model(reflect, w)
    assert [node.op_type for node in conv_only.graph.node] == ["Conv"]
    assert [node.op_type for node in pad_then_conv.graph.node] == ["Pad", "Conv"]
    (pads,) = [a.ints for a in conv_only.graph.node[0].attribute if a.name == "pads"]
    assert list(pads) == [0, 1, 2, 0]  # begins (top, left), then ends (bottom, right)
