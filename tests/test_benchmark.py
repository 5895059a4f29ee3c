"""The benchmark machinery (fastdilate.benchmark, `fastdilate bench`) on tiny
sizes: case shapes, peers' agreement, checks, parsing, JSON, plot, memory.
Nothing here asserts on a timing."""
import contextlib
import dataclasses
import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from fastdilate import benchmark as fdb
from fastdilate import cli, reference

SMALL_MACS = 5_000

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
SMALL_CASES = [pytest.param(fdb.shrink(case, SMALL_MACS), id=case.name) for case in fdb.CASES]


# ------------------------------------------------------------------ cases
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
    result = fdb.prepare_fastdilate(case, x, w, threads=1)()
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
    assert min(small.out_size) >= 1 and all(n > small.span for n in small.size)
    assert small.macs <= max(SMALL_MACS, fdb.shrink(case, 0).macs)
    assert fdb.shrink(case, math.inf) == case
    assert fdb.reduced(case, case) is None
    assert (fdb.reduced(case, small) is None) == (small == case)


def test_quick_keeps_every_case_name_and_reduces_only_large_cases():
    quick = [fdb.sized(case, fdb.QUICK) for case in fdb.CASES]
    assert [case.name for case in quick] == fdb.case_names()
    assert all(case.macs <= fdb.QUICK.max_macs or case == fdb.shrink(case, 0) for case in quick)
    memory_bound = [case for case in fdb.CASES if case.bound == fdb.MEMORY_BOUND]
    assert all(fdb.sized(case, fdb.QUICK) == case for case in memory_bound)


# ----------------------------------------------------------------- peers
@pytest.mark.parametrize("peer", fdb.PEER_NAMES)
@pytest.mark.parametrize("case", SMALL_CASES)
def test_every_peer_agrees_with_fastdilate(case, peer):
    if peer in ("scipy", "torch"):
        pytest.importorskip(peer)
    x, w = fdb.make_inputs(case, seed=3)
    try:
        run = fdb.prepare_runner(peer, case, x, w, threads=1)
    except fdb.NotApplicable:
        assert peer == "scipy" and not (case.ndim == 1 and case.depthwise)
        return
    check = fdb.check_against_fastdilate(case, x, w, 1, run)
    assert check["ok"], check


@pytest.mark.parametrize("case", SMALL_CASES)
def test_numpy_idiom_matches_the_reference_on_its_own(case):
    x, w = fdb.make_inputs(case, seed=4)
    conv = reference.conv1d if case.ndim == 1 else reference.conv2d
    expected = conv(x.tolist(), w.tolist(), None, case.stride, case.padding, case.dilation,
                    case.groups)
    np.testing.assert_allclose(fdb.numpy_conv(case, x, w), expected, rtol=1e-4, atol=1e-4)


def test_peers_say_why_they_do_not_apply():
    cases = {case.name: case for case in fdb.CASES}
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
    (case,) = fdb.select_cases("tcn-dense-f64")
    small = fdb.shrink(case, SMALL_MACS)
    x, w = fdb.make_inputs(small)
    facts = fdb.torch_kernel(fdb.prepare_runner("torch", small, x, w, 1))
    assert facts["path"] in set(fdb.TORCH_KERNELS.values())
    if torch.__version__.startswith("2.13."):  # float64 never goes through oneDNN
        assert facts == {"path": "slow_conv_dilated", "op": "aten::slow_conv_dilated2d"}


# ------------------------------------------------------------- agreement
def test_agreement_catches_one_missing_product_among_thousands():
    case = fdb.Case("wide", batch=1, c_in=256, c_out=2, size=(8, 8), kernel=3, dilation=1)
    assert case.taps == 2304
    x, w = fdb.make_inputs(case)
    expected, scale = fdb.expected_output(case, x, w, 1)
    assert fdb.agreement(case, expected.astype(np.float32), expected, scale)["ok"]
    broken = w.copy()
    broken[0, 100, 1, 1] = 0.0
    got = fdb.prepare_fastdilate(case, x, broken, 1)()
    check = fdb.agreement(case, got, expected, scale)
    assert not check["ok"] and check["max_error"] > check["tolerance"]


