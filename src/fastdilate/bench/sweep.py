"""The randomised sweep of ``fastdilate bench --sweep N --seed S``.

N layer shapes drawn from one distribution of realistic layers, so that no
one can tune to a list.  The draws are a pure function of the seed (NumPy's
PCG64 seeded with S; nothing else is read).  Each shape is drawn as follows
(bench/README.md quotes this):

- 1-D or 2-D, even odds; float32 (80 %) or float64 (20 %).
- batch: log-uniform integer in 1-32.
- channels: dense (55 %): C_in and C_out each a power of two in 1-512 (half
  the time) or a log-uniform integer in 1-512 (odd counts included);
  grouped (15 %): groups one of 2, 3, 4, 8, 16, 32 and C_in, C_out each
  groups times a log-uniform integer, at most 512; depthwise (30 %):
  C_in = C_out = groups, drawn as a dense channel count (1 is a
  single-channel layer).
- kernel: 3 (40 %) or a uniform integer in 1-13; in 2-D the same for both
  axes (80 %) or each axis drawn alone.
- dilation: 1 (30 %) or a log-uniform integer in 1-64; stride: 1 (70 %) or
  a uniform integer in 2-4; in 2-D each the same for both axes (80 %) or
  each axis drawn alone.
- length: log-uniform integer in 16-65536; image: height log-uniform in
  8-256, width the same (70 %) or drawn alone.
- padding form, even odds: 1-D "valid", "same", "causal", an int, a pair
  (left, right); 2-D "valid", "same", an int, a pair (ph, pw), pairs
  ((top, bottom), (left, right)); each int a uniform integer in
  0..dilation*(kernel-1) of its axis.  Mode: zeros (55 %), reflect,
  replicate, circular (15 % each).
- A draw that fastdilate rejects (``_checks.check_conv``: "same" with a
  stride, an empty output, reflect padding not shorter than the input...)
  is dropped and drawn again.  A draw above MAX_MACS multiply-adds or
  MAX_BYTES of input + output has its batch, then its spatial size, halved
  until it fits (``cases.shrink``, channels kept); one that cannot fit is
  drawn again.

Depthwise shapes are judged against copy bandwidth, the others against the
matmul peak of their dtype, as the named cases are.
"""
import dataclasses
import math

import numpy as np

from .cases import COMPUTE_BOUND, MEMORY_BOUND, Case, shrink

# Caps on one shape, so that a 200-shape sweep at 2 threads takes minutes:
# at most about 1 GFLOP, and tens of MB of input and output.
MAX_MACS = 500_000_000
MAX_BYTES = 64 << 20

PADDING_MODES = (("zeros", 0.55), ("reflect", 0.15), ("replicate", 0.15), ("circular", 0.15))
PADDING_FORMS = {1: ("valid", "same", "causal", "int", "pair"),
                 2: ("valid", "same", "int", "pair", "pairs")}
GROUP_COUNTS = (2, 3, 4, 8, 16, 32)
MAX_CHANNELS = 512


