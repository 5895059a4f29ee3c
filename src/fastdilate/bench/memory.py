"""Fastdilate's peak resident memory for one call, probed in a fresh process."""
import json
import math
import os
import subprocess
import sys

import numpy as np

from .cases import make_inputs, reduced, select_cases, shrink, sized
from .peers import prepare_fastdilate
from .report import aligned
from .timing import settings_for


def measure_peak_memory(case, threads, quick=False):
    """fastdilate's peak resident memory for one call of the case, in a
    fresh process that reports its own high-water marks (ru_maxrss): after
    imports, after making the inputs, after the call."""
    code = ("import sys; from fastdilate.bench.memory import _report_peak_memory; "
            "_report_peak_memory(*sys.argv[1:])")
    # Linux carries a process's high-water mark across exec, so a child exec'd
    # straight from this (large) process would start at our size; a shell
    # that forks the probe gives it a fresh mark.  "; exit" stops the shell
    # from exec'ing the probe in its own place.
    command = ["/bin/sh", "-c", '"$@"; exit $?', "sh",
               sys.executable, "-c", code, case.name, str(threads), str(int(quick))]
    done = subprocess.run(command, capture_output=True, text=True, env=_child_environment(),
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe of {case.name} failed:\n{done.stderr}")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    run_case = sized(case, settings_for(quick))
    itemsize = np.dtype(run_case.dtype).itemsize
    input_output = run_case.bytes_moved + itemsize * math.prod(run_case.weight_shape)
    return dict(marks, case=case.name, threads=threads, reduced=reduced(case, run_case),
                input_output_bytes=input_output,
                output_bytes=itemsize * math.prod(run_case.output_shape))


def _report_peak_memory(case_name, threads, quick):
    """The probe's body (in the child process): prints its high-water marks."""
    import resource

    def high_water():
        kilobytes_or_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kilobytes_or_bytes if sys.platform == "darwin" else kilobytes_or_bytes * 1024

    (case,) = select_cases(case_name)
    run_case = sized(case, settings_for(bool(int(quick))))
    # The same call on the smallest version of the case first: it loads
    # numpy.random, starts the OpenMP team and any lazy state, fixed costs of
    # the process rather than of the case.
    smallest = shrink(run_case, 0)
    prepare_fastdilate(smallest, *make_inputs(smallest), int(threads))()
    after_imports = high_water()
    x, w = make_inputs(run_case)
    run = prepare_fastdilate(run_case, x, w, int(threads))
    after_inputs = high_water()
    run()
    print(json.dumps({"after_imports_bytes": after_imports, "after_inputs_bytes": after_inputs,
                      "peak_bytes": high_water()}))


def _child_environment():
    """This environment, with this fastdilate first on the child's path."""
    # this file is fastdilate/bench/memory.py: the folder above fastdilate/
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=package_parent + (os.pathsep + path if path else ""))


def format_bytes(count):
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(count) >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def format_memory(rows):
    header = ["case", "thr", "peak RSS", "call adds", "output", "case total", "input+output",
              "total/in+out"]
    lines = [header]
    for row in rows:
        total = row["peak_bytes"] - row["after_imports_bytes"]
        lines.append([row["case"] + ("*" if row["reduced"] else ""), str(row["threads"]),
                      format_bytes(row["peak_bytes"]),
                      format_bytes(row["peak_bytes"] - row["after_inputs_bytes"]),
                      format_bytes(row["output_bytes"]), format_bytes(total),
                      format_bytes(row["input_output_bytes"]),
                      # RSS counts pages: no ratio for a case far smaller than that
                      f"{total / row['input_output_bytes']:.2f}x"
                      if row["input_output_bytes"] >= 1 << 20 else "-"])
    return "\n".join(
        ["peak memory of one fastdilate call, in a fresh process (ru_maxrss):"]
        + aligned(lines)
        + ["call adds = peak - high-water mark before the call; case total = peak - mark "
           "after imports and a warm-up call (page granular); input+output includes the weights."])