def test_agreement_refuses_a_wrong_shape_and_nan():
    (case,) = fdb.select_cases("tiny-latency")
    x, w = fdb.make_inputs(case)
    expected, scale = fdb.expected_output(case, x, w, 1)
    assert not fdb.agreement(case, expected[..., :-1], expected, scale)["ok"]
    poisoned = expected.copy()
    poisoned[0, 0, 5] = np.nan
    assert not fdb.agreement(case, poisoned, expected, scale)["ok"]


def test_tolerance_follows_dtype_and_taps():
    (f32,) = fdb.select_cases("tcn-dense")
    f64 = dataclasses.replace(f32, dtype="float64")
    assert fdb.tolerance(f64) < 1e-12 < fdb.tolerance(f32) < 1e-4
    assert isinstance(fdb.tolerance(f32), float)


# ----------------------------------------------------------- timing, peaks
def test_time_interleaved_takes_turns_and_keeps_every_repeat():
    calls = []
    runners = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    timings = fdb.time_interleaved(runners, repeats=3, min_sample_seconds=0.0, settle_seconds=0)
    # one calibration call each, then turns of one untimed and one timed call
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert {name: (number, len(samples)) for name, (number, samples) in timings.items()} == {
        "a": (1, 3), "b": (1, 3)}


def test_fast_calls_are_timed_over_many_iterations():
    assert fdb.calls_per_sample(lambda: None, min_sample_seconds=0.01) > 100


def test_throughput_uses_the_peak_that_bounds_the_case():
    peaks = {"matmul_gflops": {"float32": 100.0, "float64": 50.0}, "copy_gbs": 10.0}
    cases = {case.name: case for case in fdb.CASES}
    memory = fdb.throughput(cases["seed-single"], 1e-3, peaks)
    assert memory["peak"] == "copy bandwidth"
    assert memory["percent_of_peak"] == pytest.approx(100 * 4 * 1_999_996 / 1e-3 / 1e9 / 10)
    f64 = fdb.throughput(cases["tcn-dense-f64"], 1.0, peaks)
    assert f64["peak"] == "float64 matmul"
    assert f64["gflops"] == pytest.approx(2 * cases["tcn-dense-f64"].macs / 1e9)
    assert f64["percent_of_peak"] == pytest.approx(f64["gflops"] / 50 * 100)


def test_format_seconds_picks_a_readable_unit():
    assert [fdb.format_seconds(t) for t in (3.5e-6, 0.0123, 2.5, 0.25)] == [
        "3.5 us", "12.3 ms", "2.5 s", "250 ms"]


# ---------------------------------------------------------------- parsing
def test_select_cases_keeps_order_and_drops_repeats():
    chosen = fdb.select_cases(" tcn-dense, seed-single ,tcn-dense")
    assert [case.name for case in chosen] == ["tcn-dense", "seed-single"]
    assert fdb.select_cases(None) == list(fdb.CASES)


@pytest.mark.parametrize("text", ["nope", "tcn-dense,nope", "", ","])
def test_select_cases_refuses_unknown_or_no_names_and_lists_them(text):
    with pytest.raises(ValueError, match="tcn-dense.*tiny-latency"):
        fdb.select_cases(text)


def test_parse_thread_counts():
    assert fdb.parse_thread_counts("1,2,1") == [1, 2]
    assert fdb.parse_thread_counts([2]) == [2]
    assert fdb.parse_thread_counts(None) == [fdb.available_cpus()]
    for bad in ("0", "a", "", [0, 1]):
        with pytest.raises(ValueError, match="threads"):
            fdb.parse_thread_counts(bad)


