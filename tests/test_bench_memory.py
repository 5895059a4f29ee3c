"""The peak-memory probe of `fastdilate bench --memory` (fastdilate.bench.memory)."""
import os

import numpy as np
import pytest

from fastdilate.bench import memory as fdb
from fastdilate.bench.cases import select_cases


@pytest.mark.skipif(os.name != "posix", reason="ru_maxrss needs the resource module")
def test_memory_probe_sees_the_output_being_allocated():
    (case,) = select_cases("tcn-dense")
    ballast = np.ones(1 << 27)  # 1 GiB in this process, which the probe must not inherit
    row = fdb.measure_peak_memory(case, threads=1, quick=True)
    assert row["reduced"] is not None
    assert 0 < row["after_imports_bytes"] <= row["after_inputs_bytes"] <= row["peak_bytes"]
    assert row["peak_bytes"] < ballast.nbytes
    assert row["peak_bytes"] - row["after_inputs_bytes"] >= 0.9 * row["output_bytes"]
    assert "tcn-dense*" in fdb.format_memory([row])
