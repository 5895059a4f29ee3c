"""fastdilate.wavelets against PyWavelets and SciPy: ``fastdilate bench
--wavelets`` with this script's extra plans.

    python bench/bench_wavelets.py [--quick | --bars] [--rounds N]
"""
import sys

from fastdilate.bench.wavelets import main

if __name__ == "__main__":
    sys.exit(main())
