"""A value and its gradient outside the training loops, under either Keras backend.

spikelib's maths is `keras.ops`; only taking a gradient needs the backend's
own means (TensorFlow: `tf.GradientTape`; JAX: `jax.value_and_grad`).  They
are here, in one place, for the model chapter's gradient check and for the
tests.  The training loops take theirs inside compiled code
(`spikelib.training`, `spikelib.training_jax`).

JAX computes in float64 only when JAX_ENABLE_X64=1 is set before it starts;
without it, it turns float64 arrays into float32 silently, so `tensor`
refuses float64 there instead.
"""

import keras
import numpy as np
from keras import ops

BACKENDS = ("tensorflow", "jax")


def float64_available():
    """Whether the backend computes in float64 (JAX only with JAX_ENABLE_X64=1)."""
    if keras.backend.backend() != "jax":
        return True
    import jax
    return bool(jax.config.jax_enable_x64)


def tensor(values, dtype=None):
    """`values` as a tensor of `dtype` (default: their numpy dtype).

    Raises RuntimeError where float64 is asked for and the backend would
    compute in float32 (JAX without JAX_ENABLE_X64=1).
    """
    values = np.asarray(values, dtype)
    if values.dtype == np.float64 and not float64_available():
        raise RuntimeError("float64 under JAX needs JAX_ENABLE_X64=1 in the environment "
                           "(before Python starts); without it JAX computes in float32")
    return ops.convert_to_tensor(values)


def value_and_gradient(function, *arguments):
    """`function(*arguments)`, a scalar, and its gradient with respect to each
    argument, as numpy arrays: (value, [gradient of each argument]).

    `arguments` are tensors (see `tensor`); an argument the value does not
    depend on gets a zero gradient.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        argnums = tuple(range(len(arguments)))
        value, gradients = jax.value_and_grad(function, argnums=argnums)(*arguments)
    elif backend == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            tape.watch(arguments)
            value = function(*arguments)
        gradients = tape.gradient(value, list(arguments),
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
    else:
        raise NotImplementedError(f"gradients under the Keras backend {backend!r}: "
                                  f"spikelib supports {' and '.join(BACKENDS)}")
    return ops.convert_to_numpy(value), [ops.convert_to_numpy(g) for g in gradients]
