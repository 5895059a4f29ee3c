"""``fastdilate bench``: check every peer on each case, time them all, report.

SciPy, PyTorch, threadpoolctl and matplotlib are optional and are imported
inside the functions that use them: ``import fastdilate`` loads none of them.
"""
import dataclasses
import datetime
import importlib.util
import os
import statistics
import sys
import time

from ..receptive import check_int
from .cases import as_output, make_inputs, reduced, select_cases, sized
from .memory import format_memory, measure_peak_memory
from .peers import (PEER_NAMES, NotApplicable, agreement, expected_output,
                    peer_named, prepare_fastdilate, prepare_runner)
from .report import (best_peer, environment, format_environment, format_seconds,
                     format_table, plot_speedups, problems, require_matplotlib, summarize,
                     write_json)
from .sweep import draw_cases
from .timing import (SLOW_FACTOR, limit_blas_threads, measure_peaks, parse_thread_counts,
                     seconds_per_call, settings_for, throughput, time_interleaved)


def _silent(message):
    pass


def bench_case(case, threads, settings, progress=_silent):
    """One case at one thread count: check every peer, then time them all."""
    run_case = sized(case, settings)
    x, w = make_inputs(run_case)
    with limit_blas_threads(threads):
        expected, scale = expected_output(run_case, x, w, threads)
        runners = {"fastdilate": prepare_fastdilate(run_case, x, w, threads)}
        too_slow = _too_slow_seconds(settings, runners["fastdilate"])
        peers = {}
        for name in PEER_NAMES:
            peers[name], run = _checked_peer(name, run_case, x, w, threads, expected, scale,
                                             too_slow)
            if run is not None:
                runners[name] = run
        progress(_check_summary(peers) + f"; timing {settings.repeats} interleaved repeats")
        quiet = [name for name in runners if name != "fastdilate" and not peer_named(name).spins]
        timings = time_interleaved(runners, settings.repeats, settings.min_sample_seconds,
                                   quiet=quiet)
    fastdilate = _timing(*timings.pop("fastdilate"))
    progress(f"  fastdilate {format_seconds(fastdilate['median_s'])}")
    for name, (calls, samples) in timings.items():
        peers[name].update(_timing(calls, samples))
        peers[name]["speedup"] = peers[name]["median_s"] / fastdilate["median_s"]
    return {"case": case.name, "threads": threads, "reduced": reduced(case, run_case),
            "params": run_case.summary(), "fastdilate": fastdilate, "peers": peers,
            "best_peer": best_peer(peers)}


def _too_slow_seconds(settings, fastdilate):
    """The time of one call over which a peer is checked but not timed, or None."""
    if settings.max_call_seconds is None:
        return None
    return max(settings.max_call_seconds, SLOW_FACTOR * seconds_per_call(fastdilate, 1))


def _checked_peer(name, case, x, w, threads, expected, scale, max_call_seconds=None):
    """(facts about the peer on this case, its runner or None when it is not
    to be timed: not applicable, its result disagrees with fastdilate's, or
    its checked call took longer than ``max_call_seconds``)."""
    try:
        run = prepare_runner(name, case, x, w, threads)
    except NotApplicable as why:
        return {"skipped": str(why)}, None
    try:
        started = time.perf_counter()
        got = run()
        info = {"check_s": time.perf_counter() - started}
        info["check"] = agreement(case, as_output(case, got), expected, scale)
    except Exception as error:  # a failing peer is reported, not fatal to the run
        return {"check": {"ok": False, "problem": f"{type(error).__name__}: {error}"}}, None
    facts = peer_named(name).facts
    if facts is not None:
        info.update(facts(run))
    if max_call_seconds is not None and info["check_s"] > max_call_seconds:
        info["too_slow"] = (f"one call took {info['check_s']:.2f} s, over the limit of "
                            f"{max_call_seconds:.2f} s")
    return info, (run if info["check"]["ok"] and "too_slow" not in info else None)


def _check_summary(peers):
    agree = [name for name, peer in peers.items() if peer.get("check", {}).get("ok")]
    differ = [name for name, peer in peers.items() if "check" in peer and not peer["check"]["ok"]]
    return ("  agree with fastdilate: " + (", ".join(agree) or "none")
            + (f"; MISMATCH (not timed): {', '.join(differ)}" if differ else ""))


def _timing(calls, samples):
    return {"median_s": statistics.median(samples), "min_s": min(samples),
            "samples_s": samples, "calls_per_sample": calls}


