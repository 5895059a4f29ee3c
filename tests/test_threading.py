"""fastdilate alongside other threads and processes.

* Python threads: the core releases the GIL, and calls from several threads
  at once give the results each gives alone.
* threadpoolctl: it lists fastdilate's OpenMP runtime and its limits reach
  the default thread count.
* Child processes: a child made with fork after the parent ran a thread team
  (as PyTorch's DataLoader workers are) finishes and computes the same
  results (GNU libgomp would hang there: the core runs serially in a forked
  child); spawn and forkserver children too.  These run in a child
  interpreter with a timeout, so a hang fails the test instead of blocking
  the run.
"""
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastdilate as fd
from conftest import (SERIAL_MACS, assert_bitwise_equal, assert_matches_numpy, random_array,
                      run_in_threads)

OPENMP = fd.build_info()["openmp"]
needs_openmp = pytest.mark.skipif(not OPENMP, reason="this build has no OpenMP")
# Seconds a child interpreter may take; they need a few at most.
CHILD_TIMEOUT = 120


def run_script(path, *args, env=None):
    """Run ``python path args`` with a timeout; (returncode, stdout, stderr).

    The child gets its own process group, and on a timeout the whole group
    (the pool workers too) is killed and the test fails.
    """
    popen_kwargs = {}
    if os.name == "posix":
        popen_kwargs["start_new_session"] = True
    child = subprocess.Popen([sys.executable, str(path), *args], cwd=path.parent, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             **popen_kwargs)
    try:
        out, err = child.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
        out, err = child.communicate()
        pytest.fail(f"the child did not finish in {CHILD_TIMEOUT} s (hung?)\n"
                    f"stdout:\n{out}\nstderr:\n{err}")
    return child.returncode, out, err


# ------------------------------------------------------------ Python threads
# Four different problems, each well above the size that runs serially.
PROBLEMS = [
    dict(op="conv1d", x=(4, 8, 3000), w=(8, 8, 3), kwargs=dict(dilation=4, padding="same"),
         dtype=np.float64),
    dict(op="conv1d", x=(2, 6, 5000), w=(12, 3, 5), kwargs=dict(dilation=2, groups=2, stride=2),
         dtype=np.float32),
    dict(op="conv2d", x=(2, 4, 40, 60), w=(8, 4, 3, 3), kwargs=dict(dilation=(2, 3), padding=2),
         dtype=np.float64),
    dict(op="conv2d", x=(3, 3, 33, 47), w=(5, 3, 3, 2),
         kwargs=dict(dilation=2, padding="same", padding_mode="reflect"), dtype=np.float32),
]


def _operands(problem, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, problem["x"], problem["dtype"])
    w = random_array(rng, problem["w"], problem["dtype"])
    b = random_array(rng, problem["w"][:1], problem["dtype"])
    return x, w, b


def _call(problem, x, w, b, num_threads):
    op = getattr(fd, problem["op"])
    return op(x, w, b, num_threads=num_threads, **problem["kwargs"])


def test_problems_are_large_enough_to_use_a_thread_team():
    for problem in PROBLEMS:
        out = _call(problem, *_operands(problem, 0), num_threads=1)
        macs = out.size * int(np.prod(problem["w"][1:]))
        assert macs > 10 * SERIAL_MACS, problem


@pytest.mark.parametrize("num_threads", [None, 1, 2])
def test_four_python_threads_on_different_inputs_give_each_ones_result(num_threads):
    operands = [_operands(problem, seed) for seed, problem in enumerate(PROBLEMS)]
    expected = [_call(problem, *ops, num_threads=1) for problem, ops in zip(PROBLEMS, operands)]
    for problem, ops, result in zip(PROBLEMS, operands, expected):
        assert_matches_numpy(result, *ops, **problem["kwargs"])

    rounds = 5
    start = threading.Barrier(len(PROBLEMS))
    results = [[] for _ in PROBLEMS]

    def worker(i):
        start.wait()
        for _ in range(rounds):
            results[i].append(_call(PROBLEMS[i], *operands[i], num_threads=num_threads))

    errors = run_in_threads(worker, len(PROBLEMS))
    assert not errors, errors
    for i, expect in enumerate(expected):
        assert len(results[i]) == rounds
        for got in results[i]:
            # Each output sums its taps in one fixed order whatever the
            # thread count, so concurrent calls agree bit for bit.
            assert_bitwise_equal(got, expect)


def test_the_gil_is_released_while_the_core_computes():
    """Another Python thread runs while a call is half done.

    A serial call fills ``out`` front to back.  The main thread watches the
    first and the last output: seeing the first written and the last not
    yet means it ran Python code while the worker was inside the core, which
    a core holding the GIL would not allow.  The problem grows until that
    is seen (a few tries at most where the GIL is released).
    """
    rng = np.random.default_rng(7)
    w = random_array(rng, (16, 16, 15))
    for length in (1 << 14, 1 << 16, 1 << 18):
        x = random_array(rng, (1, 16, length))
        out = np.full((1, 16, length - 14 * 2), np.nan)
        worker = threading.Thread(target=fd.conv1d, args=(x, w),
                                  kwargs=dict(dilation=2, out=out, num_threads=1))
        seen_half_done = False
        worker.start()
        while worker.is_alive():
            if not np.isnan(out[0, 0, 0]) and np.isnan(out[0, -1, -1]):
                seen_half_done = True
                break
        worker.join()
        assert not np.isnan(out).any()
        if seen_half_done:
            return
    pytest.fail("no other Python thread ran while the core computed: is the GIL released?")


