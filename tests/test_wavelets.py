"""fastdilate.wavelets' stationary wavelet transforms against PyWavelets.

PyWavelets' own SWT expectations (its haar values, round trips, energy
partition, axis and memory-order consistency, dtypes, errors) rewritten
here, then differential sweeps: every output equal to pywt's to 1e-12
(float64) or 1e-5 (float32) relative to the band's size, and the inverses
on random coefficients, not only round trips.
"""
import warnings

import numpy as np
import pytest
import pywt
from hypothesis import given
from hypothesis import strategies as st

from conftest import sweep
from fastdilate import wavelets as fw

DISCRETE = pywt.wavelist(kind="discrete")
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12,
             np.dtype(np.complex64): 1e-5, np.dtype(np.complex128): 1e-12}
AxisError = np.exceptions.AxisError


def assert_close(ours, theirs, dtype=None):
    """Equal to pywt's within the dtype's tolerance, relative to the band."""
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == (theirs.dtype if dtype is None else dtype)
    tol = TOLERANCE[ours.dtype]
    scale = max(1.0, float(np.abs(theirs).max(initial=0)))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale)


def assert_same_coeffs(ours, theirs):
    """Two coefficient lists of the same layout (tuples, dicts or arrays)."""
    if isinstance(theirs, dict):
        assert sorted(ours) == sorted(theirs)
        for key in theirs:
            assert_close(ours[key], theirs[key])
    elif isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same_coeffs(a, b)
    else:
        assert_close(ours, theirs)


def random_like(coeffs, rng):
    """Coefficients of the same layout, filled with noise."""
    if isinstance(coeffs, dict):
        return {k: random_like(v, rng) for k, v in coeffs.items()}
    if isinstance(coeffs, (tuple, list)):
        return type(coeffs)(random_like(c, rng) for c in coeffs)
    return rng.standard_normal(coeffs.shape).astype(coeffs.dtype)


