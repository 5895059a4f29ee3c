"""Receptive-field tools at the top level of fastdilate (fastdilate.receptive).

They are the seed's functions made fast for deep stacks; the seed's literal
loops in fastdilate.reference are the oracle they must agree with.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdilate as fd
from fastdilate import receptive, reference

STACK_FUNCTIONS = ["compute_receptive_field", "trace_dependencies", "visualize_receptive_field"]
WAVENET_BLOCK = [2 ** i for i in range(10)]  # 1, 2, 4, ..., 512


def test_top_level_exports_are_the_receptive_versions():
    for name in STACK_FUNCTIONS + ["gridding_holes"]:
        assert name in fd.__all__
        assert getattr(fd, name) is getattr(receptive, name)


# ------------------------------------------ agreement with the reference oracle
@st.composite
def stacks(draw):
    """(n_layers, kernel_size, dilations): dilations may run past n_layers."""
    n_layers = draw(st.integers(0, 6))
    kernel_size = draw(st.integers(1, 5))
    dilations = draw(st.lists(st.integers(1, 20), min_size=n_layers, max_size=n_layers + 2))
    return n_layers, kernel_size, dilations


@settings(deadline=None)
@given(stacks())
def test_compute_receptive_field_equals_reference(stack):
    n_layers, kernel_size, dilations = stack
    field = fd.compute_receptive_field(*stack)
    assert field == reference.compute_receptive_field(*stack)
    assert field == 1 + (kernel_size - 1) * sum(dilations[:n_layers])


@settings(deadline=None)
@given(stacks())
def test_trace_dependencies_equals_reference(stack):
    trace = fd.trace_dependencies(*stack)
    assert trace == reference.trace_dependencies(*stack)
    assert trace[0] == 0 and trace[-1] == fd.compute_receptive_field(*stack) - 1


@settings(deadline=None)
@given(stacks())
def test_visualize_receptive_field_equals_reference(stack):
    picture = fd.visualize_receptive_field(*stack)
    assert picture == reference.visualize_receptive_field(*stack)
    touched = set(reference.trace_dependencies(*stack))
    assert picture == "".join("█" if p in touched else "."
                              for p in range(reference.compute_receptive_field(*stack)))


@settings(deadline=None)
@given(n_layers=st.integers(0, 6), kernel_size=st.integers(1, 5), dilation=st.integers(1, 20))
def test_visualize_one_int_dilation_means_every_layer(n_layers, kernel_size, dilation):
    picture = fd.visualize_receptive_field(n_layers, kernel_size, dilation)
    assert picture == reference.visualize_receptive_field(n_layers, kernel_size, dilation)
    assert picture == fd.visualize_receptive_field(n_layers, kernel_size, [dilation] * n_layers)


@settings(deadline=None)
@given(stacks())
def test_gridding_holes_are_the_field_offsets_no_path_reaches(stack):
    n_layers, kernel_size, dilations = stack
    field = reference.compute_receptive_field(*stack)
    trace = set(reference.trace_dependencies(*stack))
    holes = fd.gridding_holes(kernel_size, dilations[:n_layers])
    assert holes == [p for p in range(field) if p not in trace]
    assert holes == [p for p, c in enumerate(fd.visualize_receptive_field(*stack)) if c == "."]


@settings(deadline=None)
@given(n_layers=st.integers(0, 12), kernel_size=st.integers(2, 5))
def test_doubling_schedule_has_no_gridding_holes(n_layers, kernel_size):
    assert fd.gridding_holes(kernel_size, [2 ** i for i in range(n_layers)]) == []


def test_gridding_holes_of_the_seeds_non_doubling_schedule():
    assert fd.gridding_holes(3, [1, 4, 8]) == [3, 7, 11, 15, 19, 23]
    assert fd.visualize_receptive_field(3, 3, [1, 4, 8]) == "███.███.███.███.███.███.███"


def test_seed_pictures_at_top_level():
    assert fd.visualize_receptive_field(5, 3, 1) == "█" * 11
    assert fd.visualize_receptive_field(5, 3, [1, 2, 4, 8, 16]) == "█" * 63


# ------------------------------------------------------- published stacks
def test_yu_koltun_context_module_grows_layer_by_layer():
    dilations = [1, 1, 2, 4, 8, 16, 1]
    fields = [fd.compute_receptive_field(n, 3, dilations) for n in range(1, 8)]
    assert fields == [3, 5, 9, 17, 33, 65, 67]
    assert fd.gridding_holes(3, dilations) == []


def test_wavenet_block_sees_1024_samples():
    assert fd.compute_receptive_field(10, 2, WAVENET_BLOCK) == 1024
    assert fd.trace_dependencies(10, 2, WAVENET_BLOCK) == list(range(1024))


def test_three_wavenet_blocks_see_3070_samples_without_holes():
    dilations = WAVENET_BLOCK * 3
    assert fd.compute_receptive_field(30, 2, dilations) == 3070
    assert fd.trace_dependencies(30, 2, dilations) == list(range(3070))
    assert fd.visualize_receptive_field(30, 2, dilations) == "█" * 3070
    assert fd.gridding_holes(2, dilations) == []


# ----------------------------------------------------------- deep stacks
# No timed asserts: a regression to exponential path enumeration would hang
# these tests visibly.  Speed is measured by the benchmarks.
def test_deep_kernel_3_wavenet_stack():
    dilations = WAVENET_BLOCK * 3
    field = 1 + 2 * 3 * 1023
    assert fd.compute_receptive_field(30, 3, dilations) == field == 6139
    trace = fd.trace_dependencies(30, 3, dilations)
    assert trace == list(range(field))
    assert trace == reference.trace_dependencies(30, 3, dilations)
    assert fd.visualize_receptive_field(30, 3, dilations) == "█" * field
    assert fd.gridding_holes(3, dilations) == []


def test_deep_constant_dilation_reaches_only_its_multiples():
    field = 1 + 2 * 512 * 30
    assert fd.compute_receptive_field(30, 3, [512] * 30) == field
    assert fd.trace_dependencies(30, 3, [512] * 30) == list(range(0, field, 512))
    picture = fd.visualize_receptive_field(30, 3, 512)
    assert len(picture) == field and picture.count("█") == 61
    holes = fd.gridding_holes(3, [512] * 30)
    assert len(holes) == field - 61 and holes[:3] == [1, 2, 3]


def test_deep_stack_with_holes_matches_reference():
    dilations = [1, 4, 8] * 10
    trace = fd.trace_dependencies(30, 3, dilations)
    assert trace == reference.trace_dependencies(30, 3, dilations)
    field = fd.compute_receptive_field(30, 3, dilations)
    assert fd.gridding_holes(3, dilations) == sorted(set(range(field)) - set(trace))


# ---------------------------------------------------------- bad arguments
# Every bad argument raises ValueError or TypeError naming it, never an
# IndexError from walking past the end of a short schedule.
BAD_STACKS = [
    pytest.param((3, 3, [1, 2]), ValueError, "dilations", id="fewer dilations than layers"),
    pytest.param((1, 3, []), ValueError, "dilations", id="no dilations for one layer"),
    pytest.param((2, 0, [1, 2]), ValueError, "kernel_size", id="kernel_size 0"),
    pytest.param((2, -3, [1, 2]), ValueError, "kernel_size", id="kernel_size negative"),
    pytest.param((2, 3, [1, 0]), ValueError, "dilation", id="dilation 0"),
    pytest.param((2, 3, [-1, 2]), ValueError, "dilation", id="dilation negative"),
    pytest.param((-1, 3, [1]), ValueError, "n_layers", id="n_layers negative"),
    pytest.param((2, 3, [1, 1.5]), TypeError, "dilation", id="dilation 1.5"),
    pytest.param((2, 3, [1, "3"]), TypeError, "dilation", id="dilation str"),
    pytest.param((2, 3, [True, 2]), TypeError, "dilation", id="dilation bool"),
    pytest.param((2, 3, "12"), TypeError, "dilation", id="dilations str"),
    pytest.param((2, 3, None), TypeError, "dilation", id="dilations None"),
    pytest.param((2, 1.5, [1, 2]), TypeError, "kernel_size", id="kernel_size 1.5"),
    pytest.param((2, "3", [1, 2]), TypeError, "kernel_size", id="kernel_size str"),
    pytest.param((2, True, [1, 2]), TypeError, "kernel_size", id="kernel_size bool"),
    pytest.param((1.5, 3, [1, 2]), TypeError, "n_layers", id="n_layers 1.5"),
    pytest.param(("3", 3, [1, 2, 4]), TypeError, "n_layers", id="n_layers str"),
    pytest.param((True, 3, [1]), TypeError, "n_layers", id="n_layers bool"),
]


@pytest.mark.parametrize("implementation", [reference, fd], ids=["reference", "top level"])
@pytest.mark.parametrize("name", STACK_FUNCTIONS)
@pytest.mark.parametrize("args, error, argument", BAD_STACKS)
def test_bad_stack_raises_naming_the_argument(implementation, name, args, error, argument):
    with pytest.raises(error, match=argument):
        getattr(implementation, name)(*args)


@pytest.mark.parametrize("implementation", [reference, fd], ids=["reference", "top level"])
@pytest.mark.parametrize("dilation, error", [
    (0, ValueError), (-2, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError),
])
def test_visualize_rejects_a_bad_single_dilation(implementation, dilation, error):
    with pytest.raises(error, match="dilation"):
        implementation.visualize_receptive_field(2, 3, dilation)


@pytest.mark.parametrize("kernel_size, dilations, error, argument", [
    pytest.param(0, [1, 2], ValueError, "kernel_size", id="kernel_size 0"),
    pytest.param(1.5, [1, 2], TypeError, "kernel_size", id="kernel_size 1.5"),
    pytest.param("3", [1, 2], TypeError, "kernel_size", id="kernel_size str"),
    pytest.param(True, [1, 2], TypeError, "kernel_size", id="kernel_size bool"),
    pytest.param(3, [1, 0], ValueError, "dilation", id="dilation 0"),
    pytest.param(3, [1, 1.5], TypeError, "dilation", id="dilation 1.5"),
    pytest.param(3, ["3"], TypeError, "dilation", id="dilation str"),
    pytest.param(3, [True], TypeError, "dilation", id="dilation bool"),
    pytest.param(3, "12", TypeError, "dilation", id="dilations str"),
    pytest.param(3, 4, TypeError, "dilation", id="dilations int"),
    pytest.param(3, None, TypeError, "dilation", id="dilations None"),
])
def test_gridding_holes_rejects_bad_arguments_by_name(kernel_size, dilations, error, argument):
    with pytest.raises(error, match=argument):
        fd.gridding_holes(kernel_size, dilations)


def test_no_layers_is_a_single_tap():
    for implementation in (reference, fd):
        assert implementation.compute_receptive_field(0, 3, []) == 1
        assert implementation.trace_dependencies(0, 3, []) == [0]
        assert implementation.visualize_receptive_field(0, 3, 4) == "█"
    assert fd.gridding_holes(3, []) == []
