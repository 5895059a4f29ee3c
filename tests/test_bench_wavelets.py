"""fastdilate.bench.wavelets (``fastdilate bench --wavelets``) on tiny
plans: its cases compute what their peers compute, a row has every
column, the command line's options.  Nothing here asserts on a timing."""
import numpy as np
import pytest

from fastdilate.bench import wavelets as fbw

from conftest import run_main

TINY = dict(sizes=[64], wavelets=["haar", "db2"], dtypes=[np.float32, np.float64], top=True,
            batch=False, sizes_2d=[16], levels_2d=[2], dtypes_2d=[np.float32],
            starlet=[32], dtypes_starlet=[np.float64])
FLAT_PEAKS = {1: 1.0, 2: 1.0}


def tiny_cases():
    for cases in (fbw.one_d_cases, fbw.batch_cases, fbw.two_d_cases, fbw.starlet_cases):
        yield from cases(TINY)


def assert_same(ours, theirs):
    if isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", list(tiny_cases()), ids=lambda case: case.name.strip())
def test_each_case_computes_what_its_peer_computes(case):
    assert case.traffic > 0
    if case.peer is not None:
        assert_same(case.ours(1), case.peer())
        assert_same(case.ours(2), case.peer())
    if case.level is not None:
        case.level(1)
        case.level(2)
        assert case.level_traffic > 0


def test_the_batch_cases_run_along_each_axis():
    names = [case.name for case in fbw.batch_cases(dict(TINY, batch=True))]
    assert len(names) == 4 and sum("axis 0" in name for name in names) == 2


def test_a_row_has_every_column(capsys):
    case = next(fbw.one_d_cases(TINY))
    fbw.run_case(case, 1, FLAT_PEAKS)
    row = capsys.readouterr().out.split()
    # name (5 words), 2 times, peer, 2 speedups, 3 shares, floor, peak
    assert row[0] == "swt" and len(row) == 5 + 10
    assert float(row[-1]) > 0


def test_pywt_swt_macs_counts_the_zero_stuffed_taps_once_they_span_the_signal():
    assert fbw.pywt_swt_macs(64, 4, 1) == 2 * 64 * 4
    assert fbw.pywt_swt_macs(64, 4, 6) == 2 * 64 * (4 * 4 + 64 + 128)  # the last two span >= 64


@pytest.mark.parametrize("extra", [["--cases", "tcn-dense"], ["--threads", "1"],
                                   ["--memory"], ["--sweep", "3"]])
def test_wavelets_refuses_the_options_of_the_other_table(extra, capsys):
    code, _, err = run_main(["bench", "--wavelets"] + extra, capsys)
    assert code == 2 and "does not apply" in err and extra[0] in err


@pytest.mark.parametrize("quick, plan, rounds", [(True, "quick", 3), (False, "full", 5)])
def test_wavelets_runs_the_plan(quick, plan, rounds, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(fbw, "run", lambda *args: calls.append(args) or 0)
    code, _, _ = run_main(["bench", "--wavelets"] + (["--quick"] if quick else []), capsys)
    assert code == 0 and calls == [(plan, rounds)]
