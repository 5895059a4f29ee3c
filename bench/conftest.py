"""Options of the pytest-benchmark suite; the cases come from fastdilate.bench."""
import pytest

from fastdilate.bench.cases import select_cases, sized
from fastdilate.bench.timing import limit_blas_threads, parse_thread_counts, settings_for


def pytest_addoption(parser):
    group = parser.getgroup("fastdilate", "fastdilate benchmark cases")
    group.addoption("--bench-cases", default=None, metavar="NAME,...",
                    help="comma-separated case names (default: all)")
    group.addoption("--bench-threads", default=None, metavar="N,...",
                    help="thread counts, e.g. 1,2 (default: this machine's cores)")
    group.addoption("--bench-quick", action="store_true",
                    help="the reduced sizes of `fastdilate bench --quick`")


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "case" in metafunc.fixturenames:
        settings = settings_for(config.getoption("--bench-quick"))
        cases = [sized(case, settings)
                 for case in select_cases(config.getoption("--bench-cases"))]
        metafunc.parametrize("case", cases, ids=[case.name for case in cases])
    if "threads" in metafunc.fixturenames:
        counts = parse_thread_counts(config.getoption("--bench-threads"))
        metafunc.parametrize("threads", counts, ids=[f"{count}t" for count in counts])


@pytest.fixture
def blas_threads(threads):
    """NumPy's BLAS capped at the thread count under test (with threadpoolctl)."""
    with limit_blas_threads(threads):
        yield threads
