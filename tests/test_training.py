"""Optimizer, pulses, initialisation, loss scale and training behaviour.

The tests run under TensorFlow and under JAX, but for the one about
`spikelib.compiled`, TensorFlow's compiled functions.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

from spikelib.autodiff import tensor, value_and_gradient
from spikelib.autoencoder import SpikingAutoencoder
from spikelib.config import NeuronParameters, paper_config
from spikelib.experiment import prepare_data, train_and_test
from spikelib.layer import SpikingDense, initial_weight_sigma
from spikelib.loss import reconstruction_error, training_loss
from spikelib.optimizer import ReferenceAdam


def _numpy_reference_adam(gradients, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Parameter values after each step, in float64."""
    value, m, v, values = 0.0, 0.0, 0.0, []
    for step, g in enumerate(gradients, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        value -= lr * (m / (1 - b1 ** step)) / math.sqrt(v / (1 - b2 ** step) + eps)
        values.append(value)
    return values


def _trajectory(optimizer, gradients):
    variable = keras.Variable(np.zeros(1), dtype="float64")
    values = []
    for g in gradients:
        optimizer.apply([np.array([g])], [variable])
        values.append(float(variable.numpy()[0]))
    return np.array(values)


def test_reference_adam_puts_epsilon_inside_the_square_root():
    gradients = [1e-5, -3e-5, 2e-5, 1e-6]
    expected = np.array(_numpy_reference_adam(gradients, 0.01))
    step_size = np.abs(np.diff(expected, prepend=0.0)).min()
    got = _trajectory(ReferenceAdam(0.01), gradients)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * step_size)
    keras_adam = _trajectory(keras.optimizers.Adam(0.01, epsilon=1e-8), gradients)
    assert np.abs(keras_adam - expected).max() > 100 * step_size


def test_pulses_start_evenly_spaced_and_stay_non_negative():
    layer = SpikingDense(3, n_pulses=4, neuron=NeuronParameters(1.0, 1.0), seed=0)
    layer.build((None, 5))
    np.testing.assert_allclose(layer.pulse_times.numpy(), [0.2, 0.4, 0.6, 0.8], rtol=1e-6)
    optimizer = ReferenceAdam(1.0)
    optimizer.apply([np.full(4, 10.0, np.float32)], [layer.pulse_times])
    assert np.all(layer.pulse_times.numpy() >= 0.0)
    assert np.any(layer.pulse_times.numpy() == 0.0)


def test_initial_weights_have_the_multiplied_means():
    layer = SpikingDense(400, n_pulses=10, neuron=NeuronParameters(1.0, 1.0),
                         weight_mean_multiplier=3.0, pulse_weight_mean_multiplier=-2.0, seed=1)
    layer.build((None, 784))
    sigma = initial_weight_sigma(784, 400, 10)
    assert sigma == pytest.approx(math.sqrt(2 / (784 + 400 + 10)))
    kernel, pulses = layer.kernel.numpy(), layer.pulse_kernel.numpy()
    assert kernel.mean() == pytest.approx(3.0 * sigma, rel=0.02)
    assert kernel.std() == pytest.approx(sigma, rel=0.02)
    assert pulses.mean() == pytest.approx(-2.0 * sigma, abs=0.1 * sigma)


def test_loss_gradient_is_the_reference_error_per_example():
    latency, clean = 2.0, np.array([[0.3, np.inf, 0.5]], np.float32).repeat(4, axis=0)
    times = tensor([[2.5, 2.9, np.inf]] * 4, "float32")
    _, (gradient,) = value_and_gradient(lambda times: training_loss(times, clean, latency), times)
    np.testing.assert_allclose(gradient[0], [(0.5 - 0.3) / 4, (0.9 - 1.0) / 4, 0.0], rtol=1e-6)
    error = ops.convert_to_numpy(reconstruction_error(times, clean, latency))
    np.testing.assert_allclose(error, [(0.2 ** 2 + 0.1 ** 2 + 0.5 ** 2) / 3] * 4, rtol=1e-6)


def _tiny(**changes):
    return paper_config(0.0, 1, 8, epochs=2, train_examples=300, validation_examples=100,
                        test_examples=100, **changes)


def _without_timing(history):
    return [{k: v for k, v in record.items() if "seconds" not in k and "per_second" not in k}
            for record in history]


@pytest.mark.heavy
def test_same_seed_gives_identical_history():
    config = _tiny()
    data = prepare_data(config)
    _, first = train_and_test(config, data, progress=False)
    _, second = train_and_test(config, data, progress=False)
    assert _without_timing(first["history"]) == _without_timing(second["history"])
    _, other = train_and_test(config.replace(seed=1), data, progress=False)
    assert _without_timing(other["history"]) != _without_timing(first["history"])


