"""Lambert W function, principal branch W0, on [-1/e, 0].

The spike time of an alpha-kernel neuron has a closed form in W0 (the
model page, spike times). TensorFlow has no Lambert W of its own, so it is computed here
with Keras ops: a series or Winitzki initial guess refined by Halley steps.
"""

import math

import keras
from keras import ops

BRANCH_POINT = -1.0 / math.e

# Halley iterations after the initial guess: the guess is within ~1e-3, and
# Halley's method triples the correct digits with every step.
_ITERATIONS = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 4}


# -1/e split in two so that x + 1/e is exact near the branch point, where
# e * x + 1 would cancel catastrophically.
_INV_E_HI = 0.3678794503211975
_INV_E_LO = 1.0 / math.e - _INV_E_HI
_SERIES = (-1.0, 1.0, -1.0 / 3.0, 11.0 / 72.0, -43.0 / 540.0, 769.0 / 17280.0)


def _initial_guess(x):
    """Series at the branch point for x near -1/e, Winitzki's formula elsewhere."""
    distance = (x + _INV_E_HI) + _INV_E_LO
    p = ops.sqrt(ops.maximum(2.0 * math.e * distance, 0.0))
    near_branch = _SERIES[-1]
    for coefficient in reversed(_SERIES[:-1]):
        near_branch = coefficient + p * near_branch
    log1px = ops.log1p(ops.maximum(x, -0.3))
    winitzki = log1px * (1.0 - ops.log1p(log1px) / (2.0 + log1px))
    return ops.where(x < -0.3, near_branch, winitzki)


def _halley_step(w, x, tiny):
    ew = ops.exp(w)
    f = w * ew - x
    w1 = w + 1.0
    safe_w1 = ops.where(w1 > tiny, w1, 1.0)
    denominator = ew * safe_w1 - (w + 2.0) * f / (2.0 * safe_w1)
    return ops.where(w1 > tiny, w - f / denominator, w)


def lambertw(x):
    """W0(x) for x in [-1/e, 0]: the w >= -1 with w * exp(w) = x.

    Values slightly below -1/e (rounding) are treated as -1/e; the result
    keeps the floating dtype of `x`.
    """
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        x, dtype = ops.cast(x, "float32"), "float32"
    x = ops.clip(x, BRANCH_POINT, 0.0)
    # Close to the branch point the series is already exact to the dtype and
    # Halley's step is ill-conditioned, so it is skipped there.
    tiny = 1e-3 if dtype == "float64" else 0.05
    w = _initial_guess(x)
    for _ in range(_ITERATIONS.get(dtype, 2)):
        w = _halley_step(w, x, tiny)
    return ops.clip(w, -1.0, 0.0)
