"""Receptive-field arithmetic of stacked dilated convolutions.

The seed's functions, checked and fast for deep stacks: the dependency
trace keeps the set of reached offsets as the bits of one Python int, so a
30-layer stack with dilations up to 512 takes microseconds, not the seconds
a set of every path would.  ``fastdilate.reference`` keeps the seed's
literal loops as the oracle these are tested against.
"""
from __future__ import annotations

import numbers
from typing import Sequence


def check_int(name, value, minimum, maximum=None):
    """``value`` as an int in [minimum, maximum], or an error naming ``name``.

    bool is not an int here, nor are floats that happen to be whole; NumPy's
    integer scalars are (and NumPy's bool is not: it is no numbers.Integral).
    """
    if type(value) is int and minimum <= value and (maximum is None or value <= maximum):
        return value  # the common case, quickly
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f">= {minimum} and <= {maximum}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def check_stack(n_layers, kernel_size, dilations):
    """Validated (n_layers, kernel_size, dilations of the first n_layers layers)."""
    n_layers = check_int("n_layers", n_layers, 0)
    kernel_size = check_int("kernel_size", kernel_size, 1)
    if isinstance(dilations, (str, bytes)):
        raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
    try:
        dilations = list(dilations)
    except TypeError:
        raise TypeError(f"dilations must be a sequence of ints, "
                        f"got {type(dilations).__name__}") from None
    if len(dilations) < n_layers:
        raise ValueError(f"dilations has {len(dilations)} entries for n_layers={n_layers}; "
                         f"need one per layer")
    dilations = [check_int(f"dilations[{i}]", d, 1) for i, d in enumerate(dilations[:n_layers])]
    return n_layers, kernel_size, dilations


def layer_dilations(n_layers, dilation):
    """The seed's rule: one int for every layer, or a sequence per layer."""
    if isinstance(dilation, numbers.Integral) and not isinstance(dilation, bool):
        return [dilation] * check_int("n_layers", n_layers, 0)
    return dilation


def compute_receptive_field(n_layers: int, kernel_size: int, dilations: Sequence[int]) -> int:
    """1 + (kernel_size - 1) * sum(dilations): input span seen by one output."""
    n_layers, kernel_size, dilations = check_stack(n_layers, kernel_size, dilations)
    return 1 + (kernel_size - 1) * sum(dilations)


def _reached_bits(kernel_size, dilations):
    """Bit p set when input offset p feeds output 0."""
    reached = 1
    for dilation in dilations:
        spread = reached
        for tap in range(1, kernel_size):
            spread |= reached << (tap * dilation)
        reached = spread
    return reached


def _offsets(reached, field, wanted):
    """Offsets p < field whose bit in ``reached`` is ``wanted`` ("1" or "0")."""
    bits = format(reached, "b").zfill(field)[::-1]
    return [p for p, bit in enumerate(bits) if bit == wanted]


def trace_dependencies(n_layers: int, kernel_size: int,
                       dilations: Sequence[int]) -> list[int]:
    """Sorted input offsets that output 0 of the stack depends on."""
    n_layers, kernel_size, dilations = check_stack(n_layers, kernel_size, dilations)
    reached = _reached_bits(kernel_size, dilations)
    return _offsets(reached, reached.bit_length(), "1")


def visualize_receptive_field(n_layers: int, kernel_size: int,
                              dilation: int | Sequence[int]) -> str:
    """The seed's picture: '█' for an offset that feeds output 0, '.' for a hole.

    ``dilation`` is one int for every layer or a sequence, one per layer.
    """
    n_layers, kernel_size, dilations = check_stack(
        n_layers, kernel_size, layer_dilations(n_layers, dilation))
    reached = _reached_bits(kernel_size, dilations)
    field = 1 + (kernel_size - 1) * sum(dilations)
    bits = format(reached, "b").zfill(field)[::-1]
    return bits.replace("1", "█").replace("0", ".")


def gridding_holes(kernel_size: int, dilations: Sequence[int]) -> list[int]:
    """Offsets inside the receptive field that no path reaches (Yu & Koltun's
    gridding artifacts); empty for a doubling schedule.  One layer per entry
    of ``dilations``."""
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__len__"):
        raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
    _, kernel_size, dilations = check_stack(len(dilations), kernel_size, dilations)
    reached = _reached_bits(kernel_size, dilations)
    return _offsets(reached, 1 + (kernel_size - 1) * sum(dilations), "0")
