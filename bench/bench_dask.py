"""fastdilate.dask against the in-memory call and against the best
hand-written ``map_overlap`` recipe (PyTorch inside), for a few chunk sizes.

    pip install -e ".[dask,bench]" zarr torch==2.13.0
    python bench/bench_dask.py                    # 256 MB, chunks of 4, 16, 64 MB
    python bench/bench_dask.py --quick --json dask.json

The case is a dense TCN layer (128 -> 128 channels, K=3, dilation 16,
"same", float32, batch 4).  Peers, timed in turn within each round (medians
over rounds, a 0.2 s pause before each sample):

* ``in-memory``: ``fastdilate.conv1d`` on the NumPy array, 2 threads, into
  a preallocated ``out``.
* ``dask``: ``fastdilate.dask.conv1d`` on the same data as a Dask array in
  memory, stored (``da.store``) into the same preallocated array, the
  threaded scheduler with 2 workers (1 thread per task).
* ``map_overlap+torch``: ``x.map_overlap`` with a depth of the halo,
  ``boundary=0`` and ``trim=False``, ``torch.nn.functional.conv1d`` in
  "valid" mode inside (1 torch thread per task, as the scheduler already
  runs 2 tasks; 2 torch threads per task oversubscribes the cores).
* ``zarr: in-memory``: read the Zarr input, ``fastdilate.conv1d``, write
  the Zarr output, in one process at 2 threads.
* ``zarr: dask`` / ``zarr: map_overlap+torch``: Zarr in, Zarr out on a
  LocalCluster of 2 worker processes with 1 thread each.

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

C, K, DILATION, BATCH = 128, 3, 16, 4
HALO = DILATION * (K - 1) // 2


def torch_block(block, weight):
    """The map_overlap recipe's block function: a valid conv of the block
    with its halo; the output is exactly the chunk (trim=False)."""
    import torch

    torch.set_num_threads(1)
    with torch.no_grad():
        return torch.nn.functional.conv1d(torch.from_numpy(block), torch.from_numpy(weight),
                                          dilation=DILATION).numpy()


def map_overlap_torch(x, weight):
    return x.map_overlap(torch_block, depth={0: 0, 1: 0, 2: HALO}, boundary={2: 0}, trim=False,
                         weight=weight, dtype=np.float32,
                         chunks=(x.chunks[0], (weight.shape[0],), x.chunks[2]))


def timed(run):
    time.sleep(0.2)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peers(x, weight, chunk_lengths, client, directory):
    """{(peer, chunk MB or None): a zero-argument callable}."""
    same = dict(padding="same", dilation=DILATION)
    # Every in-memory peer writes into an array allocated once: first-touch
    # page faults of fresh output arrays would otherwise dominate on a VM.
    buffer = np.empty_like(x)
    runs = {("in-memory", None): lambda: fd.conv1d(x, weight, **same, out=buffer, num_threads=2)}
    for length in chunk_lengths:
        mb = 4 * C * length / 2**20
        lazy = da.from_array(x, chunks=(1, C, length))
        for name, result in (("dask", fdd.conv1d(lazy, weight, **same)),
                             ("map_overlap+torch", map_overlap_torch(lazy, weight))):
            runs[(name, mb)] = lambda result=result: da.store(
                result, buffer, lock=False, scheduler="threads", num_workers=2)
    for length in chunk_lengths:
        mb, path = 4 * C * length / 2**20, os.path.join(directory, f"x-{length}.zarr")
        da.from_array(x, chunks=(1, C, length)).to_zarr(path, compressors=None, compute=False
                                                        ).compute(scheduler="threads")
        stored = da.from_zarr(path)
        if ("zarr: in-memory", None) not in runs:
            runs[("zarr: in-memory", None)] = lambda p=path: zarr_in_memory(
                p, weight, os.path.join(directory, "y-in-memory.zarr"))
        for name, build in (("zarr: dask", lambda s: fdd.conv1d(s, weight, **same)),
                            ("zarr: map_overlap+torch", lambda s: map_overlap_torch(s, weight))):
            out = os.path.join(directory, f"y-{name[6:]}-{length}.zarr")
            runs[(name, mb)] = lambda s=stored, b=build, o=out: client.compute(
                b(s).to_zarr(o, overwrite=True, compressors=None, compute=False)).result()
    return runs


def zarr_in_memory(source, weight, out):
    """Zarr in, Zarr out without Dask: read all, convolve, write."""
    import zarr

    stored = zarr.open_array(source, mode="r")
    result = fd.conv1d(stored[...], weight, padding="same", dilation=DILATION, num_threads=2)
    zarr.create_array(out, shape=result.shape, chunks=stored.chunks, dtype=result.dtype,
                      compressors=None, overwrite=True)[...] = result


def check_agreement(x, weight):
    small = da.from_array(x[:1, :, :20000], chunks=(1, C, 3000))
    expected = fd.conv1d(small.compute(), weight, padding="same", dilation=DILATION)
    got = fdd.conv1d(small, weight, padding="same", dilation=DILATION).compute()
    assert got.tobytes() == expected.tobytes(), "fastdilate.dask differs from in memory"
    recipe = map_overlap_torch(small, weight).compute()
    assert np.allclose(recipe, expected, rtol=1e-4, atol=1e-3), "the torch recipe disagrees"


def report(samples, nbytes, n_chunks):
    median = {key: statistics.median(times) for key, times in samples.items()}
    base, zarr_base = median[("in-memory", None)], median.get(("zarr: in-memory", None))
    lines = [f"{'peer':<26}{'chunk MB':>9}{'median':>10}{'MB/s':>9}{'vs in-memory':>14}"
             f"{'overhead/chunk':>16}{'fastdilate.dask vs it':>23}"]
    for (name, mb), t in median.items():
        reference = zarr_base if name.startswith("zarr") else base
        overhead = ((t - base) / n_chunks[mb] * 1e3 if mb and not name.startswith("zarr")
                    else None)
        ours = median.get(("zarr: dask" if name.startswith("zarr") else "dask", mb))
        lines.append(f"{name:<26}{mb or '-':>9}{t * 1e3:>8.0f}ms{nbytes / 2**20 / t:>9.0f}"
                     f"{reference / t:>13.0%} "
                     f"{'-' if overhead is None else f'{overhead:.1f} ms':>15}"
                     f"{'-' if ours is None or 'torch' not in name else f'{t / ours:.2f}x':>23}")
    return "\n".join(lines), median


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 MB, 2 rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write every sample here")
    args = parser.parse_args()
    length = 2**15 if args.quick else 2**17
    rounds = 2 if args.quick else args.rounds
    chunk_lengths = [n for n in (2**13, 2**15, 2**17) if n <= length]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, C, length), dtype=np.float32)
    weight = (rng.standard_normal((C, C, K), dtype=np.float32) / np.sqrt(C * K)).astype(np.float32)
    check_agreement(x, weight)

    import distributed

    directory = tempfile.mkdtemp(prefix="bench-dask-")
    load = os.getloadavg()
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            runs = peers(x, weight, chunk_lengths, client, directory)
            for run in runs.values():  # warm up: imports, plans, page cache
                run()
            samples = {key: [] for key in runs}
            for _ in range(rounds):
                for key, run in runs.items():
                    samples[key].append(timed(run))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    n_chunks = {4 * C * n / 2**20: BATCH * -(-length // n) for n in chunk_lengths}
    table, median = report(samples, x.nbytes, n_chunks)
    print(f"conv1d {BATCH}x{C}x{length} float32 ({x.nbytes / 2**20:.0f} MB) -> {C} channels, "
          f"K={K}, dilation {DILATION}, 'same'; {rounds} rounds; load before "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; dask {dask.__version__}, "
          f"distributed {distributed.__version__}")
    print(table)
    if args.json:
        with open(args.json, "w") as stream:
            json.dump({"load": load, "samples": {f"{k[0]}|{k[1]}": v for k, v in samples.items()},
                       "nbytes": x.nbytes, "rounds": rounds}, stream, indent=1)


if __name__ == "__main__":
    main()
