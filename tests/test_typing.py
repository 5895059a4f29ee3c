"""Editors and type checkers see the public API: the package ships py.typed
and annotates what it exports, so mypy checks a caller's code against it."""
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import fastdilate

PACKAGE_ROOT = Path(fastdilate.__file__).resolve().parent.parent
INSTALLED = PACKAGE_ROOT in {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}

CALLER = textwrap.dedent("""
    import numpy as np
    import fastdilate as fd

    y = fd.conv1d(np.ones((1, 2, 8)), np.ones((3, 2, 3)), padding="causal", num_threads=2)
    reveal_type(y)
    reveal_type(fd.conv2d([[[1.0]]], [[[[1.0]]]], padding=((0, 1), (1, 0)), dilation=(1, 2)))
    reveal_type(fd.dilated_convolve_1d([1.0, 2.0], [1.0]))
    reveal_type(fd.trace_dependencies(2, 3, [1, 2]))
    reveal_type(fd.compute_receptive_field(2, 3, [1, 2]))
    reveal_type(fd.visualize_receptive_field(2, 3, 1))
    reveal_type(fd.build_info())
    fd.conv1d(np.ones((1, 2, 8)), np.ones((3, 2, 3)), padding="full")
    fd.conv2d(np.ones((1, 1, 8, 8)), np.ones((1, 1, 3, 3)), padding_mode="mirror")
""")


def run_mypy(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text(CALLER)
    # An installed package is found in site-packages; a source tree (an
    # editable install, whose import hook mypy cannot follow) on MYPYPATH.
    env = {"PATH": "/usr/bin:/bin"} | ({} if INSTALLED else {"MYPYPATH": str(PACKAGE_ROOT)})
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", str(tmp_path / "c"),
         "--python-executable", sys.executable, str(caller)],
        capture_output=True, text=True, timeout=300, env=env)
    return done.stdout.splitlines() + done.stderr.splitlines()


def test_mypy_sees_the_public_types_and_rejects_bad_arguments(tmp_path):
    lines = run_mypy(tmp_path)
    revealed = [line.split("Revealed type is ")[1] for line in lines if "Revealed type" in line]
    errors = [line for line in lines if ": error:" in line]
    assert len(revealed) == 7, lines
    assert all(r.startswith('"numpy.ndarray') for r in revealed[:3]), revealed
    assert revealed[3:6] == ['"list[int]"', '"int"', '"str"'], revealed
    assert revealed[6].startswith('"dict[str'), revealed
    assert len(errors) == 2, lines
    assert "padding" in errors[0] and "full" in errors[0], errors
    assert "padding_mode" in errors[1] and "mirror" in errors[1], errors
