"""Forward + backward of fastdilate.torch against plain PyTorch.

    python bench/bench_backward.py [--threads 1,2] [--cases NAME,...|none] [--sweep 100]
                                   [--sweep-part I/N] [--rounds 5] [--quick] [--no-tcn]
                                   [--no-overhead] [--json results.json]

Four parts, each at every thread count (torch.set_num_threads, which
fastdilate.torch follows):

* the per-call overhead: a tiny conv1d (1 x 1 x 16, kernel 3), 2000 calls,
  forward alone and forward + backward, against F.conv1d;
* the named cases (the shapes of ``fastdilate bench``'s cases, in their
  dtypes, plus float64 and depthwise variants): conv forward, then
  backward to input, weight and bias;
* a sweep of random shapes (seeded), 1-D and 2-D, float32 and float64;
* a training step (forward, loss, backward, SGD) of a TCN, 8 residual blocks
  of 64 channels, kernel 3, dilations 1..128, batch 16 x 4096, with
  ``replace_convs`` against the same model in plain PyTorch.

Peers alternate round by round, a pause between them; each figure is the
median over the rounds.  Results are checked against PyTorch's first.  The
bars of issue 11 are printed at the end.
"""
import argparse
import copy
import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import fastdilate.torch as ft

PAUSE = 0.2

# name: (batch, c_in, c_out, size, kernel, dilation, padding, stride, groups, dtype)
NAMED = {
    "batched-single": (256, 1, 1, (16384,), 3, 4, "valid", 1, 1, "float32"),
    "depthwise-audio": (8, 64, 64, (16000,), 3, 8, "same", 1, 64, "float32"),
    "wavenet-dense": (8, 64, 64, (16000,), 2, 256, "causal", 1, 1, "float32"),
    "tcn-dense": (16, 128, 128, (4096,), 3, 16, "same", 1, 1, "float32"),
    "wide-kernel": (4, 32, 32, (32768,), 9, 4, "valid", 1, 1, "float32"),
    "strided": (16, 64, 64, (8192,), 5, 3, "valid", 2, 1, "float32"),
    "tcn-dense-f64": (16, 128, 128, (4096,), 3, 16, "same", 1, 1, "float64"),
    "depthwise-audio-f64": (8, 64, 64, (16000,), 3, 8, "same", 1, 64, "float64"),
    "conv2d-context": (1, 64, 64, (128, 128), 3, 4, "same", 1, 1, "float32"),
    "conv2d-aspp": (2, 256, 256, (64, 64), 3, 12, "same", 1, 1, "float32"),
    "conv2d-depthwise": (4, 64, 64, (64, 64), 3, 2, "same", 1, 64, "float32"),
    "tiny-latency": (1, 1, 1, (256,), 3, 2, "valid", 1, 1, "float32"),
}


