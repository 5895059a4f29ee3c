"""What a run found, for people and programs: environment, table, legend, JSON, plot.

threadpoolctl, PyTorch and matplotlib are imported inside the functions that
use them.
"""
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform

import numpy as np

from .._info import build_info
from .peers import ENGINES, PEER_NAMES, PEERS
from .timing import SETTLE_SECONDS, SLOW_FACTOR, available_cpus


def problems(report):
    """What went wrong, one line each: fastdilate failing a case, or a peer
    disagreeing with it (or failing) and so left untimed."""
    lines = []
    for result in report["results"]:
        where = f"{result['case']} at {result['threads']} thread(s)"
        if "error" in result:
            lines.append(f"ERROR: fastdilate failed {where}: {result['error']}")
            continue
        for name, peer in result["peers"].items():
            if "check" in peer and not peer["check"]["ok"]:
                detail = peer["check"].get("problem") or (
                    f"error {peer['check']['max_error']:.3g} of sum|w*x| > tolerance "
                    f"{peer['check']['tolerance']:.3g}")
                lines.append(f"MISMATCH: {name} disagrees with fastdilate on {where} "
                             f"({detail}); not timed")
    return lines


def environment():
    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": _processor(), "cpus": available_cpus(), "load_average": _load_average(),
            "versions": _versions(), "fastdilate": build_info(), "blas": _blas(),
            "torch": _torch_facts()}


def _load_average():
    """The 1-minute load average before the run: others' work makes timings noisy."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _processor():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _versions():
    versions = {}
    for name in ("numpy", "scipy", "torch", "onnxruntime", "onnx", "jax", "jaxlib",
                 "threadpoolctl", "matplotlib"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _blas():
    """NumPy's BLAS as threadpoolctl sees it; None without threadpoolctl
    (then BLAS threads are not capped and matmul peaks use its default)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
    return [{key: pool.get(key) for key in keys}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def _torch_facts():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch
    return {"version": torch.__version__,
            "mkldnn_available": torch.backends.mkldnn.is_available(),
            "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
            "default_num_threads": torch.get_num_threads()}


def format_seconds(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            return f"{seconds / scale:.3g} {unit}" if seconds / scale < 100 else \
                f"{seconds / scale:.0f} {unit}"
    raise AssertionError("unreachable")


def best_peer(peers):
    """{"name", "speedup"} of the fastest engine timed on a case (the least
    speedup over it), or None when none was timed."""
    timed = [(peers[name]["speedup"], name) for name in ENGINES
             if "speedup" in peers.get(name, {})]
    if not timed:
        return None
    speedup, name = min(timed)
    return {"name": name, "speedup": speedup}


def summarize(results):
    """{threads: facts} of fastdilate's speedup over the best peer, over the
    results at that thread count that have one: how many, the geometric
    mean, how many (and what share) at >= 1x, and the worst."""
    by_threads = {}
    for result in results:
        if result.get("best_peer") is not None:
            by_threads.setdefault(str(result["threads"]), []).append(result)
    summary = {}
    for threads, rows in by_threads.items():
        ratios = [row["best_peer"]["speedup"] for row in rows]
        worst = min(rows, key=lambda row: row["best_peer"]["speedup"])
        at_least_1x = sum(ratio >= 1 for ratio in ratios)
        summary[threads] = {
            "shapes": len(rows), "geomean": math.exp(sum(map(math.log, ratios)) / len(ratios)),
            "at_least_1x": at_least_1x, "share_at_least_1x": at_least_1x / len(rows),
            "worst": {"case": worst["case"], "speedup": worst["best_peer"]["speedup"],
                      "peer": worst["best_peer"]["name"]}}
    return summary


def format_summary(summary):
    return [f"vs best peer at {threads} thread(s), {facts['shapes']} shape(s): geometric mean "
            f"{_ratio(facts['geomean'])}; >= 1x on {facts['at_least_1x']} "
            f"({100 * facts['share_at_least_1x']:.0f}%); worst {_ratio(facts['worst']['speedup'])}"
            f" ({facts['worst']['peer']}) on {facts['worst']['case']}"
            for threads, facts in summary.items()]


def _ratio(speedup):
    return f"{speedup:.0f}x" if speedup >= 100 else f"{speedup:.3g}x"


def _speedup_cell(peer):
    if "skipped" in peer:
        return "-"
    if not peer["check"]["ok"]:
        return "MISMATCH"
    if "too_slow" in peer:
        return "slow"
    return _ratio(peer["speedup"])


def _best_cell(best):
    return "-" if best is None else f"{_ratio(best['speedup'])} {best['name']}"


def _peak_cell(fastdilate):
    kind = "copy" if fastdilate["peak"] == "copy bandwidth" else fastdilate["peak"].split()[0]
    return f"{fastdilate['percent_of_peak']:.0f}% {kind}"


def format_table(report):
    """The results as one fixed-width table, with its legend."""
    header = (["case", "thr", "fastdilate", "GFLOP/s", "% of peak"]
              + [f"vs {name}" for name in PEER_NAMES] + ["vs best peer", "torch path"])
    rows = []
    for result in report["results"]:
        if "error" in result:
            rows.append([result["case"], str(result["threads"]), "ERROR"]
                        + [""] * (len(header) - 3))
            continue
        fastdilate, peers = result["fastdilate"], result["peers"]
        rows.append([result["case"] + ("*" if result["reduced"] else ""), str(result["threads"]),
                     format_seconds(fastdilate["median_s"]), f"{fastdilate['gflops']:.3g}",
                     _peak_cell(fastdilate)]
                    + [_speedup_cell(peers[name]) for name in PEER_NAMES]
                    + [_best_cell(result["best_peer"]), peers["torch"].get("path", "-")])
    lines = aligned([header] + rows)
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines + _legend(report) + [""] + format_summary(summarize(report["results"])))


def _legend(report):
    settings = report["settings"]
    lines = ["",
             f"fastdilate: median time per call over {settings['repeats']} repeats, peers timed "
             f"in turn with it, each sample {SETTLE_SECONDS} s after the one before (none "
             f"after {', '.join(peer.name for peer in PEERS if not peer.spins)}, whose threads "
             f"do not spin); vs X = X's median / fastdilate's (above 1x fastdilate is faster).",
             "GFLOP/s = 2*MACs/time; % of peak: memory-bound cases against copy bandwidth "
             "(input + output bytes once), others against NumPy matmul of their dtype.",
             "'-' = peer not applicable or not installed (reasons in --json); SciPy and the "
             "reference run on one thread whatever the thread count.",
             f"vs best peer = over the fastest of {', '.join(ENGINES)} on the case (named).",
             "threads: torch set_num_threads; onnxruntime intra-op threads (inter-op 1, no "
             "spinning); jax NPROC, which sizes XLA's CPU thread pool (its client restarts "
             "when the count changes); NumPy's BLAS capped by threadpoolctl."]
    if any(result.get("params", {}).get("padding_mode", "zeros") != "zeros"
           for result in report["results"]):
        lines.append("reflect/replicate/circular padding, inside each timed call: numpy np.pad, "
                     "torch F.pad, onnxruntime a Pad node before the Conv, jax jnp.pad in the "
                     "jitted function, scipy its own modes.")
    if any("too_slow" in peer for result in report["results"]
           for peer in result.get("peers", {}).values()):
        lines.append(f"slow = checked but not timed: one call took over "
                     f"{settings['max_call_seconds']} s and {SLOW_FACTOR}x fastdilate's "
                     f"(times in --json).")
    for threads, peaks in report["peaks"].items():
        matmul = peaks["matmul_gflops"]
        lines.append(f"peaks at {threads} thread(s), best of before and after: float32 matmul "
                     f"{matmul['float32']:.0f} GFLOP/s, float64 matmul {matmul['float64']:.0f} "
                     f"GFLOP/s, copy {peaks['copy_gbs']:.1f} GB/s")
    load = report["environment"]["load_average"]
    if load is not None and load >= 0.5:
        lines.append(f"note: load average {load:.2f} before the run: other processes shared "
                     f"the {report['environment']['cpus']} cpu(s), so timings are noisy")
    if report["environment"]["blas"] is None:
        lines.append("note: threadpoolctl is not installed, so NumPy's BLAS ran at its default "
                     "thread count whatever the thread count under test")
    shrunk = {result["case"]: result["reduced"]
              for result in report["results"] if result.get("reduced")}
    if shrunk:
        lines.append("* sizes reduced (--quick): "
                     + "; ".join(f"{name}: {note}" for name, note in shrunk.items()))
    return lines + problems(report)


def format_environment(report):
    env = report["environment"]
    versions, fd = env["versions"], env["fastdilate"]
    blas = ", ".join(f"{pool['internal_api']} {pool['version']} {pool['architecture']}"
                     for pool in env["blas"] or [])
    torch = env["torch"]
    torch_text = "not installed" if torch is None else (
        f"{torch['version']} (mkldnn available: {torch['mkldnn_available']}, "
        f"enabled: {torch['mkldnn_enabled']})")
    others = ", ".join(f"{name} {versions.get(name) or 'not installed'}"
                       for name in ("onnxruntime", "jax"))
    return "\n".join([
        f"fastdilate {fd['version']}: {fd['core']}, isa {fd['isa']}, openmp {fd['openmp']}, "
        f"{fd['compiler']}",
        f"numpy {versions['numpy']} ({blas or 'BLAS unknown'}), scipy {versions['scipy']}, "
        f"torch {torch_text}, {others}",
        f"{env['processor']}, {env['cpus']} cpu(s), python {env['python']}",
    ])


def write_json(report, path):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=1, default=_plain)
        file.write("\n")


