"""The peers of `fastdilate bench` (fastdilate.bench.peers) agree with
fastdilate and say why they do not apply; the agreement check catches one
wrong product."""
import dataclasses

import numpy as np
import pytest

from bench_support import SMALL_CASES, SMALL_MACS
from fastdilate import reference
from fastdilate.bench import peers as fdb
from fastdilate.bench.cases import Case, CASES, make_inputs, select_cases, shrink


@pytest.mark.parametrize("peer", fdb.PEER_NAMES)
@pytest.mark.parametrize("case", SMALL_CASES)
def test_every_peer_agrees_with_fastdilate(case, peer):
    if peer in ("scipy", "torch"):
        pytest.importorskip(peer)
    x, w = make_inputs(case, seed=3)
    try:
        run = fdb.prepare_runner(peer, case, x, w, threads=1)
    except fdb.NotApplicable:
        assert peer == "scipy" and not (case.ndim == 1 and case.depthwise)
        return
    check = fdb.check_against_fastdilate(case, x, w, 1, run)
    assert check["ok"], check


@pytest.mark.parametrize("case", SMALL_CASES)
def test_numpy_idiom_matches_the_reference_on_its_own(case):
    x, w = make_inputs(case, seed=4)
    conv = reference.conv1d if case.ndim == 1 else reference.conv2d
    expected = conv(x.tolist(), w.tolist(), None, case.stride, case.padding, case.dilation,
                    case.groups)
    np.testing.assert_allclose(fdb.numpy_conv(case, x, w), expected, rtol=1e-4, atol=1e-4)


def test_peers_say_why_they_do_not_apply():
    cases = {case.name: case for case in CASES}
    scipy = next(peer for peer in fdb.PEERS if peer.name == "scipy")
    if scipy.skip_reason(cases["tiny-latency"]) is not None:
        pytest.skip("scipy is not installed")
    assert [name for name, case in cases.items() if scipy.skip_reason(case) is None] == [
        "seed-single", "batched-single", "depthwise-audio", "tiny-latency"]
    with pytest.raises(fdb.NotApplicable, match="correlate1d"):
        fdb.prepare_runner("scipy", cases["strided"], None, None, 1)
    with pytest.raises(fdb.NotApplicable, match="pure Python"):
        fdb.prepare_runner("reference", cases["tcn-dense"], None, None, 1)


def test_torch_kernel_names_the_path_torch_took():
    torch = pytest.importorskip("torch")
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
