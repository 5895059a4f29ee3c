"""fastdilate.dask against the in-memory call and against the best
hand-written ``map_overlap`` recipes (PyTorch or SciPy inside), for a few
chunk sizes and layer shapes.

    pip install -e ".[dask,bench]" zarr torch==2.13.0
    python bench/bench_dask.py                      # every case, 256 MB each
    python bench/bench_dask.py --cases depthwise64 --quick --json dask.json

Cases (conv1d, float32, "same", K=3, dilation 16, batch 4, 256 MB of input;
long multichannel signals, the data fastdilate.dask is for):

* ``dense128``: a TCN layer, 128 -> 128 channels (compute-bound).
* ``dense32``: a small TCN layer over a sensor array, 32 -> 32 channels.
* ``depthwise64``: one dilated filter per channel of a 64-channel
  recording (groups=64; memory-bound).

Peers, timed in turn within each round (medians over rounds, a 0.2 s pause
before each sample), on data in memory:

* ``in-memory``: ``fastdilate.conv1d`` on the NumPy array, 2 threads, into
  a preallocated ``out`` (every Dask peer stores into that same array);
  ``in-memory (new out)``: the same allocating its output (first-touch page
  faults are slow on a VM); ``in-memory torch``: ``F.conv1d`` on it, 2
  threads (how far apart the two engines are on the shape, before Dask).
* ``dask``: ``fastdilate.dask.conv1d`` on a Dask array of the same data held
  as one contiguous array per chunk (persisted copies, as read from Zarr), stored
  (``da.store``) into the same preallocated array; threaded scheduler, 2
  workers, its default thread policy (1 thread per task).  ``dask (views)``:
  the same on ``da.from_array(x)``, whose chunks are strided views of ``x``.
* ``map_overlap+torch AxB``: ``map_overlap`` with a depth of exactly the
  halo, ``boundary=0``, ``trim=False`` and declared output chunks,
  ``F.conv1d`` in "valid" mode inside with ``torch.set_num_threads(A)``, on
  B scheduler threads (1x2 and 2x1: the best is the one to beat).
* ``map_overlap+scipy``: the same with ``scipy.ndimage.correlate1d`` per
  channel and a zero-stuffed kernel (depthwise only: SciPy has no
  channel-mixing convolution); it holds the GIL, so 1 scheduler thread.

Then Zarr in, Zarr out (``--no-zarr`` leaves it out): ``zarr: in-memory``
reads the whole input, convolves at 2 threads and writes the output, in one
process; ``zarr: dask`` and ``zarr: map_overlap+torch`` / ``+scipy`` run on
a LocalCluster of 2 worker processes with 1 thread each.

Throughput is input MB per second.  "Overhead per chunk" is (peer time -
in-memory time) / number of chunks, for the Dask peers over data in memory.
"""
import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import dask
import dask.array as da
import numpy as np

import fastdilate as fd
import fastdilate.dask as fdd

CASES = {  # name: (c_in, c_out, groups)
    "dense128": (128, 128, 1),
    "dense32": (32, 32, 1),
    "depthwise64": (64, 64, 64),
}
K, DILATION, BATCH, TOTAL_BYTES = 3, 16, 4, 2**28
HALO = DILATION * (K - 1) // 2
SAME = dict(padding="same", dilation=DILATION)


# ------------------------------------------------------------- recipes
def torch_block(block, weight, groups, threads):
    """The torch recipe's block function: a valid conv of the block with
    its halo; the output is exactly the chunk (trim=False)."""
    import torch

    torch.set_num_threads(threads)
    with torch.no_grad():
        return torch.nn.functional.conv1d(torch.from_numpy(block), torch.from_numpy(weight),
                                          dilation=DILATION, groups=groups).numpy()