def _plain(value):
    """NumPy scalars as the Python numbers JSON knows."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--plot needs matplotlib, which is not installed: "
                         "pip install matplotlib (or fastdilate[bench])") from None
    return matplotlib


def plot_speedups(report, path):
    """A bar chart (log scale) of fastdilate's speedup over each peer."""
    matplotlib = require_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [result for result in report["results"] if "error" not in result]
    peers = [name for name in PEER_NAMES
             if any("speedup" in result["peers"][name] for result in results)]
    width = 0.8 / max(len(peers), 1)
    figure, axes = plt.subplots(figsize=(min(16.0, max(6.0, 0.6 * len(results) + 2)), 5.0))
    for index, name in enumerate(peers):
        speedups = [result["peers"][name].get("speedup", math.nan) for result in results]
        axes.bar([position + index * width for position in range(len(results))], speedups,
                 width, label=f"vs {name}")
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("speedup (peer time / fastdilate time)")
    axes.set_xticks([position + 0.4 - width / 2 for position in range(len(results))])
    axes.set_xticklabels([f"{r['case']}{'*' if r['reduced'] else ''} ({r['threads']}t)"
                          for r in results], rotation=40, ha="right", fontsize=8)
    axes.set_title("fastdilate speedup over its peers"
                   + (" (* reduced sizes)" if any(r["reduced"] for r in results) else ""))
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def aligned(rows):
    """Rows of cells as text lines: first column left-aligned, the rest right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(row, widths))) for row in rows]