def run_cli(argv):
    """(exit code, stdout, stderr) of `fastdilate ARGV` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv, problem", [
    (["--cases", "nope"], "unknown case nope"),
    (["--cases", ""], "no case named"),
    (["--threads", "0"], "threads"),
    (["--threads", "two"], "threads"),
    (["--repeats", "3"], "unrecognized arguments"),
    (["--json", "/no/such/folder/bench.json"], "does not exist"),
])
def test_bench_bad_arguments_exit_2_before_any_timing(argv, problem):
    code, out, err = run_cli(["bench", "--quick"] + argv)
    assert code == 2 and problem in err
    assert "Traceback" not in err and "[1/" not in err


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, out, err = run_cli(["bench", "--quick", "--cases", "tiny-latency",
                              "--plot", str(tmp_path / "speedups.png")])
    assert code == 2 and "--plot needs matplotlib" in err and "pip install" in err
    assert "[1/" not in err and not (tmp_path / "speedups.png").exists()


# ------------------------------------------------------- a whole quick run
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`fastdilate bench --quick` on the tiny case at one thread, with JSON."""
    folder = tmp_path_factory.mktemp("bench")
    argv = ["bench", "--quick", "--cases", "tiny-latency", "--threads", "1",
            "--json", str(folder / "bench.json")]
    code, out, err = run_cli(argv)
    return code, out, err, json.loads((folder / "bench.json").read_text(encoding="utf-8"))


def test_quick_run_prints_one_table_and_progress(quick_run):
    code, out, err, _ = quick_run
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("case "))
    for column in ["thr", "fastdilate", "GFLOP/s", "% of peak", "vs reference", "vs numpy",
                   "vs scipy", "vs torch", "torch path"]:
        assert column in header
    (row,) = [line for line in out.splitlines() if line.startswith("tiny-latency")]
    assert " us " in row  # per-call latency in microseconds
    assert "peaks at 1 thread(s), best of before and after: float32 matmul" in out
    assert "[1/1] tiny-latency, 1 thread(s)" in err and "agree with fastdilate:" in err


def test_quick_run_json_records_checks_versions_and_peaks(quick_run):
    _, _, _, report = quick_run
    assert report["settings"]["quick"] is True and report["settings"]["threads"] == [1]
    env = report["environment"]
    assert env["versions"]["numpy"] == np.__version__
    assert env["fastdilate"]["version"] == fdb.build_info()["version"]
    assert set(report["peaks"]["1"]) == {"matmul_gflops", "copy_gbs"}
    (result,) = report["results"]
    assert (result["case"], result["threads"], result["reduced"]) == ("tiny-latency", 1, None)
    assert len(result["fastdilate"]["samples_s"]) == fdb.QUICK.repeats
    assert result["fastdilate"]["calls_per_sample"] > 1
    numpy_peer = result["peers"]["numpy"]
    assert numpy_peer["check"]["ok"]
    assert numpy_peer["speedup"] == pytest.approx(
        numpy_peer["median_s"] / result["fastdilate"]["median_s"])
    assert "speedup" in result["peers"]["reference"]  # tiny enough for pure Python
    if env["torch"] is not None:
        assert result["peers"]["torch"]["path"] in set(fdb.TORCH_KERNELS.values())
        assert env["torch"]["version"] == env["versions"]["torch"]
        assert isinstance(env["torch"]["mkldnn_available"], bool)


def test_plot_draws_the_speedups_of_a_report(quick_run, tmp_path):
    pytest.importorskip("matplotlib")
    _, _, _, report = quick_run
    fdb.plot_speedups(report, tmp_path / "speedups.png")
    assert (tmp_path / "speedups.png").read_bytes().startswith(b"\x89PNG")