# ----------------------------------------------- PyWavelets' expectations
def test_haar_decomposition_has_pywavelets_values():
    x = [3, 7, 1, 3, -2, 6, 4, 6]
    (cA3, cD3), (cA2, cD2), (cA1, cD1) = fw.swt(x, pywt.Wavelet("db1"), level=3)
    np.testing.assert_allclose(cA1, [7.07106781, 5.65685425, 2.82842712, 0.70710678,
                                     2.82842712, 7.07106781, 7.07106781, 6.36396103], rtol=1e-8)
    np.testing.assert_allclose(cD1, [-2.82842712, 4.24264069, -1.41421356, 3.53553391,
                                     -5.65685425, 1.41421356, -1.41421356, 2.12132034], rtol=1e-8)
    np.testing.assert_allclose(cA2, [7, 4.5, 4, 5.5, 7, 9.5, 10, 8.5], rtol=1e-13)
    np.testing.assert_allclose(cD2, [3, 3.5, 0, -4.5, -3, 0.5, 0, 0.5], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(cA3, [9.89949494] * 8, rtol=1e-8)
    np.testing.assert_allclose(cD3, [0, -3.53553391, -4.24264069, -2.12132034,
                                     0, 3.53553391, 4.24264069, 2.12132034], rtol=1e-8, atol=1e-13)
    # level=1 from start_level=1 continues the decomposition
    (cA2b, cD2b), = fw.swt(cA1, "db1", level=1, start_level=1)
    np.testing.assert_allclose(cA2b, cA2, rtol=1e-13)
    np.testing.assert_allclose(cD2b, cD2, rtol=1e-13, atol=1e-13)
    assert len(fw.swt(x, "db1")) == 3


def test_swt_max_level_counts_the_factors_of_two():
    assert [fw.swt_max_level(n) for n in (2, 12, 16, 48, 1024)] == [1, 2, 4, 4, 10]
    with pytest.warns(UserWarning, match="No levels"):
        assert fw.swt_max_level(11) == 0
    with pytest.raises(ValueError, match="size 0"):
        fw.swt_max_level(0)
    with pytest.raises(TypeError):
        fw.swt_max_level((8, 12))


@pytest.mark.parametrize("order", ["C", "F"])
def test_every_row_and_column_is_the_1d_transform(order):
    x = np.array([3, 7, 1, 3, -2, 6, 4, 6], dtype=float)
    reference = fw.swt(x, "db1", level=2)
    rows = np.asarray(np.tile(x, (5, 1)), order=order)
    for axis, data in ((-1, rows), (0, np.asarray(rows.T, order=order))):
        coeffs = fw.swt(data, "db1", level=2, axis=axis)
        for (a, d), (ra, rd) in zip(coeffs, reference):
            assert a.shape == d.shape == data.shape
            for band, ref in ((a, ra), (d, rd)):
                lines = band if axis == -1 else band.T
                for line in lines:
                    np.testing.assert_allclose(line, ref, rtol=1e-15, atol=1e-15)
    with pytest.raises(ValueError):
        fw.swt(x, "db1", level=2, axis=5)


@pytest.mark.parametrize("wavelet", DISCRETE)
def test_every_wavelet_matches_pywt_and_round_trips(wavelet):
    rng = np.random.default_rng(len(wavelet))
    x = rng.standard_normal(64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # norm=True, biorthogonal
        for norm in (False, True):
            for trim in (False, True):
                ours = fw.swt(x, wavelet, level=3, trim_approx=trim, norm=norm)
                assert_same_coeffs(ours, pywt.swt(x, wavelet, level=3, trim_approx=trim,
                                                  norm=norm))
                back = fw.iswt(ours, wavelet, norm=norm)
                assert_close(back, pywt.iswt(ours, wavelet, norm=norm))
                if wavelet != "dmey":  # an approximation: pywt's tests leave it out too
                    np.testing.assert_allclose(back, x, rtol=1e-10, atol=1e-10)
        noise = random_like(ours, rng)
        assert_close(fw.iswt(noise, wavelet, norm=True), pywt.iswt(noise, wavelet, norm=True))


@pytest.mark.parametrize("wavelet", ["haar", "db4", "sym5", "coif2", "bior3.5", "rbio2.4"])
def test_2d_and_nd_round_trips(wavelet):
    x = np.random.default_rng(1).standard_normal((16, 32))
    for trim in (False, True):
        coeffs = fw.swt2(x, wavelet, 3, trim_approx=trim)
        np.testing.assert_allclose(fw.iswt2(coeffs, wavelet), x, rtol=1e-10, atol=1e-10)
        coeffs = fw.swtn(x[None], wavelet, 2, trim_approx=trim, axes=(1, 2))
        np.testing.assert_allclose(fw.iswtn(coeffs, wavelet, axes=(1, 2)), x[None],
                                   rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("function", ["swt", "swt2", "swtn"])
def test_norm_partitions_the_variance_and_keeps_the_energy(function):
    rng = np.random.RandomState(5)
    if function == "swt":
        x = rng.randn(256)
        coeffs = fw.swt(x, "db2", trim_approx=True, norm=True)
        bands = coeffs
    elif function == "swt2":
        x = rng.randn(64, 64)
        coeffs = fw.swt2(x, "db2", level=4, trim_approx=True, norm=True)
        bands = [coeffs[0]] + [b for level in coeffs[1:] for b in level]
    else:
        x = rng.randn(16, 16, 16)
        coeffs = fw.swtn(x, "db2", level=4, trim_approx=True, norm=True)
        bands = [coeffs[0]] + [b for level in coeffs[1:] for b in level.values()]
    np.testing.assert_allclose(sum(np.var(b) for b in bands), np.var(x))
    np.testing.assert_allclose(np.linalg.norm(x),
                               np.linalg.norm(np.concatenate([b.ravel() for b in bands])))
    with pytest.warns(UserWarning, match="not orthogonal"):
        getattr(fw, function)(x, "bior2.2", **({"level": 1} if function != "swt" else {}),
                              norm=True)


def test_swt2_and_swtn_axes_swap_the_bands():
    x = np.random.default_rng(2).standard_normal((32, 32))
    (a1, (h1, v1, d1)), = fw.swt2(x, "db2", 1, axes=(0, 1))
    (a2, (h2, v2, d2)), = fw.swt2(x, "db2", 1, axes=(1, 0))
    for p, q in ((a1, a2), (h1, v2), (v1, h2), (d1, d2)):
        np.testing.assert_allclose(p, q, atol=1e-14)
    c1, = fw.swtn(x, "db2", 1, axes=(0, 1))
    c2, = fw.swtn(x, "db2", 1, axes=(1, 0))
    for k1, k2 in (("aa", "aa"), ("ad", "da"), ("da", "ad"), ("dd", "dd")):
        np.testing.assert_allclose(c1[k1], c2[k2], atol=1e-14)


def test_per_axis_wavelets():
    data = np.random.default_rng(3).standard_normal((16, 16, 16))
    wavelets = ("haar", "sym2", "db4")
    coeffs = fw.swtn(data, wavelets, level=2)
    assert_same_coeffs(coeffs, pywt.swtn(data, wavelets, level=2))
    np.testing.assert_allclose(fw.iswtn(coeffs, wavelets), data, atol=1e-13)
    coeffs = fw.swt2(data[0], wavelets[:2], level=2)
    assert_same_coeffs(coeffs, pywt.swt2(data[0], wavelets[:2], level=2))
    with pytest.raises(ValueError, match="number of wavelets"):
        fw.swtn(data, wavelets[:2], level=2)


# ------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype, expected", [
    (np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64),
    (np.int8, np.float64), (np.int64, np.float64), (np.bool_, np.float64),
    (np.complex64, np.complex64), (np.complex128, np.complex128)])
def test_dtype_rules_are_pywt_s(dtype, expected):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((4, 16)) * 3)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal((4, 16))
    x = x.astype(dtype)
    for function, kwargs in ((fw.swt, {}), (fw.swt2, {"level": 2}), (fw.swtn, {"level": 2})):
        ours = function(x, "db2", **kwargs)
        theirs = getattr(pywt, function.__name__)(x, "db2", **kwargs)
        assert_same_coeffs(ours, theirs)
        inverse = getattr(fw, "i" + function.__name__)
        back = inverse(ours, "db2")
        assert back.dtype == np.dtype(expected)
        assert_close(back, getattr(pywt, "i" + function.__name__)(theirs, "db2"))


