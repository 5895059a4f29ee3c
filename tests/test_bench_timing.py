"""Interleaved timing, thread counts and peaks (fastdilate.bench.timing).
Nothing here asserts on a timing."""
import pytest

from fastdilate.bench import timing as fdb
from fastdilate.bench.cases import CASES


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
    cases = {case.name: case for case in CASES}
    memory = fdb.throughput(cases["seed-single"], 1e-3, peaks)
    assert memory["peak"] == "copy bandwidth"
    assert memory["percent_of_peak"] == pytest.approx(100 * 4 * 1_999_996 / 1e-3 / 1e9 / 10)
    f64 = fdb.throughput(cases["tcn-dense-f64"], 1.0, peaks)
    assert f64["peak"] == "float64 matmul"
    assert f64["gflops"] == pytest.approx(2 * cases["tcn-dense-f64"].macs / 1e9)
    assert f64["percent_of_peak"] == pytest.approx(f64["gflops"] / 50 * 100)


def test_parse_thread_counts():
    assert fdb.parse_thread_counts("1,2,1") == [1, 2]
    assert fdb.parse_thread_counts([2]) == [2]
    assert fdb.parse_thread_counts(None) == [fdb.available_cpus()]
    for bad in ("0", "a", "", [0, 1]):
        with pytest.raises(ValueError, match="threads"):
            fdb.parse_thread_counts(bad)


def test_no_pause_follows_a_quiet_runner(monkeypatch):
    pauses = []
    monkeypatch.setattr(fdb.time, "sleep", pauses.append)
    runners = {"a": lambda: None, "quiet": lambda: None, "b": lambda: None}
    fdb.time_interleaved(runners, repeats=2, min_sample_seconds=0.0, settle_seconds=0.5,
                         quiet=["quiet"])
    # per round: a (after b), quiet (after a), b (after quiet: no pause)
    assert pauses == [0.5, 0.5] * 2
