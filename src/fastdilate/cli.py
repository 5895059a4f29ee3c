"""The ``fastdilate`` console script (also ``python -m fastdilate``)."""
import argparse
import sys

from ._info import build_info
from .receptive import gridding_holes, trace_dependencies, visualize_receptive_field


def _int_list(text):
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def rf_facts(args):
    """(offsets reached, picture, holes, dilations per layer) for the rf command."""
    dilations = args.dilations
    n_layers = len(dilations) if args.layers is None else args.layers
    if not dilations:
        raise ValueError("--dilations needs at least one dilation")
    if n_layers > len(dilations):
        # A shorter schedule repeats, as WaveNet repeats its block.
        dilations = [dilations[i % len(dilations)] for i in range(n_layers)]
    reached = trace_dependencies(n_layers, args.kernel_size, dilations)
    picture = visualize_receptive_field(n_layers, args.kernel_size, dilations[:n_layers])
    holes = gridding_holes(args.kernel_size, dilations[:n_layers])
    return reached, picture, holes, dilations[:n_layers]


def run_rf(args):
    try:
        reached, picture, holes, dilations = rf_facts(args)
    except (ValueError, TypeError) as error:
        args.subparser.error(str(error))
    n_layers = len(dilations)
    print(f"layers: {n_layers}  kernel size: {args.kernel_size}  "
          f"dilations: {','.join(map(str, dilations))}")
    print(f"receptive field: {len(picture)}  (offsets reached: {len(reached)})")
    print(picture)
    if holes:
        shown = ", ".join(map(str, holes[:20])) + (", ..." if len(holes) > 20 else "")
        print(f"gridding holes: {len(holes)}  at offsets {shown}")
    else:
        print("gridding holes: none")
    return 0


def run_info(args):
    for key, value in build_info().items():
        print(f"{key:>20}: {value}")
    return 0


def run_bench(args):
    from .bench import run  # loaded only here: `fastdilate rf` and `info` stay light

    if args.wavelets:
        return _run_wavelet_bench(args)
    try:
        cases, thread_counts, sweep = run.parse_options(args.cases, args.threads, args.json,
                                                        args.plot, args.memory, args.sweep,
                                                        args.seed, args.quick)
    except ValueError as error:
        args.subparser.error(str(error))
    return run.run_cli(cases, thread_counts, quick=args.quick, json_path=args.json,
                       plot_path=args.plot, memory=args.memory, sweep=sweep)


def _run_wavelet_bench(args):
    """``fastdilate bench --wavelets [--quick]``: the table of fastdilate.bench.wavelets."""
    import importlib.util

    given = [option for option, value in (("--cases", args.cases), ("--threads", args.threads),
                                          ("--json", args.json), ("--plot", args.plot),
                                          ("--memory", args.memory or None),
                                          ("--sweep", args.sweep), ("--seed", args.seed))
             if value is not None]
    if given:
        args.subparser.error(f"--wavelets times its own cases at 1 and 2 threads: "
                             f"{', '.join(given)} does not apply to it")
    if importlib.util.find_spec("pywt") is None:
        args.subparser.error('--wavelets needs PyWavelets: pip install "fastdilate[wavelets]"')
    from .bench import wavelets
    return wavelets.run("quick" if args.quick else "full", 3 if args.quick else 5)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastdilate", description="Fast batched dilated convolution on the CPU.")
    commands = parser.add_subparsers(dest="command", required=True)

    rf = commands.add_parser("rf", help="receptive field, picture and gridding holes of a stack")
    rf.add_argument("--kernel-size", type=int, required=True)
    rf.add_argument("--dilations", type=_int_list, required=True,
                    help="comma-separated, one per layer, e.g. 1,2,4,8,16")
    rf.add_argument("--layers", type=int, default=None,
                    help="number of layers (default: one per dilation; a shorter "
                         "schedule repeats)")
    rf.set_defaults(run=run_rf, subparser=rf)

    info = commands.add_parser("info", help="how this installation was built")
    info.set_defaults(run=run_info)

    bench = commands.add_parser(
        "bench", help="time fastdilate against the reference, NumPy, SciPy, PyTorch, "
                      "ONNX Runtime and JAX")
    bench.add_argument("--quick", action="store_true",
                       help="fewer repeats and reduced sizes (same case names): under a minute")
    bench.add_argument("--cases", metavar="NAME,...", default=None,
                       help="comma-separated case names (default: all; a wrong name lists them)")
    bench.add_argument("--threads", metavar="N,...", type=_int_list, default=None,
                       help="thread counts to run, e.g. 1,2 (default: this machine's cores)")
    bench.add_argument("--json", metavar="FILE", default=None,
                       help="also write every timing, check and version to FILE")
    bench.add_argument("--plot", metavar="FILE.png", default=None,
                       help="also draw the speedups to FILE.png (needs matplotlib)")
    bench.add_argument("--memory", action="store_true",
                       help="also measure fastdilate's peak RSS per case in a fresh process")
    bench.add_argument("--sweep", metavar="N", type=int, default=None,
                       help="instead of the named cases, N layer shapes drawn at random from "
                            "realistic layers (see bench/README.md)")
    bench.add_argument("--seed", metavar="S", type=int, default=None,
                       help="the seed of --sweep's draws (default 0): the same seed draws "
                            "the same shapes")
    bench.add_argument("--wavelets", action="store_true",
                       help="instead of the cases, fastdilate.wavelets against PyWavelets and "
                            "SciPy (needs PyWavelets; with --quick, a few cases)")
    bench.set_defaults(run=run_bench, subparser=bench)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