def test_inverse_upcasts_mixed_dtypes_as_pywt():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(16).astype(np.float32)
    for d in (rng.standard_normal(16), rng.standard_normal(16) + 1j,
              rng.integers(-3, 3, 16), a.astype(np.complex64)):
        assert_close(fw.iswt([(a, d)], "db2"), pywt.iswt([(a, d)], "db2"))


# --------------------------------------------------------- wavelet forms
def test_every_form_of_wavelet_gives_the_same_transform():
    x = np.random.default_rng(6).standard_normal(32)
    wavelet = pywt.Wavelet("sym4")

    class Bank:
        filter_bank = wavelet.filter_bank

    expected = fw.swt(x, "sym4", level=2)
    for form in (wavelet, Bank(), wavelet.filter_bank, [list(f) for f in wavelet.filter_bank]):
        assert_same_coeffs(fw.swt(x, form, level=2), expected)
        np.testing.assert_allclose(fw.iswt(expected, form), x, atol=1e-12)


def test_an_odd_filter_gets_a_trailing_zero_as_in_pywt():
    bank = ([1, 2, 1], [1, -2, 1], [1, 2, 1], [1, -2, 1])
    x = np.random.default_rng(7).standard_normal(16)
    custom = pywt.Wavelet("odd", filter_bank=bank)
    assert_same_coeffs(fw.swt(x, bank, level=2), pywt.swt(x, custom, level=2))


# ------------------------------------------------------ differential sweeps
def check_both_ways(forward, inverse, x, case, where, rng):
    """fastdilate's forward equal to pywt's on ``x``, and its inverse on
    noise in the forward's layout; ``where`` is the axis or axes argument."""
    kwargs = dict(level=case["level"], start_level=case["start_level"],
                  trim_approx=case["trim"], norm=case["norm"], **where)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # norm=True, biorthogonal
        ours = getattr(fw, forward)(x, case["wavelet"], **kwargs)
        assert_same_coeffs(ours, getattr(pywt, forward)(x, case["wavelet"], **kwargs))
    noise = random_like(ours, rng)
    back = dict(norm=case["norm"], **where)
    assert_close(getattr(fw, inverse)(noise, case["wavelet"], **back),
                 getattr(pywt, inverse)(noise, case["wavelet"], **back))