def test_table_marks_mismatches_and_reduced_sizes(quick_run):
    _, _, _, report = quick_run
    report = json.loads(json.dumps(report))
    result = report["results"][0]
    result["reduced"] = "input (1, 1, 128) instead of (1, 1, 256)"
    result["peers"]["numpy"] = {"check": {"ok": False, "max_error": 1.0, "tolerance": 1e-5}}
    table = fdb.format_table(report)
    assert "tiny-latency*" in table and "sizes reduced (--quick)" in table
    (problem,) = fdb.problems(report)
    assert problem.startswith("MISMATCH: numpy disagrees with fastdilate on tiny-latency")
    assert "MISMATCH" in table and problem in table


def test_a_failing_case_or_peer_is_reported_and_the_run_goes_on(monkeypatch):
    peaks = {"matmul_gflops": {"float32": 1.0, "float64": 1.0}, "copy_gbs": 1.0}
    monkeypatch.setattr(fdb, "measure_peaks", lambda threads, settings: peaks)
    real_prepare = fdb.prepare_runner

    def failing_numpy(name, *args):
        if name == "numpy":
            return lambda: 1 / 0
        return real_prepare(name, *args)
    monkeypatch.setattr(fdb, "prepare_runner", failing_numpy)
    real_bench_case = fdb.bench_case

    def failing_seed(case, *args):
        if case.name == "seed-single":
            raise ValueError("boom")
        return real_bench_case(case, *args)
    monkeypatch.setattr(fdb, "bench_case", failing_seed)
    report = fdb.run_benchmarks(fdb.select_cases("seed-single,tiny-latency"), [1], quick=True)
    failed, tiny = report["results"]
    assert failed == {"case": "seed-single", "threads": 1, "error": "ValueError: boom"}
    assert tiny["peers"]["numpy"]["check"] == {"ok": False,
                                               "problem": "ZeroDivisionError: division by zero"}
    assert "speedup" not in tiny["peers"]["numpy"]
    assert [line.split(":")[0] for line in fdb.problems(report)] == ["ERROR", "MISMATCH"]
    table = fdb.format_table(report)
    assert "seed-single" in table and "ERROR" in table


def test_each_case_runs_at_every_thread_count_in_a_row(monkeypatch):
    peaks = {"matmul_gflops": {"float32": 1.0, "float64": 1.0}, "copy_gbs": 1.0}
    monkeypatch.setattr(fdb, "measure_peaks", lambda threads, settings: peaks)
    monkeypatch.setattr(fdb, "bench_case", lambda case, threads, *args: {
        "case": case.name, "threads": threads, "error": "not timed"})
    report = fdb.run_benchmarks(fdb.select_cases("seed-single,tiny-latency"), [1, 2], quick=True)
    assert [(r["case"], r["threads"]) for r in report["results"]] == [
        ("seed-single", 1), ("seed-single", 2), ("tiny-latency", 1), ("tiny-latency", 2)]


# ----------------------------------------------------------------- memory
@pytest.mark.skipif(os.name != "posix", reason="ru_maxrss needs the resource module")
def test_memory_probe_sees_the_output_being_allocated():
    (case,) = fdb.select_cases("tcn-dense")
    ballast = np.ones(1 << 27)  # 1 GiB in this process, which the probe must not inherit
    row = fdb.measure_peak_memory(case, threads=1, quick=True)
    assert row["reduced"] is not None
    assert 0 < row["after_imports_bytes"] <= row["after_inputs_bytes"] <= row["peak_bytes"]
    assert row["peak_bytes"] < ballast.nbytes
    assert row["peak_bytes"] - row["after_inputs_bytes"] >= 0.9 * row["output_bytes"]
    assert "tcn-dense*" in fdb.format_memory([row])


# ------------------------------------------------------------------ imports
def test_import_fastdilate_loads_no_optional_peer():
    code = ("import sys, fastdilate, fastdilate.benchmark, fastdilate.cli; "
            "print(sorted(m for m in ('torch', 'scipy', 'matplotlib', 'threadpoolctl') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=fdb._child_environment(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