@pytest.mark.heavy
def test_short_training_lowers_the_error_and_tests_the_best_epoch():
    config = paper_config(0.0, 1, 32, epochs=2, train_examples=1500,
                          validation_examples=200, test_examples=200)
    data = prepare_data(config)
    untrained = SpikingAutoencoder.from_run_config(config)
    from spikelib.training import evaluate
    before = evaluate(untrained, data.validation_inputs, data.validation_clean, 1.0).mean()
    model, results = train_and_test(config, data, progress=False)
    best = min(results["history"], key=lambda r: r["validation_mse"])
    assert best["validation_mse"] < 0.8 * before
    assert results["test_mse"] == pytest.approx(best["test_mse"], rel=1e-5)


@pytest.mark.heavy
def test_batched_evaluation_matches_the_plain_model_at_any_input_width():
    """predict/embed (pre-sorted, truncated events), the hidden layer evaluated alone
    and a sample evaluated without XLA equal a direct call of the model."""
    from spikelib.analysis import hidden_spike_times, sample_spike_times
    from spikelib.encoding import add_noise
    from spikelib.training import embed, predict
    config = _tiny()
    model = SpikingAutoencoder.from_run_config(config)
    data = prepare_data(config)
    for inputs in (data.test_clean[:40], add_noise(data.test_clean[:40], 0.6, seed=0)):
        direct_hidden = ops.convert_to_numpy(model.embed(tensor(inputs)))
        np.testing.assert_allclose(embed(model, inputs), direct_hidden, rtol=1e-5)
        np.testing.assert_allclose(hidden_spike_times(model, inputs), direct_hidden, rtol=1e-5)
        direct_output = ops.convert_to_numpy(model(tensor(inputs)))
        np.testing.assert_allclose(predict(model, inputs), direct_output, rtol=1e-5)
        hidden, output = sample_spike_times(model, inputs[:37])
        np.testing.assert_allclose(hidden, direct_hidden[:37], rtol=1e-5)
        np.testing.assert_allclose(output, direct_output[:37], rtol=1e-5)


@pytest.mark.heavy
def test_evaluation_of_events_or_times_equals_the_plain_model_for_any_count():
    """evaluate() over padded loop steps and batches: the plain model's errors."""
    from spikelib.events import to_events
    from spikelib.loss import reconstruction_error
    from spikelib.training import evaluate
    config = _tiny()
    model = SpikingAutoencoder.from_run_config(config)
    data = prepare_data(config)
    inputs, clean = data.test_inputs[:45], data.test_clean[:45]
    direct = ops.convert_to_numpy(reconstruction_error(model(tensor(inputs)), tensor(clean),
                                                       config.latency))
    from_times = evaluate(model, inputs, clean, config.latency, batch_size=40)
    from_events = evaluate(model, to_events(inputs), clean, config.latency, batch_size=40)
    assert from_times.shape == (45,)
    np.testing.assert_allclose(from_times, direct, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(from_events, from_times)


def _gradient_registrations():
    """TensorFlow's registered custom gradients; None under JAX, which keeps none."""
    if keras.backend.backend() != "tensorflow":
        return None
    from spikelib.compiled import custom_gradient_names
    return custom_gradient_names()


@pytest.mark.heavy
def test_a_trained_model_is_freed_with_its_traced_graphs():
    """Nothing keeps a finished run alive: not the evaluation loops, not (under
    TensorFlow) the gradient registrations of its custom gradients (a long
    sweep in one process used to grow by every model it trained)."""
    import gc
    import weakref

    config = _tiny()
    data = prepare_data(config)
    before = _gradient_registrations()
    model, _ = train_and_test(config, data, progress=False)
    model_ref = weakref.ref(model)
    del model
    gc.collect()
    assert model_ref() is None
    assert _gradient_registrations() == before


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="spikelib.compiled.Compiled compiles TensorFlow functions only")
def test_compiled_gradients_still_flow_after_their_registration_is_dropped():
    """A compiled function that differentiates a custom gradient gives the
    same gradient on every call, after `Compiled` dropped its registration."""
    import tensorflow as tf

    from spikelib.compiled import Compiled, custom_gradient_names

    @tf.custom_gradient
    def doubled_gradient(x):
        return x * x, lambda upstream: upstream * 4.0 * x

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = doubled_gradient(x)
        return tape.gradient(y, x)

    compiled = Compiled(gradient)
    before = custom_gradient_names()
    for value in (1.5, -2.0):
        assert float(compiled(tf.constant(value))) == pytest.approx(4.0 * value)
    assert custom_gradient_names() == before
