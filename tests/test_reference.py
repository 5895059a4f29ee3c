"""fastdilate.reference: the seed's functions, executable, in pure Python.

The seed text's code and printed outputs are the ground truth: every output
it prints is asserted here verbatim.
"""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdilate
from fastdilate import reference

PACKAGE_DIR = Path(fastdilate.__file__).resolve().parent
SEED_SIGNAL = [1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 5.0]
SEED_KERNEL = [1.0, 1.0, 1.0]


# --------------------------------------------------------- the seed's prints
def test_seed_dilation_1_sums_one_zero_and_two_nonzeros():
    assert reference.dilated_convolve_1d(SEED_SIGNAL, SEED_KERNEL, dilation=1) == [
        3.0, 2.0, 5.0, 3.0, 7.0, 4.0, 9.0]


def test_seed_dilation_2_skips_the_zeros():
    assert reference.dilated_convolve_1d(SEED_SIGNAL, SEED_KERNEL, dilation=2) == [
        6.0, 0.0, 9.0, 0.0, 12.0]


def test_seed_standard_and_dilated_lines():
    standard = reference.visualize_receptive_field(n_layers=5, kernel_size=3, dilation=1)
    dilated = reference.visualize_receptive_field(n_layers=5, kernel_size=3,
                                                  dilation=[1, 2, 4, 8, 16])
    assert f"standard ({len(standard):>2}): {standard}" == "standard (11): ███████████"
    assert f"dilated ({len(dilated):>2}): {dilated}" == "dilated (63): " + "█" * 63


def test_seed_non_doubling_schedule_leaves_gridding_holes():
    assert reference.visualize_receptive_field(3, 3, [1, 4, 8]) == "███.███.███.███.███.███.███"


def test_seed_arithmetic_of_the_doubling_schedule():
    # 1 + (k - 1) * (d_1 + ... + d_n): kernel 3, [1, 2, 4, 8, 16] -> 63.
    assert reference.compute_receptive_field(5, 3, [1, 2, 4, 8, 16]) == 63
    # "The same coverage with standard kernel-3 layers would need 31 layers."
    assert reference.compute_receptive_field(31, 3, [1] * 31) == 63
    assert reference.compute_receptive_field(30, 3, [1] * 30) < 63


@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_seed_bifocals_one_layer_reads_taps_dilation_apart(dilation):
    # "the kernel sees pixels 0, 1, 2 ... 0, 2, 4 ... 0, 4, 8"
    assert reference.trace_dependencies(1, 3, [dilation]) == [0, dilation, 2 * dilation]


# ------------------------------------------------- dilated_convolve_1d contract
def test_taps_pair_kernel_t_with_signal_i_plus_t_times_dilation():
    # Cross-correlation, no kernel flip: 1*1 + 10*3 + 100*5.
    assert reference.dilated_convolve_1d([1, 2, 3, 4, 5], [1, 10, 100], 2) == [531.0]


def test_valid_mode_empty_when_nothing_fits():
    assert reference.dilated_convolve_1d([1, 2, 3, 4], [1, 1, 1], 2) == []  # span 5 > 4
    assert reference.dilated_convolve_1d([], [1.0], 1) == []
    assert reference.dilated_convolve_1d([1, 2, 3, 4, 5], [1, 1, 1], 2) == [9.0]  # fits once


def test_returns_a_plain_list_of_floats():
    out = reference.dilated_convolve_1d([1, 2, 3], [1], 1)
    assert type(out) is list and out == [1.0, 2.0, 3.0]
    assert all(type(v) is float for v in out)


@settings(deadline=None)
@given(signal=st.lists(st.integers(-9, 9), max_size=30),
       kernel=st.lists(st.integers(-9, 9), min_size=1, max_size=5),
       dilation=st.integers(1, 8))
def test_output_matches_the_definition(signal, kernel, dilation):
    out = reference.dilated_convolve_1d(signal, kernel, dilation)
    length = len(signal) - (len(kernel) - 1) * dilation
    assert len(out) == max(length, 0)
    for i, value in enumerate(out):
        assert value == sum(kernel[t] * signal[i + t * dilation] for t in range(len(kernel)))


@pytest.mark.parametrize("dilation, error", [
    (0, ValueError), (-1, ValueError), (1.5, TypeError), ("3", TypeError),
    (True, TypeError), (None, TypeError),
])
def test_dilated_convolve_1d_rejects_bad_dilation_by_name(dilation, error):
    with pytest.raises(error, match="dilation"):
        reference.dilated_convolve_1d(SEED_SIGNAL, SEED_KERNEL, dilation)


def test_dilated_convolve_1d_rejects_an_empty_kernel_by_name():
    with pytest.raises(ValueError, match="kernel"):
        reference.dilated_convolve_1d(SEED_SIGNAL, [], 1)


# ---------------------------------------------------------- pure Python only
def _imports(path):
    """(absolute top-level module names, relative module names) imported by a file."""
    absolute, relative = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                relative.add(node.module or "")
            else:
                absolute.add(node.module.split(".")[0])
    return absolute, relative


@pytest.mark.parametrize("module", ["reference.py", "receptive.py", "_checks.py"])
def test_source_imports_only_the_standard_library(module):
    absolute, relative = _imports(PACKAGE_DIR / module)
    assert absolute <= set(sys.stdlib_module_names), absolute - set(sys.stdlib_module_names)
    # The reference builds on the package's pure-Python checks, nothing else.
    assert relative <= {"receptive", "_checks"}


def test_reference_and_receptive_run_with_numpy_blocked():
    # Load the two modules under a bare package (fastdilate/__init__.py needs
    # NumPy and the compiled core) with every `import numpy` made to fail.
    script = textwrap.dedent(f"""
        import sys, types
        sys.modules["numpy"] = None
        try:
            import numpy
        except ImportError:
            pass
        else:
            raise SystemExit("numpy was not blocked")
        package = types.ModuleType("fastdilate")
        package.__path__ = [{str(PACKAGE_DIR)!r}]
        sys.modules["fastdilate"] = package
        from fastdilate import receptive, reference
        assert reference.dilated_convolve_1d({SEED_SIGNAL!r}, {SEED_KERNEL!r}, 2) == [
            6.0, 0.0, 9.0, 0.0, 12.0]
        assert reference.visualize_receptive_field(3, 3, [1, 4, 8]).count(".") == 6
        assert receptive.gridding_holes(3, [1, 4, 8]) == [3, 7, 11, 15, 19, 23]
        print(sorted(name for name in sys.modules if name.startswith("fastdilate")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("['fastdilate', 'fastdilate._checks', 'fastdilate.receptive', "
                                   "'fastdilate.reference']")
