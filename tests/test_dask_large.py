"""Larger than memory, for real: Zarr arrays several times the total memory
limit of a cluster of worker processes, convolved by fastdilate.dask and
written back to Zarr; random windows checked bit for bit against the
in-memory call on the same slices; no worker killed, and the workers'
memory, sampled while it runs, under their limit.

Run with ``-s`` to see the sizes, the peak memory and the times.
"""
import os
import threading
import time

import dask
import dask.array as da
import numpy as np
import psutil
import pytest

import fastdilate as fd
import fastdilate.dask as fdd
from conftest import assert_bitwise_equal

WORKERS = 2
MEMORY_LIMIT = 300 * 2**20  # per worker
CHUNK_BYTES = 8 * 2**20


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import distributed

    # A task on a worker that died is not retried: a kill fails the test.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                                     memory_limit=MEMORY_LIMIT, dashboard_address=None,
                                     silence_logs=40,
                                     local_directory=str(tmp_path_factory.mktemp("spill"))
                                     ) as cluster, distributed.Client(cluster) as client:
        yield client


class MemorySampler:
    """The RSS of each worker process, sampled every 50 ms in a thread."""

    def __init__(self, client):
        self.processes = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max([self.peak] + [p.memory_info().rss for p in self.processes])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def random_zarr(client, path, shape, chunks):
    """A random float32 Zarr array written by the cluster, chunk by chunk."""
    def block(block_info=None):
        location = block_info[None]["chunk-location"]
        rng = np.random.default_rng(location)
        return rng.standard_normal(block_info[None]["chunk-shape"], dtype=np.float32)
    noise = da.map_blocks(block, chunks=da.core.normalize_chunks(chunks, shape),
                          dtype=np.float32, meta=np.empty((0,) * len(shape), np.float32))
    client.compute(noise.to_zarr(str(path), compute=False, compressors=None)).result()
    return da.from_zarr(str(path))


def convolve_to_zarr(client, lazy, path):
    """Run ``lazy`` into Zarr; (seconds, peak sampled worker RSS), checking
    that the same worker processes are there before and after."""
    workers = dict(client.run(os.getpid))
    with MemorySampler(client) as sampler:
        start = time.perf_counter()
        client.compute(lazy.to_zarr(str(path), compute=False, compressors=None)).result(
            timeout=600)
        seconds = time.perf_counter() - start
    assert dict(client.run(os.getpid)) == workers, "a worker was killed or restarted"
    return seconds, sampler.peak


def report(name, x, y, peak, seconds, times):
    limit = WORKERS * MEMORY_LIMIT
    print(f"\n{name}: input {x.nbytes / 2**30:.2f} GiB in {x.npartitions} chunks "
          f"({x.nbytes / limit:.1f}x the cluster's memory limit, {WORKERS} x "
          f"{MEMORY_LIMIT / 2**20:.0f} MiB), output {y.nbytes / 2**30:.2f} GiB; "
          f"peak sampled worker RSS {peak / 2**20:.0f} MiB; Zarr to Zarr in {seconds:.1f} s "
          f"({x.nbytes / seconds / 2**20:.0f} MiB/s of input); "
          + ", ".join(f"{step} {t:.1f} s" for step, t in times.items()))
    assert peak < MEMORY_LIMIT


def expected_window(op, x, w, window, stride, pads, dilation, padding_mode):
    """The in-memory result for outputs ``window`` (a slice per spatial
    axis): the call on the input slice they read, padded where it leaves the
    array (right for the modes that pad from the edge's own neighbourhood:
    zeros, reflect, replicate)."""
    index, core_pads = [Ellipsis], []
    for outputs, s, (before, _), d, k, n in zip(window, stride, pads, dilation, w.shape[2:],
                                               x.shape[2:]):
        lo, hi = outputs.start * s - before, (outputs.stop - 1) * s - before + d * (k - 1) + 1
        index.append(slice(max(lo, 0), min(hi, n)))
        core_pads.append((max(-lo, 0), max(hi - n, 0)))
    piece = x[tuple(index)].compute()
    one = (lambda pair: pair[0]) if len(window) == 1 else tuple
    return op(piece, w, stride=one(stride), padding=one(core_pads), dilation=one(dilation),
              padding_mode=padding_mode)


@pytest.mark.slow
def test_conv1d_larger_than_memory_zarr_to_zarr(cluster, tmp_path):
    channels, length = 8, 64 * 2**20  # 2 GiB of float32
    chunk = CHUNK_BYTES // (4 * channels)
    start = time.perf_counter()
    x = random_zarr(cluster, tmp_path / "x.zarr", (1, channels, length), (1, channels, chunk))
    times = {"writing the input": time.perf_counter() - start}
    w = np.random.default_rng(1).standard_normal((2, channels, 3)).astype(np.float32)
    kwargs = dict(padding="same", dilation=1000, padding_mode="reflect")
    seconds, peak = convolve_to_zarr(cluster, fdd.conv1d(x, w, **kwargs), tmp_path / "y.zarr")
    y = da.from_zarr(str(tmp_path / "y.zarr"))
    assert y.shape == (1, 2, length) and x.nbytes > 3 * WORKERS * MEMORY_LIMIT

    start = time.perf_counter()
    rng = np.random.default_rng(2)
    for first in [0, length - 3000] + [int(s) for s in rng.integers(0, length - 2 * chunk, 6)]:
        window = slice(first, min(first + 3 * chunk // 2, length))  # across a seam or an end
        expected = expected_window(fd.conv1d, x, w, [window], (1,), ((1000, 1000),), (1000,),
                                   "reflect")
        assert_bitwise_equal(y[..., window].compute(), expected)
    times["checking 8 windows"] = time.perf_counter() - start
    report("conv1d", x, y, peak, seconds, times)


@pytest.mark.slow
def test_conv2d_larger_than_memory_zarr_to_zarr(cluster, tmp_path):
    channels, side = 4, 7168  # 0.77 GiB of float32
    chunks = (1, channels, 1024, CHUNK_BYTES // (4 * channels * 1024))
    start = time.perf_counter()
    x = random_zarr(cluster, tmp_path / "x.zarr", (1, channels, side, side), chunks)
    times = {"writing the input": time.perf_counter() - start}
    w = np.random.default_rng(1).standard_normal((2, channels, 3, 3)).astype(np.float32)
    kwargs = dict(padding="same", dilation=(8, 5), padding_mode="replicate")
    seconds, peak = convolve_to_zarr(cluster, fdd.conv2d(x, w, **kwargs), tmp_path / "y.zarr")
    y = da.from_zarr(str(tmp_path / "y.zarr"))
    assert y.shape == (1, 2, side, side) and x.nbytes > WORKERS * MEMORY_LIMIT

    start = time.perf_counter()
    for top, left in [(0, 0), (side - 700, side - 600), (1000, 500), (3000, 2040)]:
        window = [slice(top, top + 700), slice(left, left + 600)]  # corners, seams
        expected = expected_window(fd.conv2d, x, w, window, (1, 1), ((8, 8), (5, 5)), (8, 5),
                                   "replicate")
        assert_bitwise_equal(y[(Ellipsis, *window)].compute(), expected)
    times["checking 4 windows"] = time.perf_counter() - start
    report("conv2d", x, y, peak, seconds, times)
