"""Helpers of the tests of fastdilate.bench (imported as ``from bench_support import ...``)."""
import contextlib
import io

import pytest

from fastdilate import cli
from fastdilate.bench.cases import CASES, shrink


SMALL_MACS = 5_000
SMALL_CASES = [pytest.param(shrink(case, SMALL_MACS), id=case.name) for case in CASES]


def run_cli(argv):
    """(exit code, stdout, stderr) of `fastdilate ARGV` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()