def scipy_block(block, weight):
    """The SciPy recipe's block function: correlate1d per channel with the
    dilated kernel written out with zeros; its valid part."""
    from scipy.ndimage import correlate1d

    span = DILATION * (K - 1)
    stuffed = np.zeros((weight.shape[0], span + 1), dtype=weight.dtype)
    stuffed[:, ::DILATION] = weight[:, 0, :]
    length = block.shape[-1] - span
    out = np.empty(block.shape[:-1] + (length,), dtype=block.dtype)
    for channel in range(block.shape[1]):
        # origin -(span + 1) // 2 puts tap 0 of output i on input i.
        full = correlate1d(block[:, channel], stuffed[channel], axis=-1, mode="constant",
                           origin=-((span + 1) // 2))
        out[:, channel] = full[:, :length]
    return out


def map_overlap(x, weight, block, **kwargs):
    return x.map_overlap(block, depth={0: 0, 1: 0, 2: HALO}, boundary={2: 0}, trim=False,
                         weight=weight, dtype=np.float32,
                         chunks=(x.chunks[0], (weight.shape[0],), x.chunks[2]), **kwargs)


def recipes(groups):
    """{name: (build(x, weight) -> lazy result, scheduler threads)}."""
    found = {f"map_overlap+torch {a}x{b}": (
        lambda x, w, a=a: map_overlap(x, w, torch_block, groups=groups, threads=a), b)
        for a, b in ((1, 2), (2, 1))}
    if groups > 1:
        found["map_overlap+scipy"] = (lambda x, w: map_overlap(x, w, scipy_block), 1)
    return found


# ---------------------------------------------------------------- peers
def in_memory_peers(x, weight, groups, chunk_lengths, buffer):
    """{(peer, chunk length or None): a zero-argument callable}."""
    import torch

    x_t, w_t = torch.from_numpy(x), torch.from_numpy(weight)

    def torch_in_memory():
        torch.set_num_threads(2)
        with torch.no_grad():
            torch.nn.functional.conv1d(x_t, w_t, groups=groups, **SAME)

    runs = {("in-memory", None): lambda: fd.conv1d(x, weight, **SAME, groups=groups, out=buffer,
                                                   num_threads=2),
            ("in-memory (new out)", None): lambda: fd.conv1d(x, weight, **SAME, groups=groups,
                                                             num_threads=2),
            ("in-memory torch", None): torch_in_memory}
    for length in chunk_lengths:
        views = da.from_array(x, chunks=(1, x.shape[1], length))
        persisted = views.map_blocks(np.copy, dtype=x.dtype).persist(scheduler="threads")
        lazy = {"dask": (fdd.conv1d(persisted, weight, groups=groups, **SAME), 2),
                "dask (views)": (fdd.conv1d(views, weight, groups=groups, **SAME), 2)}
        lazy.update({name: (build(persisted, weight), workers)
                     for name, (build, workers) in recipes(groups).items()})
        for name, (result, workers) in lazy.items():
            runs[(name, length)] = lambda r=result, n=workers: da.store(
                r, buffer, lock=False, scheduler="threads", num_workers=n)
    return runs


def zarr_peers(x, weight, groups, chunk_lengths, client, directory):
    runs = {}
    for length in chunk_lengths:
        path = os.path.join(directory, f"x-{length}.zarr")
        da.from_array(x, chunks=(1, x.shape[1], length)).to_zarr(
            path, compressors=None, compute=False).compute(scheduler="threads")
        stored = da.from_zarr(path)
        if ("zarr: in-memory", None) not in runs:
            runs[("zarr: in-memory", None)] = lambda p=path: zarr_in_memory(
                p, weight, groups, os.path.join(directory, "y-in-memory.zarr"))
        builds = {"zarr: dask": lambda s: fdd.conv1d(s, weight, groups=groups, **SAME)}
        for name, (build, workers) in recipes(groups).items():
            if workers == 2 or "scipy" in name:  # 1 thread per worker process
                builds["zarr: " + name.split(" ")[0]] = lambda s, b=build: b(s, weight)
        for name, build in builds.items():
            out = os.path.join(directory, f"y-{name[6:]}-{length}.zarr")
            runs[(name, length)] = lambda s=stored, b=build, o=out: client.compute(
                b(s).to_zarr(o, overwrite=True, compressors=None, compute=False)).result()
    return runs


def zarr_in_memory(source, weight, groups, out):
    """Zarr in, Zarr out without Dask: read all, convolve, write."""
    import zarr

    stored = zarr.open_array(source, mode="r")
    result = fd.conv1d(stored[...], weight, groups=groups, **SAME, num_threads=2)
    zarr.create_array(out, shape=result.shape, chunks=stored.chunks, dtype=result.dtype,
                      compressors=None, overwrite=True)[...] = result


def check_agreement(x, weight, groups):
    small = da.from_array(x[:1, :, :20000], chunks=(1, x.shape[1], 3000))
    expected = fd.conv1d(small.compute(), weight, groups=groups, **SAME)
    got = fdd.conv1d(small, weight, groups=groups, **SAME).compute()
    assert got.tobytes() == expected.tobytes(), "fastdilate.dask differs from in memory"
    for name, (build, _) in recipes(groups).items():
        recipe = build(small, weight).compute(scheduler="threads")
        assert np.allclose(recipe, expected, rtol=1e-4, atol=1e-3), f"{name} disagrees"


# --------------------------------------------------------------- timing
def timed(run):
    time.sleep(0.2)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def sample(runs, rounds):
    for run in runs.values():  # warm up: imports, plans, page cache
        run()
    samples = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            samples[key].append(timed(run))
    return samples


def report(samples, nbytes, c_in, batch, length):
    """The table: one line per peer, and per chunk size fastdilate.dask
    against the best recipe."""
    median = {key: statistics.median(times) for key, times in samples.items()}
    base, zarr_base = median[("in-memory", None)], median.get(("zarr: in-memory", None))
    lines = [f"{'peer':<26}{'chunk MB':>9}{'median':>10}{'MB/s':>9}{'vs in-memory':>14}"
             f"{'overhead/chunk':>16}"]
    for (name, chunk), t in median.items():
        mb = None if chunk is None else 4 * c_in * chunk / 2**20
        zarr = name.startswith("zarr")
        n_chunks = None if chunk is None else batch * -(-length // chunk)
        overhead = None if zarr or n_chunks is None else (t - base) / n_chunks * 1e3
        lines.append(f"{name:<26}{mb or '-':>9}{t * 1e3:>8.0f}ms{nbytes / 2**20 / t:>9.0f}"
                     f"{(zarr_base if zarr else base) / t:>13.0%} "
                     f"{'-' if overhead is None else f'{overhead:.1f} ms':>15}")
    lines.append("")
    for prefix in ("", "zarr: "):
        for chunk in sorted({c for _, c in median if c is not None}):
            ours = median.get((prefix + "dask", chunk))
            rivals = {name: t for (name, c), t in median.items()
                      if c == chunk and name.startswith(prefix + "map_overlap")}
            if ours is None or not rivals:
                continue
            best = min(rivals, key=rivals.get)
            lines.append(f"{prefix}dask at {4 * c_in * chunk / 2**20:g} MB chunks: "
                         f"{rivals[best] / ours:.2f}x the best recipe ({best})")
    return "\n".join(lines)


def run_case(name, quick, rounds, zarr, chunk_mb):
    c_in, c_out, groups = CASES[name]
    length = TOTAL_BYTES // (4 if quick else 1) // (4 * BATCH * c_in)
    chunk_lengths = [n for n in (mb * 2**20 // (4 * c_in) for mb in chunk_mb) if n <= length]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, c_in, length), dtype=np.float32)
    weight = (rng.standard_normal((c_out, c_in // groups, K), dtype=np.float32)
              / np.float32(np.sqrt(c_in // groups * K)))
    check_agreement(x, weight, groups)
    load = os.getloadavg()
    buffer = np.empty((BATCH, c_out, length), dtype=np.float32)
    samples = sample(in_memory_peers(x, weight, groups, chunk_lengths, buffer), rounds)
    if zarr:
        import distributed

        directory = tempfile.mkdtemp(prefix="bench-dask-")
        try:
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          dashboard_address=None, silence_logs=40) as cluster, \
                    distributed.Client(cluster) as client:
                samples.update(sample(zarr_peers(x, weight, groups, chunk_lengths, client,
                                                 directory), rounds))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    after = os.getloadavg()
    print(f"{name}: conv1d {BATCH}x{c_in}x{length} float32 ({x.nbytes / 2**20:.0f} MB) -> "
          f"{c_out} channels, groups {groups}, K={K}, dilation {DILATION}, 'same'; {rounds} "
          f"rounds; load {load[0]:.1f} before, {after[0]:.1f} after")
    print(report(samples, x.nbytes, c_in, BATCH, length))
    print()
    return {"load": [load, after], "nbytes": x.nbytes, "rounds": rounds,
            "samples": {f"{k[0]}|{k[1]}": v for k, v in samples.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--quick", action="store_true", help="64 MB, 2 rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-zarr", dest="zarr", action="store_false",
                        help="leave out Zarr in, Zarr out on a LocalCluster")
    parser.add_argument("--chunk-mb", default="4,16,64", help="chunk sizes, comma-separated")
    parser.add_argument("--json", help="write every sample here")
    args = parser.parse_args()
    import distributed

    print(f"dask {dask.__version__}, distributed {distributed.__version__}, "
          f"fastdilate core {fd.build_info()['core']}")
    chunk_mb = [int(mb) for mb in args.chunk_mb.split(",")]
    results = {name: run_case(name, args.quick, 2 if args.quick else args.rounds, args.zarr,
                              chunk_mb)
               for name in args.cases.split(",")}
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(results, stream, indent=1)


if __name__ == "__main__":
    main()