def run_benchmarks(cases, thread_counts, quick=False, progress=_silent, sweep=None):
    """The whole report: environment, peaks, one result per case and thread
    count, and the summary of the speedups over the best peer.  ``sweep``
    ({"count", "seed"}) says the cases were drawn by a sweep."""
    settings = settings_for(quick, sweep is not None)
    report = {"format": "fastdilate-bench/1",
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "settings": dict(dataclasses.asdict(settings), quick=quick, threads=thread_counts,
                               sweep=sweep),
              "environment": environment(), "peaks": {}, "results": []}
    peaks_before = _peaks_at(thread_counts, settings, progress)
    # Each case at every thread count in a row: the speedup from more
    # threads then compares timings seconds apart, not minutes.
    runs = [(case, threads) for case in cases for threads in thread_counts]
    for index, (case, threads) in enumerate(runs, 1):
        progress(f"[{index}/{len(runs)}] {case.name}, {threads} thread(s)")
        report["results"].append(_result_or_error(case, threads, settings, progress))
    # Other processes only ever lower a peak: keep the better of two measurements.
    report["peaks"] = {str(threads): _best_peaks(peaks_before[threads], after)
                       for threads, after in _peaks_at(thread_counts, settings, progress).items()}
    for (case, threads), result in zip(runs, report["results"]):
        if "error" not in result:
            result["fastdilate"].update(throughput(sized(case, settings),
                                                   result["fastdilate"]["median_s"],
                                                   report["peaks"][str(threads)]))
    report["summary"] = summarize(report["results"])
    return report


def _result_or_error(case, threads, settings, progress):
    try:
        return bench_case(case, threads, settings, progress)
    except Exception as error:  # fastdilate failed: report it, go on with the rest
        failure = f"{type(error).__name__}: {error}"
        progress(f"  ERROR {failure}")
        return {"case": case.name, "threads": threads, "error": failure}


def _peaks_at(thread_counts, settings, progress):
    peaks = {}
    for threads in thread_counts:
        progress(f"measuring peaks at {threads} thread(s)")
        peaks[threads] = measure_peaks(threads, settings)
    return peaks


def _best_peaks(first, second):
    return {"matmul_gflops": {dtype: max(first["matmul_gflops"][dtype], gflops)
                              for dtype, gflops in second["matmul_gflops"].items()},
            "copy_gbs": max(first["copy_gbs"], second["copy_gbs"])}


def _stderr(message):
    print(message, file=sys.stderr, flush=True)


def parse_options(cases=None, threads=None, json_path=None, plot_path=None, memory=False,
                  sweep=None, seed=None, quick=False):
    """(cases, thread counts, the sweep's {"count", "seed"} or None) of
    ``fastdilate bench``'s options; ValueError, before any timing, for an
    option this installation cannot honour."""
    thread_counts = parse_thread_counts(threads)
    if sweep is None:
        if seed is not None:
            raise ValueError("--seed needs --sweep N")
        selected = select_cases(cases)
    else:
        sweep = _sweep_options(sweep, seed, cases, quick, memory)
        selected = draw_cases(sweep["count"], sweep["seed"])
    for option, path in (("--json", json_path), ("--plot", plot_path)):
        folder = os.path.dirname(os.path.abspath(path)) if path is not None else None
        if folder is not None and not os.path.isdir(folder):
            raise ValueError(f"{option}: folder {folder} does not exist")
    if plot_path is not None:
        require_matplotlib()
    if memory and importlib.util.find_spec("resource") is None:
        raise ValueError("--memory needs the resource module (Linux or macOS)")
    return selected, thread_counts, sweep


def _sweep_options(count, seed, cases, quick, memory):
    """{"count", "seed"} of ``--sweep count --seed seed`` (seed 0 by default)."""
    for option, given in (("--cases", cases is not None), ("--quick", quick),
                          ("--memory", memory)):
        if given:
            raise ValueError(f"--sweep draws its own shapes at their own sizes: "
                             f"{option} does not apply to it")
    return {"count": check_int("--sweep", count, 1),
            "seed": check_int("--seed", 0 if seed is None else seed, 0)}


def run_cli(cases, thread_counts, quick=False, json_path=None, plot_path=None, memory=False,
            sweep=None):
    """``fastdilate bench`` on parsed options: prints the environment, the
    table and, with ``memory``, peak RSS; returns 0, or 1 when fastdilate
    failed a case or a peer disagreed with it.  ``sweep`` as run_benchmarks."""
    report = run_benchmarks(cases, thread_counts, quick, progress=_stderr, sweep=sweep)
    if memory:
        _stderr("measuring peak memory")
        report["memory"] = [measure_peak_memory(case, threads, quick)
                            for threads in thread_counts for case in cases]
    print(format_environment(report))
    print()
    print(format_table(report))
    if memory:
        print()
        print(format_memory(report["memory"]))
    if json_path is not None:
        write_json(report, json_path)
        _stderr(f"wrote {json_path}")
    if plot_path is not None:
        plot_speedups(report, plot_path)
        _stderr(f"wrote {plot_path}")
    return 1 if problems(report) else 0
