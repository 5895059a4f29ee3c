"""Choose the build of the compiled core that this CPU runs fastest.

``FASTDILATE_FORCE_BASELINE=1`` in the environment keeps the baseline build
even on a CPU with AVX2+FMA (to compare them, or to rule one out).
"""
import os

from . import _core as _baseline


def _select_core():
    if os.environ.get("FASTDILATE_FORCE_BASELINE", "0") not in ("", "0"):
        return _baseline
    if _baseline.cpu_has_avx2_fma():
        try:
            from . import _core_avx2
        except ImportError:  # a build without the AVX2 variant (non-x86 platforms)
            return _baseline
        return _core_avx2
    return _baseline


core = _select_core()
