"""Untuned layer shapes by class, fastdilate against PyTorch and ONNX Runtime.

The classes of issue 9 (odd channel counts, depthwise 2-D, 1-D with one input
or output channel, small-image 2-D dense, ...), a few shapes each, timed side
by side: within each round every runner goes once, in turn, with a 0.2 s
pause between runners, and the table gives medians over the rounds.

    python bench/bench_shapes.py --threads 2 --rounds 7
    python bench/bench_shapes.py --classes depthwise-2d --old /tmp/fd_old
    python bench/bench_shapes.py --threads 1 --cpu-time    # on a loaded machine

``--old DIR`` adds a second fastdilate, imported as ``fastdilate_old`` from
DIR (a copy of an earlier build's package directory renamed so), to compare
kernels before and after a change in the same run.  ONNX Runtime runs with
``session.intra_op.allow_spinning`` off, as fastdilate's team does not spin.
"""
import argparse
import math
import statistics
import sys
import time
from typing import NamedTuple

import numpy as np

import fastdilate as fd
from fastdilate._checks import check_conv


class Shape(NamedTuple):
    cls: str
    name: str
    batch: int
    c_in: int
    c_out: int
    size: tuple       # (L,) or (H, W)
    kernel: int
    dilation: int
    stride: int = 1
    padding: str = "same"   # "same", "valid" or "causal" (a strided "same" pads span // 2 each side)
    groups: int = 1
    dtype: str = "float32"

    @property
    def ndim(self):
        return len(self.size)

    @property
    def pads(self):
        span = self.dilation * (self.kernel - 1)
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "causal":
            return (span, 0)
        if self.stride == 1:
            return (span // 2, span - span // 2)
        return (span // 2, span // 2)

    @property
    def weight_shape(self):
        return (self.c_out, self.c_in // self.groups) + (self.kernel,) * self.ndim

    def out_size(self):
        padding = self.pads if self.ndim == 1 else (self.pads, self.pads)
        geometry = check_conv(self.name, self.ndim, (self.batch, self.c_in) + self.size,
                              self.weight_shape, None, self.stride, padding, self.dilation,
                              self.groups, "zeros")
        return geometry.out_shape[2:]

    def macs(self):
        return (self.batch * self.c_out * math.prod(self.out_size())
                * (self.c_in // self.groups) * self.kernel ** self.ndim)

    def megabytes(self):
        items = self.batch * (self.c_in * math.prod(self.size)
                              + self.c_out * math.prod(self.out_size()))
        return items * np.dtype(self.dtype).itemsize / 1e6


S = Shape
SHAPES = (
    # Output channels per group not a multiple of 8, beside the multiples around them.
    S("odd-channels", "1d 48ch", 8, 48, 48, (8192,), 3, 4),
    S("odd-channels", "1d 50ch", 8, 50, 50, (8192,), 3, 4),
    S("odd-channels", "1d 56ch", 8, 56, 56, (8192,), 3, 4),
    S("odd-channels", "1d 96ch", 8, 96, 96, (4096,), 3, 8),
    S("odd-channels", "1d 100ch", 8, 100, 100, (4096,), 3, 8),
    S("odd-channels", "1d 104ch", 8, 104, 104, (4096,), 3, 8),
    S("odd-channels", "1d 64->3", 8, 64, 3, (8192,), 3, 2),
    S("odd-channels", "1d 64->8", 8, 64, 8, (8192,), 3, 2),
    S("odd-channels", "2d 40ch 64x64", 2, 40, 40, (64, 64), 3, 2),
    S("odd-channels", "2d 40->44 64x64", 2, 40, 44, (64, 64), 3, 2),
    S("odd-channels", "2d 40->48 64x64", 2, 40, 48, (64, 64), 3, 2),
    # Depthwise 2-D, 3x3.
    S("depthwise-2d", "dw 64ch 128x128 d2", 4, 64, 64, (128, 128), 3, 2, groups=64),
    S("depthwise-2d", "dw 48ch 96x96 d6", 8, 48, 48, (96, 96), 3, 6, groups=48),
    S("depthwise-2d", "dw 128ch 65x65 d12", 4, 128, 128, (65, 65), 3, 12, groups=128),
    S("depthwise-2d", "dw 96ch 56x56 d4", 8, 96, 96, (56, 56), 3, 4, groups=96),
    S("depthwise-2d", "dw 64ch 33x33 d2", 1, 64, 64, (33, 33), 3, 2, groups=64),
    # 1-D with one input or one output channel.
    S("one-channel-1d", "1d 1->64 k3", 8, 1, 64, (16000,), 3, 1),
    S("one-channel-1d", "1d 64->1 k3", 8, 64, 1, (16000,), 3, 1),
    S("one-channel-1d", "1d 1->84 k9 d8 bank", 16, 1, 84, (4096,), 9, 8),
    S("one-channel-1d", "1d 32->1 k2 d64", 8, 32, 1, (16000,), 2, 64),
    # 2-D dense on small images.
    S("dense-2d", "aspp 33x33 d6", 1, 256, 256, (33, 33), 3, 6),
    S("dense-2d", "aspp 33x33 d12", 1, 256, 256, (33, 33), 3, 12),
    S("dense-2d", "aspp 33x33 d18", 1, 256, 256, (33, 33), 3, 18),
    S("dense-2d", "aspp 65x65 d12", 1, 256, 256, (65, 65), 3, 12),
    S("dense-2d", "3x3 64ch 56x56", 2, 64, 64, (56, 56), 3, 1),
    S("dense-2d", "3x3 s2 64->128 56x56", 2, 64, 128, (56, 56), 3, 1, stride=2),
    S("dense-2d", "7x7 32ch 64x64", 1, 32, 32, (64, 64), 7, 1),
    S("dense-2d", "3x3 g4 128ch 28x28", 4, 128, 128, (28, 28), 3, 2, groups=4),
    S("float64-2d", "3x3 f64 64ch 64x64", 1, 64, 64, (64, 64), 3, 2, dtype="float64"),
)


def named_cases():
    """The named cases of ``fastdilate bench``, as shapes of class "named"."""
    from fastdilate.bench.cases import CASES

    return tuple(S("named", c.name, c.batch, c.c_in, c.c_out, c.size, c.kernel, c.dilation,
                   c.stride, c.padding, c.groups, c.dtype) for c in CASES)


# ------------------------------------------------------------------ runners
def _fastdilate(module, shape, x, w, threads):
    conv = module.conv1d if shape.ndim == 1 else module.conv2d
    before, after = shape.pads
    padding = (before, after) if shape.ndim == 1 else ((before, after), (before, after))
    return lambda: conv(x, w, stride=shape.stride, padding=padding, dilation=shape.dilation,
                        groups=shape.groups, num_threads=threads)


def _torch(shape, x, w, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    x_t, w_t = torch.from_numpy(x), torch.from_numpy(w)
    before, after = shape.pads
    conv = F.conv1d if shape.ndim == 1 else F.conv2d
    options = dict(stride=shape.stride, dilation=shape.dilation, groups=shape.groups)
    if before == after:
        return lambda: conv(x_t, w_t, padding=before, **options).numpy()
    pad = (before, after) * shape.ndim
    return lambda: conv(F.pad(x_t, pad), w_t, **options).numpy()


def _onnxruntime(shape, x, w, threads):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    elem = TensorProto.FLOAT if shape.dtype == "float32" else TensorProto.DOUBLE
    before, after = shape.pads
    node = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[shape.dilation] * shape.ndim,
                            strides=[shape.stride] * shape.ndim, group=shape.groups,
                            pads=[before] * shape.ndim + [after] * shape.ndim)
    graph = helper.make_graph(
        [node], "conv", [helper.make_tensor_value_info("x", elem, x.shape)],
        [helper.make_tensor_value_info("y", elem, None)],
        initializer=[onnx.numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"x": x})[0]


def runners(shape, x, w, threads, old):
    made = {"fastdilate": _fastdilate(fd, shape, x, w, threads)}
    if old is not None:
        made["old"] = _fastdilate(old, shape, x, w, threads)
    made["torch"] = _torch(shape, x, w, threads)
    if shape.dtype == "float32":  # ONNX Runtime's CPU Conv is float32 only
        made["onnxruntime"] = _onnxruntime(shape, x, w, threads)
    return made


# ------------------------------------------------------------------ timing
def per_call(run, min_seconds, clock=time.perf_counter):
    calls, start = 0, clock()
    while True:
        run()
        calls += 1
        elapsed = clock() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def bench_shape(shape, threads, rounds, min_seconds, old, clock, statistic):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((shape.batch, shape.c_in) + shape.size).astype(shape.dtype)
    w = rng.standard_normal(shape.weight_shape).astype(shape.dtype)
    made = runners(shape, x, w, threads, old)
    expected = made["fastdilate"]()
    scale = np.abs(expected).max() + 1
    for name, run in made.items():
        error = np.abs(np.asarray(run(), dtype=np.float64) - expected).max() / scale
        if error > 1e-3:
            raise AssertionError(f"{shape.name}: {name} disagrees by {error:.2g}")
    samples = {name: [] for name in made}
    for _ in range(rounds):
        for name, run in made.items():
            time.sleep(0.2)
            samples[name].append(per_call(run, min_seconds, clock))
    return {name: statistic(times) for name, times in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.05)
    parser.add_argument("--classes", help="comma-separated classes (default: all, and "
                                          "\"named\": the cases of fastdilate bench)")
    parser.add_argument("--names", help="comma-separated substrings of shape names")
    parser.add_argument("--old", help="directory holding an earlier build as fastdilate_old")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the calling thread's CPU time (1 thread only), which a "
                             "loaded machine disturbs less than the wall clock")
    parser.add_argument("--fastest", action="store_true",
                        help="the fastest round of each runner rather than the median")
    args = parser.parse_args(argv)
    if args.cpu_time and args.threads != 1:
        parser.error("--cpu-time needs --threads 1")
    clock = time.thread_time if args.cpu_time else time.perf_counter
    statistic = min if args.fastest else statistics.median
    old = None
    if args.old:
        sys.path.insert(0, args.old)
        import fastdilate_old as old
    shapes = [s for s in SHAPES + named_cases()
              if (not args.classes or s.cls in args.classes.split(","))
              and (not args.names or any(n in s.name for n in args.names.split(",")))]
    with open("/proc/loadavg") as f:
        print(f"# threads {args.threads}, rounds {args.rounds}, "
              f"{'cpu' if args.cpu_time else 'wall'} time, "
              f"{'fastest' if args.fastest else 'median'} round, load {f.read().split()[:3]}")
    header = f"{'class':15} {'shape':24} {'MB':>6} {'fd ms':>8} {'GF/s':>6}"
    header += f" {'old/fd':>6}" if old else ""
    print(header + f" {'torch/fd':>8} {'ort/fd':>7} {'vs best':>7}" + (" old vs best" if old else ""))
    for shape in shapes:
        t = bench_shape(shape, args.threads, args.rounds, args.min_seconds, old, clock, statistic)
        best = min(t["torch"], t.get("onnxruntime", math.inf))
        line = (f"{shape.cls:15} {shape.name:24} {shape.megabytes():6.1f} "
                f"{t['fastdilate'] * 1e3:8.3f} {2 * shape.macs() / t['fastdilate'] / 1e9:6.1f}")
        if old:
            line += f" {t['old'] / t['fastdilate']:6.2f}"
        line += (f" {t['torch'] / t['fastdilate']:8.2f} {t.get('onnxruntime', math.nan) / t['fastdilate']:7.2f}"
                 f" {best / t['fastdilate']:7.2f}")
        if old:
            line += f" {best / t['old']:11.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