# ------------------------------------------------------------- threadpoolctl
THREADPOOLCTL_SCRIPT = """
import json
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

def openmp_libraries():
    return [lib for lib in threadpool_info() if lib["user_api"] == "openmp"]

before = {lib["filepath"] for lib in openmp_libraries()}
import fastdilate as fd
after = openmp_libraries()

rng = np.random.default_rng(0)
x, w = rng.standard_normal((4, 8, 4000)), rng.standard_normal((8, 8, 3))
default = fd.build_info()["default_num_threads"]
y_default = fd.conv1d(x, w, dilation=3)
with threadpool_limits(1, user_api="openmp"):
    limited = fd.build_info()["default_num_threads"]
    limited_info = [lib["num_threads"] for lib in openmp_libraries()]
    y_limited = fd.conv1d(x, w, dilation=3)
with threadpool_limits(limits=1):  # every API at once, as scikit-learn users do
    limited_all = fd.build_info()["default_num_threads"]
restored = fd.build_info()["default_num_threads"]
print(json.dumps({
    "loaded_by_import": [lib for lib in after if lib["filepath"] not in before],
    "openmp": after,
    "default": default, "limited": limited, "limited_info": limited_info,
    "limited_all": limited_all, "restored": restored,
    "same_result": y_default.tobytes() == y_limited.tobytes(),
}))
"""


@needs_openmp
def test_threadpoolctl_lists_and_limits_the_openmp_runtime(tmp_path):
    pytest.importorskip("threadpoolctl")
    script = tmp_path / "limits.py"
    script.write_text(THREADPOOLCTL_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="3")
    code, out, err = run_script(script, env=env)
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    # The OpenMP runtime fastdilate links (GNU libgomp, LLVM libomp or MSVC's
    # vcomp; a wheel's vendored copy) is one threadpoolctl knows and lists.
    assert report["openmp"], "threadpool_info() lists no OpenMP runtime after import fastdilate"
    assert report["loaded_by_import"], "import fastdilate loaded no OpenMP runtime threadpoolctl sees"
    for lib in report["loaded_by_import"]:
        assert lib["prefix"] in ("libgomp", "libomp", "libiomp", "vcomp"), lib
        assert lib["num_threads"] == 3, lib
    assert report["default"] == 3  # OMP_NUM_THREADS
    assert report["limited"] == 1
    assert set(report["limited_info"]) == {1}
    assert report["limited_all"] == 1
    assert report["restored"] == 3
    assert report["same_result"]


@needs_openmp
def test_threadpool_limits_sets_the_default_thread_count_in_process():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    default = fd.build_info()["default_num_threads"]
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fd.build_info()["default_num_threads"] == 1
    assert fd.build_info()["default_num_threads"] == default


# ------------------------------------------------------------ child processes
CHILD_SCRIPT = """
import multiprocessing
import sys

import numpy as np

import fastdilate as fd


def problem(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 8, 3000)), rng.standard_normal((8, 8, 3))


def in_child(seed):
    x, w = problem(seed)
    # The default thread count, an explicit team, and serial.
    return [fd.conv1d(x, w, dilation=5, padding="same", num_threads=n) for n in (None, 2, 1)]


if __name__ == "__main__":
    method = sys.argv[1]
    # The parent runs with a thread team first, so that GNU libgomp's thread
    # pool exists when the children are made.
    expected = [fd.conv1d(*problem(seed), dilation=5, padding="same", num_threads=2)
                for seed in range(4)]
    context = multiprocessing.get_context(method)
    with context.Pool(2) as pool:
        results = pool.map(in_child, range(4))
    for seed, outputs in enumerate(results):
        for output in outputs:
            assert output.tobytes() == expected[seed].tobytes(), (method, seed)
    # The parent still runs with a team after its children.
    again = fd.conv1d(*problem(0), dilation=5, padding="same", num_threads=2)
    assert again.tobytes() == expected[0].tobytes()
    print("ok", method)
"""

START_METHODS = ["fork", "spawn", "forkserver"]


@pytest.mark.parametrize("method", START_METHODS)
def test_child_process_after_the_parent_ran_a_thread_team(method, tmp_path):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    script = tmp_path / "children.py"
    script.write_text(CHILD_SCRIPT)
    code, out, err = run_script(script, method)
    assert code == 0, err
    assert out.strip().endswith(f"ok {method}")


DATALOADER_SCRIPT = """
import multiprocessing
import os

import numpy as np

import fastdilate as fd

rng = np.random.default_rng(3)
x, w = rng.standard_normal((2, 6, 5000)), rng.standard_normal((6, 6, 7))
expected = fd.conv1d(x, w, dilation=3, num_threads=2)  # a team in the parent


def worker(queue):  # as a DataLoader worker: a plain forked Process
    queue.put(fd.conv1d(x, w, dilation=3).tobytes())


if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=worker, args=(queue,)) for _ in range(2)]
    for p in workers:
        p.start()
    got = [queue.get() for _ in workers]
    for p in workers:
        p.join()
        assert p.exitcode == 0
    assert all(g == expected.tobytes() for g in got)
    # os.fork() directly, and a grandchild of it.
    pid = os.fork()
    if pid == 0:
        ok = fd.conv1d(x, w, dilation=3).tobytes() == expected.tobytes()
        grandchild = os.fork()
        if grandchild == 0:
            os._exit(0 if fd.conv1d(x, w, dilation=3, num_threads=2).tobytes()
                     == expected.tobytes() else 1)
        _, status = os.waitpid(grandchild, 0)
        os._exit(0 if ok and os.waitstatus_to_exitcode(status) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    print("ok")
"""


def test_forked_workers_like_a_dataloader(tmp_path):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    script = tmp_path / "dataloader.py"
    script.write_text(textwrap.dedent(DATALOADER_SCRIPT))
    code, out, err = run_script(script)
    assert code == 0, err
    assert out.strip().endswith("ok")
