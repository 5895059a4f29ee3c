"""Streaming and offline speed of fastdilate.models.WaveNet and of the
streaming conv layer, against the neural-amp-modeler PyTorch model.

    python bench/bench_stream.py [--rounds 5] [--seconds 2] [--quick]
                                 [--nam-cpp PATH/TO/benchmodel_bufsize]

Prints, for NAM's A1 standard, lite, feather and nano WaveNets (random
weights): the real-time factor at 48 kHz on one thread for blocks of 1 to
4096 samples and the time per block; offline throughput on 60 s of audio
at 1 and 2 threads; 8 streams at once; the PyTorch model offline and per
block (each block run with the receptive field before it, as PyTorch users
stream today); and StreamingConv1d against fd.conv1d on the same data.
With ``--nam-cpp``, NeuralAmpModelerCore's ``tools/benchmodel_bufsize``
(built -O3 -march=native) runs the same .nam weights in the streaming
rounds, interleaved with fastdilate: one timed pass of 2 s per round at
each block size, as that tool reports it.
Peers are interleaved round by round, with a pause between them; each
figure is the median of the rounds.  Needs torch and neural-amp-modeler.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

import fastdilate as fd
from fastdilate.models import WaveNet
from fastdilate.models.nam import A1_ARCHITECTURES, a1_layers_config
from fastdilate.stream import StreamingConv1d

RATE = 48000
BLOCKS = (1, 16, 64, 256, 1024, 4096)
PAUSE = 0.2
# NeuralAmpModelerCore (C++, one core), A1 standard, ms per 2 s of audio,
# as issue 10 measured it on this machine: blocks of 1, 16, 64-1024.
NAM_CPP_MS_PER_2S = {1: 272.0, 16: 102.5, 64: 76.0}


def nam_models(name):
    """The neural-amp-modeler PyTorch model of an A1 architecture with its
    own random initialisation, and a fastdilate WaveNet of its weights."""
    import torch
    from nam.models.wavenet import WaveNet as NamWaveNet
    torch.manual_seed(0)
    model = NamWaveNet.init_from_config({"layers_configs": a1_layers_config(name), "head": None,
                                         "head_scale": 0.02})
    model.eval()
    return model, model._get_export_dict()  # what its .nam export writes


CLOCK = {"clock": time.perf_counter}  # --cpu-time: the process's CPU time instead


def timed(run):
    """Seconds that run() takes, or that it reports (a float it returns)."""
    start = CLOCK["clock"]()
    reported = run()
    elapsed = CLOCK["clock"]() - start
    return reported if isinstance(reported, float) else elapsed


def nam_cpp_run(binary, nam_path, block):
    """One timed pass of benchmodel_bufsize: 2 s of audio (whole buffers
    of ``block``) after its warm-up pass; returns its seconds per 2 s."""
    def run():
        out = subprocess.run([binary, nam_path, str(block), "1"], capture_output=True,
                             text=True, check=True).stdout
        microseconds = float(out.strip().splitlines()[-1].split(",")[1])
        return microseconds * 1e-6 * (2 * RATE) / (2 * RATE - 2 * RATE % block)
    return run


def interleaved(cases, rounds):
    """{name: median seconds}, each round running every case once in turn."""
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            times[name].append(timed(run))
            time.sleep(PAUSE)
    return {name: statistics.median(t) for name, t in times.items()}


def stream_run(net, x, block, batch=1):
    net.prepare(block, batch)
    out = np.empty((batch, block) if batch > 1 else block, np.float32)
    stop = x.shape[-1] - x.shape[-1] % block

    def run():
        for start in range(0, stop, block):
            net.stream(x[..., start:start + block], out=out)
    return run


def streaming_table(name, exported, seconds, rounds, nam_cpp=None):
    net = WaveNet.from_nam(exported, num_threads=1)
    x = np.random.default_rng(1).standard_normal(int(seconds * RATE)).astype(np.float32) * 0.3
    cases = {}
    with tempfile.TemporaryDirectory() as folder:
        nam_path = os.path.join(folder, f"{name}.nam")
        with open(nam_path, "w") as f:
            json.dump(exported, f)
        for block in BLOCKS:
            cases[block] = stream_run(WaveNet.from_nam(exported, num_threads=1), x, block)
            if nam_cpp:
                cases["C++", block] = nam_cpp_run(nam_cpp, nam_path, block)
        times = interleaved(cases, rounds)
    print(f"\n{name}: receptive field {net.receptive_field}, {net.macs_per_sample} "
          f"multiply-adds per sample; streaming, 1 thread, {seconds:g} s of audio")
    print(f"  {'block':>6} {'ms/2s':>8} {'x real time':>12} {'us/block':>9}  vs NAM C++ "
          f"(issue 10's figures{', measured here' if nam_cpp else ''})")
    for block in BLOCKS:
        t = times[block]
        audio = (x.size - x.size % block) / RATE
        per_2s = t / audio * 2e3
        cpp = NAM_CPP_MS_PER_2S.get(block, NAM_CPP_MS_PER_2S[64] if block > 64 else None)
        versus = f"{cpp / per_2s:5.2f}x" if name == "standard" and cpp else "      "
        if nam_cpp:
            versus += f"  {times['C++', block] * 1e3 / per_2s:5.2f}x of {times['C++', block] * 1e3:6.1f} ms"
        print(f"  {block:>6} {per_2s:8.1f} {audio / t:12.1f} {t / (audio * RATE / block) * 1e6:9.2f}"
              f"  {versus}")


def offline_table(name, model, exported, rounds, seconds):
    import torch
    x = np.random.default_rng(2).standard_normal(int(seconds * RATE)).astype(np.float32) * 0.3
    nets = {threads: WaveNet.from_nam(exported, num_threads=threads) for threads in (1, 2)}
    batch = np.stack([x[:4 * RATE] * (i + 1) / 8 for i in range(8)])
    torch_x = torch.from_numpy(x[:10 * RATE])[None]

    def torch_offline():
        with torch.no_grad():
            model(torch_x)
    cases = {"fastdilate 1 thread": lambda: nets[1](x), "fastdilate 2 threads": lambda: nets[2](x),
             "8 streams x 4 s, 1 thread": lambda: nets[1](batch),
             "8 streams x 4 s, 2 threads": lambda: nets[2](batch),
             "PyTorch (neural-amp-modeler), 10 s": torch_offline}
    times = interleaved(cases, rounds)
    audio = {"fastdilate 1 thread": seconds, "fastdilate 2 threads": seconds,
             "8 streams x 4 s, 1 thread": 32.0, "8 streams x 4 s, 2 threads": 32.0,
             "PyTorch (neural-amp-modeler), 10 s": 10.0}
    print(f"\n{name}: offline, {seconds:g} s of audio (torch threads: {torch.get_num_threads()})")
    for case, t in times.items():
        print(f"  {case:<36} {t * 1e3:9.1f} ms  {audio[case] / t:8.1f}x real time  "
              f"{2e3 * t / audio[case]:7.1f} ms/2s")
    torch_rate = audio["PyTorch (neural-amp-modeler), 10 s"] / times["PyTorch (neural-amp-modeler), 10 s"]
    print(f"  fastdilate 1 thread vs PyTorch: {seconds / times['fastdilate 1 thread'] / torch_rate:.1f}x")


def torch_per_block(name, model, exported, rounds, block=64, seconds=0.5):
    """PyTorch as users stream today: each block with its receptive field before it."""
    import torch
    rf = model.receptive_field
    x = np.random.default_rng(3).standard_normal(int(seconds * RATE) + rf).astype(np.float32)
    history = torch.from_numpy(x)

    def torch_blocks():
        with torch.no_grad():
            for start in range(rf, x.size - block + 1, block):
                model._net(history[start - rf + 1:start + block][None, None])
    net = WaveNet.from_nam(exported, num_threads=1)
    cases = {"PyTorch": torch_blocks, "fastdilate": stream_run(net, x[rf:], block)}
    times = interleaved(cases, rounds)
    audio = (x.size - rf) / RATE
    print(f"\n{name}: per block of {block}, 1 thread for fastdilate: PyTorch "
          f"{audio / times['PyTorch']:.4f}x real time, fastdilate "
          f"{audio / times['fastdilate']:.1f}x ({times['PyTorch'] / times['fastdilate']:.0f}x faster)")
    print(f"  (PyTorch: {times['PyTorch'] / (audio * RATE / block) * 1e3:.1f} ms per block)")


def conv_layer_table(rounds, block=64):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 16, 2 * RATE)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)

    def streaming():
        layer = StreamingConv1d(w, b, dilation=64, num_threads=1)
        for start in range(0, x.shape[-1], block):
            layer(x[..., start:start + block])
    cases = {"StreamingConv1d, block 64": streaming,
             "fd.conv1d causal, whole signal": lambda: fd.conv1d(
                 x, w, b, dilation=64, padding="causal", num_threads=1)}
    times = interleaved(cases, rounds)
    print("\nconv layer 16 -> 16, K 3, dilation 64, 2 s at 48 kHz, 1 thread:")
    for case, t in times.items():
        print(f"  {case:<32} {t * 1e3:8.1f} ms  {2 / t:8.1f}x real time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="audio per streaming run")
    parser.add_argument("--offline-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="standard and nano, 3 rounds")
    parser.add_argument("--only", choices=list(A1_ARCHITECTURES), action="append")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by CPU time (one-thread figures on a loaded machine)")
    parser.add_argument("--streaming-only", action="store_true")
    parser.add_argument("--nam-cpp", metavar="BINARY",
                        help="NeuralAmpModelerCore's tools/benchmodel_bufsize, timed alongside")
    args = parser.parse_args()
    if args.cpu_time:
        CLOCK["clock"] = time.process_time
    names = args.only or (["standard", "nano"] if args.quick else list(A1_ARCHITECTURES))
    rounds = 3 if args.quick else args.rounds
    print(f"fastdilate {fd.__version__}, core {fd.build_info()['core']}, "
          f"{'CPU' if args.cpu_time else 'wall'} time, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name in names:
        model, exported = nam_models(name)
        streaming_table(name, exported, args.seconds, rounds, args.nam_cpp)
        if not args.streaming_only:
            offline_table(name, model, exported, rounds, args.offline_seconds)
            torch_per_block(name, model, exported, rounds)
    conv_layer_table(rounds)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
