"""A whole `fastdilate bench` run (fastdilate.bench.run) on tiny sizes:
parsing, the table, JSON, plot, failures, a small sweep.  Nothing here
asserts on a timing."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from bench_support import run_cli
from fastdilate import build_info
from fastdilate.bench import run as fdb
from fastdilate.bench.cases import select_cases
from fastdilate.bench.memory import _child_environment
from fastdilate.bench.peers import ENGINES, PEER_NAMES, TORCH_KERNELS
from fastdilate.bench.report import format_table, plot_speedups, problems
from fastdilate.bench.sweep import draw_cases
from fastdilate.bench.timing import QUICK, SWEEP

FLAT_PEAKS = {"matmul_gflops": {"float32": 1.0, "float64": 1.0}, "copy_gbs": 1.0}


@pytest.mark.parametrize("argv, problem", [
    (["--cases", "nope"], "unknown case nope"),
    (["--cases", ""], "no case named"),
    (["--threads", "0"], "threads"),
    (["--threads", "two"], "threads"),
    (["--repeats", "3"], "unrecognized arguments"),
    (["--json", "/no/such/folder/bench.json"], "does not exist"),
    (["--seed", "3"], "--seed needs --sweep"),
    (["--sweep", "2"], "--quick does not apply"),
])
def test_bench_bad_arguments_exit_2_before_any_timing(argv, problem):
    code, out, err = run_cli(["bench", "--quick"] + argv)
    assert code == 2 and problem in err
    assert "Traceback" not in err and "[1/" not in err


@pytest.mark.parametrize("argv, problem", [
    (["--sweep", "0"], "--sweep must be >= 1, got 0"),
    (["--sweep", "-3"], "--sweep must be >= 1"),
    (["--sweep", "two"], "invalid int value"),
    (["--sweep", "2", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--sweep", "2", "--cases", "tcn-dense"], "--cases does not apply"),
    (["--sweep", "2", "--memory"], "--memory does not apply"),
])
def test_sweep_bad_arguments_exit_2_before_any_timing(argv, problem):
    code, out, err = run_cli(["bench"] + argv)
    assert code == 2 and problem in err
    assert "Traceback" not in err and "[1/" not in err


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, out, err = run_cli(["bench", "--quick", "--cases", "tiny-latency",
                              "--plot", str(tmp_path / "speedups.png")])
    assert code == 2 and "--plot needs matplotlib" in err and "pip install" in err
    assert "[1/" not in err and not (tmp_path / "speedups.png").exists()


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
                   "vs scipy", "vs torch", "vs onnxruntime", "vs jax", "vs best peer",
                   "torch path"]:
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
    assert env["fastdilate"]["version"] == build_info()["version"]
    assert set(report["peaks"]["1"]) == {"matmul_gflops", "copy_gbs"}
    (result,) = report["results"]
    assert (result["case"], result["threads"], result["reduced"]) == ("tiny-latency", 1, None)
    assert len(result["fastdilate"]["samples_s"]) == QUICK.repeats
    assert result["fastdilate"]["calls_per_sample"] > 1
    numpy_peer = result["peers"]["numpy"]
    assert numpy_peer["check"]["ok"]
    assert numpy_peer["speedup"] == pytest.approx(
        numpy_peer["median_s"] / result["fastdilate"]["median_s"])
    assert "speedup" in result["peers"]["reference"]  # tiny enough for pure Python
    assert set(result["peers"]) == set(PEER_NAMES)
    timed = {name: result["peers"][name]["speedup"] for name in ENGINES
             if "speedup" in result["peers"][name]}
    assert result["best_peer"] == {"name": min(timed, key=timed.get),
                                   "speedup": min(timed.values())}
    assert report["summary"]["1"]["shapes"] == 1 and report["settings"]["sweep"] is None
    assert result["peers"]["torch"]["path"] in set(TORCH_KERNELS.values())
    assert env["torch"]["version"] == env["versions"]["torch"]
    assert isinstance(env["torch"]["mkldnn_available"], bool)
    assert env["versions"]["onnxruntime"] and env["versions"]["jax"]


def test_plot_draws_the_speedups_of_a_report(quick_run, tmp_path):
    _, _, _, report = quick_run
    plot_speedups(report, tmp_path / "speedups.png")
    assert (tmp_path / "speedups.png").read_bytes().startswith(b"\x89PNG")


def test_table_marks_mismatches_and_reduced_sizes(quick_run):
    _, _, _, report = quick_run
    report = json.loads(json.dumps(report))
    result = report["results"][0]
    result["reduced"] = "input (1, 1, 128) instead of (1, 1, 256)"
    result["peers"]["numpy"] = {"check": {"ok": False, "max_error": 1.0, "tolerance": 1e-5}}
    table = format_table(report)
    assert "tiny-latency*" in table and "sizes reduced (--quick)" in table
    (problem,) = problems(report)
    assert problem.startswith("MISMATCH: numpy disagrees with fastdilate on tiny-latency")
    assert "MISMATCH" in table and problem in table


def test_a_failing_case_or_peer_is_reported_and_the_run_goes_on(monkeypatch):
    monkeypatch.setattr(fdb, "measure_peaks", lambda threads, settings: FLAT_PEAKS)
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
    report = fdb.run_benchmarks(select_cases("seed-single,tiny-latency"), [1], quick=True)
    failed, tiny = report["results"]
    assert failed == {"case": "seed-single", "threads": 1, "error": "ValueError: boom"}
    assert tiny["peers"]["numpy"]["check"] == {"ok": False,
                                               "problem": "ZeroDivisionError: division by zero"}
    assert "speedup" not in tiny["peers"]["numpy"]
    assert [line.split(":")[0] for line in problems(report)] == ["ERROR", "MISMATCH"]
    table = format_table(report)
    assert "seed-single" in table and "ERROR" in table


def test_each_case_runs_at_every_thread_count_in_a_row(monkeypatch):
    monkeypatch.setattr(fdb, "measure_peaks", lambda threads, settings: FLAT_PEAKS)
    monkeypatch.setattr(fdb, "bench_case", lambda case, threads, *args: {
        "case": case.name, "threads": threads, "error": "not timed"})
    report = fdb.run_benchmarks(select_cases("seed-single,tiny-latency"), [1, 2], quick=True)
    assert [(r["case"], r["threads"]) for r in report["results"]] == [
        ("seed-single", 1), ("seed-single", 2), ("tiny-latency", 1), ("tiny-latency", 2)]


def loaded_in_a_child(code, names):
    """Which of ``names`` are in sys.modules after ``code`` runs in a fresh interpreter."""
    code += f"; print(sorted(m for m in {tuple(names)!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_child_environment(), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_fastdilate_loads_no_optional_peer():
    code = ("import sys, fastdilate, fastdilate.bench.run, fastdilate.bench.memory, "
            "fastdilate.cli")
    optional = ("torch", "scipy", "matplotlib", "threadpoolctl", "onnxruntime", "onnx", "jax")
    assert loaded_in_a_child(code, optional) == "[]"


def test_rf_and_info_do_not_load_the_benchmark():
    code = ("import sys, fastdilate.cli as cli; "
            "cli.main(['info']); cli.main(['rf', '--kernel-size', '3', '--dilations', '1,2'])")
    assert loaded_in_a_child(code, ("fastdilate.bench",)) == "[]"


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """`fastdilate bench --sweep 2 --seed 7 --threads 1 --json` (peaks not measured)."""
    folder = tmp_path_factory.mktemp("sweep")
    argv = ["bench", "--sweep", "2", "--seed", "7", "--threads", "1",
            "--json", str(folder / "sweep.json")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fdb, "measure_peaks", lambda threads, settings: FLAT_PEAKS)
        code, out, err = run_cli(argv)
    return code, out, err, json.loads((folder / "sweep.json").read_text(encoding="utf-8"))


def test_a_sweep_runs_the_drawn_shapes_and_sums_them_up(sweep_run):
    code, out, err, report = sweep_run
    assert code == 0, err
    names = [case.name for case in draw_cases(2, seed=7)]
    assert [result["case"] for result in report["results"]] == names
    assert report["settings"]["sweep"] == {"count": 2, "seed": 7}
    assert report["settings"]["repeats"] == SWEEP.repeats
    assert report["settings"]["max_call_seconds"] == SWEEP.max_call_seconds
    for name in names:
        assert any(line.startswith(name) for line in out.splitlines())
    (summary,) = [line for line in out.splitlines() if line.startswith("vs best peer at")]
    facts = report["summary"]["1"]
    assert summary.startswith(f"vs best peer at 1 thread(s), {facts['shapes']} shape(s)")
    assert facts["worst"]["case"] in names


def test_a_peer_too_slow_for_the_sweep_is_checked_but_not_timed(monkeypatch):
    monkeypatch.setattr(fdb, "measure_peaks", lambda threads, settings: FLAT_PEAKS)
    real_prepare = fdb.prepare_runner

    def slow_numpy(name, *args):
        run = real_prepare(name, *args)
        if name != "numpy":
            return run
        return lambda: (time.sleep(SWEEP.max_call_seconds + 0.05), run())[1]
    monkeypatch.setattr(fdb, "prepare_runner", slow_numpy)
    # seed 6 draws a tiny first shape: ten times fastdilate's call is far under 0.5 s
    report = fdb.run_benchmarks(draw_cases(1, seed=6), [1], sweep={"count": 1, "seed": 6})
    numpy_peer = report["results"][0]["peers"]["numpy"]
    assert numpy_peer["check"]["ok"] and "speedup" not in numpy_peer
    assert numpy_peer["too_slow"].startswith("one call took")
    assert numpy_peer["check_s"] > SWEEP.max_call_seconds
    assert " slow " in format_table(report) and not problems(report)
