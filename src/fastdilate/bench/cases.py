"""The named cases of ``fastdilate bench``: their shapes, reduced sizes and inputs.

The cases are the workloads of the speed issue in PyTorch's conventions
(batch N, channels C_in -> C_out, spatial size, K taps per axis, dilation d).
"""
import dataclasses
import functools
import math

import numpy as np

from .._checks import check_conv


MEMORY_BOUND = "memory"    # judged against the measured copy bandwidth
COMPUTE_BOUND = "compute"  # judged against the measured matmul peak of its dtype


@dataclasses.dataclass(frozen=True)
class Case:
    """One convolution workload, with PyTorch's conv1d/conv2d conventions.

    ``kernel``, ``dilation`` and ``stride`` are an int for every spatial axis
    or one per axis; ``padding`` is any form fastdilate accepts."""
    name: str
    batch: int
    c_in: int
    c_out: int
    size: tuple          # (L,) or (H, W)
    kernel: object       # taps along each spatial axis
    dilation: object
    padding: object = "valid"
    stride: object = 1
    groups: int = 1
    dtype: str = "float32"
    bound: str = COMPUTE_BOUND
    api: str = "conv"        # "seed": dilated_convolve_1d on one signal
    padding_mode: str = "zeros"

    @property
    def ndim(self):
        return len(self.size)

    @property
    def kernels(self):
        """Taps along each spatial axis."""
        return self.kernel if isinstance(self.kernel, tuple) else (self.kernel,) * self.ndim

    @functools.cached_property
    def geometry(self):
        """fastdilate's own check of the case: pads, strides, dilations, output shape."""
        return check_conv(f"case {self.name}", self.ndim, self.input_shape, self.weight_shape,
                          None, self.stride, self.padding, self.dilation, self.groups,
                          self.padding_mode)

    @property
    def strides(self):
        return self.geometry.strides

    @property
    def dilations(self):
        return self.geometry.dilations

    @property
    def spans(self):
        """Reach of the dilated kernel along each axis, minus one."""
        return tuple(d * (k - 1) for k, d in zip(self.kernels, self.dilations))

    @property
    def pads(self):
        """(before, after) padding of each spatial axis, as fastdilate pads."""
        return self.geometry.pads

    @property
    def out_size(self):
        return self.geometry.out_shape[2:]

    @property
    def input_shape(self):
        return (self.batch, self.c_in) + self.size

    @property
    def weight_shape(self):
        return (self.c_out, self.c_in // self.groups) + self.kernels

    @property
    def output_shape(self):
        return (self.batch, self.c_out) + self.out_size

    @property
    def depthwise(self):
        """One filter per channel (single-channel convolution included)."""
        return self.groups == self.c_in == self.c_out

    @property
    def taps(self):
        """Products summed into each output value."""
        return self.c_in // self.groups * math.prod(self.kernels)

    @property
    def macs(self):
        return math.prod(self.output_shape) * self.taps

    @property
    def bytes_moved(self):
        """Input plus output, each once: the least a memory-bound case must move."""
        itemsize = np.dtype(self.dtype).itemsize
        return itemsize * (math.prod(self.input_shape) + math.prod(self.output_shape))

    def summary(self):
        return dict(dataclasses.asdict(self), input_shape=self.input_shape,
                    weight_shape=self.weight_shape, output_shape=self.output_shape,
                    macs=self.macs, bytes_moved=self.bytes_moved)


_TCN_DENSE = Case("tcn-dense", batch=16, c_in=128, c_out=128, size=(4096,), kernel=3,
                  dilation=16, padding="same")

CASES = (
    Case("seed-single", batch=1, c_in=1, c_out=1, size=(1_000_000,), kernel=3, dilation=2,
         bound=MEMORY_BOUND, api="seed"),
    Case("batched-single", batch=256, c_in=1, c_out=1, size=(16384,), kernel=3, dilation=4,
         bound=MEMORY_BOUND),
    Case("depthwise-audio", batch=8, c_in=64, c_out=64, size=(16000,), kernel=3, dilation=8,
         padding="same", groups=64, bound=MEMORY_BOUND),
    Case("wavenet-dense", batch=8, c_in=64, c_out=64, size=(16000,), kernel=2, dilation=256,
         padding="causal"),
    _TCN_DENSE,
    Case("wide-kernel", batch=4, c_in=32, c_out=32, size=(32768,), kernel=9, dilation=4),
    Case("strided", batch=16, c_in=64, c_out=64, size=(8192,), kernel=5, dilation=3, stride=2),
    dataclasses.replace(_TCN_DENSE, name="tcn-dense-f64", dtype="float64"),
    Case("conv2d-context", batch=1, c_in=64, c_out=64, size=(128, 128), kernel=3, dilation=4,
         padding="same"),
    Case("conv2d-aspp", batch=2, c_in=256, c_out=256, size=(64, 64), kernel=3, dilation=12,
         padding="same"),
    Case("tiny-latency", batch=1, c_in=1, c_out=1, size=(256,), kernel=3, dilation=2,
         bound=MEMORY_BOUND),
)


def case_names():
    return [case.name for case in CASES]


def select_cases(text=None):
    """The cases named in a comma-separated list, in its order; all for None."""
    if text is None:
        return list(CASES)
    by_name = {case.name: case for case in CASES}
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in by_name]
    if unknown or not names:
        problem = f"unknown case {', '.join(unknown)}" if unknown else "no case named"
        raise ValueError(f"--cases: {problem}; the cases are {', '.join(by_name)}")
    return [by_name[name] for name in names]