def draw_cases(count, seed=0):
    """``count`` valid layer shapes, a pure function of (count, seed)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        case = _fitted(_draw(rng))
        if case is not None:
            cases.append(dataclasses.replace(case, name=f"{len(cases) + 1:03d} {describe(case)}"))
    return cases


def _fitted(case):
    """The case within the caps and valid for fastdilate, or None."""
    if not _valid(case):
        return None
    case = shrink(case, MAX_MACS, MAX_BYTES, channels=False)
    if case.macs > MAX_MACS or case.bytes_moved > MAX_BYTES or not _valid(case):
        return None
    return case


def _valid(case):
    try:
        case.geometry
    except ValueError:
        return False
    return True


def _draw(rng):
    ndim = int(rng.choice((1, 2)))
    c_in, c_out, groups = _draw_channels(rng)
    kernel = _per_axis(rng, ndim, lambda: 3 if rng.random() < 0.4 else int(rng.integers(1, 14)))
    dilation = _per_axis(rng, ndim, lambda: 1 if rng.random() < 0.3 else _log_int(rng, 1, 64))
    stride = _per_axis(rng, ndim, lambda: 1 if rng.random() < 0.7 else int(rng.integers(2, 5)))
    size = _draw_size(rng, ndim)
    padding = _draw_padding(rng, ndim, kernel, dilation)
    mode = str(rng.choice([m for m, _ in PADDING_MODES], p=[p for _, p in PADDING_MODES]))
    batch = _log_int(rng, 1, 32)
    dtype = "float64" if rng.random() < 0.2 else "float32"
    return Case("sweep", batch=batch, c_in=c_in, c_out=c_out, size=size, kernel=kernel,
                dilation=dilation, padding=padding, stride=stride, groups=groups, dtype=dtype,
                bound=MEMORY_BOUND if groups == c_in == c_out else COMPUTE_BOUND,
                padding_mode=mode)


def _draw_channels(rng):
    """(C_in, C_out, groups)."""
    kind = rng.choice(("dense", "grouped", "depthwise"), p=(0.55, 0.15, 0.30))
    if kind == "depthwise":
        channels = _channel_count(rng)
        return channels, channels, channels
    if kind == "grouped":
        groups = int(rng.choice(GROUP_COUNTS))
        per_group = MAX_CHANNELS // groups
        return groups * _log_int(rng, 1, per_group), groups * _log_int(rng, 1, per_group), groups
    return _channel_count(rng), _channel_count(rng), 1


def _channel_count(rng):
    if rng.random() < 0.5:
        return 2 ** int(rng.integers(0, 10))
    return _log_int(rng, 1, MAX_CHANNELS)


def _draw_size(rng, ndim):
    if ndim == 1:
        return (_log_int(rng, 16, 65536),)
    height = _log_int(rng, 8, 256)
    return height, (height if rng.random() < 0.7 else _log_int(rng, 8, 256))


def _draw_padding(rng, ndim, kernel, dilation):
    kernels = kernel if isinstance(kernel, tuple) else (kernel,) * ndim
    dilations = dilation if isinstance(dilation, tuple) else (dilation,) * ndim
    spans = [d * (k - 1) for k, d in zip(kernels, dilations)]
    form = str(rng.choice(PADDING_FORMS[ndim]))
    if form in ("valid", "same", "causal"):
        return form

    def side(axis):
        return int(rng.integers(0, spans[axis] + 1))
    if form == "int":
        return side(0)
    if ndim == 1:  # "pair": (left, right)
        return side(0), side(0)
    if form == "pair":  # (ph, pw)
        return side(0), side(1)
    return (side(0), side(0)), (side(1), side(1))


def _per_axis(rng, ndim, draw):
    """One draw for every axis (always in 1-D, 80 % in 2-D) or one per axis."""
    if ndim == 1 or rng.random() < 0.8:
        return draw()
    return draw(), draw()


def _log_int(rng, low, high):
    """A log-uniform integer in [low, high]."""
    return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))


def describe(case):
    """The shape in one short line: '2d n4 64>64 g64 33x33 k3 d12 s1 same/reflect f64'."""
    parts = [f"{case.ndim}d", f"n{case.batch}", f"{case.c_in}>{case.c_out}"]
    if case.groups > 1:
        parts.append(f"g{case.groups}")
    parts += ["x".join(map(str, case.size)), "k" + _axes(case.kernel), "d" + _axes(case.dilation),
              "s" + _axes(case.stride)]
    padding = _padding_text(case.padding, case.ndim)
    parts.append(padding if case.padding_mode == "zeros" else f"{padding}/{case.padding_mode}")
    if case.dtype != "float32":
        parts.append("f64")
    return " ".join(parts)


def _axes(value):
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _padding_text(padding, ndim):
    """'same', 'p2', 'p1:3' (1-D before:after), 'p1,2' (2-D per axis), 'p1:2,0:3'."""
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return f"p{padding}"
    if ndim == 1:
        return f"p{padding[0]}:{padding[1]}"
    return "p" + ",".join(f"{p[0]}:{p[1]}" if isinstance(p, tuple) else str(p) for p in padding)
