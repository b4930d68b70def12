"""spikelib.autodiff: gradients and float64 under the Keras backend in use."""

import os
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from spikelib import autodiff
from spikelib.autodiff import tensor, value_and_gradient


def test_value_and_gradient_by_hand():
    """f(x, y, z) = sum(x^2 y + e^x): df/dx = 2 x y + e^x, df/dy = x^2, df/dz = 0, in float64."""
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -0.25])

    def f(x, y, z):
        return ops.sum(x * x * y + ops.exp(x))
    value, (d_x, d_y, d_z) = value_and_gradient(f, tensor(x), tensor(y), tensor(np.ones(2)))
    assert value == pytest.approx(np.sum(x * x * y + np.exp(x)), rel=1e-14)
    np.testing.assert_allclose(d_x, 2 * x * y + np.exp(x), rtol=1e-14)
    np.testing.assert_allclose(d_y, x * x, rtol=1e-15)
    np.testing.assert_array_equal(d_z, [0.0, 0.0])
    assert d_x.dtype == np.float64


def test_tensor_keeps_or_sets_the_dtype():
    assert ops.convert_to_numpy(tensor(np.zeros(2))).dtype == np.float64
    assert ops.convert_to_numpy(tensor([[0, 1]], "int32")).dtype == np.int32
    assert ops.convert_to_numpy(tensor([0.1], "float32")).dtype == np.float32


def test_tensor_refuses_float64_where_the_backend_lacks_it(monkeypatch):
    monkeypatch.setattr(autodiff, "float64_available", lambda: False)
    with pytest.raises(RuntimeError, match="JAX_ENABLE_X64=1"):
        tensor([0.5], "float64")
    assert ops.convert_to_numpy(tensor([0.5], "float32")).dtype == np.float32


def test_jax_without_x64_refuses_the_float64_gradient_check():
    """Under JAX without JAX_ENABLE_X64 the model section says why it cannot
    run, instead of computing its float64 table in float32."""
    pytest.importorskip("jax")
    env = {key: value for key, value in os.environ.items() if key != "JAX_ENABLE_X64"}
    env.update(KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", "from spikelib.sections import model; model.gradient_check()"],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "RuntimeError: float64 under JAX needs JAX_ENABLE_X64=1" in done.stderr
