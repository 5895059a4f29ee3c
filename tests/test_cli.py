"""The `fastdilate` command (also `python -m fastdilate`) and build_info()."""
import ast
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastdilate as fd
from fastdilate import _core, cli

from conftest import run_main

BUILD_INFO_KEYS = ["version", "openmp", "isa", "core", "compiler", "default_num_threads"]
SEED_RF = ["rf", "--kernel-size", "3", "--dilations", "1,2,4,8,16"]


def run_module(argv):
    """`python -m fastdilate ARGV` in a child process."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "fastdilate", *argv], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=120)


# -------------------------------------------------------------------- rf
def test_rf_prints_field_seed_picture_and_no_holes(capsys):
    code, out, err = run_main(SEED_RF, capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "receptive field: 63" in out
    assert "█" * 63 in lines  # the seed's dilated row, on a line of its own
    assert "gridding holes: none" in out


def test_rf_prints_the_gridding_holes_of_a_non_doubling_schedule(capsys):
    code, out, _ = run_main(["rf", "--kernel-size", "3", "--dilations", "1,4,8"], capsys)
    assert code == 0
    assert "receptive field: 27" in out
    assert "███.███.███.███.███.███.███" in out.splitlines()
    assert "gridding holes: 6  at offsets 3, 7, 11, 15, 19, 23" in out


def test_rf_layers_takes_the_first_layers_of_the_schedule(capsys):
    code, out, _ = run_main(SEED_RF + ["--layers", "3"], capsys)
    assert code == 0
    assert "receptive field: 15" in out and "█" * 15 in out.splitlines()


def test_rf_layers_repeats_a_shorter_schedule_like_wavenet(capsys):
    block = ",".join(str(2 ** i) for i in range(10))
    code, out, _ = run_main(["rf", "--kernel-size", "2", "--dilations", block,
                             "--layers", "30"], capsys)
    assert code == 0
    assert "receptive field: 3070" in out and "gridding holes: none" in out
    assert "█" * 3070 in out.splitlines()


def test_python_dash_m_rf_prints_the_same_as_main(capsys):
    _, expected, _ = run_main(SEED_RF, capsys)
    done = run_module(SEED_RF)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


# ------------------------------------------------------------------ info
def test_info_prints_every_build_info_key(capsys):
    code, out, _ = run_main(["info"], capsys)
    assert code == 0
    info = fd.build_info()
    for key in BUILD_INFO_KEYS:
        line = next(line for line in out.splitlines() if line.strip().startswith(f"{key}:"))
        assert line.split(":", 1)[1].strip() == str(info[key])


def test_python_dash_m_info_prints_every_build_info_key():
    done = run_module(["info"])
    assert done.returncode == 0, done.stderr
    for key in BUILD_INFO_KEYS:
        assert f"{key}:" in done.stdout
    assert fd.__version__ in done.stdout


def test_console_script_is_the_cli_main():
    if _installed_version() is None:
        pytest.skip("fastdilate is not installed (running from src): no console script metadata")
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="fastdilate")
    assert script.load() is cli.main


# ------------------------------------------------------------ bad arguments
BAD_ARGV = [
    pytest.param(["rf", "--kernel-size", "0", "--dilations", "1,2"], "kernel", id="kernel size 0"),
    pytest.param(["rf", "--kernel-size", "x", "--dilations", "1,2"], "kernel", id="kernel size x"),
    pytest.param(["rf", "--dilations", "1,2"], "kernel", id="no kernel size"),
    pytest.param(["rf", "--kernel-size", "3", "--dilations", "1,0,4"], "dilation",
                 id="dilation 0"),
    pytest.param(["rf", "--kernel-size", "3", "--dilations", "1.5"], "dilation", id="dilation 1.5"),
    pytest.param(["rf", "--kernel-size", "3", "--dilations", "a,b"], "dilation", id="dilation a"),
    pytest.param(["rf", "--kernel-size", "3"], "dilation", id="no dilations"),
    pytest.param(["rf", "--kernel-size", "3", "--dilations", "", "--layers", "3"], "dilation",
                 id="empty dilations for 3 layers"),
    pytest.param(SEED_RF + ["--layers", "-1"], "layers", id="layers negative"),
    pytest.param(SEED_RF + ["--layers", "two"], "layers", id="layers two"),
    pytest.param([], "required", id="no command"),
    pytest.param(["nonsense"], "invalid choice", id="unknown command"),
]


@pytest.mark.parametrize("argv, problem", BAD_ARGV)
def test_bad_arguments_exit_2_naming_the_problem(argv, problem, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2
    assert "error:" in err and problem in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, problem", [
    (["rf", "--kernel-size", "0", "--dilations", "1,2"], "kernel"),
    (["rf", "--kernel-size", "3", "--dilations", "1,2", "--layers", "-4"], "layers"),
])
def test_python_dash_m_bad_arguments_exit_2(argv, problem):
    done = run_module(argv)
    assert done.returncode == 2
    assert problem in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------ build_info
def _installed_version():
    try:
        return importlib.metadata.version("fastdilate")
    except importlib.metadata.PackageNotFoundError:
        return None


def test_build_info_keys_and_types():
    info = fd.build_info()
    assert list(info) == BUILD_INFO_KEYS
    assert info["version"] == fd.__version__
    assert type(info["openmp"]) is bool
    assert isinstance(info["isa"], str) and info["isa"]
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert info["core"] in ("fastdilate._core", "fastdilate._core_avx2", "fastdilate._core_avx512")
    assert type(info["default_num_threads"]) is int and info["default_num_threads"] >= 1


def test_build_info_version_is_the_installed_distribution_version():
    installed = _installed_version()
    if installed is None:
        pytest.skip("fastdilate is not installed (running from src): no metadata to compare")
    assert fd.build_info()["version"] == installed == fd.__version__


# ------------------------------------- the compiled core behind `info` and its stub
def test_core_type_stub_declares_every_public_name_of_the_compiled_core():
    stub = Path(_core.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    declared = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    declared |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
    compiled = {name for name in dir(_core) if not name.startswith("_")}
    assert {name for name in declared if not name.startswith("_")} == compiled
    assert {"build_facts", "default_num_threads", "cpu_has_avx2_fma", "in_forked_child",
            "conv2d_forward"} <= compiled


def test_core_build_facts_match_the_stub():
    facts = _core.build_facts()
    assert set(facts) == {"openmp", "isa", "compiler"}
    assert type(facts["openmp"]) is bool
    assert type(_core.cpu_has_avx2_fma()) is bool
    assert type(_core.cpu_has_avx512f()) is bool
    assert _core.in_forked_child() is False
    assert type(_core.default_num_threads()) is int
