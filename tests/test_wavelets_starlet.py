"""fastdilate.wavelets.starlet / istarlet against a scipy.ndimage loop."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

from conftest import sweep
from fastdilate import wavelets as fw

MODES = ["nearest", "reflect", "mirror", "wrap", "constant"]


def scipy_starlet(x, n_scales, axes, mode, gen2):
    """The textbook loop: convolve1d with the zero-stuffed spline per axis."""
    def smooth(c, j):
        kernel = np.zeros(4 * 2 ** j + 1)
        kernel[:: 2 ** j] = np.array([1, 4, 6, 4, 1]) / 16
        for axis in axes:
            c = ndi.convolve1d(c, kernel, axis=axis, mode=mode)
        return c

    planes, c = [], x
    for j in range(n_scales):
        nxt = smooth(c, j)
        planes.append(c - (smooth(nxt, j) if gen2 else nxt))
        c = nxt
    return np.array(planes + [c])


@st.composite
def starlet_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 40 if ndim == 1 else 12)) for _ in range(ndim))
    axes = draw(st.none() | st.lists(st.integers(0, ndim - 1), min_size=1, unique=True))
    return dict(shape=shape, axes=axes, n_scales=draw(st.integers(1, 5)),
                mode=draw(st.sampled_from(MODES)), gen2=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2 ** 16)))


@given(starlet_cases())
@sweep(150)
def test_starlet_equals_the_scipy_loop_and_reconstructs(case):
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"]).astype(case["dtype"])
    axes = list(range(x.ndim)) if case["axes"] is None else case["axes"]
    kwargs = dict(axes=case["axes"], mode=case["mode"], gen2=case["gen2"])
    out = fw.starlet(x, case["n_scales"], **kwargs)
    assert out.shape == (case["n_scales"] + 1,) + x.shape and out.dtype == x.dtype
    expected = scipy_starlet(x.astype(np.float64), case["n_scales"], axes, case["mode"],
                             case["gen2"])
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * 4)
    back = fw.istarlet(out, **kwargs)
    np.testing.assert_allclose(back, x, rtol=tol, atol=tol * 4)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_on_an_image_larger_than_the_reach_and_one_smaller(mode):
    rng = np.random.default_rng(1)
    for shape in ((64, 48), (6, 5)):
        x = rng.standard_normal(shape)
        out = fw.starlet(x, 4, mode=mode)
        np.testing.assert_allclose(out, scipy_starlet(x, 4, (0, 1), mode, False),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fw.istarlet(out), x, rtol=1e-12, atol=1e-12)


def test_threads_give_bitwise_equal_planes():
    x = np.random.default_rng(2).standard_normal((256, 256))
    np.testing.assert_array_equal(fw.starlet(x, 4, num_threads=1), fw.starlet(x, 4, num_threads=2))


def test_ints_become_float64_and_float16_float32():
    assert fw.starlet(np.arange(16), 2).dtype == np.float64
    assert fw.starlet(np.arange(16, dtype=np.float16), 2).dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda: fw.starlet(np.zeros(8), 0), ValueError, "n_scales"),
    (lambda: fw.starlet(np.zeros(8), 2.0), TypeError, "n_scales"),
    (lambda: fw.starlet(np.zeros(8), 2, mode="symmetric"), ValueError, "mode"),
    (lambda: fw.starlet(np.zeros((8, 8)), 2, axes=(0, 0)), ValueError, "axes"),
    (lambda: fw.starlet(np.zeros((8, 8)), 2, axes=(2,)), ValueError, "axes"),
    (lambda: fw.starlet(np.zeros(0), 2), ValueError, "non-empty"),
    (lambda: fw.starlet(np.zeros(8, complex), 2), TypeError, "real"),
    (lambda: fw.starlet(np.zeros(8), 2, num_threads=0), ValueError, "num_threads"),
    (lambda: fw.istarlet(np.zeros(8)), ValueError, "coarse plane"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_importing_fastdilate_and_its_wavelets_loads_no_pywt():
    code = ("import sys, fastdilate, fastdilate.wavelets as fw, numpy as np\n"
            "fw.swt(np.zeros(8), ([1, 1], [1, -1], [1, 1], [1, -1]), level=1)\n"
            "fw.starlet(np.zeros(8), 1)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pywt', 'scipy')))")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"
