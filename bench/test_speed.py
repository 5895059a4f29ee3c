"""fastdilate against its peers under pytest-benchmark, one group per case.

The cases, peers and agreement check are fastdilate.bench's, shared with
`fastdilate bench`; each peer's result is checked against fastdilate's before
it is timed.  The pure-Python reference only runs on each case shrunk to
REFERENCE_MACS multiply-adds, in a group of its own.
"""
import pytest

from fastdilate.bench.cases import make_inputs, shrink
from fastdilate.bench.peers import ENGINES, NotApplicable, check_against_fastdilate, prepare_runner

FAST_RUNNERS = ["fastdilate", *ENGINES]
REFERENCE_MACS = 20_000   # about 10 ms per call of the pure-Python reference


def _bench(benchmark, case, threads, runner, group):
    """Check the runner against fastdilate, then time it; skipped where the
    peer is not installed or does not apply."""
    x, w = make_inputs(case)
    try:
        run = prepare_runner(runner, case, x, w, threads)
    except NotApplicable as why:
        pytest.skip(str(why))
    check = check_against_fastdilate(case, x, w, threads, run)
    assert check["ok"], f"{runner} disagrees with fastdilate on {case.name}: {check}"
    benchmark.group = group
    benchmark.extra_info.update(case=case.name, runner=runner, threads=threads, macs=case.macs,
                                bytes_moved=case.bytes_moved, input_shape=case.input_shape)
    benchmark(run)


@pytest.mark.parametrize("runner", FAST_RUNNERS)
def test_case(benchmark, case, blas_threads, runner):
    _bench(benchmark, case, blas_threads, runner, group=f"{case.name} {blas_threads}t")


@pytest.mark.parametrize("runner", ["fastdilate", "reference"])
def test_case_vs_reference(benchmark, case, blas_threads, runner):
    small = shrink(case, REFERENCE_MACS)
    _bench(benchmark, small, blas_threads, runner,
           group=f"{case.name} {blas_threads}t at input {small.input_shape}, for the reference")
