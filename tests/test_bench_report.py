"""The text of a report (fastdilate.bench.report)."""
from fastdilate.bench import report as fdb


def test_format_seconds_picks_a_readable_unit():
    assert [fdb.format_seconds(t) for t in (3.5e-6, 0.0123, 2.5, 0.25)] == [
        "3.5 us", "12.3 ms", "2.5 s", "250 ms"]