@st.composite
def one_axis_cases(draw):
    """A batch of up to 3 x 3 signals along any axis, of a length that pywt
    accepts (a multiple of 2**(start_level + level))."""
    ndim = draw(st.integers(1, 3))
    level, start_level = draw(st.integers(1, 4)), draw(st.integers(0, 2))
    axis = draw(st.integers(-ndim, ndim - 1))
    shape = [draw(st.integers(1, 3)) for _ in range(ndim)]
    shape[axis] = 2 ** (level + start_level) * draw(st.integers(1, 5))
    shape = tuple(shape)
    return dict(shape=shape, axis=axis, level=level, start_level=start_level,
                wavelet=draw(st.sampled_from(DISCRETE)),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                order=draw(st.sampled_from("CF")), trim=draw(st.booleans()),
                norm=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@given(one_axis_cases())
@sweep(120)
def test_swt_and_iswt_equal_pywt(case):
    rng = np.random.default_rng(case["seed"])
    x = np.asarray(rng.standard_normal(case["shape"]).astype(case["dtype"]), order=case["order"])
    check_both_ways("swt", "iswt", x, case, {"axis": case["axis"]}, rng)


@st.composite
def many_axes_cases(draw):
    ndim = draw(st.integers(2, 3))
    level, start_level = draw(st.integers(1, 3)), draw(st.integers(0, 1))
    axes = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                         unique_by=lambda a: a % ndim))
    unit = 2 ** (level + start_level)
    shape = tuple(unit * draw(st.integers(1, 3)) if any(a % ndim == i for a in axes)
                  else draw(st.integers(1, 3)) for i in range(ndim))
    per_axis = draw(st.booleans())
    wavelet = (tuple(draw(st.sampled_from(DISCRETE)) for _ in axes) if per_axis
               else draw(st.sampled_from(DISCRETE)))
    return dict(shape=shape, axes=axes, level=level, start_level=start_level, wavelet=wavelet,
                dtype=draw(st.sampled_from([np.float32, np.float64, np.complex128])),
                trim=draw(st.booleans()), norm=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


@given(many_axes_cases())
@sweep(60)
def test_swtn_and_iswtn_equal_pywt(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["shape"]).astype(case["dtype"])
    check_both_ways("swtn", "iswtn", x, case, {"axes": case["axes"]}, rng)


@pytest.mark.parametrize("trim", [False, True])
def test_swt2_and_iswt2_equal_pywt_on_random_coefficients(trim):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 32, 48))
    ours = fw.swt2(x, "db3", 3, trim_approx=trim)
    assert_same_coeffs(ours, pywt.swt2(x, "db3", 3, trim_approx=trim))
    noise = random_like(ours, rng)
    assert_close(fw.iswt2(noise, "db3"), pywt.iswt2(noise, "db3"))
    ours = fw.swt2(x[:, :16], "db3", 2, axes=(2, 1), trim_approx=trim)
    noise = random_like(ours, rng)
    assert_close(fw.iswt2(noise, "db3", axes=(2, 1)), pywt.iswt2(noise, "db3", axes=(2, 1)))


def test_a_missing_band_is_zero_as_in_pywt():
    rng = np.random.default_rng(9)
    coeffs = fw.swtn(rng.standard_normal((16, 16)), "db2", 2)
    del coeffs[0]["dd"], coeffs[1]["ad"]
    assert_close(fw.iswtn(coeffs, "db2"), pywt.iswtn([dict(c) for c in coeffs], "db2"))


def test_threads_give_bitwise_equal_results():
    x = np.random.default_rng(10).standard_normal((8, 4096))
    one = fw.swt(x, "sym8", level=4, num_threads=1)
    two = fw.swt(x, "sym8", level=4, num_threads=2)
    for (a1, d1), (a2, d2) in zip(one, two):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(fw.iswt(one, "sym8", num_threads=1),
                                  fw.iswt(one, "sym8", num_threads=2))


def test_trimmed_details_do_not_keep_the_dropped_approximations():
    x = np.random.default_rng(11).standard_normal(1024)
    coeffs = fw.swt(x, "db2", level=4, trim_approx=True)
    held = {id(c.base if c.base is not None else c): (c.base if c.base is not None else c).nbytes
            for c in coeffs}
    assert sum(held.values()) <= (len(coeffs) + 1) * x.nbytes