def shrink(case, max_macs, max_bytes=math.inf, channels=True):
    """The same case (same name) with batch, then spatial size, then (if
    ``channels``) channels halved until it has at most ``max_macs``
    multiply-adds and moves at most ``max_bytes``, or cannot shrink."""
    steps = (_halve_batch, _halve_size) + ((_halve_channels,) if channels else ())
    while case.macs > max_macs or case.bytes_moved > max_bytes:
        smaller = next(filter(None, (step(case) for step in steps)), None)
        if smaller is None:
            break
        case = smaller
    return case


def _halve_batch(case):
    return dataclasses.replace(case, batch=case.batch // 2) if case.batch > 1 else None


def _halve_size(case):
    # Keep the dilated kernel well inside the signal, so the case still
    # dilates, and the padding inside it, as reflect and circular need.
    floors = [max(2 * span, before + after) + 16 for span, (before, after) in
              zip(case.spans, case.pads)]
    size = tuple(min(n, max(n // 2, floor)) for n, floor in zip(case.size, floors))
    return dataclasses.replace(case, size=size) if size != case.size else None


def _halve_channels(case):
    if case.depthwise:
        channels = case.c_in // 2
        return dataclasses.replace(case, c_in=channels, c_out=channels,
                                   groups=channels) if channels else None
    if case.groups > 1:
        return None
    # Two channels at least: a single one would make a dense case depthwise.
    c_in, c_out = max(case.c_in // 2, 2), max(case.c_out // 2, 2)
    return dataclasses.replace(case, c_in=c_in, c_out=c_out) if (c_in, c_out) != (
        case.c_in, case.c_out) else None


def reduced(case, shrunk):
    """A note of how a reduced case differs from the named one, or None."""
    if shrunk == case:
        return None
    return f"input {shrunk.input_shape} instead of {case.input_shape}"


def make_inputs(case, seed=0):
    """(input, weight) of the case's shapes and dtype, standard normal values."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(case.dtype)
    return (rng.standard_normal(case.input_shape, dtype=dtype),
            rng.standard_normal(case.weight_shape, dtype=dtype))


def as_output(case, result):
    """Any runner's result as an array of the case's output shape."""
    return np.asarray(result).reshape(case.output_shape)


def sized(case, settings):
    return case if settings.max_macs is None else shrink(case, settings.max_macs)
