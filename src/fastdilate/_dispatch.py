"""Choose the build of the compiled core that this CPU runs fastest.

``FASTDILATE_CORE`` in the environment (``baseline``, ``avx2`` or ``avx512``)
caps the choice, to compare builds or rule one out; ``FASTDILATE_FORCE_BASELINE=1``
is the same as ``FASTDILATE_CORE=baseline``.
"""
import importlib
import os

from . import _core as _baseline

# Fastest first: (name, the CPU check in the baseline module).
_VARIANTS = (("avx512", _baseline.cpu_has_avx512f), ("avx2", _baseline.cpu_has_avx2_fma))
CORE_NAMES = ("baseline",) + tuple(name for name, _ in reversed(_VARIANTS))


def _requested_cap():
    if os.environ.get("FASTDILATE_FORCE_BASELINE", "0") not in ("", "0"):
        return "baseline"
    cap = os.environ.get("FASTDILATE_CORE", "") or CORE_NAMES[-1]
    if cap not in CORE_NAMES:
        raise ImportError(f"FASTDILATE_CORE must be one of {CORE_NAMES}, got {cap!r}")
    return cap


def _select_core():
    allowed = CORE_NAMES[:CORE_NAMES.index(_requested_cap()) + 1]
    for name, cpu_supports in _VARIANTS:
        if name in allowed and cpu_supports():
            try:
                return importlib.import_module(f"._core_{name}", __package__)
            except ImportError:  # a build without this variant (non-x86 platforms)
                continue
    return _baseline


core = _select_core()