# ------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, match", [
    (lambda: fw.swt(np.zeros(12), "haar", level=3), ValueError, "Level value too high"),
    (lambda: fw.swt(np.zeros(12), "haar", level=1, start_level=2), ValueError, "start_level"),
    (lambda: fw.swt(np.zeros(13), "haar", level=1), ValueError, "must be even"),
    (lambda: fw.swt(np.zeros((3, 8)), "haar", level=1, axis=0), ValueError, "must be even"),
    (lambda: fw.swt(np.zeros(12), "haar", level=0), ValueError, "greater than zero"),
    (lambda: fw.swt(np.zeros(12), "nope"), ValueError, "Unknown wavelet"),
    (lambda: fw.swt(np.zeros(12), "morl"), ValueError, "continuous"),
    (lambda: fw.swt(np.zeros(12), 5), TypeError, "wavelet must be"),
    (lambda: fw.swt(np.zeros(12), ([1, 1], [1, -1], [1])), TypeError, "wavelet must be"),
    (lambda: fw.swt(np.zeros(12), ([1, 1], [1, -1], [1, 1], [1, 1, 1, 1])), ValueError,
     "one length"),
    (lambda: fw.swt(np.zeros(8), "haar", axis=1), AxisError, "Axis"),
    (lambda: fw.swt(np.zeros(8), "haar", axis=-2), AxisError, "Axis"),
    (lambda: fw.swt([], "db2"), ValueError, "size 0"),
    (lambda: fw.swt(np.array(["a", "b"]), "db2"), TypeError, "real numbers"),
    (lambda: fw.swt(np.zeros(8), "haar", num_threads=0), ValueError, "num_threads"),
    (lambda: fw.swtn(np.ones((1, 4))[0:0], "db2", level=1, axes=(0,)), ValueError, "size 0"),
    (lambda: fw.swtn(np.zeros((8, 8)), "haar", level=1, axes=(0, 0)), ValueError, "unique"),
    (lambda: fw.swtn(np.zeros((8, 8)), "haar", level=1, axes=(0, 2)), AxisError, "Axis"),
    (lambda: fw.swtn(np.zeros(()), "haar", level=1), ValueError, "at least 1D"),
    (lambda: fw.swt2(np.zeros((8, 8)), "haar", level=1, axes=(0,)), ValueError, "2 axes"),
    (lambda: fw.swt2(np.zeros((8, 8)), "haar", level=1, axes=(1, 1)), ValueError, "unique"),
    (lambda: fw.swt2(np.zeros(8), "haar", level=1), ValueError, "fewer dimensions"),
    (lambda: fw.iswt([(np.zeros(12), np.zeros(12))] * 3, "haar"), ValueError, "multiple of 8"),
    (lambda: fw.iswt([(np.zeros(12), np.zeros(10))], "haar"), ValueError, "Mismatch in shape"),
    (lambda: fw.iswt([(np.zeros(12), np.zeros(12))], "haar", axis=1), AxisError, "Axis"),
    (lambda: fw.iswt([], "haar"), ValueError, "at least one level"),
    (lambda: fw.iswtn([{"aa": np.zeros((8, 8)), "ad": np.zeros((8, 4))}], "haar"),
     RuntimeError, "Mismatch in shape"),
    (lambda: fw.iswtn([{"aa": np.zeros((8, 8)), "ad": np.zeros((8, 8))}], "haar", axes=(0,)),
     ValueError, "number of axes"),
    (lambda: fw.iswtn([{"aa": np.zeros((8, 8)), "ax": np.zeros((8, 8))}], "haar"),
     ValueError, "band key"),
])
def test_bad_input_raises_what_pywt_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_errors_agree_with_pywt_in_type():
    cases = [lambda m: m.swt(np.zeros(12), "haar", level=3),
             lambda m: m.swt(np.zeros(13), "haar", level=1),
             lambda m: m.swt(np.zeros(12), "nope"),
             lambda m: m.swt(np.zeros(8), "haar", axis=1),
             lambda m: m.swtn(np.zeros((8, 8)), "haar", level=1, axes=(0, 0)),
             lambda m: m.iswtn([{"aa": np.zeros((8, 8)), "ad": np.zeros((8, 4)),
                                 "da": np.zeros((8, 8)), "dd": np.zeros((8, 8))}], "haar")]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            case(pywt)
        with pytest.raises(theirs.type):
            case(fw)


