"""Accuracy of spikelib.lambertw (W0 on [-1/e, 0]) in float64 and float32.

References: scipy.special.lambertw, and a 50-digit `decimal` Halley solver
for the region next to the branch point, where scipy itself is only as good
as the function's conditioning allows.

Conditioning: relative to a relative change of x, W0 has condition number
1/(1 + W), which grows without bound at the branch point (W + 1 ~ sqrt(2e
(x + 1/e))).  Any float evaluation has to form x + 1/e with the rounded
constant 1/e (error ~1.2e-17), so close to -1/e the achievable relative error
is about eps / (1 + W); that, not 1e-12, is the bound asserted there.
"""

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.special

from spikelib.lambertw import lambertw

INV_E = math.exp(-1.0)
EPS = {"float64": np.finfo(np.float64).eps, "float32": np.finfo(np.float32).eps}
SMALLEST = {"float64": 1e-300, "float32": 1e-37}  # stays clear of subnormals


def exact_w0(x):
    """W0(x) to ~40 digits for a float x in [-1/e, 0] (Halley in `decimal`)."""
    with localcontext() as ctx:
        ctx.prec = 50
        x = Decimal(float(x))
        inv_e = Decimal(-1).exp()
        distance = x + inv_e
        assert distance >= 0, "below the branch point"
        if distance < Decimal("1e-3"):  # branch-point series in p = sqrt(2 e (x + 1/e))
            p = (2 * distance / inv_e).sqrt()
            w = -1 + p - p * p / 3 + Decimal(11) / 72 * p ** 3
        else:
            w = Decimal(float(scipy.special.lambertw(float(x)).real))
        for _ in range(12):
            ew = w.exp()
            f = w * ew - x
            if f == 0:
                break
            w1 = w + 1
            w = w - f / (ew * w1 - (w + 2) * f / (2 * w1))
        return float(w)


def sample(dtype):
    """Points over [-1/e, 0]: dense near both ends, uniform in between."""
    rng = np.random.default_rng(12)
    closest = 1e-17 if dtype == "float64" else 1e-8
    near_branch = -INV_E + np.geomspace(closest, 0.1, 300)
    near_zero = -np.geomspace(SMALLEST[dtype], 0.1, 200)
    middle = rng.uniform(-INV_E, 0.0, 300)
    x = np.concatenate([near_branch, near_zero, middle]).astype(dtype)
    # float(-1/e) lies below the true -1/e, so ">" keeps exactly the valid points.
    return x[x.astype(np.float64) > -INV_E]


def evaluate(x):
    w = np.asarray(lambertw(x))
    assert w.dtype == x.dtype
    return w.astype(np.float64)


@pytest.fixture(scope="module", params=["float64", "float32"])
def points(request):
    dtype = request.param
    x = sample(dtype)
    w = evaluate(x)
    exact = np.array([exact_w0(v) for v in x])
    return dtype, x.astype(np.float64), w, exact


def test_defining_equation_residual(points):
    """w exp(w) = x up to a few ulps of x (evaluated in float64)."""
    dtype, x, w, _ = points
    residual = np.abs(w * np.exp(w) - x) / np.abs(x)
    assert residual.max() <= 4 * EPS[dtype], residual.max()


def test_matches_scipy_away_from_branch_point(points):
    dtype, x, w, _ = points
    far = x >= -INV_E + 1e-6
    assert far.sum() > 400
    expected = scipy.special.lambertw(x[far]).real
    relative = np.abs(w[far] - expected) / np.abs(expected)
    bound = 1e-12 if dtype == "float64" else 1e-6
    assert relative.max() <= bound, relative.max()


def test_accuracy_over_whole_range_including_branch_point(points):
    """float64: eps/(1+W) near -1/e (conditioning), 1e-13 elsewhere; float32: 1e-6."""
    dtype, x, w, exact = points
    relative = np.abs(w - exact) / np.abs(exact)
    if dtype == "float64":
        bound = 1e-13 + 2 * EPS[dtype] / (1.0 + exact)
        assert (relative <= bound).all(), np.max(relative / bound)
        assert (1.0 + exact).min() < 1e-7  # the sample really reaches the branch point
    else:
        assert relative.max() <= 1e-6, relative.max()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_endpoints(dtype):
    w = evaluate(np.array([0.0, -INV_E], dtype))
    assert w[0] == 0.0
    assert abs(w[1] + 1.0) <= 1e-7


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_below_branch_point_is_clamped_to_minus_one(dtype):
    x = np.array([np.nextafter(-INV_E, -1.0), -0.5, -1.0], dtype)
    assert np.all(evaluate(x) == -1.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_monotonic_and_bounded(dtype):
    x = np.unique(np.linspace(-INV_E, 0.0, 100_001).astype(dtype))
    w = evaluate(x)
    assert np.all(np.diff(w) >= 0.0)
    assert w.min() >= -1.0 and w.max() <= 0.0


def test_integer_input_becomes_float32():
    assert np.asarray(lambertw(np.array([0, 0]))).dtype == np.float32