class Problem:
    """One convolution, its tensors and its two contenders."""

    def __init__(self, batch, c_in, c_out, size, kernel, dilation, padding, stride, groups,
                 dtype, seed=0):
        dtype = getattr(torch, dtype)
        generator = torch.Generator().manual_seed(seed)
        dims = len(size)
        self.label = (f"{'x'.join(map(str, (batch, c_in) + size))} -> {c_out} k{kernel} "
                      f"d{dilation} s{stride} g{groups} {padding} {str(dtype)[6:]}")
        self.dims, self.dtype = dims, dtype
        self.one_d, self.depthwise = dims == 1, groups == c_in == c_out
        self.x = torch.randn((batch, c_in) + size, dtype=dtype, generator=generator)
        self.w = torch.randn((c_out, c_in // groups) + (kernel,) * dims, dtype=dtype,
                             generator=generator) / math.sqrt(c_in // groups * kernel ** dims)
        self.b = torch.randn(c_out, dtype=dtype, generator=generator)
        self.args = dict(stride=stride, dilation=dilation, groups=groups)
        span = dilation * (kernel - 1)
        pairs = {"valid": (0, 0), "same": (span // 2, span - span // 2), "causal": (span, 0)}
        self.pad = pairs[padding] * dims  # F.pad order: last axis first (equal pairs here)
        self.padding = padding
        out = self.plain(self.x, self.w, self.b)
        self.grad = torch.randn(out.shape, dtype=dtype, generator=generator)

    def fast(self, x, w, b):
        conv = ft.conv1d if self.dims == 1 else ft.conv2d
        return conv(x, w, b, padding=self.padding, **self.args)

    def plain(self, x, w, b):
        conv = F.conv1d if self.dims == 1 else F.conv2d
        return conv(F.pad(x, self.pad), w, b, **self.args)

    def step(self, conv):
        """Forward and backward once; (output, grads)."""
        leaves = [t.detach().requires_grad_() for t in (self.x, self.w, self.b)]
        out = conv(*leaves)
        out.backward(self.grad)
        return out, [t.grad for t in leaves]

    def check(self):
        (y_fast, g_fast), (y_plain, g_plain) = self.step(self.fast), self.step(self.plain)
        tolerance = 1e-3 if self.dtype == torch.float32 else 1e-9
        for got, want in zip([y_fast] + g_fast, [y_plain] + g_plain):
            scale = want.abs().max().item() + 1e-30
            if (got - want).abs().max().item() > tolerance * scale:
                raise AssertionError(f"{self.label}: fastdilate.torch differs from PyTorch")


def interleaved(contenders, rounds, pause=PAUSE):
    """Median seconds of each contender, timed in turn round after round."""
    times = {name: [] for name in contenders}
    for run in contenders.values():
        run()  # warm up: plans, allocations, oneDNN primitives
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
            time.sleep(pause)
    return {name: statistics.median(values) for name, values in times.items()}


def time_problem(problem, rounds, pause=PAUSE):
    problem.check()
    timed = interleaved({"fastdilate": lambda: problem.step(problem.fast),
                         "pytorch": lambda: problem.step(problem.plain)}, rounds, pause)
    return timed["fastdilate"], timed["pytorch"]


def sweep_problems(count, seed=11):
    """Random shapes of 1e6..3e7 multiply-adds: 1-D and 2-D, dense, grouped
    and depthwise, both dtypes, all paddings."""
    rng = np.random.default_rng(seed)
    problems = []
    while len(problems) < count:
        dims = int(rng.choice([1, 1, 2]))
        kind = rng.choice(["dense", "dense", "grouped", "depthwise"])
        c_in = int(rng.choice([1, 3, 8, 16, 24, 32, 64])) if kind != "depthwise" else int(
            rng.choice([8, 16, 32, 64]))
        groups = {"dense": 1, "depthwise": c_in, "grouped": math.gcd(c_in, 4)}[kind]
        c_out = c_in if kind == "depthwise" else groups * int(rng.choice([1, 2, 4, 8, 16]))
        kernel = int(rng.choice([2, 3, 5])) if dims == 1 else int(rng.choice([1, 3]))
        dilation = int(rng.choice([1, 2, 4, 8, 16, 32])) if dims == 1 else int(
            rng.choice([1, 2, 4]))
        stride = int(rng.choice([1, 1, 1, 2]))
        padding = rng.choice(["same", "causal", "valid"] if dims == 1 else ["same", "valid"])
        padding = "valid" if stride > 1 else str(padding)
        batch = int(rng.choice([1, 2, 4, 8, 16]))
        dtype = str(rng.choice(["float32", "float32", "float64"]))
        macs_per_point = batch * c_out * (c_in // groups) * kernel ** dims
        points = float(np.exp(rng.uniform(np.log(1e6), np.log(3e7)))) / macs_per_point
        side = points if dims == 1 else math.sqrt(points)
        size = max(int(side), dilation * (kernel - 1) + 8)
        size = (min(size, 1 << 17),) if dims == 1 else (min(size, 512),) * 2
        problems.append(Problem(batch, c_in, c_out, size, kernel, dilation, padding, stride,
                                groups, dtype, seed=len(problems)))
    return problems


class Block(torch.nn.Module):
    """x + 1x1(relu(causal dilated conv(x)))."""

    def __init__(self, channels, dilation, dtype):
        super().__init__()
        self.pad = 2 * dilation
        self.dilated = torch.nn.Conv1d(channels, channels, 3, dilation=dilation, dtype=dtype)
        self.mix = torch.nn.Conv1d(channels, channels, 1, dtype=dtype)

    def forward(self, x):
        return x + self.mix(torch.relu(self.dilated(F.pad(x, (self.pad, 0)))))


def tcn_step_times(rounds, dtype=torch.float32, batch=16, length=4096, channels=64):
    torch.manual_seed(0)
    plain = torch.nn.Sequential(*[Block(channels, 2 ** i, dtype) for i in range(8)])
    fast = copy.deepcopy(plain)
    swapped = ft.replace_convs(fast)
    assert len(swapped) == 16
    x = torch.randn(batch, channels, length, dtype=dtype)
    target = torch.randn(batch, channels, length, dtype=dtype)

    def trainer(model):
        optimiser = torch.optim.SGD(model.parameters(), lr=1e-4)

        def step():
            optimiser.zero_grad()
            loss = F.mse_loss(model(x), target)
            loss.backward()
            optimiser.step()
            return loss.item()
        return step

    fast_step, plain_step = trainer(fast), trainer(plain)
    first = fast_step(), plain_step()
    assert math.isclose(*first, rel_tol=1e-4), first
    timed = interleaved({"fastdilate": fast_step, "pytorch": plain_step}, rounds)
    return timed["fastdilate"], timed["pytorch"]


def overhead_times(rounds, calls=2000, length=16):
    """Microseconds per call on a tiny input (1 x 1 x length, kernel 3): the
    forward without autograd, and forward + backward with it."""
    x = torch.randn(1, 1, length)
    w, b = torch.randn(1, 1, 3), torch.randn(1)
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]

    def repeat(call):
        def run():
            for _ in range(calls):
                call()
        return run

    def train(conv):
        def step():
            conv(*leaves).sum().backward()
        return step

    results = {}
    for part, fast, plain in (
            ("forward", lambda: ft.conv1d(x, w, b, dilation=2),
             lambda: F.conv1d(x, w, b, dilation=2)),
            ("forward+backward", train(lambda *a: ft.conv1d(*a, dilation=2)),
             train(lambda *a: F.conv1d(*a, dilation=2)))):
        with torch.no_grad() if part == "forward" else torch.enable_grad():
            timed = interleaved({"fastdilate": repeat(fast), "pytorch": repeat(plain)}, rounds)
        results[part] = {name: t / calls * 1e6 for name, t in timed.items()}
    return results


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sweep", type=int, default=100, help="random shapes (0: none)")
    parser.add_argument("--sweep-pause", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="3 rounds, 20 shapes, no TCN")
    parser.add_argument("--no-tcn", action="store_true")
    parser.add_argument("--cases", metavar="NAME,...", default=None,
                        help="named cases to time (default: all; 'none': none)")
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument("--sweep-part", metavar="I/N", default=None,
                        help="time only part I (1-based) of N of the sweep")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sweep, args.no_tcn = 3, min(args.sweep, 20), True
    threads = [int(t) for t in args.threads.split(",")]
    results = {"threads": threads, "named": [], "sweep": [], "tcn": [], "overhead": []}
    chosen = NAMED if args.cases is None else [] if args.cases == "none" else args.cases.split(",")
    named = {name: Problem(*NAMED[name]) for name in chosen}
    sweep = sweep_part(sweep_problems(args.sweep), args.sweep_part)
    for count in threads:
        torch.set_num_threads(count)
        print(f"\n== {count} thread(s); forward + backward, ms (median of {args.rounds})")
        if not args.no_overhead:
            for part, times in overhead_times(args.rounds).items():
                results["overhead"].append(dict(part=part, threads=count, **times))
                print(f"tiny conv1d {part}: {times['fastdilate']:.1f} us vs "
                      f"{times['pytorch']:.1f} us per call: "
                      f"{times['fastdilate'] / times['pytorch']:.2f}x F.conv1d's", flush=True)
        for name, problem in named.items():
            fast, plain = time_problem(problem, args.rounds)
            results["named"].append(dict(name=name, threads=count, fastdilate=fast,
                                         pytorch=plain, one_d=problem.one_d,
                                         depthwise=problem.depthwise,
                                         float64=problem.dtype == torch.float64))
            print(f"{name:>22} {problem.label:>52}  {fast * 1e3:9.2f} {plain * 1e3:9.2f}"
                  f"  {plain / fast:6.2f}x", flush=True)
        for problem in sweep:
            fast, plain = time_problem(problem, max(3, args.rounds - 2), args.sweep_pause)
            results["sweep"].append(dict(label=problem.label, threads=count, fastdilate=fast,
                                         pytorch=plain))
        if sweep:
            ratios = [r["pytorch"] / r["fastdilate"] for r in results["sweep"]
                      if r["threads"] == count]
            print(f"sweep of {len(ratios)}: geomean {geomean(ratios):.2f}x, "
                  f">= 1.0x: {sum(r >= 1 for r in ratios)}, min {min(ratios):.2f}x, "
                  f"max {max(ratios):.2f}x", flush=True)
        if not args.no_tcn:
            for dtype in (torch.float32, torch.float64):
                fast, plain = tcn_step_times(max(3, args.rounds - 2), dtype)
                results["tcn"].append(dict(threads=count, dtype=str(dtype), fastdilate=fast,
                                           pytorch=plain))
                print(f"TCN training step {str(dtype)[6:]}: {fast * 1e3:.0f} ms vs "
                      f"{plain * 1e3:.0f} ms: {plain / fast:.2f}x", flush=True)
    report_bars(results)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


def sweep_part(problems, part):
    """Part I of N ("I/N") of the sweep's problems, or all of them."""
    if part is None:
        return problems
    index, count = map(int, part.split("/"))
    return problems[index - 1::count]


def report_bars(results):
    print("\n== bars (issue 11)")
    named = results["named"]
    ratio = lambda r: r["pytorch"] / r["fastdilate"]  # noqa: E731
    slow = [f"{r['name']}@{r['threads']}" for r in named if ratio(r) < 1.0]
    print(f">= 1.0x on every named case: {'yes' if not slow else 'no: ' + ', '.join(slow)}")
    special = [r for r in named if r["one_d"] or r["depthwise"] or r["float64"]]
    short = [f"{r['name']}@{r['threads']} {ratio(r):.2f}x" for r in special if ratio(r) < 2.0]
    print(f"1-D, depthwise, float64 >= 2x: {'yes' if not short else 'no: ' + ', '.join(short)}")
    if results["sweep"]:
        ratios = [ratio(r) for r in results["sweep"]]
        share = sum(r >= 1 for r in ratios) / len(ratios)
        print(f"sweep >= 1.0x: {share:.0%} (bar 90%); geomean {geomean(ratios):.2f}x (bar 1.5x)")
    for r in results["overhead"]:
        print(f"tiny conv1d {r['part']} @{r['threads']}: "
              f"{r['fastdilate'] / r['pytorch']:.2f}x F.conv1d's time (bar 2x)")
    for r in results["tcn"]:
        print(f"TCN step {r['dtype']} @{r['threads']}: {ratio(r):.2f}x (bar 1.3x)")


if __name__ == "__main__":
    sys.exit(main())