def test_the_core_kernel_refuses_operands_that_do_not_agree():
    from fastdilate._dispatch import core
    x, out = np.zeros((1, 8, 1)), np.zeros((1, 8, 1))
    weights, offsets = np.ones((1, 1, 2)), np.array([0, 1], dtype=np.int64)
    core.atrous_level((x,), (out,), weights, offsets, 1)
    for bad in [((x,), (np.zeros((1, 4, 1)),), weights, offsets),
                ((x,), (out,), weights, np.array([0, 8], dtype=np.int64)),
                ((x,), (out,), weights.astype(np.float32), offsets),
                ((x,), (out,), np.ones((2, 1, 2)), offsets),
                ((x, x, x), (out,), np.ones((1, 3, 2)), offsets)]:
        with pytest.raises(ValueError, match="fastdilate core"):
            core.atrous_level(*bad, 1)


def test_the_in_place_kernel_refuses_operands_that_do_not_agree():
    from fastdilate._dispatch import core
    a, d = np.zeros((1, 8, 1)), np.zeros((1, 8, 1))
    weights, offsets = np.ones((2, 2)), np.array([0, 1], dtype=np.int64)
    core.atrous_in_place(a, d, weights, offsets, 1)
    core.atrous_in_place(a, None, weights[:1], offsets, 1)
    for bad in [(a, np.zeros((1, 4, 1)), weights, offsets),
                (a, d, weights, np.array([0, 8], dtype=np.int64)),
                (a, d, weights.astype(np.float32), offsets),
                (a, None, weights, offsets),
                (a, d, np.ones((2, 3)), offsets),
                (a[:, ::2], d[:, ::2], weights, offsets)]:
        with pytest.raises(ValueError, match="fastdilate core"):
            core.atrous_in_place(*bad, 1)


# Shapes that take each road of the in-place synthesis: rows of one point
# split between threads, rows wider than a strip (with a remainder that is
# not a whole chunk), a batch of lines.
@pytest.mark.parametrize("shape, axis, level", [((2 ** 14,), -1, 6), ((48, 1000), 0, 3),
                                                ((3, 4096), -1, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_iswt_in_place_equals_pywt_on_random_coefficients(shape, axis, level, dtype, threads):
    rng = np.random.default_rng(15)
    coeffs = [(rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype))
              for _ in range(level)]
    assert_close(fw.iswt(coeffs, "sym5", axis=axis, num_threads=threads),
                 pywt.iswt(coeffs, "sym5", axis=axis))


@pytest.mark.parametrize("forward, inverse, level, bound", [
    (fw.swt, fw.iswt, 4, 1.05), (fw.swt2, fw.iswt2, 3, 1.1), (fw.swtn, fw.iswtn, 2, 1.1)])
def test_memory_stays_near_the_output_and_inputs_are_never_written(forward, inverse, level,
                                                                   bound):
    import tracemalloc
    x = np.random.default_rng(12).standard_normal((128, 128))
    tracemalloc.start()
    coeffs = forward(x, "db2", level)
    forward_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # the output alone: a 2-D level is one pass, with a scratch of a few rows
    output = x.nbytes * level * (2 if forward is fw.swt else 4)
    assert forward_peak <= 1.02 * output
    kept = random_like(coeffs, np.random.default_rng(13))
    given = random_like(coeffs, np.random.default_rng(13))
    tracemalloc.start()
    back = inverse(given, "db2")
    inverse_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # the output, each level written over it
    assert inverse_peak <= bound * back.nbytes
    assert_same_coeffs(given, kept)


def test_per_axis_filter_banks_as_tuples():
    data = np.random.default_rng(14).standard_normal((16, 16))
    banks = (pywt.Wavelet("db2").filter_bank, pywt.Wavelet("haar").filter_bank)
    assert_same_coeffs(fw.swtn(data, banks, 2), pywt.swtn(data, ("db2", "haar"), 2))
