"""The text and arithmetic of a report (fastdilate.bench.report): units, the
best peer, the summary of the speedups over it."""
import math

import pytest

from fastdilate.bench import report as fdb


def test_format_seconds_picks_a_readable_unit():
    assert [fdb.format_seconds(t) for t in (3.5e-6, 0.0123, 2.5, 0.25)] == [
        "3.5 us", "12.3 ms", "2.5 s", "250 ms"]


def _peer(speedup=None, **facts):
    """A peer's entry in a result: timed with ``speedup``, or as ``facts`` say."""
    return dict(facts, check={"ok": True}, speedup=speedup) if speedup is not None else facts


def test_best_peer_is_the_fastest_timed_engine_never_the_reference():
    peers = {"reference": _peer(0.01), "numpy": _peer(3.0), "scipy": _peer(skipped="no"),
             "torch": _peer(1.5), "onnxruntime": _peer(too_slow="slow", check={"ok": True}),
             "jax": _peer(0.8)}
    assert fdb.best_peer(peers) == {"name": "jax", "speedup": 0.8}
    del peers["jax"]
    assert fdb.best_peer(peers) == {"name": "torch", "speedup": 1.5}
    assert fdb.best_peer({"reference": _peer(0.5), "numpy": _peer(skipped="-")}) is None


# A made-up report: speedups over the best peer at two thread counts, a
# result without any timed engine and one where fastdilate failed.
MADE_UP = [
    {"case": "a", "threads": 1, "best_peer": {"name": "torch", "speedup": 2.0}},
    {"case": "b", "threads": 1, "best_peer": {"name": "jax", "speedup": 0.5}},
    {"case": "c", "threads": 1, "best_peer": {"name": "numpy", "speedup": 1.0}},
    {"case": "d", "threads": 1, "best_peer": {"name": "onnxruntime", "speedup": 8.0}},
    {"case": "e", "threads": 1, "best_peer": None},
    {"case": "a", "threads": 2, "best_peer": {"name": "onnxruntime", "speedup": 0.9}},
    {"case": "b", "threads": 2, "best_peer": {"name": "torch", "speedup": 0.6}},
    {"case": "c", "threads": 2, "error": "ValueError: boom"},
]


def test_summary_arithmetic_on_a_made_up_report():
    summary = fdb.summarize(MADE_UP)
    assert set(summary) == {"1", "2"}
    one, two = summary["1"], summary["2"]
    # at 1 thread: (2 * 0.5 * 1 * 8) ** (1/4) = 8 ** 0.25; 2.0, 1.0, 8.0 are >= 1x
    assert one["shapes"] == 4 and one["geomean"] == pytest.approx(8 ** 0.25)
    assert (one["at_least_1x"], one["share_at_least_1x"]) == (3, 0.75)
    assert one["worst"] == {"case": "b", "speedup": 0.5, "peer": "jax"}
    assert two["shapes"] == 2 and two["geomean"] == pytest.approx(math.sqrt(0.9 * 0.6))
    assert (two["at_least_1x"], two["share_at_least_1x"]) == (0, 0.0)
    assert two["worst"] == {"case": "b", "speedup": 0.6, "peer": "torch"}
    assert fdb.summarize([]) == {}


def test_summary_lines_say_the_figures():
    lines = fdb.format_summary(fdb.summarize(MADE_UP))
    assert lines[0] == ("vs best peer at 1 thread(s), 4 shape(s): geometric mean 1.68x; "
                        ">= 1x on 3 (75%); worst 0.5x (jax) on b")
    assert lines[1].startswith("vs best peer at 2 thread(s), 2 shape(s): geometric mean 0.735x")
