"""What ``import fastdilate`` costs: no optional dependency comes with it, and
it is the installed package that the tests import.

The import time itself is measured with ``python -X importtime -c "import
fastdilate"`` (see .ci/run), not asserted here: timings depend on the machine.
"""
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

# Extras and test tools: none may be imported by ``import fastdilate``.
OPTIONAL = ["scipy", "torch", "matplotlib", "threadpoolctl", "hypothesis", "pytest",
            "pytest_benchmark", "pandas", "dask", "distributed", "zarr", "pywt", "onnx",
            "onnxruntime", "jax", "nam", "mypy"]


def run_python(code):
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr
    return child.stdout.strip()


def test_import_loads_no_optional_dependency():
    code = ("import sys, json\n"
            "import fastdilate\n"
            f"optional = {OPTIONAL!r}\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in optional)))")
    assert json.loads(run_python(code)) == []


def test_build_info_and_the_public_functions_load_no_optional_dependency():
    code = ("import sys, json\n"
            "import numpy as np\n"
            "import fastdilate as fd\n"
            "fd.build_info()\n"
            "fd.conv1d(np.ones((1, 1, 8)), np.ones((1, 1, 3)), dilation=2)\n"
            "fd.conv2d(np.ones((1, 1, 8, 8)), np.ones((1, 1, 3, 3)), dilation=2)\n"
            "fd.dilated_convolve_1d(np.ones(9), np.ones(3), 2)\n"
            f"optional = {OPTIONAL!r}\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in optional)))")
    assert json.loads(run_python(code)) == []


def test_fastdilate_is_imported_from_the_installation():
    """With FASTDILATE_EXPECT_INSTALLED=1 (CI, cibuildwheel), the package
    must come from site-packages, never from the source tree."""
    if os.environ.get("FASTDILATE_EXPECT_INSTALLED", "0") in ("", "0"):
        pytest.skip("set FASTDILATE_EXPECT_INSTALLED=1 to require an installed fastdilate")
    import fastdilate

    location = Path(fastdilate.__file__).resolve().parent
    install_dirs = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    assert location.parent in install_dirs, (
        f"fastdilate was imported from {location}, not from {sorted(map(str, install_dirs))}")
    source_tree = Path(__file__).resolve().parent.parent / "src"
    assert source_tree not in location.parents
